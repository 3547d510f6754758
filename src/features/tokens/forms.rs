use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::catalog::Catalog;
use crate::credentials::{CredentialName, ExpiryChoice, Grants, Passphrase};
use crate::features::forms::FormErrors;

#[derive(Debug, Default, Deserialize)]
pub struct GenerateTokenForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub passphrase: String,
    #[serde(default)]
    pub expiry: String,
    #[serde(default)]
    pub expires_on: String,
}

impl CsrfForm for GenerateTokenForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

/// A token request that passed every rule that needs no database.
#[derive(Debug)]
pub struct ValidTokenRequest {
    pub name: CredentialName,
    pub scopes: Grants,
    pub passphrase: Option<Passphrase>,
    pub expires_at: Option<NaiveDateTime>,
}

impl GenerateTokenForm {
    pub fn parse(
        &self,
        catalog: &Catalog,
        now: NaiveDateTime,
        max_lifetime_days: Option<u64>,
    ) -> Result<ValidTokenRequest, FormErrors> {
        let mut errors = FormErrors::default();
        let name = errors.take("name", CredentialName::parse(&self.name));
        let scopes = errors.take(
            "scopes",
            Grants::parse(&self.scopes, &catalog.scope_names(), "scope"),
        );
        let passphrase = if self.passphrase.is_empty() {
            Some(None)
        } else {
            errors.take("passphrase", Passphrase::parse(&self.passphrase).map(Some))
        };
        let expires_at = errors.take(
            "expiry",
            ExpiryChoice::parse(&self.expiry, &self.expires_on)
                .and_then(|choice| choice.resolve(now, max_lifetime_days)),
        );
        match (name, scopes, passphrase, expires_at) {
            (Some(name), Some(scopes), Some(passphrase), Some(expires_at)) if errors.is_empty() => {
                Ok(ValidTokenRequest {
                    name,
                    scopes,
                    passphrase,
                    expires_at,
                })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn form() -> GenerateTokenForm {
        GenerateTokenForm {
            name: "deploy bot".into(),
            scopes: vec!["basic_deployment".into()],
            expiry: "30".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_good_form_parses() {
        let valid = form().parse(&Catalog::built_in(), now(), None).unwrap();
        assert_eq!(valid.name.as_str(), "deploy bot");
        assert!(valid.passphrase.is_none());
        assert!(valid.expires_at.is_some());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let bad = GenerateTokenForm {
            name: "x".into(),
            scopes: vec![],
            passphrase: "short".into(),
            expiry: "custom".into(),
            expires_on: "2020-01-01".into(),
            ..Default::default()
        };
        let errors = bad.parse(&Catalog::built_in(), now(), None).unwrap_err();
        for field in ["name", "scopes", "passphrase", "expiry"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
    }
}
