use chrono::{Days, NaiveDate, NaiveDateTime};

pub const MAX_EXPIRY_DAYS: u64 = 3650;

/// What a person chose for "Expires": never, a number of days from now, or a date (the
/// credential stops working at 00:00 UTC that day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryChoice {
    Never,
    Days(u64),
    On(NaiveDate),
}

impl ExpiryChoice {
    pub fn parse(choice: &str, custom_date: &str) -> Result<Self, String> {
        match choice.trim() {
            "never" => Ok(Self::Never),
            "custom" => NaiveDate::parse_from_str(custom_date.trim(), "%Y-%m-%d")
                .map(Self::On)
                .map_err(|_| "Enter the expiry date as YYYY-MM-DD.".to_owned()),
            days => match days.parse::<u64>() {
                Ok(n) if (1..=MAX_EXPIRY_DAYS).contains(&n) => Ok(Self::Days(n)),
                _ => Err(format!("Choose Never, a number of days from 1 to {MAX_EXPIRY_DAYS}, or a date.")),
            },
        }
    }

    /// The moment the credential stops working, checked against the org's max-lifetime policy.
    pub fn resolve(
        self,
        now: NaiveDateTime,
        max_lifetime_days: Option<u64>,
    ) -> Result<Option<NaiveDateTime>, String> {
        let latest = now
            .checked_add_days(Days::new(max_lifetime_days.unwrap_or(MAX_EXPIRY_DAYS)))
            .ok_or("Expiry is out of range.")?;
        let at = match self {
            Self::Never => {
                return match max_lifetime_days {
                    Some(days) => {
                        Err(format!("This organization requires credentials to expire within {days} days."))
                    }
                    None => Ok(None),
                }
            }
            Self::Days(n) => now.checked_add_days(Days::new(n)).ok_or("Expiry is out of range.")?,
            Self::On(date) => date.and_time(chrono::NaiveTime::MIN),
        };
        if at <= now {
            return Err("Expiry must lie in the future.".into());
        }
        if at > latest {
            return Err(match max_lifetime_days {
                Some(days) => {
                    format!("This organization requires credentials to expire within {days} days.")
                }
                None => format!("Expiry must be within {MAX_EXPIRY_DAYS} days."),
            });
        }
        Ok(Some(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    #[test]
    fn parses_choices() {
        assert_eq!(ExpiryChoice::parse("never", ""), Ok(ExpiryChoice::Never));
        assert_eq!(ExpiryChoice::parse("30", ""), Ok(ExpiryChoice::Days(30)));
        assert!(ExpiryChoice::parse("0", "").is_err());
        assert!(ExpiryChoice::parse("-5", "").is_err());
        assert!(ExpiryChoice::parse("99999", "").is_err());
        assert!(ExpiryChoice::parse("custom", "tomorrow").is_err());
        assert_eq!(
            ExpiryChoice::parse("custom", "2027-01-31"),
            Ok(ExpiryChoice::On(NaiveDate::from_ymd_opt(2027, 1, 31).unwrap()))
        );
    }

    #[test]
    fn expiry_must_lie_in_the_future() {
        let today = ExpiryChoice::On(now().date());
        assert_eq!(today.resolve(now(), None), Err("Expiry must lie in the future.".into()));
        let tomorrow = ExpiryChoice::On(now().date().succ_opt().unwrap());
        assert!(tomorrow.resolve(now(), None).unwrap().unwrap() > now());
        assert_eq!(ExpiryChoice::Days(30).resolve(now(), None), Ok(Some(now() + chrono::Duration::days(30))));
        assert_eq!(ExpiryChoice::Never.resolve(now(), None), Ok(None));
    }

    #[test]
    fn max_lifetime_policy_forbids_never_and_long_expiry() {
        assert!(ExpiryChoice::Never.resolve(now(), Some(90)).is_err());
        assert!(ExpiryChoice::Days(90).resolve(now(), Some(90)).is_ok());
        assert!(ExpiryChoice::Days(91).resolve(now(), Some(90)).is_err());
    }
}

/// The expiry of a rotation's replacement: the predecessor's lifetime again, from now, held to
/// the org's max-lifetime policy ("Never" becomes the longest the policy allows).
pub fn replacement_expiry(
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
    max_lifetime_days: Option<u64>,
) -> Result<Option<NaiveDateTime>, String> {
    let policy_end = max_lifetime_days
        .map(|days| now.checked_add_days(Days::new(days)).ok_or("Expiry is out of range."))
        .transpose()?;
    let wanted = expires_at.map(|end| now + (end - created_at).max(chrono::TimeDelta::days(1)));
    Ok(match (wanted, policy_end) {
        (Some(w), Some(p)) => Some(w.min(p)),
        (Some(w), None) => Some(w),
        (None, p) => p,
    })
}

#[cfg(test)]
mod replacement_tests {
    use super::*;
    use chrono::{NaiveDate, TimeDelta};

    #[test]
    fn replacement_keeps_the_lifetime_within_policy() {
        let t0 = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let now = t0 + TimeDelta::days(10);
        assert_eq!(
            replacement_expiry(t0, Some(t0 + TimeDelta::days(30)), now, None),
            Ok(Some(now + TimeDelta::days(30)))
        );
        assert_eq!(replacement_expiry(t0, None, now, None), Ok(None));
        assert_eq!(replacement_expiry(t0, None, now, Some(90)), Ok(Some(now + TimeDelta::days(90))));
        assert_eq!(
            replacement_expiry(t0, Some(t0 + TimeDelta::days(365)), now, Some(90)),
            Ok(Some(now + TimeDelta::days(90)))
        );
    }
}
