//! Tessera: organization-scoped API credentials, console and API.

// Request-serving code reports errors; it never unwraps or panics.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::await_holding_lock)
)]

pub mod api;
pub mod auth;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod db;
pub mod domain;
pub mod edge;
pub mod email;
pub mod error;
pub mod features;
pub mod html;
pub mod metrics;
pub mod oidc;
pub mod operator;
pub mod routing;
pub mod seed;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod text;
pub mod urls;
pub mod verification;
pub mod views;
