CREATE TABLE organizations (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    plan TEXT NOT NULL,
    credential_cap INTEGER,
    api_access BOOLEAN NOT NULL DEFAULT 0,
    max_lifetime_days INTEGER,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    oidc_issuer TEXT,
    oidc_subject TEXT,
    is_operator BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (oidc_issuer, oidc_subject)
);

CREATE TABLE memberships (
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'auditor')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('access_token', 'api_key', 'personal_token')),
    name TEXT NOT NULL,
    description TEXT,
    secret_hash TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    grants TEXT NOT NULL,
    passphrase_hash TEXT,
    active BOOLEAN NOT NULL DEFAULT 1,
    rate_limit_per_minute INTEGER,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    owner_user_id TEXT REFERENCES users (id),
    revoked_at TIMESTAMP,
    revoked_by TEXT REFERENCES users (id),
    rotated_from TEXT REFERENCES credentials (id),
    last_used_at TIMESTAMP,
    last_used_ip TEXT,
    usage_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX credentials_org_kind_created ON credentials (org_id, kind, created_at);
CREATE INDEX credentials_org_kind_name ON credentials (org_id, kind, name);

CREATE TABLE credential_usage_daily (
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    request_count BIGINT NOT NULL DEFAULT 0,
    failed_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (credential_id, day)
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    org_id TEXT REFERENCES organizations (id),
    actor_user_id TEXT REFERENCES users (id),
    actor_credential_id TEXT REFERENCES credentials (id),
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id TEXT,
    target_label TEXT,
    ip TEXT,
    user_agent TEXT,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_org_time ON audit_log (org_id, occurred_at);
