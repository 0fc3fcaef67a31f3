-- Roles gain their partner and mode, so every role list is served by an index; no role could be
-- created before this version, so the table is rebuilt empty.
DROP TABLE roles;
CREATE TABLE roles (
    id TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode BOOLEAN NOT NULL,
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    permissions JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles (organisation_id, name);
CREATE INDEX roles_list ON roles (partner_id, livemode, created_at DESC, id DESC);
CREATE INDEX roles_by_organisation ON roles (organisation_id, partner_id, livemode, created_at DESC, id DESC);

-- Keys may now be held by a user (user tokens).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_check;
ALTER TABLE api_keys ADD COLUMN user_id TEXT COLLATE "C" REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_one_holder CHECK (num_nonnulls(group_id, organisation_id, user_id) = 1);
CREATE INDEX api_keys_by_user ON api_keys (user_id);
