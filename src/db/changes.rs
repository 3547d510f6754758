//! The change feed: one row per change to whether or how a credential verifies, numbered in
//! commit order. Rows are derived from audit entries in `audit::record`, so a write that is
//! audited cannot leave its feed row out, and both land in the writer's transaction. Each
//! instance reads the rows after the last number it applied (never a window of wall-clock time),
//! so an instance cut off for any length of time catches up when it reconnects.

use std::cell::RefCell;
use std::sync::Arc;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::audit::AuditEvent;
use super::schema::change_feed as f;
use super::DbConnection;

/// The PostgreSQL channel that wakes other instances when feed rows commit.
pub const CHANNEL: &str = "tessera_change_feed";

/// Rows older than this may be pruned. An instance that has not read the feed for this long
/// stopped trusting its cache long ago (the allowed staleness is seconds) and drops it whole
/// when it reads again, so a pruned row is never one it still needs.
pub const RETENTION: TimeDelta = TimeDelta::days(1);

/// The audit action of an org's API-access gate change; its target is the org.
pub const API_ACCESS_ACTION: &str = "org.api_access";

/// An arbitrary constant naming the feed's transaction lock on PostgreSQL.
const FEED_LOCK: i64 = 0x7465_7373_6572_6131;

/// What a cache entry must be read again for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// A credential revoked, rotated (its predecessor stops), edited or (de)activated.
    Credential(String),
    /// A person added, given another role or removed: their personal tokens act with their
    /// role, so they must be read again.
    User(String),
    /// An org whose API-access gate changed: its API keys must be read again.
    Org(String),
}

impl Change {
    fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Credential(id) => ("credential", id),
            Self::User(id) => ("user", id),
            Self::Org(id) => ("org", id),
        }
    }

    fn from_parts(kind: &str, id: String) -> Option<Self> {
        match kind {
            "credential" => Some(Self::Credential(id)),
            "user" => Some(Self::User(id)),
            "org" => Some(Self::Org(id)),
            _ => None,
        }
    }
}

/// What keeps a cache true: told of the changes this instance commits, at once, and of every
/// change read from the feed.
pub trait Cache: Send + Sync {
    fn forget(&self, changes: &[Change]);
    /// The feed was read completely: entries may be trusted until `deadline`. Past it, the
    /// cache must not answer from its entries; whatever it held before may be dropped whole,
    /// since rows it missed while it could not read may have been pruned since.
    fn trust_until(&self, deadline: std::time::Instant);
}

const CREDENTIAL_TARGETS: [&str; 3] = ["access_token", "api_key", "personal_token"];

/// The feed rows an audit entry implies. A deny list, not an allow list: a new kind of write
/// on a credential drops it from caches unless it is known to change nothing there (creating
/// one; a lock-out, which each instance keeps itself).
pub fn implied_by(event: &AuditEvent<'_>) -> Vec<Change> {
    let Some(target) = event.target_id else {
        return Vec::new();
    };
    if event.action == API_ACCESS_ACTION {
        return vec![Change::Org(target.to_owned())];
    }
    match event.target_type {
        Some("membership") => vec![Change::User(target.to_owned())],
        Some(kind) if CREDENTIAL_TARGETS.contains(&kind) => {
            if event.action.ends_with(".create") || event.action.ends_with(".passphrase_lockout") {
                return Vec::new();
            }
            let mut changes = vec![Change::Credential(target.to_owned())];
            // A rotation's entry names the replacement; the predecessor is the one cached.
            if let Some(previous) = event.details.get("rotated_from").and_then(|v| v.as_str()) {
                changes.push(Change::Credential(previous.to_owned()));
            }
            changes
        }
        _ => Vec::new(),
    }
}

thread_local! {
    /// Changes appended on this thread since `take_written`: `db::run` hands them to the
    /// instance's cache once the work (and so its transaction) has ended.
    static WRITTEN: RefCell<Vec<Change>> = const { RefCell::new(Vec::new()) };
}

/// Appends the rows in the caller's transaction (one is opened when there is none, so the
/// lock below is held until the rows commit).
pub(super) fn append(conn: &mut DbConnection, changes: &[Change], now: NaiveDateTime) -> QueryResult<()> {
    if changes.is_empty() {
        return Ok(());
    }
    conn.transaction(|conn| {
        if let DbConnection::Postgres(pg) = conn {
            // A sequence hands out numbers in insert order, not commit order: a reader that has
            // seen 8 could miss 7 committing later. Holding one lock from the insert to the
            // commit makes the two orders one. It serializes only writes that change a
            // credential's verification, which are rare; an advisory lock (rather than locking
            // the table) leaves readers and every other write alone. SQLite needs nothing: it
            // has one writer at a time, and the number is taken inside its write transaction.
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)").bind::<BigInt, _>(FEED_LOCK).execute(pg)?;
            // Delivered at commit, and not at all on rollback.
            diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(pg)?;
        }
        // One by one: a multi-row insert does not build for both backends, and there are one
        // or two rows.
        for change in changes {
            let (kind, id) = change.parts();
            diesel::insert_into(f::table)
                .values((f::kind.eq(kind), f::subject_id.eq(id), f::recorded_at.eq(now)))
                .execute(conn)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    WRITTEN.with(|w| w.borrow_mut().extend_from_slice(changes));
    Ok(())
}

/// The changes appended on this thread since the last call. A rolled-back write's changes are
/// included: dropping a cache entry for nothing costs one read.
pub(super) fn take_written() -> Vec<Change> {
    WRITTEN.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// The newest number, where a starting instance begins (its cache is empty).
pub fn latest(conn: &mut DbConnection) -> QueryResult<i64> {
    let max: Option<i64> = f::table.select(diesel::dsl::max(f::seq)).first(conn)?;
    Ok(max.unwrap_or(0))
}

/// Up to `limit` rows after `last`, in order.
pub fn after(conn: &mut DbConnection, last: i64, limit: i64) -> QueryResult<Vec<(i64, Change)>> {
    let rows: Vec<(i64, String, String)> = f::table
        .filter(f::seq.gt(last))
        .order(f::seq.asc())
        .limit(limit)
        .select((f::seq, f::kind, f::subject_id))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(seq, kind, id)| Some((seq, Change::from_parts(&kind, id)?))).collect())
}

/// Deletes rows older than the retention period.
pub fn prune(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(f::table.filter(f::recorded_at.lt(now - RETENTION))).execute(conn)
}

/// The cache `db::run` tells of the changes its work wrote, set once when the instance starts.
#[derive(Clone, Default)]
pub struct LocalCache(Arc<std::sync::OnceLock<Arc<dyn Cache>>>);

impl LocalCache {
    pub fn set(&self, cache: Arc<dyn Cache>) -> bool {
        self.0.set(cache).is_ok()
    }

    /// After the work's transaction has ended: on this instance the change applies to the
    /// very next request.
    pub(super) fn apply_written(&self) {
        let written = take_written();
        if let (false, Some(cache)) = (written.is_empty(), self.0.get()) {
            cache.forget(&written);
        }
    }
}
