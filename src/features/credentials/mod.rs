//! Settings → Tokens and Settings → API keys.

pub mod forms;
pub mod handlers;
pub mod listing;
pub mod service;
pub mod setup;
pub mod tab;
pub mod views;
