//! One connection type for SQLite and PostgreSQL, the pool, migrations, and the helper that
//! keeps diesel off the async workers.
//!
//! A single-row lookup is a query unique by construction (primary key or unique column) read
//! with `get_result`, never `.first()`: that binds `LIMIT ?`, and with a bound LIMIT SQLite
//! re-prepares the cached statement on every run (the hot path's lookup cost several times more).

pub mod audit;
pub mod changes;
pub mod credentials;
pub mod feed;
pub mod orgs;
pub mod resource_servers;
pub mod schema;
pub mod sessions;
pub mod usage;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseUrl;
use crate::error::AppError;

// Postgres first: `establish` tries variants in order and SQLite accepts any string.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// The connection pool, and the cache of this instance that the writes made through it keep
/// true (see `run`).
#[derive(Clone)]
pub struct DbPool {
    pool: Pool<ConnectionManager>,
    cache: changes::LocalCache,
}

impl DbPool {
    pub fn get(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, r2d2::PoolError> {
        self.pool.get()
    }

    pub fn state(&self) -> r2d2::State {
        self.pool.state()
    }

    pub fn max_size(&self) -> u32 {
        self.pool.max_size()
    }

    /// The cache the changes written through this pool drop entries of; set once, at start.
    pub fn keep_true(&self, cache: std::sync::Arc<dyn changes::Cache>) -> bool {
        self.cache.set(cache)
    }
}

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
    PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;";

/// Opens connections of the backend the URL names, SQLite ones with their PRAGMAs set.
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(&without_gss_probe(url))
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
            DatabaseUrl::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                conn.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        ping(conn).map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// libpq's default `gssencmode=prefer` loads Kerberos at every connection to probe for GSS
/// encryption. A short-lived operator command that exits while the pool is still connecting then
/// meets Kerberos's own exit-time teardown, which asserts and aborts the process. Tessera does not
/// need that probe; a URL that names `gssencmode` keeps its choice.
fn without_gss_probe(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if !parsed.query_pairs().any(|(key, _)| key == "gssencmode") => {
            parsed.query_pairs_mut().append_pair("gssencmode", "disable");
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(c) => c.batch_execute("SELECT 1"),
        DbConnection::Sqlite(c) => c.batch_execute("SELECT 1"),
    }
}

/// Opens one connection first, so a database that cannot be opened is reported at once with
/// its cause (the pool alone would retry for its timeout and then say only that it timed out).
pub fn connect(url: &DatabaseUrl) -> Result<DbPool, String> {
    let manager = ConnectionManager { url: url.clone() };
    manager.connect().map_err(|e| cannot_open(url, &e))?;
    let size = match url {
        DatabaseUrl::Sqlite(_) => 8,
        DatabaseUrl::Postgres(_) => 16,
    };
    let pool = Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        // Start-up reports one line; later failures are logged where a request meets them.
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build(manager)
        .map_err(|e| format!("cannot open the database {url:?}: {e}"))?;
    Ok(DbPool { pool, cache: changes::LocalCache::default() })
}

fn cannot_open(url: &DatabaseUrl, error: &r2d2::Error) -> String {
    let hint = match url {
        DatabaseUrl::Sqlite(path) => sqlite_hint(std::path::Path::new(path)),
        DatabaseUrl::Postgres(_) => None,
    };
    match hint {
        Some(hint) => format!("cannot open the database {url:?}: {hint} ({error})"),
        None => format!("cannot open the database {url:?}: {error}"),
    }
}

/// SQLite says only "unable to open database file"; the usual causes are worth naming.
fn sqlite_hint(path: &std::path::Path) -> Option<String> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    if !folder.is_dir() {
        return Some(format!("the folder {} does not exist", folder.display()));
    }
    let probe = folder.join(format!(".tessera-write-check-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) => Some(format!("the folder {} is not writable: {e}", folder.display())),
    }
}

/// Applies pending migrations; returns the names of those applied.
pub fn migrate(pool: &DbPool) -> Result<Vec<String>, String> {
    let mut conn = pool.get().map_err(|e| format!("cannot open the database: {e}"))?;
    let applied = match &mut *conn {
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| format!("database migration failed: {e}"))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

/// Runs blocking diesel work on the blocking thread pool, never on an async worker. When the
/// work wrote change-feed rows (any audited change to a credential's verification), this
/// instance's cache drops those entries as the work ends, after its transaction: there is no
/// separate call for a write path to forget. Other instances learn of it from the feed.
pub async fn run<T, F>(pool: &DbPool, work: F) -> Result<T, AppError>
where
    F: FnOnce(&mut DbConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        // Left over from work on this thread that did not come through here.
        changes::take_written();
        let done = pool.get().map_err(AppError::from_pool).and_then(|mut conn| work(&mut conn));
        pool.cache.apply_written();
        done
    })
    .await
    .map_err(|e| AppError::internal(format!("blocking task failed: {e}")))?
}

diesel::define_sql_function! {
    /// SQL `lower()`, on both backends.
    fn lower(value: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A `LIKE` pattern matching `term` literally (used with `escape('\\')`).
fn escape_like(term: &str) -> String {
    term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A fresh application-made id: UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::without_gss_probe;

    #[test]
    fn the_gss_probe_is_off_unless_the_url_chooses() {
        assert_eq!(without_gss_probe("postgres://u@h/db"), "postgres://u@h/db?gssencmode=disable");
        assert_eq!(
            without_gss_probe("postgres://u@h/db?sslmode=require"),
            "postgres://u@h/db?sslmode=require&gssencmode=disable"
        );
        assert_eq!(
            without_gss_probe("postgres://u@h/db?gssencmode=require"),
            "postgres://u@h/db?gssencmode=require"
        );
    }
}
