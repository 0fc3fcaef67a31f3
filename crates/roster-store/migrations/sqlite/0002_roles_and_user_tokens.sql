-- Roles gain their partner and mode, so every role list is served by an index; no role could be
-- created before this version, so the table is rebuilt empty.
DROP TABLE roles;
CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles (organisation_id, name);
CREATE INDEX roles_list ON roles (partner_id, livemode, created_at DESC, id DESC);
CREATE INDEX roles_by_organisation ON roles (organisation_id, partner_id, livemode, created_at DESC, id DESC);

-- Keys may now be held by a user (user tokens). SQLite cannot change a CHECK constraint in
-- place, so the table is rebuilt with its rows.
CREATE TABLE api_keys_new (
    id TEXT PRIMARY KEY,
    partner_id TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode INTEGER NOT NULL,
    name TEXT NOT NULL,
    key_type TEXT NOT NULL,
    group_id TEXT REFERENCES partner_groups (id) ON DELETE CASCADE,
    organisation_id TEXT REFERENCES organisations (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    abilities TEXT NOT NULL,
    expires_at INTEGER,
    last_used_at INTEGER,
    revoked_at INTEGER,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((group_id IS NOT NULL) + (organisation_id IS NOT NULL) + (user_id IS NOT NULL) = 1)
);
INSERT INTO api_keys_new (id, partner_id, livemode, name, key_type, group_id, organisation_id, user_id, abilities,
    expires_at, last_used_at, revoked_at, prefix, secret_hash, created_at, updated_at)
SELECT id, partner_id, livemode, name, key_type, group_id, organisation_id, NULL, abilities,
    expires_at, last_used_at, revoked_at, prefix, secret_hash, created_at, updated_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_list ON api_keys (partner_id, livemode, created_at DESC, id DESC);
CREATE INDEX api_keys_by_group ON api_keys (group_id);
CREATE INDEX api_keys_by_organisation ON api_keys (organisation_id);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
