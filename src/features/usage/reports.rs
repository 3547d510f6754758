//! The org's reports: credentials nobody uses (never, or not for 30 or 90 days) and
//! credentials that stop working within 14 days, of every kind.

use chrono::{NaiveDateTime, TimeDelta};
use serde::Deserialize;

use super::CredentialFacts;
use crate::db::usage::Stale;

#[derive(Debug, Default, Deserialize)]
pub struct ReportParams {
    pub stale: Option<String>,
}

/// Which stale credentials the report lists (`?stale=30|90|never`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaleFilter {
    #[default]
    Days30,
    Days90,
    Never,
}

impl StaleFilter {
    pub const ALL: [StaleFilter; 3] = [Self::Days30, Self::Days90, Self::Never];

    /// Anything else reads as the default, as the list's status filter does.
    pub fn parse(value: Option<&str>) -> Self {
        Self::ALL.into_iter().find(|f| Some(f.as_str()) == value).unwrap_or_default()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Days30 => "30",
            Self::Days90 => "90",
            Self::Never => "never",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Days30 => "Unused 30+ days",
            Self::Days90 => "Unused 90+ days",
            Self::Never => "Never used",
        }
    }

    /// What the section lists, as a sentence.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Days30 => "Not used in the last 30 days (or never, and created more than 30 days ago).",
            Self::Days90 => "Not used in the last 90 days (or never, and created more than 90 days ago).",
            Self::Never => "Never used since they were created.",
        }
    }

    pub fn query(self, now: NaiveDateTime) -> Stale {
        match self {
            Self::Days30 => Stale::UnusedSince(now - TimeDelta::days(30)),
            Self::Days90 => Stale::UnusedSince(now - TimeDelta::days(90)),
            Self::Never => Stale::NeverUsed,
        }
    }
}

/// One credential in a report, with what the viewer may do about it (decided by the handler).
pub struct ReportRow {
    pub facts: CredentialFacts,
    /// `/orgs/{slug}/settings/{tab}/{id}`, to which `/rotate` and `/revoke` are posted.
    pub actions_path: Option<String>,
    pub can_rotate: bool,
    pub can_revoke: bool,
}

impl ReportRow {
    pub fn has_actions(&self) -> bool {
        self.can_rotate || self.can_revoke
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stale_filter_defaults_to_30_days() {
        assert_eq!(StaleFilter::parse(None), StaleFilter::Days30);
        assert_eq!(StaleFilter::parse(Some("90")), StaleFilter::Days90);
        assert_eq!(StaleFilter::parse(Some("never")), StaleFilter::Never);
        assert_eq!(StaleFilter::parse(Some("7")), StaleFilter::Days30);
    }
}
