-- Console sessions live on the server: the cookie holds only an opaque key, so ending a session
-- here (sign-out, "sign out everywhere", an operator) ends it for whoever holds a copy.
CREATE TABLE sessions (
    -- SHA-256 of the cookie's key: a copy of this table opens no session.
    id TEXT PRIMARY KEY NOT NULL,
    -- What Account → Sessions shows and posts back; never the key.
    public_id TEXT NOT NULL UNIQUE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
