//! The instance's Prometheus metrics (SPEC §6), kept in `AppState`, not in a global registry.
//! Every label value is a fixed word (a route group, a status code, a verification code), never a
//! path, an org slug, a credential id or a secret, so nothing sensitive can reach the text and
//! the number of series stays bounded whatever clients send.

use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::db::DbPool;

pub use prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    group: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// What the verifier counts; it owns a handle, the registry another to the same values.
#[derive(Clone, Debug, Default)]
pub struct VerificationMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
    cache_hits: Counter,
    cache_misses: Counter,
}

impl VerificationMetrics {
    /// `code` is `valid`, `error` or a `Rejection` code; `malformed_token` reads `malformed`.
    pub fn outcome(&self, code: &'static str) {
        let outcome = code.strip_suffix("_token").unwrap_or(code);
        self.outcomes.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn cache(&self, hit: bool) {
        if hit { &self.cache_hits } else { &self.cache_misses }.inc();
    }
}

/// What the usage recorder counts; it owns a handle, the registry another to the same values.
#[derive(Clone, Debug, Default)]
pub struct UsageMetrics {
    dropped: Counter,
    pending: Gauge,
}

impl UsageMetrics {
    /// A use not counted: too many credentials were already waiting to be written.
    pub fn dropped(&self) {
        self.dropped.inc();
    }

    pub fn dropped_count(&self) -> u64 {
        self.dropped.get()
    }

    pub fn pending(&self, credentials: usize) {
        self.pending.set(i64::try_from(credentials).unwrap_or(i64::MAX));
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    flush_failures: Counter,
    flush_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    last_flush: Mutex<Instant>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
}

impl Metrics {
    pub fn new(verification: &VerificationMetrics, usage: &UsageMetrics) -> Self {
        let mut metrics = Self {
            registry: Registry::with_prefix("tessera"),
            requests: Family::default(),
            flush_failures: Counter::default(),
            flush_lag: Gauge::default(),
            last_flush: Mutex::new(Instant::now()),
            pool_connections: Family::default(),
            pool_max: Gauge::default(),
        };
        let r = &mut metrics.registry;
        r.register("http_requests", "Answers by route group and status code", metrics.requests.clone());
        r.register("verifications", "Presented credentials by outcome", verification.outcomes.clone());
        r.register(
            "verification_cache_hits",
            "Verifications answered from the credential cache",
            verification.cache_hits.clone(),
        );
        r.register(
            "verification_cache_misses",
            "Verifications that read the database",
            verification.cache_misses.clone(),
        );
        r.register(
            "usage_flush_lag_seconds",
            "Seconds since usage was last written to the database",
            metrics.flush_lag.clone(),
        );
        r.register("usage_flush_failures", "Usage writes that failed", metrics.flush_failures.clone());
        r.register(
            "usage_dropped",
            "Uses not counted because too many credentials' usage was waiting to be written",
            usage.dropped.clone(),
        );
        r.register(
            "usage_pending_credentials",
            "Credentials whose usage waits to be written, as of the last flush",
            usage.pending.clone(),
        );
        r.register(
            "db_pool_connections",
            "Database connections open, by state (in_use, idle)",
            metrics.pool_connections.clone(),
        );
        r.register(
            "db_pool_max_connections",
            "Database connections the pool may open",
            metrics.pool_max.clone(),
        );
        metrics
    }

    pub fn request(&self, group: &'static str, status: u16) {
        self.requests.get_or_create(&RequestLabels { group, status }).inc();
    }

    pub fn flush_succeeded(&self) {
        *self.last_flush.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    pub fn flush_failed(&self) {
        self.flush_failures.inc();
    }

    /// The Prometheus text, with the gauges read now.
    pub fn render(&self, pool: &DbPool) -> Result<String, std::fmt::Error> {
        let since_flush = self.last_flush.lock().unwrap_or_else(|p| p.into_inner()).elapsed();
        self.flush_lag.set(since_flush.as_secs_f64());
        let state = pool.state();
        let gauge = |state| self.pool_connections.get_or_create(&PoolLabels { state }).clone();
        gauge("in_use").set(i64::from(state.connections.saturating_sub(state.idle_connections)));
        gauge("idle").set(i64::from(state.idle_connections));
        self.pool_max.set(i64::from(pool.max_size()));
        let mut text = String::new();
        prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The route group of a path: a handful of fixed words, so a path never becomes a label.
pub fn route_group(path: &str) -> &'static str {
    match path {
        "/healthz" | "/readyz" => "health",
        "/metrics" => "metrics",
        "/sign-in" | "/sign-out" => "auth",
        _ if path.starts_with("/api/v1/introspect") => "introspect",
        _ if path.starts_with("/api/") => "api",
        _ if path.starts_with("/auth/") => "auth",
        _ if path.starts_with("/static/") => "static",
        _ => "console",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_fixed_groups() {
        assert_eq!(route_group("/api/v1/introspect"), "introspect");
        assert_eq!(route_group("/api/v1/orgs/acme/tokens"), "api");
        assert_eq!(route_group("/auth/dev"), "auth");
        assert_eq!(route_group("/static/app.js"), "static");
        assert_eq!(route_group("/readyz"), "health");
        assert_eq!(route_group("/orgs/acme/settings/tokens"), "console");
        assert_eq!(route_group("/anything/else"), "console");
    }

    #[test]
    fn outcomes_read_without_the_token_suffix() {
        let verification = VerificationMetrics::default();
        verification.outcome("malformed_token");
        verification.outcome("valid");
        verification.cache(true);
        let metrics = Metrics::new(&verification, &UsageMetrics::default());
        metrics.request("api", 200);
        let mut text = String::new();
        prometheus_text::encode(&mut text, &metrics.registry).unwrap();
        assert!(text.contains("tessera_verifications_total{outcome=\"malformed\"} 1"), "{text}");
        assert!(text.contains("tessera_verification_cache_hits_total 1"), "{text}");
        assert!(text.contains("tessera_http_requests_total{group=\"api\",status=\"200\"} 1"), "{text}");
    }
}
