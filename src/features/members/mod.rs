//! Settings → Members: owners add people by email, change their roles and remove them. The
//! last owner can be neither removed nor demoted; every change is audited.

pub mod forms;
pub mod handlers;
pub mod views;

use crate::auth::{Access, Role};

pub fn path(org_slug: &str) -> String {
    format!("/orgs/{org_slug}/settings/members")
}

/// Owners manage members. A platform operator outside the org reads the list (cross-org
/// investigations) and changes nothing; admins, members and auditors get 403.
pub fn may_read(access: Access) -> bool {
    may_change(access) || access.is_operator_view()
}

pub fn may_change(access: Access) -> bool {
    access.member_may(Role::can_manage_members)
}

/// Whether the console shows the Members tab to this viewer.
pub fn tab_visible(access: &Option<Access>) -> bool {
    access.is_some_and(may_read)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::orgs::leaves_no_owner;

    #[test]
    fn the_last_owner_stays_an_owner() {
        assert!(leaves_no_owner(Role::Owner, Some(Role::Admin), 1));
        assert!(leaves_no_owner(Role::Owner, None, 1));
        assert!(!leaves_no_owner(Role::Owner, Some(Role::Owner), 1));
        assert!(!leaves_no_owner(Role::Owner, Some(Role::Member), 2));
        assert!(!leaves_no_owner(Role::Owner, None, 2));
        assert!(!leaves_no_owner(Role::Admin, None, 1));
    }

    #[test]
    fn owners_change_members_and_operators_only_read() {
        for role in Role::ALL {
            assert_eq!(may_change(Access::Member(role)), role == Role::Owner);
            assert_eq!(may_read(Access::Member(role)), role == Role::Owner);
        }
        assert!(may_read(Access::Operator) && !may_change(Access::Operator));
        assert!(!tab_visible(&None));
    }
}
