//! Settings → Members: owners add people by email, change their roles and remove them. The
//! last owner can be neither removed nor demoted; every change is audited.

pub mod forms;
pub mod handlers;
pub mod views;

use crate::auth::Access;

pub fn path(org_slug: &str) -> String {
    crate::urls::org_page(org_slug, crate::urls::OrgPage::Members)
}

/// Whether the console shows the Members tab to this viewer (`Access` decides who may).
pub fn tab_visible(access: &Option<Access>) -> bool {
    access.is_some_and(Access::can_read_members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
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
            assert_eq!(Access::Member(role).can_manage_members(), role == Role::Owner);
            assert_eq!(tab_visible(&Some(Access::Member(role))), role == Role::Owner);
        }
        assert!(tab_visible(&Some(Access::Operator)) && !Access::Operator.can_manage_members());
        assert!(!tab_visible(&None));
    }
}
