//! What differs between the Tokens and the API keys tab; everything else is shared.

use crate::catalog::{Catalog, GrantDef};
use crate::credentials::CredentialKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tab {
    pub kind: CredentialKind,
    pub segment: &'static str,
    pub title: &'static str,
    pub noun: &'static str,
    pub create_label: &'static str,
    pub grant_noun: &'static str,
    pub grant_field: &'static str,
    pub grant_title: &'static str,
    pub default_expiry: &'static str,
}

pub const TOKENS: Tab = Tab {
    kind: CredentialKind::AccessToken,
    segment: crate::urls::kind_segment(CredentialKind::AccessToken),
    title: "Tokens",
    noun: "token",
    create_label: "Generate token",
    grant_noun: "scope",
    grant_field: "scopes",
    grant_title: "Scopes",
    default_expiry: "30",
};

pub const API_KEYS: Tab = Tab {
    kind: CredentialKind::ApiKey,
    segment: crate::urls::kind_segment(CredentialKind::ApiKey),
    title: "API keys",
    noun: "key",
    create_label: "Create key",
    grant_noun: "permission",
    grant_field: "permissions",
    grant_title: "Permissions",
    default_expiry: "365",
};

impl Tab {
    /// The tab named in a path; anything else is 404.
    pub fn from_segment(segment: &str) -> Option<Self> {
        [TOKENS, API_KEYS].into_iter().find(|t| t.segment == segment)
    }

    pub fn path(&self, org_slug: &str) -> String {
        crate::urls::kind_list(org_slug, self.kind)
    }

    pub fn grants<'a>(&self, catalog: &'a Catalog) -> &'a [GrantDef] {
        match self.kind {
            CredentialKind::ApiKey => &catalog.api_key_permissions,
            _ => &catalog.access_token_scopes,
        }
    }

    pub fn grant_names(&self, catalog: &Catalog) -> Vec<String> {
        self.grants(catalog).iter().map(|g| g.name.clone()).collect()
    }

    pub fn is_api_keys(&self) -> bool {
        self.kind == CredentialKind::ApiKey
    }

    pub fn plural(&self) -> &'static str {
        match self.kind {
            CredentialKind::ApiKey => "API keys",
            _ => "access tokens",
        }
    }

    pub fn capitalized_noun(&self) -> &'static str {
        match self.kind {
            CredentialKind::ApiKey => "Key",
            _ => "Token",
        }
    }
}

pub const API_ACCESS_DISABLED: &str = "API access is not enabled for this account.";
