use askama::Template;
use chrono::NaiveDateTime;

use super::forms::{CreateForm, EditForm};
use super::listing::CredentialList;
use super::setup::SetupCard;
use crate::catalog::Catalog;
use crate::db::credentials::CredentialRow;
use crate::service::fields::FormErrors;
use crate::service::inputs::Grace;
use crate::service::tab::Tab;
use crate::views::Chrome;

#[derive(Template)]
#[template(path = "credentials/page.html", blocks = ["panel", "list"])]
pub struct CredentialPage {
    pub chrome: Chrome,
    pub tab: Tab,
    /// None when the viewer may not create (role, or the API-access gate).
    pub form: Option<FormView>,
    pub gate_closed: bool,
    pub revealed: Option<Revealed>,
    pub setup: SetupCard,
    pub list: CredentialList,
    pub notice: Option<String>,
    pub graces: [Grace; 4],
}

#[derive(Template)]
#[template(path = "credentials/edit.html")]
pub struct EditPage {
    pub chrome: Chrome,
    pub tab: Tab,
    pub id: String,
    pub display_prefix: String,
    pub form: FormView,
    pub list_path: String,
}

/// The secret, in the one response that reveals it.
pub struct Revealed {
    pub name: String,
    pub secret: String,
    pub verb: &'static str,
}

pub struct GrantOption {
    pub name: String,
    pub description: String,
    pub checked: bool,
}

/// A create or edit form as shown: blank, or refilled after a refusal. A passphrase is never
/// sent back.
pub struct FormView {
    pub name: String,
    pub description: String,
    pub grants: Vec<GrantOption>,
    pub expiry: String,
    pub expires_on: String,
    pub active: bool,
    pub errors: FormErrors,
    /// On the edit form: the current expiry, offered as "Keep".
    pub current_expiry: Option<String>,
}

impl FormView {
    pub fn blank(tab: Tab, catalog: &Catalog) -> Self {
        Self::new(tab, catalog, "", "", &[], tab.default_expiry, "", true, FormErrors::default())
    }

    pub fn refilled(tab: Tab, catalog: &Catalog, form: &CreateForm, errors: FormErrors) -> Self {
        let chosen = form.chosen_grants(tab);
        Self::new(
            tab,
            catalog,
            &form.name,
            &form.description,
            chosen,
            &form.expiry,
            &form.expires_on,
            form.active.is_some() || !tab.is_api_keys(),
            errors,
        )
    }

    pub fn for_edit(tab: Tab, catalog: &Catalog, row: &CredentialRow) -> Self {
        let grants: Vec<String> = row.grants.split_whitespace().map(str::to_owned).collect();
        let mut view = Self::new(
            tab,
            catalog,
            &row.name,
            row.description.as_deref().unwrap_or_default(),
            &grants,
            "keep",
            "",
            row.active,
            FormErrors::default(),
        );
        view.current_expiry = Some(describe_expiry(row.expires_at));
        view
    }

    pub fn edit_refilled(
        tab: Tab,
        catalog: &Catalog,
        row: &CredentialRow,
        form: &EditForm,
        errors: FormErrors,
    ) -> Self {
        let mut view = Self::new(
            tab,
            catalog,
            &form.name,
            &form.description,
            &form.permissions,
            &form.expiry,
            &form.expires_on,
            form.active.is_some(),
            errors,
        );
        view.current_expiry = Some(describe_expiry(row.expires_at));
        view
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        tab: Tab,
        catalog: &Catalog,
        name: &str,
        description: &str,
        chosen: &[String],
        expiry: &str,
        expires_on: &str,
        active: bool,
        errors: FormErrors,
    ) -> Self {
        Self {
            name: name.chars().take(300).collect(),
            description: description.chars().take(1100).collect(),
            grants: tab
                .grants(catalog)
                .iter()
                .map(|g| GrantOption {
                    name: g.name.clone(),
                    description: g.description.clone(),
                    checked: chosen.contains(&g.name),
                })
                .collect(),
            expiry: expiry.chars().take(10).collect(),
            expires_on: expires_on.chars().take(10).collect(),
            active,
            errors,
            current_expiry: None,
        }
    }

    /// (value, label, selected)
    pub fn expiry_options(&self) -> Vec<(&'static str, String, bool)> {
        let mut options = Vec::new();
        if let Some(current) = &self.current_expiry {
            options.push(("keep", format!("Keep current ({current})"), self.expiry == "keep"));
        }
        for (value, label) in [
            ("never", "Never"),
            ("30", "30 days"),
            ("60", "60 days"),
            ("90", "90 days"),
            ("365", "365 days"),
            ("custom", "Custom date"),
        ] {
            options.push((value, label.to_owned(), self.expiry == value));
        }
        options
    }
}

fn describe_expiry(at: Option<NaiveDateTime>) -> String {
    at.map_or_else(|| "Never".to_owned(), |at| at.format("%Y-%m-%d %H:%M UTC").to_string())
}
