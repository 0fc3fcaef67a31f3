-- How many memberships each organisation has, by status and role, kept by triggers in the
-- transaction of every membership write: a list's count sums a handful of these rows, whatever
-- the size of what it counts.
CREATE TABLE membership_counts (
    organisation_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    partner_id TEXT NOT NULL,
    livemode INTEGER NOT NULL,
    status TEXT NOT NULL,
    role TEXT NOT NULL,
    n INTEGER NOT NULL,
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

CREATE TRIGGER memberships_counted_in AFTER INSERT ON memberships BEGIN
    INSERT OR IGNORE INTO membership_counts (organisation_id, partner_id, livemode, status, role, n)
        VALUES (NEW.organisation_id, NEW.partner_id, NEW.livemode, NEW.status, NEW.role, 0);
    UPDATE membership_counts SET n = n + 1
        WHERE organisation_id = NEW.organisation_id AND status = NEW.status AND role = NEW.role;
END;

CREATE TRIGGER memberships_counted_out AFTER DELETE ON memberships BEGIN
    UPDATE membership_counts SET n = n - 1
        WHERE organisation_id = OLD.organisation_id AND status = OLD.status AND role = OLD.role;
END;

CREATE TRIGGER memberships_counted_again AFTER UPDATE OF organisation_id, status, role ON memberships
    WHEN OLD.organisation_id <> NEW.organisation_id OR OLD.status <> NEW.status OR OLD.role <> NEW.role
BEGIN
    UPDATE membership_counts SET n = n - 1
        WHERE organisation_id = OLD.organisation_id AND status = OLD.status AND role = OLD.role;
    INSERT OR IGNORE INTO membership_counts (organisation_id, partner_id, livemode, status, role, n)
        VALUES (NEW.organisation_id, NEW.partner_id, NEW.livemode, NEW.status, NEW.role, 0);
    UPDATE membership_counts SET n = n + 1
        WHERE organisation_id = NEW.organisation_id AND status = NEW.status AND role = NEW.role;
END;
