//! Account → Tokens and Sessions: a person's own personal access tokens and where they are
//! signed in.

pub mod handlers;
pub mod sessions;
