//! What every request handler shares: the pool, the clock, the settings and the in-memory
//! state of the hot path. It sits below the adapters (api/, features/, auth/), so they import it
//! without importing the server that builds it.

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::db::DbPool;
use crate::metrics::Metrics;
use crate::oidc::Oidc;
use crate::verification::rate_limit::RateLimits;
use crate::verification::resource_servers::ResourceServers;
use crate::verification::usage::UsageRecorder;
use crate::verification::verifier::Verifier;

pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub verifier: Arc<Verifier>,
    pub usage: UsageRecorder,
    pub limits: RateLimits,
    pub servers: ResourceServers,
    /// Single sign-on, when an OpenID provider is configured.
    pub oidc: Option<Oidc>,
    pub metrics: Metrics,
}
