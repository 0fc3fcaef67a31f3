-- How many memberships each organisation has, by status and role, kept by a trigger in the
-- transaction of every membership write: a list's count sums a handful of these rows, whatever
-- the size of what it counts.
CREATE TABLE membership_counts (
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    partner_id TEXT COLLATE "C" NOT NULL,
    livemode BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    role TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, status, role)
);
CREATE INDEX membership_counts_partner ON membership_counts (partner_id, livemode);

-- An organisation's memberships of some status and role, newest first: a page filtered by both
-- is an index range, however few of the organisation's members match. It serves the rules'
-- tallies (accepted members of an organisation) as the index it replaces did.
DROP INDEX memberships_by_status;
CREATE INDEX memberships_by_status ON memberships (organisation_id, status, role, created_at DESC, id DESC);

INSERT INTO membership_counts (organisation_id, partner_id, livemode, status, role, n)
    SELECT organisation_id, partner_id, livemode, status, role, COUNT(*) FROM memberships
    GROUP BY organisation_id, partner_id, livemode, status, role;

CREATE FUNCTION count_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE membership_counts SET n = n - 1
            WHERE organisation_id = OLD.organisation_id AND status = OLD.status AND role = OLD.role;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO membership_counts (organisation_id, partner_id, livemode, status, role, n)
            VALUES (NEW.organisation_id, NEW.partner_id, NEW.livemode, NEW.status, NEW.role, 1)
            ON CONFLICT (organisation_id, status, role) DO UPDATE SET n = membership_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memberships_counted AFTER INSERT OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION count_memberships();
CREATE TRIGGER memberships_counted_again AFTER UPDATE OF organisation_id, status, role ON memberships
    FOR EACH ROW
    WHEN (OLD.organisation_id IS DISTINCT FROM NEW.organisation_id OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.role IS DISTINCT FROM NEW.role)
    EXECUTE FUNCTION count_memberships();
