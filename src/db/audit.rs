use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{audit_log, credentials, memberships, organizations};
use super::{escape_like, lower, new_id, DbConnection, MultiBackend};

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

/// Appends. This is the only write to the table: there is no update or delete path, and the
/// database refuses both (triggers, migration `audit_append_only`). An entry about a change to
/// whether or how a credential verifies brings its change-feed row, in the same transaction.
pub fn record(
    conn: &mut DbConnection,
    actor: &Actor,
    event: AuditEvent<'_>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        super::changes::append(conn, &super::changes::implied_by(&event), now)?;
        append(conn, actor, event, now)
    })
}

fn append(
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

/// Appends an entry about a person rather than an org (signing in and out): one copy in the log
/// of each org they belong to at this moment, so each org's readers see it, or a single entry of
/// no org when they belong to none. The instance-wide log shows every copy with its org.
pub fn record_for_person(
    conn: &mut DbConnection,
    actor: &Actor,
    event: AuditEvent<'_>,
    user_id: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    conn.transaction(|conn| {
        let org_ids: Vec<String> = match user_id {
            Some(user_id) => memberships::table
                .filter(memberships::user_id.eq(user_id))
                .order(memberships::org_id.asc())
                .select(memberships::org_id)
                .load(conn)?,
            None => Vec::new(),
        };
        if org_ids.is_empty() {
            return record(conn, actor, event, now);
        }
        for org_id in &org_ids {
            record(conn, actor, AuditEvent { org_id: Some(org_id), ..event.clone() }, now)?;
        }
        Ok(())
    })
}

/// As `record_for_person`, for a person known only by an email (a refused sign-in).
pub fn record_for_email(
    conn: &mut DbConnection,
    actor: &Actor,
    event: AuditEvent<'_>,
    email: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let person = match email {
        Some(email) => super::orgs::find_users_by_email_ignoring_case(conn, email)?.into_iter().next(),
        None => None,
    };
    record_for_person(conn, actor, event, person.as_ref().map(|p| p.id.as_str()), now)
}

/// The actions an org's audit log holds, for the filter's choices and the API's schema.
pub const ORG_ACTIONS: [&str; 20] = [
    "access_token.create",
    "access_token.rotate",
    "access_token.revoke",
    "access_token.passphrase_lockout",
    "api_key.create",
    "api_key.edit",
    "api_key.rotate",
    "api_key.revoke",
    "personal_token.create",
    "personal_token.revoke",
    "member.add",
    "member.role_change",
    "member.remove",
    "org.create",
    "org.set_plan",
    "org.api_access",
    "auth.sign_in",
    "auth.sign_in_failed",
    "auth.sign_out",
    "auth.sessions_ended",
];

/// The actions of the instance-wide log: every org's, and those that belong to no org.
pub const INSTANCE_ACTIONS: [&str; 23] = {
    let mut all = [""; 23];
    let mut i = 0;
    while i < ORG_ACTIONS.len() {
        all[i] = ORG_ACTIONS[i];
        i += 1;
    }
    all[20] = "user.make_operator";
    all[21] = "user.remove_operator";
    all[22] = "resource_server.create";
    all
};

/// Whose entries a read covers: one org's, or the whole instance's (platform operators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Org(String),
    Instance,
}

impl Scope {
    fn org_id(&self) -> Option<&str> {
        match self {
            Self::Org(id) => Some(id),
            Self::Instance => None,
        }
    }
}

/// Which entries of an org to read. Built only by parsing (see `features::audit::filter`), so a
/// value here is always well formed: a known action, bounded texts, a time range in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub action: Option<&'static str>,
    /// Part of the actor's label (an email, `operator (cli)`), any case.
    pub actor: Option<String>,
    /// A credential of the org by id, display prefix (or its start) or part of its name: entries
    /// about it and entries it made.
    pub credential: Option<String>,
    /// Inclusive.
    pub from: Option<NaiveDateTime>,
    /// Exclusive.
    pub until: Option<NaiveDateTime>,
}

/// A position in the log, newest first: an entry's time and id (ids break ties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub occurred_at: NaiveDateTime,
    pub id: String,
}

const CURSOR_TIME: &str = "%Y-%m-%dT%H:%M:%S%.6f";

impl Cursor {
    pub fn of(entry: &AuditEntry) -> Self {
        Self { occurred_at: entry.occurred_at, id: entry.id.clone() }
    }

    /// An opaque, URL-safe form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{},{}", self.occurred_at.format(CURSOR_TIME), self.id))
    }

    pub fn decode(raw: &str) -> Option<Self> {
        if raw.len() > 200 {
            return None;
        }
        let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
        let (at, id) = text.split_once(',')?;
        let well_formed =
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        let occurred_at = NaiveDateTime::parse_from_str(at, CURSOR_TIME).ok()?;
        well_formed.then(|| Self { occurred_at, id: id.to_owned() })
    }
}

/// Which part of the filtered log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Window {
    Newest,
    /// Entries older than the cursor.
    Before(Cursor),
    /// Entries newer than the cursor (the page before, going back towards the newest).
    After(Cursor),
}

/// The credential that made an entry (a personal token on the API), as people recognise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActingCredential {
    pub kind: String,
    pub name: String,
    pub display_prefix: String,
}

#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub entry: AuditEntry,
    pub via: Option<ActingCredential>,
    /// The entry's org, named in the instance-wide log only.
    pub org_slug: Option<String>,
}

/// Up to `limit` entries of a window, newest first, and whether the window holds more beyond them.
#[derive(Debug)]
pub struct Slice {
    pub records: Vec<AuditRecord>,
    pub more: bool,
}

/// The entries of the scope that match the filter: the one query behind the console pages, their
/// CSV exports and the API.
fn matching<'a>(scope: &'a Scope, filter: &'a AuditFilter) -> audit_log::BoxedQuery<'a, MultiBackend> {
    use audit_log as l;
    use credentials as c;
    let mut query = l::table.into_boxed();
    if let Some(org_id) = scope.org_id() {
        query = query.filter(l::org_id.eq(org_id));
    }
    if let Some(action) = filter.action {
        query = query.filter(l::action.eq(action));
    }
    if let Some(actor) = &filter.actor {
        let pattern = format!("%{}%", escape_like(&actor.to_lowercase()));
        query = query.filter(lower(l::actor_label).like(pattern).escape('\\'));
    }
    if let Some(term) = &filter.credential {
        let starts = format!("{}%", escape_like(term));
        let contains = format!("%{}%", escape_like(&term.to_lowercase()));
        // A bound "every org" rather than a boxed subquery, which the multi-backend cannot nest.
        let (org_id, every_org) = match scope.org_id() {
            Some(org_id) => (org_id, false),
            None => ("", true),
        };
        let ids = || {
            c::table
                .filter(c::org_id.eq(org_id).or(every_org.into_sql::<diesel::sql_types::Bool>()))
                .filter(
                    c::id.eq(term.clone()).or(c::display_prefix.like(starts.clone()).escape('\\')).or(lower(
                        c::name,
                    )
                    .like(contains.clone())
                    .escape('\\')),
                )
                .select(c::id.nullable())
        };
        // Entries about it, entries made with it, and the rotation that replaced it (whose
        // target is the replacement).
        let successor = diesel::alias!(credentials as successor);
        let replacements = successor
            .filter(successor.field(c::rotated_from).eq_any(ids()))
            .select(successor.field(c::id).nullable());
        query = query.filter(
            l::target_id
                .eq_any(ids())
                .or(l::actor_credential_id.eq_any(ids()))
                .or(l::action.like("%.rotate").and(l::target_id.eq_any(replacements))),
        );
    }
    if let Some(from) = filter.from {
        query = query.filter(l::occurred_at.ge(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(l::occurred_at.lt(until));
    }
    query
}

/// One window of the filtered log, newest first (keyset pagination: stable while entries are
/// appended, and as fast on the last page as on the first).
pub fn search(
    conn: &mut DbConnection,
    scope: &Scope,
    filter: &AuditFilter,
    window: &Window,
    limit: i64,
) -> QueryResult<Slice> {
    use audit_log as l;
    let limit = limit.max(1);
    let query = matching(scope, filter);
    let query = match window {
        Window::Newest => query.order((l::occurred_at.desc(), l::id.desc())),
        Window::Before(at) => query
            .filter(
                l::occurred_at
                    .lt(at.occurred_at)
                    .or(l::occurred_at.eq(at.occurred_at).and(l::id.lt(at.id.clone()))),
            )
            .order((l::occurred_at.desc(), l::id.desc())),
        Window::After(at) => query
            .filter(
                l::occurred_at
                    .gt(at.occurred_at)
                    .or(l::occurred_at.eq(at.occurred_at).and(l::id.gt(at.id.clone()))),
            )
            .order((l::occurred_at.asc(), l::id.asc())),
    };
    let mut entries: Vec<AuditEntry> = query.limit(limit + 1).select(AuditEntry::as_select()).load(conn)?;
    let more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    if matches!(window, Window::After(_)) {
        entries.reverse();
    }
    let acting = acting_credentials(conn, scope, &entries)?;
    let slugs = match scope {
        Scope::Org(_) => HashMap::new(),
        Scope::Instance => org_slugs(conn, &entries)?,
    };
    let records = entries
        .into_iter()
        .map(|entry| {
            let via = entry.actor_credential_id.as_ref().and_then(|id| acting.get(id).cloned());
            let org_slug = entry.org_id.as_ref().and_then(|id| slugs.get(id).cloned());
            AuditRecord { entry, via, org_slug }
        })
        .collect();
    Ok(Slice { records, more })
}

/// How many entries match the filter.
pub fn count(conn: &mut DbConnection, scope: &Scope, filter: &AuditFilter) -> QueryResult<i64> {
    matching(scope, filter).count().get_result(conn)
}

fn org_slugs(conn: &mut DbConnection, entries: &[AuditEntry]) -> QueryResult<HashMap<String, String>> {
    let mut ids: Vec<&str> = entries.iter().filter_map(|e| e.org_id.as_deref()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let rows: Vec<(String, String)> = organizations::table
            .filter(organizations::id.eq_any(chunk))
            .select((organizations::id, organizations::slug))
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Bind parameters per query stay far below both backends' limits.
const IDS_PER_QUERY: usize = 500;

fn acting_credentials(
    conn: &mut DbConnection,
    scope: &Scope,
    entries: &[AuditEntry],
) -> QueryResult<HashMap<String, ActingCredential>> {
    use credentials as c;
    let mut ids: Vec<&str> = entries.iter().filter_map(|e| e.actor_credential_id.as_deref()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut found = HashMap::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let mut of_scope: c::BoxedQuery<'_, MultiBackend> = c::table.into_boxed();
        if let Some(org_id) = scope.org_id() {
            of_scope = of_scope.filter(c::org_id.eq(org_id));
        }
        let rows: Vec<(String, String, String, String)> = of_scope
            .filter(c::id.eq_any(chunk))
            .select((c::id, c::kind, c::name, c::display_prefix))
            .load(conn)?;
        found.extend(
            rows.into_iter().map(|(id, kind, name, display_prefix)| {
                (id, ActingCredential { kind, name, display_prefix })
            }),
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn a_cursor_survives_its_round_trip_and_nothing_else_passes_for_one() {
        let at = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_micro_opt(9, 30, 0, 120).unwrap();
        let cursor = Cursor { occurred_at: at, id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into() };
        let encoded = cursor.encode();
        assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{encoded}");
        assert_eq!(Cursor::decode(&encoded), Some(cursor));
        for bad in ["", "nonsense", "!!!", &URL_SAFE_NO_PAD.encode("2026-11-23T09:30:00.000000,x'; --")] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
        assert_eq!(Cursor::decode(&"A".repeat(201)), None);
    }
}
