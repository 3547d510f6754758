//! The console's addresses, built in one place: an org's settings pages and the pages of one
//! credential. Handlers redirect with these and templates link with them, so a page that moves
//! moves everywhere at once; the route tables in `features` are the patterns they must match
//! (the authorization matrix walks those).

use crate::credentials::CredentialKind;

/// An org's Settings pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgPage {
    Tokens,
    ApiKeys,
    PersonalTokens,
    Members,
    Audit,
    AuditExport,
    Reports,
}

impl OrgPage {
    const fn segment(self) -> &'static str {
        match self {
            Self::Tokens => kind_segment(CredentialKind::AccessToken),
            Self::ApiKeys => kind_segment(CredentialKind::ApiKey),
            Self::PersonalTokens => kind_segment(CredentialKind::PersonalToken),
            Self::Members => "members",
            Self::Audit => "audit",
            Self::AuditExport => "audit/export",
            Self::Reports => "reports",
        }
    }
}

/// The path segment naming a kind: its tab's for access tokens and API keys, and the org's
/// personal-token list for personal tokens.
pub const fn kind_segment(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::AccessToken => "tokens",
        CredentialKind::ApiKey => "api-keys",
        CredentialKind::PersonalToken => "personal-tokens",
    }
}

pub fn kind_of_segment(segment: &str) -> Option<CredentialKind> {
    CredentialKind::ALL.into_iter().find(|&kind| kind_segment(kind) == segment)
}

pub fn org_page(org_slug: &str, page: OrgPage) -> String {
    format!("/orgs/{org_slug}/settings/{}", page.segment())
}

/// Where a person lands in an org.
pub fn org_home(org_slug: &str) -> String {
    org_page(org_slug, OrgPage::Tokens)
}

/// The list of a kind of credential.
pub fn kind_list(org_slug: &str, kind: CredentialKind) -> String {
    format!("/orgs/{org_slug}/settings/{}", kind_segment(kind))
}

/// A page or action of one credential: `usage`, `edit`, `rotate`, `revoke`.
pub fn credential_page(org_slug: &str, kind: CredentialKind, id: &str, page: &str) -> String {
    format!("{}/{id}/{page}", kind_list(org_slug, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(org_home("acme"), "/orgs/acme/settings/tokens");
        assert_eq!(org_page("acme", OrgPage::AuditExport), "/orgs/acme/settings/audit/export");
        assert_eq!(
            credential_page("acme", CredentialKind::ApiKey, "k1", "usage"),
            "/orgs/acme/settings/api-keys/k1/usage"
        );
        for kind in CredentialKind::ALL {
            assert_eq!(kind_of_segment(kind_segment(kind)), Some(kind));
        }
        assert_eq!(kind_of_segment("members"), None);
    }
}
