//! Following the change feed: each instance applies the rows after the last number it applied
//! to its cache. Polling always runs (the fallback, and all there is on SQLite); on PostgreSQL
//! a dedicated connection LISTENs and wakes the reader as soon as a writer commits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use tokio::sync::Notify;

use super::changes::{self, Cache, CHANNEL};
use super::DbPool;
use crate::config::DatabaseUrl;

/// How often the feed is read when nothing woke the reader.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// Rows read per query; a longer backlog is read in several.
const BATCH: i64 = 1000;
/// How often the listening connection is checked for notifications that arrived. Diesel offers
/// no wait on the socket; a check reads only what the kernel already holds, without a round trip.
const LISTEN_TICK: Duration = Duration::from_millis(10);
/// After the listening connection fails, how long before it is opened again.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// Where a starting instance begins, read before it serves so its cache is trusted from the
/// first request: the newest number (its cache is empty, so nothing before matters). `None`
/// when the database cannot be read now; `follow` then finds it.
pub fn starting_point(pool: &DbPool, cache: &dyn Cache, staleness: Duration) -> Option<i64> {
    let began = Instant::now();
    let mut conn = pool.get().ok()?;
    let seq = changes::latest(&mut conn).ok()?;
    cache.trust_until(began + staleness);
    Some(seq)
}

/// Reads the feed after `start` until dropped (the server stops). `staleness` is how long after
/// its last complete read the cache may still be trusted; the cache is told after each one.
pub async fn follow(
    pool: DbPool,
    url: DatabaseUrl,
    cache: Arc<dyn Cache>,
    staleness: Duration,
    start: Option<i64>,
) {
    let wake = Arc::new(Notify::new());
    let _listening = match url {
        DatabaseUrl::Postgres(url) => Some(Listener::start(url, wake.clone())),
        DatabaseUrl::Sqlite(_) => None,
    };
    let mut last = match start {
        Some(seq) => seq,
        None => begin(&pool, cache.as_ref(), staleness).await,
    };
    loop {
        // Either way the feed is read: a wake-up only comes sooner.
        let _ = tokio::time::timeout(POLL_EVERY, wake.notified()).await;
        match read(&pool, cache.as_ref(), last, staleness).await {
            Ok(seq) => last = seq,
            Err(e) => tracing::warn!(error = %e, "the change feed could not be read"),
        }
    }
}

/// As `starting_point`, retried until the database answers.
async fn begin(pool: &DbPool, cache: &dyn Cache, staleness: Duration) -> i64 {
    loop {
        let began = Instant::now();
        match super::run(pool, |conn| Ok(changes::latest(conn)?)).await {
            Ok(seq) => {
                cache.trust_until(began + staleness);
                return seq;
            }
            Err(e) => tracing::warn!(error = %e, "the change feed could not be read"),
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Applies every row after `last`; returns the last number applied. The cache is trusted only
/// once the whole backlog is applied, and from the moment the read began.
async fn read(
    pool: &DbPool,
    cache: &dyn Cache,
    mut last: i64,
    staleness: Duration,
) -> Result<i64, crate::error::AppError> {
    let began = Instant::now();
    loop {
        let after = last;
        let rows = super::run(pool, move |conn| Ok(changes::after(conn, after, BATCH)?)).await?;
        let complete = rows.len() < usize::try_from(BATCH).unwrap_or(usize::MAX);
        if let Some((seq, _)) = rows.last() {
            last = *seq;
        }
        let changed: Vec<_> = rows.into_iter().map(|(_, change)| change).collect();
        cache.forget(&changed);
        if complete {
            cache.trust_until(began + staleness);
            return Ok(last);
        }
    }
}

/// A thread holding one PostgreSQL connection that LISTENs; stopped when dropped.
struct Listener {
    stop: Arc<AtomicBool>,
}

impl Listener {
    fn start(url: String, wake: Arc<Notify>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("change-feed-listener".into())
            .spawn(move || listen(&url, &wake, &stopped));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no change-feed listener; polling only");
        }
        Self { stop }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn listen(url: &str, wake: &Notify, stop: &AtomicBool) {
    let mut listening: Option<PgConnection> = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(conn) = listening.as_mut() else {
            match open_listening(url) {
                Ok(conn) => {
                    listening = Some(conn);
                    // Whatever was notified while away is in the feed: read it now.
                    wake.notify_one();
                }
                Err(e) => {
                    tracing::debug!(error = %e, "the change-feed listener cannot connect");
                    std::thread::sleep(LISTEN_RETRY);
                }
            }
            continue;
        };
        let mut notified = false;
        let mut broken = false;
        for arrived in conn.notifications_iter() {
            match arrived {
                Ok(_) => notified = true,
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        if notified {
            wake.notify_one();
        }
        if broken {
            listening = None;
            std::thread::sleep(LISTEN_RETRY);
        } else if !notified {
            std::thread::sleep(LISTEN_TICK);
        }
    }
}

fn open_listening(url: &str) -> Result<PgConnection, String> {
    let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn).map_err(|e| e.to_string())?;
    Ok(conn)
}
