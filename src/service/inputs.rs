//! What a create, edit or rotate request says, before any rule: the console's forms and the
//! API's JSON bodies both map into these, and `parse` turns them into domain types (or field
//! errors) with one set of rules.

use chrono::{NaiveDateTime, TimeDelta};

use super::fields::FormErrors;
use super::tab::Tab;
use crate::catalog::Catalog;
use crate::credentials::{parse_description, CredentialName, ExpiryChoice, Grants, Passphrase};

/// A create request of either kind: tokens send `scopes` and may send a passphrase; API keys
/// send `permissions`, a description and the active state.
#[derive(Debug, Default)]
pub struct CreateInput {
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub permissions: Vec<String>,
    pub passphrase: String,
    /// `never`, a number of days, or `custom` with `expires_on`.
    pub expiry: String,
    pub expires_on: String,
    pub active: bool,
}

/// A create request that passed every rule that needs no database.
#[derive(Debug)]
pub struct ValidCreate {
    pub name: CredentialName,
    pub description: Option<String>,
    pub grants: Grants,
    pub passphrase: Option<Passphrase>,
    pub expires_at: Option<NaiveDateTime>,
    pub active: bool,
}

impl CreateInput {
    pub fn chosen_grants(&self, tab: Tab) -> &[String] {
        if tab.is_api_keys() {
            &self.permissions
        } else {
            &self.scopes
        }
    }

    pub fn parse(
        &self,
        tab: Tab,
        catalog: &Catalog,
        now: NaiveDateTime,
        max_lifetime_days: Option<u64>,
    ) -> Result<ValidCreate, FormErrors> {
        let mut errors = FormErrors::default();
        let name = errors.take("name", CredentialName::parse(&self.name));
        let grants = errors.take(
            "grants",
            Grants::parse(self.chosen_grants(tab), &tab.grant_names(catalog), tab.grant_noun),
        );
        let expires_at =
            errors.take("expiry", parse_expiry(&self.expiry, &self.expires_on, now, max_lifetime_days));
        let (description, passphrase) = if tab.is_api_keys() {
            (errors.take("description", parse_description(&self.description)), Some(None))
        } else if self.passphrase.is_empty() {
            (Some(None), Some(None))
        } else {
            (Some(None), errors.take("passphrase", Passphrase::parse(&self.passphrase).map(Some)))
        };
        // Tokens have no toggle: they are active until revoked or expired.
        let active = !tab.is_api_keys() || self.active;
        match (name, grants, expires_at, description, passphrase) {
            (Some(name), Some(grants), Some(expires_at), Some(description), Some(passphrase))
                if errors.is_empty() =>
            {
                Ok(ValidCreate { name, description, grants, passphrase, expires_at, active })
            }
            _ => Err(errors),
        }
    }
}

fn parse_expiry(
    choice: &str,
    date: &str,
    now: NaiveDateTime,
    max_lifetime_days: Option<u64>,
) -> Result<Option<NaiveDateTime>, String> {
    ExpiryChoice::parse(choice, date).and_then(|c| c.resolve(now, max_lifetime_days))
}

/// An API key edit: everything but the secret.
#[derive(Debug, Default)]
pub struct EditInput {
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
    /// `keep`, or a choice as on the create form.
    pub expiry: String,
    pub expires_on: String,
    pub active: bool,
}

pub struct ValidEdit {
    pub name: CredentialName,
    pub description: Option<String>,
    pub grants: Grants,
    pub expires_at: Option<NaiveDateTime>,
    pub active: bool,
}

impl EditInput {
    pub fn parse(
        &self,
        catalog: &Catalog,
        current_expiry: Option<NaiveDateTime>,
        now: NaiveDateTime,
        max_lifetime_days: Option<u64>,
    ) -> Result<ValidEdit, FormErrors> {
        let mut errors = FormErrors::default();
        let name = errors.take("name", CredentialName::parse(&self.name));
        let description = errors.take("description", parse_description(&self.description));
        let grants = errors
            .take("grants", Grants::parse(&self.permissions, &catalog.permission_names(), "permission"));
        let expires_at = if self.expiry == "keep" {
            Some(current_expiry)
        } else {
            errors.take("expiry", parse_expiry(&self.expiry, &self.expires_on, now, max_lifetime_days))
        };
        match (name, description, grants, expires_at) {
            (Some(name), Some(description), Some(grants), Some(expires_at)) if errors.is_empty() => {
                Ok(ValidEdit { name, description, grants, expires_at, active: self.active })
            }
            _ => Err(errors),
        }
    }
}

/// How long a rotated-out secret keeps working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grace {
    Now,
    Hour,
    Day,
    Week,
}

impl Grace {
    pub const ALL: [Grace; 4] = [Self::Now, Self::Hour, Self::Day, Self::Week];

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == value)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Now => "now",
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
        }
    }

    pub fn duration(self) -> TimeDelta {
        match self {
            Self::Now => TimeDelta::zero(),
            Self::Hour => TimeDelta::hours(1),
            Self::Day => TimeDelta::hours(24),
            Self::Week => TimeDelta::days(7),
        }
    }

    /// The menu entry: what happens to the old secret.
    pub fn label(self) -> &'static str {
        match self {
            Self::Now => "Old secret stops now",
            Self::Hour => "Old secret works 1 more hour",
            Self::Day => "Old secret works 24 more hours",
            Self::Week => "Old secret works 7 more days",
        }
    }

    pub fn outcome(self) -> &'static str {
        match self {
            Self::Now => "The previous secret stopped working immediately.",
            Self::Hour => "The previous secret keeps working for 1 hour.",
            Self::Day => "The previous secret keeps working for 24 hours.",
            Self::Week => "The previous secret keeps working for 7 days.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tab::{API_KEYS, TOKENS};
    use super::*;
    use chrono::NaiveDate;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    #[test]
    fn a_token_request_parses_and_every_bad_field_is_reported() {
        let good = CreateInput {
            name: "deploy bot".into(),
            scopes: vec!["basic_deployment".into()],
            expiry: "30".into(),
            ..Default::default()
        };
        let valid = good.parse(TOKENS, &Catalog::built_in(), now(), None).unwrap();
        assert!(valid.active && valid.passphrase.is_none() && valid.expires_at.is_some());

        let bad = CreateInput {
            name: "x".into(),
            passphrase: "short".into(),
            expiry: "custom".into(),
            expires_on: "2020-01-01".into(),
            ..Default::default()
        };
        let errors = bad.parse(TOKENS, &Catalog::built_in(), now(), None).unwrap_err();
        for field in ["name", "grants", "passphrase", "expiry"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn an_api_key_request_reads_permissions_description_and_toggle() {
        let form = CreateInput {
            name: "billing".into(),
            description: "  used by billing  ".into(),
            permissions: vec!["read".into(), "deploy".into()],
            scopes: vec!["all".into()],
            expiry: "365".into(),
            ..Default::default()
        };
        let valid = form.parse(API_KEYS, &Catalog::built_in(), now(), None).unwrap();
        assert_eq!(valid.grants.to_stored(), "read deploy");
        assert_eq!(valid.description.as_deref(), Some("used by billing"));
        assert!(!valid.active, "an API key asked to be inactive is");
        let as_token = CreateInput { scopes: vec![], ..form };
        assert!(
            as_token.parse(TOKENS, &Catalog::built_in(), now(), None).is_err(),
            "permissions are not scopes"
        );
    }

    #[test]
    fn grace_choices() {
        assert_eq!(Grace::parse("24h"), Some(Grace::Day));
        assert_eq!(Grace::parse("forever"), None);
        assert_eq!(Grace::Week.duration(), TimeDelta::days(7));
    }
}
