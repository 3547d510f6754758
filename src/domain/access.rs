//! What a signed-in person may do in one org. A member acts with their role; a platform operator
//! who is not a member may look at everything a reader may, and change nothing. Every permission
//! question about an org goes through `Access`, so "writes need membership" is decided here once.

use super::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A member of the org, acting with their role (an operator who is a member is one of these).
    Member(Role),
    /// A platform operator outside the org: read-only, for cross-org investigations.
    Operator,
}

impl Access {
    /// Membership wins over the operator flag; neither means no access at all (404).
    pub fn resolve(role: Option<Role>, is_operator: bool) -> Option<Self> {
        match (role, is_operator) {
            (Some(role), _) => Some(Self::Member(role)),
            (None, true) => Some(Self::Operator),
            (None, false) => None,
        }
    }

    /// The membership role, if the person is a member.
    pub fn role(self) -> Option<Role> {
        match self {
            Self::Member(role) => Some(role),
            Self::Operator => None,
        }
    }

    /// Whether a write is allowed: only members may write, and only if their role allows it.
    /// Every write permission is expressed through this, so an operator never slips through.
    pub fn member_may(self, allowed: impl FnOnce(Role) -> bool) -> bool {
        self.role().is_some_and(allowed)
    }

    /// Create, rotate, revoke and edit the org's credentials.
    pub fn can_manage_credentials(self) -> bool {
        self.member_may(Role::can_manage_credentials)
    }

    /// Read the org's audit log: owners, admins, auditors, and operators investigating.
    pub fn can_read_audit(self) -> bool {
        match self {
            Self::Member(role) => matches!(role, Role::Owner | Role::Admin | Role::Auditor),
            Self::Operator => true,
        }
    }

    /// Usage pages and reports: the audit log's readers (members see the lists only, SPEC §1).
    pub fn can_read_usage(self) -> bool {
        self.can_read_audit()
    }

    /// Add people, change roles, remove people: owners only.
    pub fn can_manage_members(self) -> bool {
        self.member_may(Role::can_manage_members)
    }

    /// The members list: its owners, and operators investigating.
    pub fn can_read_members(self) -> bool {
        self.can_manage_members() || self.is_operator_view()
    }

    /// Whose personal tokens reach the org: those who may revoke credentials, and operators.
    pub fn can_read_personal_tokens(self) -> bool {
        self.can_manage_credentials() || self.is_operator_view()
    }

    /// Looking at the org from outside it: every page says so.
    pub fn is_operator_view(self) -> bool {
        self == Self::Operator
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Member(role) => role.label(),
            Self::Operator => "Operator (read-only)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_wins_over_the_operator_flag() {
        assert_eq!(Access::resolve(Some(Role::Admin), true), Some(Access::Member(Role::Admin)));
        assert_eq!(Access::resolve(None, true), Some(Access::Operator));
        assert_eq!(Access::resolve(None, false), None);
    }

    #[test]
    fn operators_read_but_never_write() {
        assert!(!Access::Operator.can_manage_credentials());
        assert!(!Access::Operator.member_may(|_| true));
        assert!(Access::Operator.can_read_audit());
        assert!(Access::Operator.is_operator_view());
        for role in Role::ALL {
            let access = Access::Member(role);
            assert_eq!(access.can_manage_credentials(), role.can_manage_credentials());
            assert!(!access.is_operator_view());
        }
        assert!(!Access::Member(Role::Member).can_read_audit());
        assert!(Access::Operator.can_read_members() && !Access::Operator.can_manage_members());
        assert!(Access::Operator.can_read_personal_tokens() && Access::Operator.can_read_usage());
        let readers = |check: fn(Access) -> bool| {
            Role::ALL.into_iter().filter(|r| check(Access::Member(*r))).collect::<Vec<_>>()
        };
        assert_eq!(readers(Access::can_read_members), [Role::Owner]);
        assert_eq!(readers(Access::can_read_personal_tokens), [Role::Owner, Role::Admin]);
        assert_eq!(readers(Access::can_read_usage), [Role::Owner, Role::Admin, Role::Auditor]);
    }
}
