//! The audit log's filters as people and programs type them, parsed into an `AuditFilter`. The
//! console page, its CSV export and the API all read their filters through `FilterInput::parse`.

use chrono::{DateTime, DurationRound, NaiveDate, NaiveDateTime, TimeDelta};

use crate::db::audit::{AuditFilter, Cursor, ORG_ACTIONS};
use crate::service::fields::FormErrors;

/// The longest actor or credential text accepted.
pub const MAX_TEXT_CHARS: usize = 100;
/// The longest `from` or `to` accepted (an RFC 3339 time with nanoseconds and an offset is 35).
pub const MAX_TIME_CHARS: usize = 40;

/// The raw filter fields of a request; absent and empty mean "any".
#[derive(Debug, Default, Clone, Copy)]
pub struct FilterInput<'a> {
    pub action: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub credential: Option<&'a str>,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
}

/// Which end of the range a time bounds.
#[derive(Clone, Copy)]
enum End {
    From,
    To,
}

impl FilterInput<'_> {
    /// Every bad field is reported, keyed by its name (`action`, `actor`, `credential`, `from`, `to`).
    pub fn parse(&self) -> Result<AuditFilter, FormErrors> {
        self.parse_among(&ORG_ACTIONS)
    }

    /// As `parse`, with the actions of another log (the instance-wide one).
    pub fn parse_among(&self, actions: &'static [&'static str]) -> Result<AuditFilter, FormErrors> {
        let mut errors = FormErrors::default();
        let action = errors.take("action", parse_action(self.action, actions)).flatten();
        let actor = errors.take("actor", parse_text(present(self.actor))).flatten();
        let credential = errors.take("credential", parse_credential(present(self.credential))).flatten();
        let from = errors.take("from", parse_time(present(self.from), End::From)).flatten();
        let until = errors.take("to", parse_time(present(self.to), End::To)).flatten();
        if let (Some(from), Some(until)) = (from, until) {
            if from >= until {
                errors.add("to", "The end of the range must come after its start.");
            }
        }
        if errors.is_empty() {
            Ok(AuditFilter { action, actor, credential, from, until })
        } else {
            Err(errors)
        }
    }
}

/// A cursor from a link or an earlier answer.
pub fn parse_cursor(raw: &str) -> Result<Cursor, String> {
    Cursor::decode(raw.trim()).ok_or_else(|| "The cursor is not one this server gave out.".to_owned())
}

fn present(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|value| !value.is_empty())
}

pub const CHOOSE_AN_ACTION: &str = "Choose one of the listed actions.";

/// Exactly one of the known actions (as the form's select sends them); empty is any.
fn parse_action(raw: Option<&str>, actions: &'static [&'static str]) -> Result<Option<&'static str>, String> {
    let Some(raw) = raw.filter(|value| !value.is_empty()) else { return Ok(None) };
    actions
        .iter()
        .find(|known| **known == raw)
        .map(|known| Some(*known))
        .ok_or_else(|| CHOOSE_AN_ACTION.to_owned())
}

fn parse_text(raw: Option<&str>) -> Result<Option<String>, String> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("Use at most {MAX_TEXT_CHARS} characters."));
    }
    crate::text::check(raw, crate::text::Lines::Single)?;
    Ok(Some(raw.to_owned()))
}

/// As the list shows a display prefix, with its ellipsis; the ellipsis is not part of it.
fn parse_credential(raw: Option<&str>) -> Result<Option<String>, String> {
    let text = parse_text(raw)?;
    Ok(text
        .map(|t| t.trim_end_matches('…').trim_end_matches("...").trim().to_owned())
        .filter(|t| !t.is_empty()))
}

/// A date (`YYYY-MM-DD`, UTC, the whole day) or an RFC 3339 time (that instant, inclusive).
/// Returns the bound as stored: inclusive for `from`, exclusive for `to`.
fn parse_time(raw: Option<&str>, end: End) -> Result<Option<NaiveDateTime>, String> {
    let Some(raw) = raw else { return Ok(None) };
    let invalid = || "Use a date (YYYY-MM-DD) or an RFC 3339 time, such as 2026-11-23T09:30:00Z.".to_owned();
    if raw.len() > MAX_TIME_CHARS {
        return Err(invalid());
    }
    let (at, whole_day) = if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        (day.and_time(chrono::NaiveTime::MIN), true)
    } else {
        let at = DateTime::parse_from_rfc3339(raw).map_err(|_| invalid())?.naive_utc();
        // Stored times keep microseconds.
        (at.duration_trunc(TimeDelta::microseconds(1)).map_err(|_| invalid())?, false)
    };
    let bound = match (end, whole_day) {
        (End::From, _) => Some(at),
        (End::To, true) => at.checked_add_signed(TimeDelta::days(1)),
        (End::To, false) => at.checked_add_signed(TimeDelta::microseconds(1)),
    };
    bound.map(Some).ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(raw: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn empty_fields_mean_any() {
        let input = FilterInput { action: Some(""), actor: Some("  "), ..Default::default() };
        assert_eq!(input.parse().unwrap(), AuditFilter::default());
    }

    #[test]
    fn dates_cover_whole_utc_days_and_times_are_inclusive() {
        let input = FilterInput { from: Some("2026-11-01"), to: Some("2026-11-23"), ..Default::default() };
        let filter = input.parse().unwrap();
        assert_eq!(filter.from, Some(at("2026-11-01 00:00:00")));
        assert_eq!(filter.until, Some(at("2026-11-24 00:00:00")));
        let input = FilterInput {
            from: Some("2026-11-23T10:30:00+01:00"),
            to: Some("2026-11-23T09:45:00.5Z"),
            ..Default::default()
        };
        let filter = input.parse().unwrap();
        assert_eq!(filter.from, Some(at("2026-11-23 09:30:00")));
        assert_eq!(filter.until, Some(at("2026-11-23 09:45:00.500001")));
    }

    #[test]
    fn every_bad_field_is_named() {
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        let input = FilterInput {
            action: Some("api_key.delete"),
            actor: Some(&long),
            credential: Some("a\u{0}b"),
            from: Some("yesterday"),
            to: Some("2026-13-01"),
        };
        let errors = input.parse().unwrap_err();
        for field in ["action", "actor", "credential", "from", "to"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let backwards =
            FilterInput { from: Some("2026-11-23"), to: Some("2026-11-22"), ..Default::default() };
        assert!(backwards.parse().unwrap_err().get("to").is_some_and(|m| m.contains("after its start")));
    }

    #[test]
    fn a_display_prefix_is_found_with_or_without_its_ellipsis() {
        let input = FilterInput { credential: Some("tsr_ak_Ab12Cd…"), ..Default::default() };
        assert_eq!(input.parse().unwrap().credential.as_deref(), Some("tsr_ak_Ab12Cd"));
        let known = FilterInput { action: Some("member.role_change"), ..Default::default() };
        assert_eq!(known.parse().unwrap().action, Some("member.role_change"));
        let padded = FilterInput { action: Some(" member.role_change"), ..Default::default() };
        assert!(padded.parse().is_err(), "an action is one of the list, exactly");
    }
}
