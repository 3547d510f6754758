//! The integration suite: one binary, run on SQLite by default and on PostgreSQL with
//! TESSERA_TEST_BACKEND=postgres.

mod helpers;
mod schema;
mod security;
mod sign_in;
mod startup;
mod tokens;
mod tokens_access;
