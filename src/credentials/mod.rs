//! The domain core of credentials. No HTTP and no database here.

mod expiry;
mod grants;
mod kind;
mod name;
mod passphrase;
mod policy;
pub mod secret;

pub use expiry::{replacement_expiry, ExpiryChoice, MAX_EXPIRY_DAYS};
pub use grants::Grants;
pub use kind::{CredentialKind, Prefixes};
pub use name::{parse_description, CredentialName, MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};
pub use passphrase::{Passphrase, MAX_PASSPHRASE_CHARS};
pub use policy::{cap_refusal, Plan, PlanCaps, Status, StatusFilter, EXPIRING_SOON_DAYS};
pub use secret::{PlainSecret, SecretFormatError, SecretHash};
