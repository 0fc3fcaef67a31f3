-- Organisations found by the start of their name (the console's search): ASCII letters in any
-- case (as SQLite's lower() does), compared byte by byte, in name order, one range of this index.
CREATE INDEX organisations_by_name ON organisations (
    partner_id,
    livemode,
    (translate(name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"),
    id
);
