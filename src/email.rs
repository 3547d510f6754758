//! An email address as Tessera stores it: trimmed, lower-cased and plausibly deliverable.
//! People are found by email (an owner adds a member by email; the first OpenID sign-in with a
//! verified email links to that row), so every path that stores or looks up an email should
//! go through `EmailAddress::parse` and compare the normalized form.

use std::fmt;

/// RFC 5321: a path is at most 256 octets including the angle brackets.
pub const MAX_EMAIL_CHARS: usize = 254;
const MAX_LOCAL_CHARS: usize = 64;
const MAX_LABEL_CHARS: usize = 63;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Accepts `local@domain` with a dot-atom local part and a DNS domain of two or more
    /// labels. Quoted local parts and address literals are refused: nobody signs in with them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        crate::text::check(raw.trim(), crate::text::Lines::Single)?;
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter an email address.".into());
        }
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err(format!("An email address has at most {MAX_EMAIL_CHARS} characters."));
        }
        let invalid = || format!("“{}” is not a valid email address.", shorten(&email));
        let Some((local, domain)) = email.split_once('@') else {
            return Err(invalid());
        };
        if domain.contains('@') || !valid_local(local) || !valid_domain(domain) {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Letters, digits and the atom specials of RFC 5322, dots only between atoms.
fn valid_local(local: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    !local.is_empty()
        && local.len() <= MAX_LOCAL_CHARS
        && local.split('.').all(|atom| !atom.is_empty() && atom.chars().all(allowed))
}

/// Letter-digit-hyphen labels (an internationalized domain in its `xn--` form), no hyphen at
/// either end, and a top-level label that is not all digits.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_CHARS
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

/// A refused value quoted back in a message stays short.
fn shorten(value: &str) -> String {
    const SHOWN: usize = 60;
    if value.chars().count() <= SHOWN {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(SHOWN).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Frank.Castle+ops@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "frank.castle+ops@example.com");
        assert!(EmailAddress::parse("o'brien@mail.example.co.uk").is_ok());
        assert!(EmailAddress::parse("a@xn--bcher-kva.example").is_ok());
    }

    #[test]
    fn implausible_addresses_are_refused() {
        for bad in [
            "",
            "   ",
            "frank",
            "frank@",
            "@example.com",
            "frank@@example.com",
            "frank@ex@ample.com",
            "frank@localhost",
            "frank@example.",
            "frank@.example.com",
            "frank@exa mple.com",
            "fr ank@example.com",
            ".frank@example.com",
            "frank.@example.com",
            "fr..ank@example.com",
            "frank@-example.com",
            "frank@example-.com",
            "frank@example.123",
            "frank@[127.0.0.1]",
            "\"frank\"@example.com",
            "frank<script>@example.com",
            "frank@exämple.com",
            "frank\u{0}@example.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lengths_are_bounded() {
        let local = "l".repeat(64);
        let domain = format!("{}.{}.{}.com", "a".repeat(63), "b".repeat(63), "c".repeat(57));
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), 254);
        assert!(EmailAddress::parse(&longest).is_ok());
        assert!(EmailAddress::parse(&format!("{}@example.com", "l".repeat(65))).is_err(), "local part");
        assert!(EmailAddress::parse(&format!("a@{}.com", "d".repeat(64))).is_err(), "label");
        let too_long = format!(
            "{local}@{}.{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "e".repeat(10)
        );
        assert!(too_long.len() > 254);
        let message = EmailAddress::parse(&too_long).unwrap_err();
        assert!(message.contains("254"), "{message}");
    }
}
