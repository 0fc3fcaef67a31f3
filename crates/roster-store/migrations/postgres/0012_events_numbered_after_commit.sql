-- Events are numbered after their write commits (Store::number_events), in the order they
-- became visible, instead of inside it: holding a partner's counter from the append to the
-- commit made that partner's writes commit one at a time. Until numbered an event has no
-- sequence and is not read; events_unnumbered finds the ones waiting.
--
-- Events that became visible together are numbered in the order they were appended
-- (append_order, from a sequence, which never waits): a write that waited for another's locks
-- appends after that one committed, so its events come after.
ALTER TABLE events ALTER COLUMN sequence DROP NOT NULL;
CREATE SEQUENCE events_append_order;
ALTER TABLE events ADD COLUMN append_order BIGINT DEFAULT nextval('events_append_order');
CREATE INDEX events_unnumbered ON events (partner_id) WHERE sequence IS NULL;
