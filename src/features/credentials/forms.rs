//! The console's create, edit and rotate forms: what the browser posts (with its CSRF token),
//! handed to the service as its inputs.

use serde::Deserialize;

use crate::auth::csrf::CsrfForm;
use crate::service::inputs::{CreateInput, EditInput};
use crate::service::tab::Tab;

/// The create form of either tab: tokens send `scopes` and may send a passphrase; API keys
/// send `permissions`, a description and the active toggle.
#[derive(Debug, Default, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub passphrase: String,
    #[serde(default)]
    pub expiry: String,
    #[serde(default)]
    pub expires_on: String,
    /// A checkbox: present when on.
    #[serde(default)]
    pub active: Option<String>,
}

impl CsrfForm for CreateForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl CreateForm {
    pub fn input(&self) -> CreateInput {
        CreateInput {
            name: self.name.clone(),
            description: self.description.clone(),
            scopes: self.scopes.clone(),
            permissions: self.permissions.clone(),
            passphrase: self.passphrase.clone(),
            expiry: self.expiry.clone(),
            expires_on: self.expires_on.clone(),
            active: self.active.is_some(),
        }
    }

    pub fn chosen_grants(&self, tab: Tab) -> &[String] {
        if tab.is_api_keys() {
            &self.permissions
        } else {
            &self.scopes
        }
    }
}

/// The API key edit form: everything but the secret.
#[derive(Debug, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub permissions: Vec<String>,
    /// `keep`, or a choice as on the create form.
    #[serde(default)]
    pub expiry: String,
    #[serde(default)]
    pub expires_on: String,
    #[serde(default)]
    pub active: Option<String>,
}

impl CsrfForm for EditForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

impl EditForm {
    pub fn input(&self) -> EditInput {
        EditInput {
            name: self.name.clone(),
            description: self.description.clone(),
            permissions: self.permissions.clone(),
            expiry: self.expiry.clone(),
            expires_on: self.expires_on.clone(),
            active: self.active.is_some(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RotateForm {
    #[serde(default)]
    pub csrf_token: String,
    #[serde(default)]
    pub grace: String,
}

impl CsrfForm for RotateForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}
