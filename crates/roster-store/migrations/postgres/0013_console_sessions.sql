-- Console sign-ins: the cookie's secret kept as its hash, and the keys a session acts as by
-- their secrets' hashes (each request checks the key afresh). Expired ones are pruned by expiry.
CREATE TABLE console_sessions (
    id_hash TEXT COLLATE "C" PRIMARY KEY,
    live_key_hash TEXT COLLATE "C",
    test_key_hash TEXT COLLATE "C",
    livemode BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
