//! Builds the server: state, middleware stack and routes. Tests build it on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use tracing_actix_web::TracingLogger;

use crate::auth::session_store::DatabaseSessionStore;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::metrics::Metrics;
use crate::oidc::Oidc;
pub use crate::state::AppState;
use crate::verification::rate_limit::RateLimits;
use crate::verification::resource_servers::ResourceServers;
use crate::verification::usage::UsageRecorder;
use crate::verification::verifier::Verifier;
use crate::{edge, features};

pub const SESSION_COOKIE: &str = "tessera_session";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// Usage reaches the database at most this far apart.
const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Background work runs at most this far apart.
const TICK: Duration = Duration::from_millis(500);
/// Expired session rows are refused on load, and old change-feed rows are no longer needed;
/// both are deleted this often.
const SESSION_PURGE_EVERY: Duration = Duration::from_secs(600);

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The change-feed number this instance starts after.
    feed_start: Option<i64>,
}

impl Application {
    /// Opens the database, applies migrations and binds; `bind` with port 0 picks a free port.
    pub fn build(settings: Settings, clock: SharedClock) -> Result<Self, String> {
        let pool = db::connect(&settings.database)?;
        db::migrate(&pool)?;
        Self::build_with_pool(settings, clock, pool)
    }

    pub fn build_with_pool(settings: Settings, clock: SharedClock, pool: DbPool) -> Result<Self, String> {
        let listener = Self::listen(&settings)?;
        Self::build_on(listener, settings, clock, pool)
    }

    /// Binds the configured address, so a caller can learn it is taken before doing anything else.
    pub fn listen(settings: &Settings) -> Result<TcpListener, String> {
        TcpListener::bind(settings.bind).map_err(|e| format!("cannot listen on {}: {e}", settings.bind))
    }

    pub fn build_on(
        listener: TcpListener,
        settings: Settings,
        clock: SharedClock,
        pool: DbPool,
    ) -> Result<Self, String> {
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let oidc = match &settings.oidc {
            Some(oidc) => Some(Oidc::new(oidc.clone(), &settings.public_url)?),
            None => None,
        };
        let verifier = Arc::new(Verifier::new(settings.wrong_passphrase_limit()));
        // This instance's writes drop their cache entries as they commit (see `db::run`).
        pool.keep_true(verifier.clone());
        let feed_start = db::feed::starting_point(&pool, verifier.as_ref(), settings.cache_staleness);
        let usage = UsageRecorder::default();
        let state = web::Data::new(AppState {
            oidc,
            pool,
            settings: Arc::new(settings),
            clock,
            metrics: Metrics::new(&verifier.metrics, &usage.metrics),
            verifier,
            usage,
            limits: RateLimits::default(),
            servers: ResourceServers::default(),
        });
        let server = run(listener, state.clone())?;
        Ok(Self { port, server, state, feed_start })
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Stops the server; `stop(true)` is graceful and lets pending usage be written.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until a graceful stop (SIGINT/SIGTERM), then writes pending usage.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let background = tokio::spawn(background(self.state.clone()));
        let state = &self.state;
        let following = tokio::spawn(db::feed::follow(
            state.pool.clone(),
            state.settings.database.clone(),
            state.verifier.clone(),
            state.settings.cache_staleness,
            self.feed_start,
        ));
        let served = self.server.await;
        background.abort();
        following.abort();
        if let Err(e) = self.state.usage.flush(&self.state.pool).await {
            tracing::error!(error = %e, "usage could not be written at shutdown");
        }
        served
    }
}

/// Writes usage batches and deletes what is no longer needed. The change feed is read by its
/// own task (`db::feed::follow`), so a slow flush never delays it.
async fn background(state: web::Data<AppState>) {
    let mut poll = tokio::time::interval(TICK);
    let mut last_flush = std::time::Instant::now();
    let mut last_purge = std::time::Instant::now();
    loop {
        poll.tick().await;
        if last_purge.elapsed() >= SESSION_PURGE_EVERY {
            last_purge = std::time::Instant::now();
            let now = state.clock.now();
            if let Err(e) =
                db::run(&state.pool, move |conn| Ok(db::sessions::purge_expired(conn, now)?)).await
            {
                tracing::warn!(error = %e, "expired sessions could not be purged");
            }
            if let Err(e) = db::run(&state.pool, move |conn| Ok(db::changes::prune(conn, now)?)).await {
                tracing::warn!(error = %e, "old change-feed rows could not be deleted");
            }
        }
        // Half a tick of slack: the ticks fall on the second, the last flush a little after one.
        if last_flush.elapsed() + TICK / 2 >= USAGE_FLUSH_EVERY {
            last_flush = std::time::Instant::now();
            match state.usage.flush(&state.pool).await {
                Ok(_) => state.metrics.flush_succeeded(),
                Err(e) => {
                    state.metrics.flush_failed();
                    tracing::warn!(error = %e, "usage flush failed; will retry");
                }
            }
        }
    }
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> Result<Server, String> {
    let key = Key::derive_from(state.settings.session_key.bytes());
    let secure = state.settings.secure_cookies();
    let idle = state.settings.session_limits.idle_seconds;
    let store = DatabaseSessionStore::new(state.pool.clone(), state.clock.clone());
    // Outermost last: the log and the count see every answer, the security headers cover the
    // edge's refusals, and a refused request never reaches the session (nor its table).
    let server = HttpServer::new(move || {
        App::new()
            .wrap(session_middleware(store.clone(), key.clone(), secure, idle))
            .wrap(from_fn(edge::refuse_unsafe_text))
            .wrap(from_fn(edge::check))
            .wrap(security_headers(secure))
            .wrap(from_fn(edge::count))
            .wrap(TracingLogger::default())
            .app_data(state.clone())
            .configure(crate::api::routes)
            .configure(features::routes)
    })
    .listen(listener)
    .map_err(|e| format!("cannot start the server: {e}"))?
    .run();
    Ok(server)
}

/// The cookie holds only the session's random key (encrypted); the session itself is a row in
/// the database. The cookie lives as long as the idle limit; the limits are checked on the server
/// too (the row's expiry and `TypedSession::live_user_id`), since a cookie's own expiry is the
/// browser's to keep.
fn session_middleware(
    store: DatabaseSessionStore,
    key: Key,
    secure: bool,
    idle_seconds: i64,
) -> SessionMiddleware<DatabaseSessionStore> {
    SessionMiddleware::builder(store, key)
        .cookie_name(SESSION_COOKIE.into())
        .cookie_secure(secure)
        .cookie_http_only(true)
        .cookie_same_site(SameSite::Lax)
        .cookie_content_security(CookieContentSecurity::Private)
        .session_lifecycle(
            PersistentSession::default()
                .session_ttl(actix_web::cookie::time::Duration::seconds(idle_seconds)),
        )
        .build()
}

fn security_headers(https: bool) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CSP))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    // Over plain http the header is ignored by browsers, and would pin a developer's
    // `localhost` to https if one ever served it over TLS.
    if https {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}
