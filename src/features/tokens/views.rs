use askama::Template;

use super::forms::GenerateTokenForm;
use crate::catalog::Catalog;
use crate::features::forms::FormErrors;
use crate::features::listing::CredentialList;
use crate::views::Chrome;

#[derive(Template)]
#[template(path = "tokens/page.html", blocks = ["panel", "list"])]
pub struct TokensPage {
    pub chrome: Chrome,
    pub form: TokenFormView,
    pub revealed: Option<Revealed>,
    pub list: CredentialList,
    pub notice: Option<String>,
}

/// The secret, in the one response that reveals it.
pub struct Revealed {
    pub name: String,
    pub secret: String,
}

pub struct GrantOption {
    pub name: String,
    pub description: String,
    pub checked: bool,
}

/// The Generate token form as shown: blank, or refilled after a refusal. The passphrase is
/// never sent back.
pub struct TokenFormView {
    pub name: String,
    pub scopes: Vec<GrantOption>,
    pub expiry: String,
    pub expires_on: String,
    pub errors: FormErrors,
}

impl TokenFormView {
    pub fn blank(catalog: &Catalog) -> Self {
        Self::with(catalog, "", &[], "30", "", FormErrors::default())
    }

    pub fn refilled(catalog: &Catalog, form: &GenerateTokenForm, errors: FormErrors) -> Self {
        Self::with(
            catalog,
            &form.name,
            &form.scopes,
            &form.expiry,
            &form.expires_on,
            errors,
        )
    }

    fn with(
        catalog: &Catalog,
        name: &str,
        chosen: &[String],
        expiry: &str,
        expires_on: &str,
        errors: FormErrors,
    ) -> Self {
        Self {
            name: name.chars().take(300).collect(),
            scopes: catalog
                .access_token_scopes
                .iter()
                .map(|g| GrantOption {
                    name: g.name.clone(),
                    description: g.description.clone(),
                    checked: chosen.contains(&g.name),
                })
                .collect(),
            expiry: expiry.chars().take(10).collect(),
            expires_on: expires_on.chars().take(10).collect(),
            errors,
        }
    }

    pub fn expiry_options(&self) -> [(&'static str, &'static str, bool); 5] {
        let pick = |v: &str| self.expiry == v;
        [
            ("never", "Never", pick("never")),
            ("30", "30 days", pick("30")),
            ("60", "60 days", pick("60")),
            ("90", "90 days", pick("90")),
            ("custom", "Custom date", pick("custom")),
        ]
    }
}
