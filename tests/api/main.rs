//! The integration suite: one binary, run on SQLite by default and on PostgreSQL with
//! TESSERA_TEST_BACKEND=postgres.

mod api_access_gate;
mod api_keys;
mod audit;
mod authorization;
mod bearer;
mod helpers;
mod introspection;
mod members;
mod oidc_provider;
mod openapi;
mod operator;
mod passphrase_guard;
mod personal;
mod rotation;
mod schema;
mod security;
mod seed;
mod setup_card;
mod sign_in;
mod sso;
mod startup;
mod text_inputs;
mod tokens;
mod tokens_access;
mod usage_pages;
