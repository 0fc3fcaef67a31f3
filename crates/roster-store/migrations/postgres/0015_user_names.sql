-- People found by the start of their name (`first last`; the console's members search): ASCII
-- letters in any case (as SQLite's lower() does), compared byte by byte, in name order, one
-- range of this index per search.
CREATE INDEX users_by_name ON users (
    partner_id,
    livemode,
    (translate(first_name || ' ' || last_name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') COLLATE "C"),
    id
);
