//! Account → Tokens: a person's own personal access tokens.

pub mod handlers;
