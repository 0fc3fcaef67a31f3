-- Every event index is written by every write, so only those a read needs are kept: prune-events
-- deletes by a range of the primary key (event ids sort like their creation times), and the
-- sequence's uniqueness is the counter's (event_sequences), so these two go.
DROP INDEX events_created;
DROP INDEX events_sequence;
