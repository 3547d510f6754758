//! The hot path's in-memory state, held by `AppState`: the verification cache (kept true by
//! the change feed), rate-limit budgets, pending usage, and the resource servers. Below the
//! adapters, so the API reads it and the server builds it without importing each other.

pub mod rate_limit;
pub mod resource_servers;
pub mod usage;
pub mod verifier;
