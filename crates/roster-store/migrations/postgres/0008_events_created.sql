-- `roster prune-events --before DATE` removes the oldest events in batches, by creation time.
CREATE INDEX events_created ON events (created_at);
