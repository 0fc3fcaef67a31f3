-- The PostgreSQL twin of the SQLite schema. Timestamps are milliseconds since the Unix epoch;
-- lists and metadata are JSONB; ids compare bytewise (COLLATE "C"), as on SQLite, so cursors
-- order the same on both.
-- Every list is served by an index in its order (created_at DESC, id DESC) behind its filters.

CREATE TABLE partners (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX partners_list ON partners (created_at DESC, id DESC);

CREATE TABLE partner_groups (
    id TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    is_admin BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX partner_groups_list ON partner_groups (partner_id, created_at DESC, id DESC);

CREATE TABLE organisations (
    id TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode BOOLEAN NOT NULL,
    name TEXT NOT NULL,
    enforce_twofactor BOOLEAN NOT NULL,
    abuse_contact_email TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX organisations_list ON organisations (partner_id, livemode, created_at DESC, id DESC);

CREATE TABLE group_organisations (
    group_id TEXT COLLATE "C" NOT NULL REFERENCES partner_groups (id) ON DELETE CASCADE,
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, organisation_id)
);
CREATE INDEX group_organisations_by_organisation ON group_organisations (organisation_id);

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode BOOLEAN NOT NULL,
    email TEXT NOT NULL,
    -- The e-mail lowercased (Unicode-aware, by Roster): uniqueness and lookups ignore case.
    email_key TEXT NOT NULL,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    is_staff BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (partner_id, livemode, email_key);
CREATE INDEX users_list ON users (partner_id, livemode, created_at DESC, id DESC);

CREATE TABLE roles (
    id TEXT COLLATE "C" PRIMARY KEY,
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    permissions JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX roles_name ON roles (organisation_id, name);

CREATE TABLE memberships (
    id TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode BOOLEAN NOT NULL,
    organisation_id TEXT COLLATE "C" NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    role_ids JSONB NOT NULL,
    permissions JSONB NOT NULL,
    is_owner BOOLEAN NOT NULL,
    is_default BOOLEAN NOT NULL,
    allowed_ips JSONB NOT NULL,
    status TEXT NOT NULL,
    api_access_enabled BOOLEAN NOT NULL,
    access_scope TEXT NOT NULL,
    test_enabled BOOLEAN NOT NULL,
    alert_action_required BOOLEAN NOT NULL,
    alert_resolved BOOLEAN NOT NULL,
    alert_dismissed BOOLEAN NOT NULL,
    evidence_requested BOOLEAN NOT NULL,
    reference TEXT,
    reference_origin TEXT,
    metadata JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX memberships_organisation_user ON memberships (organisation_id, user_id);
CREATE INDEX memberships_list ON memberships (partner_id, livemode, created_at DESC, id DESC);
-- The filter column leads, then the scope columns every query binds, so the planner prefers these
-- over memberships_list whenever a list is filtered by organisation or user.
CREATE INDEX memberships_by_organisation ON memberships (organisation_id, partner_id, livemode, created_at DESC, id DESC);
CREATE INDEX memberships_by_user ON memberships (user_id, partner_id, livemode, created_at DESC, id DESC);
CREATE INDEX memberships_by_status ON memberships (organisation_id, status, role);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    partner_id TEXT COLLATE "C" NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    livemode BOOLEAN NOT NULL,
    name TEXT NOT NULL,
    key_type TEXT NOT NULL,
    group_id TEXT COLLATE "C" REFERENCES partner_groups (id) ON DELETE CASCADE,
    organisation_id TEXT COLLATE "C" REFERENCES organisations (id) ON DELETE CASCADE,
    abilities JSONB NOT NULL,
    expires_at BIGINT,
    last_used_at BIGINT,
    revoked_at BIGINT,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK ((group_id IS NULL) <> (organisation_id IS NULL))
);
CREATE UNIQUE INDEX api_keys_secret_hash ON api_keys (secret_hash);
CREATE INDEX api_keys_list ON api_keys (partner_id, livemode, created_at DESC, id DESC);
CREATE INDEX api_keys_by_group ON api_keys (group_id);
CREATE INDEX api_keys_by_organisation ON api_keys (organisation_id);
