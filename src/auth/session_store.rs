//! actix-session's storage in our own database: the cookie carries only a random key, and the
//! session is whatever the `sessions` table says it is. Ending a row ends the session for every
//! copy of the cookie at once, which a cookie-held session cannot do.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::{NaiveDateTime, TimeDelta};
use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};

use super::session::keys;
use crate::clock::SharedClock;
use crate::db::sessions::{self, SessionRecord};
use crate::db::{self, DbPool};

/// A session nobody signed in with lives at most this long (a sign-in form left open), so
/// anonymous visits cannot pile up rows for the idle limit of a real session.
const ANONYMOUS_TTL: TimeDelta = TimeDelta::hours(2);
/// 256 bits in the cookie.
const KEY_LENGTH: usize = 43;

type SessionState = HashMap<String, String>;

#[derive(Clone)]
pub struct DatabaseSessionStore {
    pool: DbPool,
    clock: SharedClock,
}

impl DatabaseSessionStore {
    pub fn new(pool: DbPool, clock: SharedClock) -> Self {
        Self { pool, clock }
    }

    fn record(&self, id: String, state: &SessionState, ttl: &Duration) -> anyhow::Result<SessionRecord> {
        let now = self.clock.now();
        let user_id: Option<String> = read(state, keys::USER_ID);
        let ttl = TimeDelta::seconds(ttl.whole_seconds());
        let ttl = if user_id.is_some() { ttl } else { ttl.min(ANONYMOUS_TTL) };
        let signed_in_at = read::<i64>(state, keys::SIGNED_IN_AT).and_then(from_unix).unwrap_or(now);
        let last_seen_at = read::<i64>(state, keys::LAST_SEEN_AT).and_then(from_unix).unwrap_or(now);
        Ok(SessionRecord {
            id,
            public_id: read(state, keys::PUBLIC_ID).unwrap_or_else(super::session::new_public_id),
            user_id,
            state: serde_json::to_string(state)?,
            created_at: signed_in_at,
            last_seen_at,
            expires_at: now + ttl,
            ip: read(state, keys::IP),
            user_agent: read(state, keys::USER_AGENT),
        })
    }
}

/// The row id of a cookie key: its SHA-256, so the table holds nothing a cookie could be made of.
fn row_id(key: &SessionKey) -> String {
    hex::encode(Sha256::digest(key.as_ref().as_bytes()))
}

fn read<T: serde::de::DeserializeOwned>(state: &SessionState, key: &str) -> Option<T> {
    state.get(key).and_then(|raw| serde_json::from_str(raw).ok())
}

fn from_unix(seconds: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.naive_utc())
}

fn new_key() -> anyhow::Result<SessionKey> {
    let mut rng = rand::rng();
    let key = Alphanumeric.sample_string(&mut rng, KEY_LENGTH);
    SessionKey::try_from(key).map_err(anyhow::Error::from)
}

async fn run<T: Send + 'static>(
    pool: &DbPool,
    work: impl FnOnce(&mut db::DbConnection) -> diesel::QueryResult<T> + Send + 'static,
) -> anyhow::Result<T> {
    db::run(pool, move |conn| Ok(work(conn)?)).await.map_err(|e| anyhow::anyhow!("session store: {e}"))
}

impl SessionStore for DatabaseSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        let (id, now) = (row_id(session_key), self.clock.now());
        let stored = run(&self.pool, move |conn| sessions::load_state(conn, &id, now))
            .await
            .map_err(LoadError::Other)?;
        stored
            .map(|text| {
                serde_json::from_str::<SessionState>(&text).map_err(|e| LoadError::Deserialization(e.into()))
            })
            .transpose()
    }

    async fn save(&self, session_state: SessionState, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = new_key().map_err(SaveError::Other)?;
        let record = self.record(row_id(&key), &session_state, ttl).map_err(SaveError::Serialization)?;
        run(&self.pool, move |conn| sessions::insert(conn, &record)).await.map_err(SaveError::Other)?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: SessionState,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let record =
            self.record(row_id(&session_key), &session_state, ttl).map_err(UpdateError::Serialization)?;
        // A session ended while this request ran stays ended: its row is not written back.
        run(&self.pool, move |conn| sessions::update(conn, &record)).await.map_err(UpdateError::Other)?;
        Ok(session_key)
    }

    async fn update_ttl(&self, session_key: &SessionKey, ttl: &Duration) -> anyhow::Result<()> {
        let id = row_id(session_key);
        let expires_at = self.clock.now() + TimeDelta::seconds(ttl.whole_seconds());
        run(&self.pool, move |conn| sessions::extend(conn, &id, expires_at)).await
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let id = row_id(session_key);
        run(&self.pool, move |conn| sessions::delete(conn, &id)).await
    }
}
