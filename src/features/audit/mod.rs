//! Settings → Audit log: the org's append-only audit log, filtered, paged (newest first, by
//! cursor) and exported as CSV, for owners, admins, auditors and platform operators.

pub mod export;
pub mod handlers;
pub mod views;

use crate::auth::Access;

pub fn path(org_slug: &str) -> String {
    crate::urls::org_page(org_slug, crate::urls::OrgPage::Audit)
}

/// Whether the console shows the Audit log tab to this viewer.
pub fn tab_visible(access: &Option<Access>) -> bool {
    access.is_some_and(Access::can_read_audit)
}
