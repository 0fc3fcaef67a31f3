-- How many memberships each partner has in each mode, by status and role, kept by triggers in
-- the transaction of every membership write: a partner-wide list's count sums at most 48 of
-- these rows, where summing the organisations' counters read six rows per organisation. Each
-- partner's counts are split over eight stripes, chosen by the organisation, so that writes
-- to different organisations of one partner seldom wait for the same row.
CREATE TABLE membership_partner_counts (
    partner_id TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    status TEXT NOT NULL,
    role TEXT NOT NULL,
    stripe INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (partner_id, livemode, status, role, stripe)
);

INSERT INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
    SELECT partner_id, livemode, status, role, unicode(substr(organisation_id, -1)) % 8, SUM(n)
    FROM membership_counts
    GROUP BY partner_id, livemode, status, role, unicode(substr(organisation_id, -1)) % 8;

-- Organisation counters are now summed only by organisation.
DROP INDEX membership_counts_partner;

CREATE TRIGGER memberships_partner_counted_in AFTER INSERT ON memberships BEGIN
    INSERT OR IGNORE INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
        VALUES (NEW.partner_id, NEW.livemode, NEW.status, NEW.role, unicode(substr(NEW.organisation_id, -1)) % 8, 0);
    UPDATE membership_partner_counts SET n = n + 1
        WHERE partner_id = NEW.partner_id AND livemode = NEW.livemode AND status = NEW.status AND role = NEW.role
          AND stripe = unicode(substr(NEW.organisation_id, -1)) % 8;
END;

CREATE TRIGGER memberships_partner_counted_out AFTER DELETE ON memberships BEGIN
    UPDATE membership_partner_counts SET n = n - 1
        WHERE partner_id = OLD.partner_id AND livemode = OLD.livemode AND status = OLD.status AND role = OLD.role
          AND stripe = unicode(substr(OLD.organisation_id, -1)) % 8;
END;

CREATE TRIGGER memberships_partner_counted_again AFTER UPDATE OF organisation_id, status, role ON memberships
    WHEN OLD.organisation_id <> NEW.organisation_id OR OLD.status <> NEW.status OR OLD.role <> NEW.role
BEGIN
    UPDATE membership_partner_counts SET n = n - 1
        WHERE partner_id = OLD.partner_id AND livemode = OLD.livemode AND status = OLD.status AND role = OLD.role
          AND stripe = unicode(substr(OLD.organisation_id, -1)) % 8;
    INSERT OR IGNORE INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
        VALUES (NEW.partner_id, NEW.livemode, NEW.status, NEW.role, unicode(substr(NEW.organisation_id, -1)) % 8, 0);
    UPDATE membership_partner_counts SET n = n + 1
        WHERE partner_id = NEW.partner_id AND livemode = NEW.livemode AND status = NEW.status AND role = NEW.role
          AND stripe = unicode(substr(NEW.organisation_id, -1)) % 8;
END;
