//! Settings → Tokens and Settings → API keys.

pub mod forms;
pub mod handlers;
pub mod listing;
pub mod setup;
pub mod views;
