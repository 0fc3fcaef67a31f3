-- Events (spec §9): one row per committed change, appended in the write's own transaction.
-- `sequence` orders a partner's events in commit order: each append takes the partner's row in
-- event_sequences, held until the transaction ends, so a later commit gets a larger number.
-- Rows are never updated; `data` is the object in the native wire shape.
CREATE TABLE event_sequences (
    partner_id TEXT PRIMARY KEY REFERENCES partners (id) ON DELETE CASCADE,
    last INTEGER NOT NULL
);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    type TEXT NOT NULL,
    object_id TEXT NOT NULL,
    organisation_id TEXT,
    actor_type TEXT NOT NULL,
    actor_id TEXT,
    actor_key_prefix TEXT,
    request_id TEXT NOT NULL,
    data TEXT NOT NULL,
    -- JSON null for creates and deletes.
    previous_attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_sequence ON events (partner_id, sequence);
-- An object's history, newest first (a membership's versions, also after its deletion).
CREATE INDEX events_object ON events (object_id, sequence DESC);
