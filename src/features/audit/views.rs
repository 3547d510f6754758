//! An audit entry as people read it, on the page and in the CSV export alike.

use askama::Template;
use chrono::NaiveDateTime;
use serde_json::Value;

use crate::db::audit::AuditRecord;
#[cfg(test)]
use crate::db::audit::ORG_ACTIONS;
use crate::service::fields::FormErrors;
use crate::views::{Chrome, Moment};

const USER_AGENT_SHOWN: usize = 60;

#[derive(Template)]
#[template(path = "audit/page.html", blocks = ["panel"])]
pub struct AuditPage {
    pub chrome: Chrome,
    pub form: FilterForm,
    pub rows: Vec<AuditRow>,
    /// Entries matching the filters; None when the filters could not be read.
    pub total: Option<i64>,
    pub base_path: String,
    pub newest_link: Option<String>,
    pub newer_link: Option<String>,
    pub older_link: Option<String>,
    pub export_link: String,
    pub export_cap: Option<i64>,
    /// Emails of the org's people, offered as actors.
    pub people: Vec<String>,
    /// The instance-wide log (platform operators): every org's entries, each with its org.
    pub instance: bool,
}

/// The filter form as shown: what was asked, and why it could not be read.
pub struct FilterForm {
    /// The actions the log holds, for the select.
    pub actions: &'static [&'static str],
    pub action: String,
    pub actor: String,
    pub credential: String,
    pub from: String,
    pub to: String,
    pub errors: FormErrors,
    /// A link that could not be followed (a damaged or foreign cursor).
    pub error: Option<String>,
}

impl FilterForm {
    /// (group, [(action, label, selected)]) for the action select.
    pub fn action_groups(&self) -> Vec<(&'static str, Vec<ActionOption>)> {
        let mut groups: Vec<(&'static str, Vec<ActionOption>)> = Vec::new();
        for action in self.actions.iter().copied() {
            let group = action_group(action);
            let option = (action, action_label(action), self.action == action);
            match groups.last_mut() {
                Some((last, options)) if *last == group => options.push(option),
                _ => groups.push((group, vec![option])),
            }
        }
        groups
    }

    /// A date field shows a plain date; an RFC 3339 time typed into the URL stays as typed.
    pub fn time_input_type(value: &str) -> &'static str {
        if value.is_empty() || chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
            "date"
        } else {
            "text"
        }
    }
}

/// (action, label, selected)
pub type ActionOption = (&'static str, &'static str, bool);

/// One entry, with every column the page and the CSV show.
pub struct AuditRow {
    pub id: String,
    /// The entry's org slug (instance-wide log only; empty for entries of no org).
    pub org: String,
    pub when: Moment,
    pub occurred_at: NaiveDateTime,
    pub actor: String,
    /// The credential that acted, e.g. `personal token “ci” (tsr_pat_Ab12Cd…)`.
    pub via: Option<String>,
    pub action: String,
    pub action_label: &'static str,
    pub target: String,
    pub target_kind: String,
    pub address: String,
    pub user_agent: String,
    /// Each a line: `key: value`, or `key: before → after` for an edit.
    pub details: Vec<String>,
}

impl AuditRow {
    pub fn of(record: AuditRecord, now: NaiveDateTime) -> Self {
        let AuditRecord { entry, via, org_slug } = record;
        let (actor, via) = match via {
            Some(credential) => {
                // The label of an entry made with a personal token names the token; the column
                // "via" does that better.
                let person = entry.actor_label.split(" (personal token “").next().unwrap_or_default();
                let via = format!(
                    "{} “{}” ({}…)",
                    kind_label(&credential.kind).to_lowercase(),
                    credential.name,
                    credential.display_prefix
                );
                (person.to_owned(), Some(via))
            }
            None => (entry.actor_label.clone(), None),
        };
        let details: Value = serde_json::from_str(&entry.details).unwrap_or(Value::Null);
        Self {
            org: org_slug.unwrap_or_default(),
            when: Moment::of(entry.occurred_at, now),
            occurred_at: entry.occurred_at,
            actor,
            via,
            action_label: action_label(&entry.action),
            target: entry.target_label.unwrap_or_default(),
            target_kind: entry.target_type.as_deref().map(kind_label).unwrap_or_default(),
            address: entry.ip.unwrap_or_default(),
            user_agent: entry.user_agent.unwrap_or_default(),
            details: summarize(&details),
            action: entry.action,
            id: entry.id,
        }
    }

    /// The user agent cut for the table; the whole of it is the tooltip.
    pub fn user_agent_shown(&self) -> String {
        if self.user_agent.chars().count() <= USER_AGENT_SHOWN {
            return self.user_agent.clone();
        }
        let cut: String = self.user_agent.chars().take(USER_AGENT_SHOWN - 1).collect();
        format!("{cut}…")
    }
}

fn action_group(action: &str) -> &'static str {
    match action.split('.').next().unwrap_or_default() {
        "access_token" => "Access tokens",
        "api_key" => "API keys",
        "personal_token" => "Personal tokens",
        "member" => "Members",
        "auth" => "Sign-in",
        "user" | "resource_server" => "Platform",
        _ => "Organization",
    }
}

pub fn action_label(action: &str) -> &'static str {
    match action {
        "access_token.create" => "Access token created",
        "access_token.rotate" => "Access token rotated",
        "access_token.revoke" => "Access token revoked",
        "api_key.create" => "API key created",
        "access_token.passphrase_lockout" => "Access token locked: wrong passphrases",
        "api_key.edit" => "API key edited",
        "api_key.rotate" => "API key rotated",
        "api_key.revoke" => "API key revoked",
        "personal_token.create" => "Personal token created",
        "personal_token.revoke" => "Personal token revoked",
        "member.add" => "Member added",
        "member.role_change" => "Role changed",
        "member.remove" => "Member removed",
        "org.create" => "Organization created",
        "org.set_plan" => "Plan changed",
        "org.api_access" => "API access changed",
        "auth.sign_in" => "Signed in",
        "auth.sign_in_failed" => "Sign-in refused",
        "auth.sign_out" => "Signed out",
        "auth.sessions_ended" => "Signed out other sessions",
        "user.make_operator" => "Made a platform operator",
        "user.remove_operator" => "No longer a platform operator",
        "resource_server.create" => "Resource server created",
        _ => "",
    }
}

fn kind_label(kind: &str) -> String {
    match kind {
        "access_token" => "Access token",
        "api_key" => "API key",
        "personal_token" => "Personal token",
        "membership" => "Member",
        "org" => "Organization",
        "user" => "User",
        other => other,
    }
    .to_owned()
}

/// Details as lines people read: an edit shows what changed, before → after; anything else
/// `key: value`.
pub fn summarize(details: &Value) -> Vec<String> {
    let Value::Object(map) = details else {
        return match details {
            Value::Null => Vec::new(),
            other => vec![show(other)],
        };
    };
    let mut lines = Vec::new();
    match (map.get("before"), map.get("after")) {
        (Some(Value::Object(before)), Some(Value::Object(after))) => {
            let mut keys: Vec<&String> = after.keys().chain(before.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let (was, now) =
                    (before.get(key).unwrap_or(&Value::Null), after.get(key).unwrap_or(&Value::Null));
                if was != now {
                    lines.push(format!("{}: {} → {}", words(key), show(was), show(now)));
                }
            }
            if lines.is_empty() {
                lines.push("nothing changed".to_owned());
            }
        }
        (Some(was), Some(now)) => lines.push(format!("{} → {}", show(was), show(now))),
        _ => {}
    }
    for (key, value) in map {
        if key != "before" && key != "after" {
            lines.push(format!("{}: {}", words(key), show(value)));
        }
    }
    lines
}

fn words(key: &str) -> String {
    key.replace('_', " ")
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "none".to_owned(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::String(text) if text.is_empty() => "(empty)".to_owned(),
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.is_empty() => "none".to_owned(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(", "),
        Value::Object(_) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_edit_shows_what_changed() {
        let details = json!({
            "before": { "name": "deploy", "grants": ["read"], "active": true, "description": null },
            "after": { "name": "deploy bot", "grants": ["read", "write"], "active": true, "description": "CI" },
        });
        assert_eq!(
            summarize(&details),
            ["description: none → CI", "grants: read → read, write", "name: deploy → deploy bot"]
        );
    }

    #[test]
    fn a_role_change_and_plain_details_read_naturally() {
        assert_eq!(summarize(&json!({ "before": "member", "after": "auditor" })), ["member → auditor"]);
        assert_eq!(
            summarize(&json!({ "display_prefix": "tsr_at_Ab12Cd", "new_user": false })),
            ["display prefix: tsr_at_Ab12Cd", "new user: no"]
        );
        assert!(summarize(&json!({})).is_empty());
    }

    #[test]
    fn every_known_action_has_a_label_and_a_group() {
        for action in crate::db::audit::INSTANCE_ACTIONS {
            assert!(!action_label(action).is_empty(), "{action}");
        }
        let form = FilterForm {
            actions: &ORG_ACTIONS,
            action: "api_key.edit".into(),
            actor: String::new(),
            credential: String::new(),
            from: String::new(),
            to: String::new(),
            errors: FormErrors::default(),
            error: None,
        };
        let groups = form.action_groups();
        assert_eq!(groups.len(), 6);
        assert_eq!(groups.iter().map(|(_, options)| options.len()).sum::<usize>(), ORG_ACTIONS.len());
        assert!(groups[1].1.iter().any(|(action, _, selected)| *action == "api_key.edit" && *selected));
    }
}
