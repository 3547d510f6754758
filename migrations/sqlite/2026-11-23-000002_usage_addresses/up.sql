-- The last addresses a credential was used from (the newest five are kept).
CREATE TABLE credential_addresses (
    credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    PRIMARY KEY (credential_id, ip)
);

-- Instances poll recent audit entries to drop cached credentials that changed elsewhere.
CREATE INDEX audit_log_time ON audit_log (occurred_at);
