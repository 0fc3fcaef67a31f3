-- Organisations found by the start of their name (the console's search): ASCII letters in any
-- case, in name order, one range of this index.
CREATE INDEX organisations_by_name ON organisations (partner_id, livemode, lower(name), id);
