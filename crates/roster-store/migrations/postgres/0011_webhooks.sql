-- Webhooks (spec §9). An endpoint belongs to a partner and a mode; its secrets sign what it is
-- sent, so they are kept as they are (a hash could not sign), and never shown after creation.
CREATE TABLE webhook_endpoints (
    id TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode BOOLEAN NOT NULL,
    url TEXT NOT NULL,
    enabled_events JSONB NOT NULL,
    description TEXT NOT NULL,
    disabled BOOLEAN NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- A partner's endpoints of a mode, newest first: the list, and the write path's subscriptions.
CREATE INDEX webhook_endpoints_partner ON webhook_endpoints (partner_id, livemode, created_at DESC, id DESC);

-- The outbox: one row per event and endpoint, written in the event's transaction. A row is due
-- at next_attempt_at; a worker claims it by moving that past its lease (and naming its claim in
-- lease); NULL once delivered or given up.
CREATE TABLE webhook_messages (
    id TEXT COLLATE "C" PRIMARY KEY,
    endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT COLLATE "C" NOT NULL,
    attempts BIGINT NOT NULL,
    queued_at BIGINT NOT NULL,
    next_attempt_at BIGINT,
    lease TEXT
);
CREATE UNIQUE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, event_id);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_messages_queued ON webhook_messages (queued_at) WHERE next_attempt_at IS NOT NULL;

-- Every attempt, for an endpoint's deliveries log (ids sort like their creation times).
CREATE TABLE webhook_deliveries (
    id TEXT COLLATE "C" PRIMARY KEY,
    endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT COLLATE "C" NOT NULL,
    webhook_id TEXT COLLATE "C" NOT NULL,
    attempt BIGINT NOT NULL,
    succeeded BOOLEAN NOT NULL,
    response_status BIGINT,
    latency_ms BIGINT NOT NULL,
    next_retry_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id DESC);
