//! The secret format: `prefix + 32 random base62 + 6 base62 CRC32`, after GitHub's scheme, so
//! a mistyped or forged shape is refused without touching the database.

use std::fmt;

use rand::distr::{Alphanumeric, Distribution};
use rand::rngs::OsRng;
use rand::TryRngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::kind::{CredentialKind, Prefixes};

pub const RANDOM_LEN: usize = 32;
pub const CHECKSUM_LEN: usize = 6;
const DISPLAY_RANDOM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A plaintext secret. It never prints itself: the only way out is [`PlainSecret::expose`],
/// called where the one response that reveals it is rendered.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// Prefix plus the first random characters: enough for a person to tell keys apart,
    /// far too little to guess the rest (26 unknown base62 characters remain).
    pub fn display_prefix(&self, prefix_len: usize) -> String {
        self.0[..prefix_len + DISPLAY_RANDOM_LEN].to_owned()
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(****)")
    }
}

impl fmt::Display for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

/// SHA-256 of the whole secret: what the database stores and looks up.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn matches_hex(&self, stored: &str) -> bool {
        let mut other = [0u8; 32];
        hex::decode_to_slice(stored, &mut other).is_ok() && bool::from(self.0.ct_eq(&other))
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretHash({}…)", &self.to_hex()[..8])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    #[error("the credential does not start with a known prefix")]
    UnknownPrefix,
    #[error("the credential has the wrong length or characters")]
    BadShape,
    #[error("the credential's checksum does not match")]
    BadChecksum,
}

/// Mints a new secret of `kind` from the operating system's CSPRNG.
pub fn generate(kind: CredentialKind, prefixes: &Prefixes) -> PlainSecret {
    generate_prefixed(prefixes.get(kind))
}

/// Mints a secret with any prefix (resource servers have one of their own).
pub fn generate_prefixed(prefix: &str) -> PlainSecret {
    let mut os_rng = OsRng.unwrap_err();
    let mut body = String::with_capacity(prefix.len() + RANDOM_LEN + CHECKSUM_LEN);
    body.push_str(prefix);
    body.extend(Alphanumeric.sample_iter(&mut os_rng).take(RANDOM_LEN).map(char::from));
    let checksum = checksum(&body);
    body.push_str(&checksum);
    PlainSecret(body)
}

/// Reads a presented secret: kind from the prefix, then shape, then checksum. No I/O.
pub fn parse(
    presented: &str,
    prefixes: &Prefixes,
) -> Result<(CredentialKind, PlainSecret), SecretFormatError> {
    let kind = prefixes.kind_of(presented).ok_or(SecretFormatError::UnknownPrefix)?;
    parse_prefixed(presented, prefixes.get(kind)).map(|plain| (kind, plain))
}

/// Reads a presented secret that must carry `prefix`: shape, then checksum. No I/O.
pub fn parse_prefixed(presented: &str, prefix: &str) -> Result<PlainSecret, SecretFormatError> {
    let prefix_len = prefix.len();
    if !presented.starts_with(prefix) {
        return Err(SecretFormatError::UnknownPrefix);
    }
    let rest = &presented[prefix_len..];
    if rest.len() != RANDOM_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(SecretFormatError::BadShape);
    }
    let (signed, sum) = presented.split_at(prefix_len + RANDOM_LEN);
    if checksum(signed) != sum {
        return Err(SecretFormatError::BadChecksum);
    }
    Ok(PlainSecret(presented.to_owned()))
}

fn checksum(signed: &str) -> String {
    let mut value = crc32fast::hash(signed.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefixes() -> Prefixes {
        Prefixes::default()
    }

    #[test]
    fn generated_secret_has_prefix_random_and_checksum() {
        let secret = generate(CredentialKind::AccessToken, &prefixes());
        let text = secret.expose();
        assert!(text.starts_with("tsr_at_"));
        assert_eq!(text.len(), "tsr_at_".len() + RANDOM_LEN + CHECKSUM_LEN);
        let (kind, parsed) = parse(text, &prefixes()).expect("own secret parses");
        assert_eq!(kind, CredentialKind::AccessToken);
        assert_eq!(parsed, secret);
    }

    #[test]
    fn kind_is_told_by_prefix_alone() {
        for kind in CredentialKind::ALL {
            let secret = generate(kind, &prefixes());
            assert_eq!(parse(secret.expose(), &prefixes()).map(|p| p.0), Ok(kind));
        }
    }

    #[test]
    fn one_changed_character_is_refused_by_checksum() {
        let secret = generate(CredentialKind::ApiKey, &prefixes());
        let text = secret.expose();
        for position in "tsr_ak_".len()..text.len() {
            let mut bytes = text.as_bytes().to_vec();
            bytes[position] = if bytes[position] == b'a' { b'b' } else { b'a' };
            let forged = String::from_utf8(bytes).expect("ascii");
            assert_eq!(
                parse(&forged, &prefixes()).map(|p| p.0),
                Err(SecretFormatError::BadChecksum),
                "position {position}"
            );
        }
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let p = prefixes();
        assert_eq!(parse("", &p).map(|s| s.0), Err(SecretFormatError::UnknownPrefix));
        assert_eq!(parse("ghp_abc", &p).map(|s| s.0), Err(SecretFormatError::UnknownPrefix));
        assert_eq!(parse("tsr_at_short", &p).map(|s| s.0), Err(SecretFormatError::BadShape));
        let with_symbol = format!("tsr_at_{}", "-".repeat(RANDOM_LEN + CHECKSUM_LEN));
        assert_eq!(parse(&with_symbol, &p).map(|s| s.0), Err(SecretFormatError::BadShape));
        let multibyte = format!("tsr_at_{}", "é".repeat(19));
        assert_eq!(parse(&multibyte, &p).map(|s| s.0), Err(SecretFormatError::BadShape));
    }

    #[test]
    fn secrets_are_unique_and_use_the_whole_alphabet() {
        let mut seen = std::collections::HashSet::new();
        let mut chars = std::collections::HashSet::new();
        for _ in 0..2000 {
            let s = generate(CredentialKind::AccessToken, &prefixes());
            chars.extend(s.expose()["tsr_at_".len()..][..RANDOM_LEN].chars());
            assert!(seen.insert(s.expose().to_owned()));
        }
        assert_eq!(chars.len(), 62);
    }

    #[test]
    fn debug_and_display_never_print_the_secret() {
        let secret = generate(CredentialKind::PersonalToken, &prefixes());
        let random_part = &secret.expose()["tsr_pat_".len()..];
        for shown in [format!("{secret:?}"), format!("{secret}"), format!("{:?}", secret.hash())] {
            assert!(!shown.contains(random_part), "{shown}");
            assert!(!shown.contains(&random_part[..8]), "{shown}");
        }
    }

    #[test]
    fn hash_is_sha256_of_whole_secret_and_compares_in_constant_time() {
        let secret = generate(CredentialKind::AccessToken, &prefixes());
        let hex = secret.hash().to_hex();
        assert_eq!(hex, hex::encode(Sha256::digest(secret.expose().as_bytes())));
        assert!(secret.hash().matches_hex(&hex));
        assert!(!secret.hash().matches_hex(&"0".repeat(64)));
        assert!(!secret.hash().matches_hex("not hex"));
    }

    #[test]
    fn display_prefix_is_prefix_and_six_random_characters() {
        let secret = generate(CredentialKind::AccessToken, &prefixes());
        let shown = secret.display_prefix("tsr_at_".len());
        assert_eq!(shown.len(), "tsr_at_".len() + 6);
        assert!(secret.expose().starts_with(&shown));
    }
}
