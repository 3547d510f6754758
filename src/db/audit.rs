use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::audit_log;
use super::{new_id, DbConnection};

/// Who did something and from where, taken from the request that did it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<String>,
    pub credential_id: Option<String>,
    pub label: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One audit entry to append. `details` is JSON and must never hold a secret.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub org_id: Option<&'a str>,
    pub action: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub target_label: Option<&'a str>,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub occurred_at: NaiveDateTime,
    pub org_id: Option<String>,
    pub actor_user_id: Option<String>,
    pub actor_credential_id: Option<String>,
    pub actor_label: String,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target_label: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub details: String,
}

/// Appends; there is no update or delete path for this table.
pub fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    event: AuditEvent<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let entry = AuditEntry {
        id: new_id(),
        occurred_at: now,
        org_id: event.org_id.map(str::to_owned),
        actor_user_id: actor.user_id.clone(),
        actor_credential_id: actor.credential_id.clone(),
        actor_label: actor.label.clone(),
        action: event.action.to_owned(),
        target_type: event.target_type.map(str::to_owned),
        target_id: event.target_id.map(str::to_owned),
        target_label: event.target_label.map(str::to_owned),
        ip: actor.ip.clone(),
        user_agent: actor.user_agent.clone(),
        details: event.details.to_string(),
    };
    diesel::insert_into(audit_log::table).values(&entry).execute(conn).map(drop)
}

/// Newest first, for an org.
pub fn for_org(conn: &mut DbConnection, org_id: &str, limit: i64) -> QueryResult<Vec<AuditEntry>> {
    audit_log::table
        .filter(audit_log::org_id.eq(org_id))
        .order((audit_log::occurred_at.desc(), audit_log::id.desc()))
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}
