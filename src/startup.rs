//! Builds the server: state, middleware stack and routes. Tests build it on port 0.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_session::config::{CookieContentSecurity, PersistentSession};
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer, ResponseError};
use tracing_actix_web::TracingLogger;

use crate::api::introspect::ResourceServers;
use crate::api::rate_limit::RateLimits;
use crate::api::usage::UsageRecorder;
use crate::api::verifier::Verifier;
use crate::auth::oidc::Oidc;
use crate::auth::session_store::DatabaseSessionStore;
use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::{self, DbPool};
use crate::error::AppError;
use crate::metrics::Metrics;
use crate::{edge, features};

pub const SESSION_COOKIE: &str = "tessera_session";
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub verifier: Verifier,
    pub usage: UsageRecorder,
    pub limits: RateLimits,
    pub servers: ResourceServers,
    /// Single sign-on, when an OpenID provider is configured.
    pub oidc: Option<Oidc>,
    pub metrics: Metrics,
}

/// Usage reaches the database at most this far apart.
const USAGE_FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Changes made by other instances are looked for this often.
const CHANGES_POLL_EVERY: Duration = Duration::from_millis(500);
/// Expired session rows are refused on load; they are deleted this often.
const SESSION_PURGE_EVERY: Duration = Duration::from_secs(600);
/// How far back each poll looks, to cover clock skew between instances.
const CHANGES_OVERLAP_SECONDS: i64 = 5;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
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
        let verifier = Verifier::new(settings.wrong_passphrase_limit());
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
        Ok(Self { port, server, state })
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
        let served = self.server.await;
        background.abort();
        if let Err(e) = self.state.usage.flush(&self.state.pool).await {
            tracing::error!(error = %e, "usage could not be written at shutdown");
        }
        served
    }
}

/// Writes usage batches and drops cache entries that other instances changed.
async fn background(state: web::Data<AppState>) {
    let mut poll = tokio::time::interval(CHANGES_POLL_EVERY);
    let mut last_flush = std::time::Instant::now();
    let mut last_purge = std::time::Instant::now();
    loop {
        poll.tick().await;
        let since = state.clock.now() - chrono::TimeDelta::seconds(CHANGES_OVERLAP_SECONDS);
        match db::run(&state.pool, move |conn| Ok(db::credentials::changed_since(conn, since)?)).await {
            Ok(changes) => {
                state.verifier.forget(&changes.credential_ids);
                state.verifier.forget_users(&changes.user_ids);
                state.verifier.forget_orgs(&changes.org_ids);
            }
            Err(e) => tracing::warn!(error = %e, "change poll failed"),
        }
        if last_purge.elapsed() >= SESSION_PURGE_EVERY {
            last_purge = std::time::Instant::now();
            let now = state.clock.now();
            if let Err(e) =
                db::run(&state.pool, move |conn| Ok(db::sessions::purge_expired(conn, now)?)).await
            {
                tracing::warn!(error = %e, "expired sessions could not be purged");
            }
        }
        // Half a tick of slack: the ticks fall on the second, the last flush a little after one.
        if last_flush.elapsed() + CHANGES_POLL_EVERY / 2 >= USAGE_FLUSH_EVERY {
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
            .wrap(from_fn(crate::routing::refuse_unsafe_text))
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

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Prometheus text (SPEC §6). Open like `/healthz` unless `TESSERA_METRICS_TOKEN` is set; then
/// only a scraper presenting it as a bearer token is answered.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(token) = &state.settings.metrics_token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !presented.is_some_and(|p| token.matches(p.trim())) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tessera-metrics\""))
                .content_type("text/plain")
                .body("A bearer token is required.");
        }
    }
    match state.metrics.render(&state.pool) {
        Ok(text) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type(crate::metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => AppError::internal(e).error_response(),
    }
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match db::run(&state.pool, |conn| Ok(db::ping(conn)?)).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(_) => HttpResponse::ServiceUnavailable().content_type("text/plain").body("database unreachable"),
    }
}
