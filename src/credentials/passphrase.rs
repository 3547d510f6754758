use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

pub const MIN_PASSPHRASE_CHARS: usize = 8;
pub const MAX_PASSPHRASE_CHARS: usize = 255;

/// A passphrase that must be presented together with a token. Never printed.
pub struct Passphrase(String);

impl Passphrase {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let chars = raw.chars().count();
        if !(MIN_PASSPHRASE_CHARS..=MAX_PASSPHRASE_CHARS).contains(&chars) {
            return Err(format!(
                "Passphrase must be {MIN_PASSPHRASE_CHARS}–{MAX_PASSPHRASE_CHARS} characters."
            ));
        }
        crate::text::check(raw, crate::text::Lines::Single)?;
        Ok(Self(raw.to_owned()))
    }

    /// argon2id with a fresh salt, as a PHC string. Slow on purpose: call it off the async workers.
    pub fn hash(&self) -> Result<String, argon2::password_hash::Error> {
        Ok(Argon2::default().hash_password(self.0.as_bytes())?.to_string())
    }

    pub fn verify(&self, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        Argon2::default().verify_password(self.0.as_bytes(), &parsed).is_ok()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_bounded() {
        assert!(Passphrase::parse("short").is_err());
        assert!(Passphrase::parse("12345678").is_ok());
        assert!(Passphrase::parse(&"p".repeat(255)).is_ok());
        assert!(Passphrase::parse(&"p".repeat(256)).is_err());
    }

    #[test]
    fn hashes_with_argon2id_and_verifies() {
        let phrase = Passphrase::parse("correct horse battery").unwrap();
        let phc = phrase.hash().unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(!phc.contains("correct horse"));
        assert!(phrase.verify(&phc));
        assert!(!Passphrase::parse("wrong horse battery").unwrap().verify(&phc));
        assert!(!phrase.verify("not a hash"));
        assert_eq!(format!("{phrase:?}"), "Passphrase(****)");
    }
}
