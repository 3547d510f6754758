//! What the console and the API share, below both: the credential lifecycle (create, edit,
//! rotate, revoke) with its typed refusals, the inputs both map their requests into, the
//! credential collections, list and audit-filter parameters, and field errors.
//!
//! It sits above `state` (the lifecycle needs the pool, the clock, the catalog and the cache
//! that `AppState` groups) and below `auth`, `api` and `features`.

pub mod audit_filter;
pub mod credentials;
pub mod fields;
pub mod inputs;
pub mod list;
pub mod tab;
