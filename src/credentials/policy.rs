use chrono::{Duration, NaiveDateTime};
use serde::Deserialize;

/// Days before expiry at which a credential is flagged "Expiring soon".
pub const EXPIRING_SOON_DAYS: i64 = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Free,
    Team,
    Growth,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Self::Free, Self::Team, Self::Growth, Self::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Team => "team",
            Self::Growth => "growth",
            Self::Enterprise => "enterprise",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == value)
    }
}

/// Live credentials allowed per kind on each plan; enterprise orgs normally get an
/// operator-set cap of their own.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanCaps {
    pub free: u32,
    pub team: u32,
    pub growth: u32,
    pub enterprise: u32,
}

impl Default for PlanCaps {
    fn default() -> Self {
        Self { free: 1, team: 5, growth: 20, enterprise: 100 }
    }
}

impl PlanCaps {
    pub fn cap(&self, plan: Plan, org_override: Option<u32>) -> u32 {
        org_override.unwrap_or(match plan {
            Plan::Free => self.free,
            Plan::Team => self.team,
            Plan::Growth => self.growth,
            Plan::Enterprise => self.enterprise,
        })
    }
}

/// The refusal shown when a plan's cap is reached.
pub fn cap_refusal(plan: Plan, cap: u32, noun_plural: &str) -> String {
    format!(
        "The {} plan allows {cap} live {noun_plural}. Revoke one or upgrade the plan to create another.",
        plan.as_str()
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    ExpiringSoon,
    Inactive,
    Expired,
    Revoked,
}

impl Status {
    pub fn of(
        revoked_at: Option<NaiveDateTime>,
        expires_at: Option<NaiveDateTime>,
        active: bool,
        now: NaiveDateTime,
    ) -> Self {
        match (revoked_at, expires_at) {
            (Some(r), _) if r <= now => Self::Revoked,
            (_, Some(e)) if e <= now => Self::Expired,
            _ if !active => Self::Inactive,
            (_, Some(e)) if e - now <= Duration::days(EXPIRING_SOON_DAYS) => Self::ExpiringSoon,
            _ => Self::Active,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::ExpiringSoon => "Expiring soon",
            Self::Inactive => "Inactive",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
        }
    }

    pub fn css(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::ExpiringSoon => "expiring",
            Self::Inactive => "inactive",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }

    pub fn is_live(self) -> bool {
        matches!(self, Self::Active | Self::ExpiringSoon | Self::Inactive)
    }
}

/// By default everything is listed, so revoked and expired credentials stay visible for audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    All,
    Active,
    Expired,
    Revoked,
}

impl StatusFilter {
    pub const ALL: [StatusFilter; 4] = [Self::All, Self::Active, Self::Expired, Self::Revoked];

    pub fn parse(value: Option<&str>) -> Self {
        Self::ALL.into_iter().find(|f| Some(f.as_str()) == value).unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::All => "all",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
            Self::All => "All",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    #[test]
    fn status_order_revoked_expired_inactive_soon_active() {
        let past = Some(now() - Duration::seconds(1));
        let soon = Some(now() + Duration::days(14));
        let later = Some(now() + Duration::days(15));
        assert_eq!(Status::of(past, past, false, now()), Status::Revoked);
        assert_eq!(Status::of(None, past, false, now()), Status::Expired);
        assert_eq!(Status::of(None, later, false, now()), Status::Inactive);
        assert_eq!(Status::of(None, soon, true, now()), Status::ExpiringSoon);
        assert_eq!(Status::of(None, later, true, now()), Status::Active);
        assert_eq!(Status::of(None, None, true, now()), Status::Active);
        assert_eq!(
            Status::of(Some(now() + Duration::hours(1)), None, true, now()),
            Status::Active,
            "a rotated credential in its grace period still works"
        );
    }

    #[test]
    fn plan_caps_and_overrides() {
        let caps = PlanCaps::default();
        assert_eq!(caps.cap(Plan::Free, None), 1);
        assert_eq!(caps.cap(Plan::Team, None), 5);
        assert_eq!(caps.cap(Plan::Growth, None), 20);
        assert_eq!(caps.cap(Plan::Enterprise, Some(500)), 500);
        assert!(cap_refusal(Plan::Free, 1, "access tokens").contains("free plan allows 1 live access tokens"));
    }
}
