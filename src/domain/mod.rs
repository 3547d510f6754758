//! Who may do what, as plain types with no HTTP and no database: a person's role in an org, and
//! `Access`, the one place every permission question is answered; where a request came from.

mod access;
mod request;
mod role;

pub use access::Access;
pub use request::RequestMeta;
pub use role::Role;
