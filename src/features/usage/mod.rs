//! Usage and reports, so that auditors answer "who used which credential, from where, and what
//! is unused or about to expire" themselves: a usage page per credential (requests per day,
//! recent addresses, failed attempts, its history) and the org's reports (stale credentials,
//! credentials expiring soon).

pub mod chart;
pub mod handlers;
pub mod history;
pub mod reports;
pub mod views;

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::auth::Access;
use crate::credentials::{CredentialKind, Status};
use crate::db::credentials::CredentialRow;
use crate::service::tab::{Tab, API_KEYS, TOKENS};
use crate::views::Moment;

/// Whether the console shows the Reports tab (and usage links) to this viewer.
pub fn tab_visible(access: &Option<Access>) -> bool {
    access.is_some_and(Access::can_read_usage)
}

pub fn reports_path(org_slug: &str) -> String {
    crate::urls::org_page(org_slug, crate::urls::OrgPage::Reports)
}

pub use crate::urls::{kind_of_segment, kind_segment as segment};

pub fn usage_path(org_slug: &str, kind: CredentialKind, id: &str) -> String {
    crate::urls::credential_page(org_slug, kind, id, "usage")
}

/// The console tab that lists a kind, if the org has one.
pub fn tab_of(kind: CredentialKind) -> Option<Tab> {
    match kind {
        CredentialKind::AccessToken => Some(TOKENS),
        CredentialKind::ApiKey => Some(API_KEYS),
        CredentialKind::PersonalToken => None,
    }
}

pub fn kind_label(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::AccessToken => "Access token",
        CredentialKind::ApiKey => "API key",
        CredentialKind::PersonalToken => "Personal token",
    }
}

/// What the usage page and the reports say about one credential.
pub struct CredentialFacts {
    pub id: String,
    pub kind: CredentialKind,
    pub name: String,
    pub display_prefix: String,
    pub status: Status,
    pub created: Moment,
    pub created_by: String,
    pub expires: Option<Moment>,
    pub last_used: Option<Moment>,
    pub last_used_ip: Option<String>,
    pub usage_count: i64,
    pub usage_path: String,
    /// Its row in its tab's list, found by its prefix; personal tokens have no list in the org.
    pub list_path: Option<String>,
}

impl CredentialFacts {
    /// None for a row of a kind this server does not know.
    pub fn of(
        row: CredentialRow,
        org_slug: &str,
        emails: &HashMap<String, String>,
        now: NaiveDateTime,
    ) -> Option<Self> {
        let kind = CredentialKind::from_db(&row.kind)?;
        let list_path = tab_of(kind).map(|tab| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("status", "all")
                .append_pair("q", &row.display_prefix)
                .finish();
            format!("{}?{query}", tab.path(org_slug))
        });
        Some(Self {
            usage_path: usage_path(org_slug, kind, &row.id),
            list_path,
            kind,
            status: Status::of(row.revoked_at, row.expires_at, row.active, now),
            created: Moment::of(row.created_at, now),
            created_by: emails.get(&row.created_by).cloned().unwrap_or_else(|| "a deleted user".to_owned()),
            expires: row.expires_at.map(|at| Moment::of(at, now)),
            last_used: row.last_used_at.map(|at| Moment::of(at, now)),
            last_used_ip: row.last_used_ip,
            usage_count: row.usage_count,
            display_prefix: row.display_prefix,
            name: row.name,
            id: row.id,
        })
    }

    pub fn kind_label(&self) -> &'static str {
        kind_label(self.kind)
    }

    pub fn usage_count_text(&self) -> String {
        chart::grouped(self.usage_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    #[test]
    fn owners_admins_auditors_and_operators_read_usage() {
        for role in Role::ALL {
            assert_eq!(tab_visible(&Some(Access::Member(role))), role != Role::Member, "{role:?}");
        }
        assert!(tab_visible(&Some(Access::Operator)));
        assert!(!tab_visible(&None));
    }

    #[test]
    fn every_kind_has_a_usage_segment() {
        for kind in CredentialKind::ALL {
            assert_eq!(kind_of_segment(segment(kind)), Some(kind));
        }
        assert_eq!(kind_of_segment("members"), None);
        assert_eq!(usage_path("acme", CredentialKind::ApiKey, "k1"), "/orgs/acme/settings/api-keys/k1/usage");
    }
}
