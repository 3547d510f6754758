use std::fmt;

pub const MIN_NAME_CHARS: usize = 3;
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

/// A credential's name: trimmed, 3–255 characters, no control or bidi-override characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialName(String);

impl CredentialName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().count();
        if chars < MIN_NAME_CHARS {
            return Err(format!("Name must be at least {MIN_NAME_CHARS} characters."));
        }
        if chars > MAX_NAME_CHARS {
            return Err(format!("Name must be at most {MAX_NAME_CHARS} characters."));
        }
        crate::text::check(trimmed, crate::text::Lines::Single)?;
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(CredentialName::parse("  ci deploy  ").unwrap().as_str(), "ci deploy");
        assert!(CredentialName::parse("ab").is_err());
        assert!(CredentialName::parse("   ab   ").is_err());
        assert!(CredentialName::parse("abc").is_ok());
        assert!(CredentialName::parse(&"x".repeat(255)).is_ok());
        assert!(CredentialName::parse(&"x".repeat(256)).is_err());
        assert!(CredentialName::parse(&"é".repeat(255)).is_ok(), "counts characters, not bytes");
        assert!(CredentialName::parse("bad\u{0}name").is_err());
        assert!(CredentialName::parse("bad\u{2067}name").is_err());
        assert!(CredentialName::parse("two\nlines").is_err());
    }
}

/// An optional description: trimmed, at most 1000 characters, several lines allowed, empty
/// meaning none.
pub fn parse_description(raw: &str) -> Result<Option<String>, String> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!("Description must be at most {MAX_DESCRIPTION_CHARS} characters."));
    }
    crate::text::check(trimmed, crate::text::Lines::Multi)?;
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

#[cfg(test)]
mod description_tests {
    use super::*;

    #[test]
    fn descriptions_are_optional_and_bounded() {
        assert_eq!(parse_description("  "), Ok(None));
        assert_eq!(parse_description(" used by CI "), Ok(Some("used by CI".into())));
        assert!(parse_description(&"d".repeat(1000)).is_ok());
        assert!(parse_description(&"d".repeat(1001)).is_err());
        assert_eq!(parse_description("line one\nline two"), Ok(Some("line one\nline two".into())));
        assert!(parse_description("nul \u{0} here").is_err());
        assert!(parse_description("\u{202E}gnp.exe").is_err());
    }
}
