-- A delete's counters are kept once per statement, from the rows it deleted, rather than once
-- per row: deleting an organisation's memberships a page at a time in one transaction made
-- each row's trigger update the same counter rows again, and every update of a row already
-- updated in the transaction walks past all its earlier versions (a million members took hours).
DROP TRIGGER memberships_counted ON memberships;
DROP TRIGGER memberships_partner_counted ON memberships;

CREATE TRIGGER memberships_counted AFTER INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION count_memberships();
CREATE TRIGGER memberships_partner_counted AFTER INSERT ON memberships
    FOR EACH ROW EXECUTE FUNCTION count_partner_memberships();

CREATE FUNCTION uncount_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE membership_counts c SET n = c.n - gone.n
        FROM (SELECT organisation_id, status, role, COUNT(*) AS n FROM deleted_memberships
              GROUP BY organisation_id, status, role) gone
        WHERE c.organisation_id = gone.organisation_id AND c.status = gone.status AND c.role = gone.role;
    UPDATE membership_partner_counts c SET n = c.n - gone.n
        FROM (SELECT partner_id, livemode, status, role, ascii(right(organisation_id, 1)) % 8 AS stripe,
                     COUNT(*) AS n
              FROM deleted_memberships
              GROUP BY partner_id, livemode, status, role, ascii(right(organisation_id, 1)) % 8) gone
        WHERE c.partner_id = gone.partner_id AND c.livemode = gone.livemode AND c.status = gone.status
          AND c.role = gone.role AND c.stripe = gone.stripe;
    RETURN NULL;
END;
$$;

CREATE TRIGGER memberships_uncounted AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS deleted_memberships
    FOR EACH STATEMENT EXECUTE FUNCTION uncount_memberships();
