#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Auditor,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Self::Owner, Self::Admin, Self::Member, Self::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Auditor => "auditor",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Member => "Member",
            Self::Auditor => "Auditor",
        }
    }

    /// Create, rotate, revoke and edit credentials.
    pub fn can_manage_credentials(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    /// Add people, change roles, remove people: owners only.
    pub fn can_manage_members(self) -> bool {
        self == Self::Owner
    }
}
