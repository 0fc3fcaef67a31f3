-- Every create into one organisation added to the same counter row (its organisation, status and
-- role) and, through the partner's stripe chosen by the organisation, to the same partner row,
-- holding both from its INSERT to its commit: an organisation's new members were written one
-- at a time. Creates now count on a stripe chosen by the new membership's id, of eight, so
-- concurrent creates of one organisation seldom meet on a row. Readers already sum whatever
-- rows match, so a count may land on any stripe: a decrement may fall on another stripe than
-- its increment did, and a stripe may go below zero while the sums stay exact.
--
-- Updates and deletes count on the partner's stripe of the organisation, as before: they hold
-- their organisation's lock anyway, and an organisation delete, one transaction over all its
-- members, then holds one partner stripe until it commits, not all eight (which would stop
-- every create of the partner for as long).
ALTER TABLE membership_counts ADD COLUMN stripe INTEGER NOT NULL DEFAULT 0;
ALTER TABLE membership_counts DROP CONSTRAINT membership_counts_pkey;
ALTER TABLE membership_counts ADD PRIMARY KEY (organisation_id, status, role, stripe);
ALTER TABLE membership_counts ALTER COLUMN stripe DROP DEFAULT;

CREATE OR REPLACE FUNCTION count_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO membership_counts (organisation_id, partner_id, livemode, status, role, stripe, n)
            VALUES (OLD.organisation_id, OLD.partner_id, OLD.livemode, OLD.status, OLD.role,
                    ascii(right(OLD.id, 1)) % 8, -1)
            ON CONFLICT (organisation_id, status, role, stripe) DO UPDATE SET n = membership_counts.n - 1;
    END IF;
    INSERT INTO membership_counts (organisation_id, partner_id, livemode, status, role, stripe, n)
        VALUES (NEW.organisation_id, NEW.partner_id, NEW.livemode, NEW.status, NEW.role,
                ascii(right(NEW.id, 1)) % 8, 1)
        ON CONFLICT (organisation_id, status, role, stripe) DO UPDATE SET n = membership_counts.n + 1;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION count_partner_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
            VALUES (OLD.partner_id, OLD.livemode, OLD.status, OLD.role, ascii(right(OLD.organisation_id, 1)) % 8, -1)
            ON CONFLICT (partner_id, livemode, status, role, stripe)
            DO UPDATE SET n = membership_partner_counts.n - 1;
        INSERT INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
            VALUES (NEW.partner_id, NEW.livemode, NEW.status, NEW.role, ascii(right(NEW.organisation_id, 1)) % 8, 1)
            ON CONFLICT (partner_id, livemode, status, role, stripe)
            DO UPDATE SET n = membership_partner_counts.n + 1;
    ELSE
        INSERT INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
            VALUES (NEW.partner_id, NEW.livemode, NEW.status, NEW.role, ascii(right(NEW.id, 1)) % 8, 1)
            ON CONFLICT (partner_id, livemode, status, role, stripe)
            DO UPDATE SET n = membership_partner_counts.n + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE FUNCTION uncount_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO membership_counts (organisation_id, partner_id, livemode, status, role, stripe, n)
        SELECT organisation_id, partner_id, livemode, status, role, ascii(right(id, 1)) % 8, -COUNT(*)
        FROM deleted_memberships d
        -- Members deleted with their organisation leave no counter: the organisation's went with it.
        WHERE EXISTS (SELECT 1 FROM organisations o WHERE o.id = d.organisation_id)
        GROUP BY organisation_id, partner_id, livemode, status, role, ascii(right(id, 1)) % 8
        ON CONFLICT (organisation_id, status, role, stripe) DO UPDATE SET n = membership_counts.n + EXCLUDED.n;
    INSERT INTO membership_partner_counts (partner_id, livemode, status, role, stripe, n)
        SELECT partner_id, livemode, status, role, ascii(right(organisation_id, 1)) % 8, -COUNT(*)
        FROM deleted_memberships
        GROUP BY partner_id, livemode, status, role, ascii(right(organisation_id, 1)) % 8
        ON CONFLICT (partner_id, livemode, status, role, stripe)
        DO UPDATE SET n = membership_partner_counts.n + EXCLUDED.n;
    RETURN NULL;
END;
$$;
