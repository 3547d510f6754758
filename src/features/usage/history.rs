//! A credential's life as its audit entries tell it: created (or minted by a rotation), edited,
//! rotated, revoked, with who did it and from where.

use chrono::NaiveDateTime;
use serde_json::Value;

use crate::db::audit::AuditEntry;
use crate::views::Moment;

pub struct HistoryItem {
    /// The audit action, e.g. `access_token.rotate`.
    pub action: String,
    /// What happened, for people: `Created`, `Rotated`, `Edited`, `Revoked`.
    pub what: String,
    pub detail: Option<String>,
    pub when: Moment,
    pub actor: String,
    pub ip: Option<String>,
}

impl HistoryItem {
    /// One entry about the credential `this_id`. A rotation entry's target is the replacement,
    /// so it reads as "created" on the replacement's page and "rotated" on its predecessor's.
    pub fn of(entry: AuditEntry, this_id: &str, now: NaiveDateTime) -> Self {
        let details: Value = serde_json::from_str(&entry.details).unwrap_or_default();
        let text = |key: &str| details.get(key).and_then(Value::as_str).map(str::to_owned);
        let verb = entry.action.rsplit('.').next().unwrap_or_default();
        let (what, detail) = match verb {
            "create" => ("Created".to_owned(), None),
            "rotate" if entry.target_id.as_deref() == Some(this_id) => (
                "Created by rotation".to_owned(),
                text("previous_display_prefix").map(|p| format!("Replaces {p}…")),
            ),
            "rotate" => ("Rotated".to_owned(), Some(rotated(&details, now))),
            "revoke" => ("Revoked".to_owned(), None),
            "edit" => ("Edited".to_owned(), edited(&details)),
            _ => (entry.action.clone(), None),
        };
        Self {
            what,
            detail,
            when: Moment::of(entry.occurred_at, now),
            actor: entry.actor_label,
            ip: entry.ip,
            action: entry.action,
        }
    }
}

/// `Replaced by tsr_at_AbC123…; the old secret stopped working at once.`
fn rotated(details: &Value, now: NaiveDateTime) -> String {
    let successor = details.get("display_prefix").and_then(Value::as_str).unwrap_or("a new secret");
    let grace = details.get("grace_seconds").and_then(Value::as_i64).unwrap_or(0);
    let stops = details
        .get("previous_stops_at")
        .cloned()
        .and_then(|v| serde_json::from_value::<NaiveDateTime>(v).ok());
    let old = match stops {
        _ if grace == 0 => "the old secret stopped working at once".to_owned(),
        Some(at) if at <= now => format!("the old secret stopped working at {}", Moment::of(at, now).utc),
        Some(at) => format!("the old secret stops working at {}", Moment::of(at, now).utc),
        None => "the old secret was given a grace period".to_owned(),
    };
    format!("Replaced by {successor}…; {old}.")
}

/// `Changed name, permissions and expiry.` from the entry's before and after.
fn edited(details: &Value) -> Option<String> {
    const FIELDS: [(&str, &str); 5] = [
        ("name", "name"),
        ("description", "description"),
        ("grants", "permissions"),
        ("expires_at", "expiry"),
        ("active", "active state"),
    ];
    let (before, after) = (details.get("before")?, details.get("after")?);
    let changed: Vec<&str> =
        FIELDS.iter().filter(|(key, _)| before.get(key) != after.get(key)).map(|(_, label)| *label).collect();
    match changed.as_slice() {
        [] => Some("Saved without changes.".to_owned()),
        [one] => Some(format!("Changed {one}.")),
        [rest @ .., last] => Some(format!("Changed {} and {last}.", rest.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(12, 0, 0).unwrap()
    }

    fn entry(action: &str, target: &str, details: Value) -> AuditEntry {
        AuditEntry {
            id: "e".into(),
            occurred_at: now(),
            org_id: Some("o".into()),
            actor_user_id: Some("u".into()),
            actor_credential_id: None,
            actor_label: "alice@example.com".into(),
            action: action.into(),
            target_type: Some("api_key".into()),
            target_id: Some(target.into()),
            target_label: Some("k".into()),
            ip: Some("192.0.2.1".into()),
            user_agent: None,
            details: details.to_string(),
        }
    }

    #[test]
    fn a_rotation_reads_from_both_sides() {
        let details = json!({
            "rotated_from": "old", "previous_display_prefix": "tsr_ak_aaaaaa", "display_prefix": "tsr_ak_bbbbbb",
            "grace_seconds": 3600, "previous_stops_at": now() + chrono::TimeDelta::hours(1),
        });
        let new = HistoryItem::of(entry("api_key.rotate", "new", details.clone()), "new", now());
        assert_eq!(
            (new.what.as_str(), new.detail.as_deref()),
            ("Created by rotation", Some("Replaces tsr_ak_aaaaaa…"))
        );
        let old = HistoryItem::of(entry("api_key.rotate", "new", details), "old", now());
        assert_eq!(old.what, "Rotated");
        assert_eq!(
            old.detail.as_deref(),
            Some("Replaced by tsr_ak_bbbbbb…; the old secret stops working at 2026-11-23 13:00:00 UTC.")
        );
    }

    #[test]
    fn an_edit_names_what_changed() {
        let details = json!({
            "before": { "name": "a", "description": null, "grants": ["read"], "expires_at": null, "active": true },
            "after": { "name": "b", "description": null, "grants": ["read"], "expires_at": "2027-01-01T00:00:00", "active": false },
        });
        let item = HistoryItem::of(entry("api_key.edit", "k", details), "k", now());
        assert_eq!(item.detail.as_deref(), Some("Changed name, expiry and active state."));
        let revoked = HistoryItem::of(entry("api_key.revoke", "k", json!({})), "k", now());
        assert_eq!((revoked.what.as_str(), revoked.actor.as_str()), ("Revoked", "alice@example.com"));
    }
}
