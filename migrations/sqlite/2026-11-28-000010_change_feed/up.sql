-- What changed whether or how a credential verifies, in commit order: every instance reads the
-- rows after the last one it applied and drops those cache entries. AUTOINCREMENT never reuses
-- a number, even after old rows are pruned, so "after N" keeps its meaning.
CREATE TABLE change_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    -- `credential`: that credential; `user`: that person's personal tokens (their role or
    -- membership changed); `org`: that org's API keys (its API-access gate changed).
    kind TEXT NOT NULL CHECK (kind IN ('credential', 'user', 'org')),
    subject_id TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX change_feed_recorded_at ON change_feed (recorded_at);
