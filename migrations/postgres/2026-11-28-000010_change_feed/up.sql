-- What changed whether or how a credential verifies, in commit order: every instance reads the
-- rows after the last one it applied and drops those cache entries. Writers take a transaction
-- advisory lock before inserting (db::changes), so numbers are handed out in commit order.
CREATE TABLE change_feed (
    seq BIGSERIAL PRIMARY KEY,
    -- `credential`: that credential; `user`: that person's personal tokens (their role or
    -- membership changed); `org`: that org's API keys (its API-access gate changed).
    kind TEXT NOT NULL CHECK (kind IN ('credential', 'user', 'org')),
    subject_id TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX change_feed_recorded_at ON change_feed (recorded_at);
