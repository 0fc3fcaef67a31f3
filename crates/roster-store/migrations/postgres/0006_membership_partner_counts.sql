-- How many memberships each partner has in each mode, by status and role, kept by a trigger in
-- the transaction of every membership write: a partner-wide list's count sums at most 48 of
-- these rows, where summing the organisations' counters read six rows per organisation. Each
-- partner's counts are split over eight stripes, chosen by the organisation, so that writes
-- to different organisations of one partner seldom wait for the same row lock.
CREATE TABLE membership_partner_counts (
    partner_id TEXT COLLATE "C" NOT NULL,
    livemode BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    role TEXT NOT NULL,
    stripe INTEGER NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (partner_id, livemode, status, role, stripe)
);

INSERT INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
    SELECT partner_id, livemode, status, role, ascii(right(organisation_id, 1)) % 8, SUM(n)
    FROM membership_counts
    GROUP BY partner_id, livemode, status, role, ascii(right(organisation_id, 1)) % 8;

-- Organisation counters are now summed only by organisation.
DROP INDEX membership_counts_partner;

CREATE FUNCTION count_partner_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE membership_partner_counts SET n = n - 1
            WHERE partner_id = OLD.partner_id AND livemode = OLD.livemode AND status = OLD.status
              AND role = OLD.role AND stripe = ascii(right(OLD.organisation_id, 1)) % 8;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
            VALUES (NEW.partner_id, NEW.livemode, NEW.status, NEW.role, ascii(right(NEW.organisation_id, 1)) % 8, 1)
            ON CONFLICT (partner_id, livemode, status, role, stripe)
            DO UPDATE SET n = membership_partner_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memberships_partner_counted AFTER INSERT OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION count_partner_memberships();
CREATE TRIGGER memberships_partner_counted_again AFTER UPDATE OF organisation_id, status, role ON memberships
    FOR EACH ROW
    WHEN (OLD.organisation_id IS DISTINCT FROM NEW.organisation_id OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.role IS DISTINCT FROM NEW.role)
    EXECUTE FUNCTION count_partner_memberships();
