use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor, AuditEvent};
use super::schema::credentials as c;
use super::{escape_like, orgs, DbConnection, MultiBackend};
use crate::credentials::{CredentialKind, StatusFilter};

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = c)]
pub struct CredentialRow {
    pub id: String,
    pub org_id: String,
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub display_prefix: String,
    pub grants: String,
    pub passphrase_hash: Option<String>,
    pub active: bool,
    pub rate_limit_per_minute: Option<i32>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub owner_user_id: Option<String>,
    pub revoked_at: Option<NaiveDateTime>,
    pub revoked_by: Option<String>,
    pub rotated_from: Option<String>,
    pub last_used_at: Option<NaiveDateTime>,
    pub last_used_ip: Option<String>,
    pub usage_count: i64,
}

/// A credential ready to store: secret already hashed, grants already checked.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = c)]
pub struct NewCredential {
    pub id: String,
    pub org_id: String,
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub secret_hash: String,
    pub display_prefix: String,
    pub grants: String,
    pub passphrase_hash: Option<String>,
    pub active: bool,
    pub rate_limit_per_minute: Option<i32>,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub owner_user_id: Option<String>,
    pub rotated_from: Option<String>,
}

/// Why a creation was refused; nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateRefusal {
    CapReached,
    NameTaken,
}

/// Live means not revoked (a rotated predecessor in its grace period still is) and not expired.
macro_rules! live_at {
    ($now:expr) => {
        c::revoked_at
            .is_null()
            .or(c::revoked_at.gt($now))
            .and(c::expires_at.is_null().or(c::expires_at.gt($now)))
    };
}

/// The live credentials a new one is counted among for its cap and its name: the org's of its
/// kind, or, for a personal token, its person's in every org (their cap and names are their own).
fn live_peers<'a>(new: &'a NewCredential, now: NaiveDateTime) -> c::BoxedQuery<'a, MultiBackend> {
    let query = c::table.filter(c::kind.eq(&new.kind)).filter(live_at!(now)).into_boxed();
    match &new.owner_user_id {
        Some(owner) => query.filter(c::owner_user_id.eq(owner)),
        None => query.filter(c::org_id.eq(&new.org_id)),
    }
}

/// Inserts a credential and its audit entry in one transaction, after checking the cap and the
/// name under the org's lock (and the person's, for a personal token).
pub fn create(
    conn: &mut DbConnection,
    new: &NewCredential,
    cap: u32,
    actor: &Actor,
    details: serde_json::Value,
    now: NaiveDateTime,
) -> QueryResult<Result<(), CreateRefusal>> {
    let kind = CredentialKind::from_db(&new.kind).ok_or(diesel::result::Error::NotFound)?;
    conn.transaction(|conn| {
        orgs::lock_org(conn, &new.org_id)?;
        if let Some(owner) = &new.owner_user_id {
            orgs::lock_user(conn, owner)?;
        }
        if live_peers(new, now).count().get_result::<i64>(conn)? >= i64::from(cap) {
            return Ok(Err(CreateRefusal::CapReached));
        }
        if live_peers(new, now).filter(c::name.eq(&new.name)).count().get_result::<i64>(conn)? > 0 {
            return Ok(Err(CreateRefusal::NameTaken));
        }
        diesel::insert_into(c::table).values(new).execute(conn)?;
        audit::record(
            conn,
            actor,
            AuditEvent {
                org_id: Some(&new.org_id),
                action: &format!("{}.create", kind.as_str()),
                target_type: Some(kind.as_str()),
                target_id: Some(&new.id),
                target_label: Some(&new.name),
                details,
            },
            now,
        )?;
        Ok(Ok(()))
    })
}

/// What a list shows: one page, plus the total for the pager.
pub struct ListQuery<'a> {
    pub org_id: &'a str,
    pub kind: CredentialKind,
    pub filter: StatusFilter,
    pub search: Option<&'a str>,
    pub page: i64,
}

pub fn list(
    conn: &mut DbConnection,
    q: &ListQuery<'_>,
    now: NaiveDateTime,
) -> QueryResult<(Vec<CredentialRow>, i64)> {
    let filtered = || {
        let mut query = c::table
            .filter(c::org_id.eq(q.org_id.to_owned()))
            .filter(c::kind.eq(q.kind.as_str()))
            .into_boxed();
        query = match q.filter {
            StatusFilter::Active => query.filter(live_at!(now)),
            StatusFilter::Revoked => query.filter(c::revoked_at.le(now)),
            StatusFilter::Expired => {
                query.filter(c::expires_at.le(now)).filter(c::revoked_at.is_null().or(c::revoked_at.gt(now)))
            }
            StatusFilter::All => query,
        };
        if let Some(term) = q.search {
            let pattern = format!("%{}%", escape_like(term));
            query = query.filter(
                c::name.like(pattern.clone()).escape('\\').or(c::display_prefix.like(pattern).escape('\\')),
            );
        }
        query
    };
    let total = filtered().count().get_result(conn)?;
    let rows = filtered()
        .order((c::created_at.desc(), c::id.desc()))
        .limit(PAGE_SIZE)
        .offset(q.page.max(0) * PAGE_SIZE)
        .select(CredentialRow::as_select())
        .load(conn)?;
    Ok((rows, total))
}

/// One credential of an org; another org's id reads as absent.
pub fn find(
    conn: &mut DbConnection,
    org_id: &str,
    kind: CredentialKind,
    id: &str,
) -> QueryResult<Option<CredentialRow>> {
    c::table
        .filter(c::org_id.eq(org_id))
        .filter(c::kind.eq(kind.as_str()))
        .filter(c::id.eq(id))
        .select(CredentialRow::as_select())
        .get_result(conn)
        .optional()
}

#[derive(Debug, Clone)]
pub enum RevokeOutcome {
    Revoked { name: String },
    AlreadyRevoked,
    NotFound,
}

/// Revokes at `now` and audits it, in one transaction. A rotated predecessor still in its
/// grace period is cut off now.
pub fn revoke(
    conn: &mut DbConnection,
    org_id: &str,
    kind: CredentialKind,
    id: &str,
    actor: &Actor,
    now: NaiveDateTime,
) -> QueryResult<RevokeOutcome> {
    conn.transaction(|conn| {
        orgs::lock_org(conn, org_id)?;
        let Some(row) = find(conn, org_id, kind, id)? else {
            return Ok(RevokeOutcome::NotFound);
        };
        if row.revoked_at.is_some_and(|at| at <= now) {
            return Ok(RevokeOutcome::AlreadyRevoked);
        }
        diesel::update(c::table.find(id))
            .set((c::revoked_at.eq(now), c::revoked_by.eq(actor.user_id.clone())))
            .execute(conn)?;
        audit::record(
            conn,
            actor,
            AuditEvent {
                org_id: Some(org_id),
                action: &format!("{}.revoke", kind.as_str()),
                target_type: Some(kind.as_str()),
                target_id: Some(id),
                target_label: Some(&row.name),
                details: serde_json::json!({ "display_prefix": row.display_prefix }),
            },
            now,
        )?;
        Ok(RevokeOutcome::Revoked { name: row.name })
    })
}

/// Revokes every live personal token a person holds for an org, each audited with `reason`, in
/// the caller's transaction (removal from the org). Returns their ids, for the caller's cache.
pub fn revoke_personal_tokens_in(
    conn: &mut DbConnection,
    org_id: &str,
    user_id: &str,
    reason: &str,
    actor: &Actor,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    let kind = CredentialKind::PersonalToken;
    let live: Vec<CredentialRow> = c::table
        .filter(c::org_id.eq(org_id))
        .filter(c::kind.eq(kind.as_str()))
        .filter(c::owner_user_id.eq(user_id))
        .filter(live_at!(now))
        .select(CredentialRow::as_select())
        .load(conn)?;
    for row in &live {
        diesel::update(c::table.find(&row.id))
            .set((c::revoked_at.eq(now), c::revoked_by.eq(actor.user_id.clone())))
            .execute(conn)?;
        let event = AuditEvent {
            org_id: Some(org_id),
            action: "personal_token.revoke",
            target_type: Some(kind.as_str()),
            target_id: Some(&row.id),
            target_label: Some(&row.name),
            details: serde_json::json!({ "display_prefix": row.display_prefix, "reason": reason }),
        };
        audit::record(conn, actor, event, now)?;
    }
    Ok(live.into_iter().map(|row| row.id).collect())
}

/// Adds usage to a credential (seeding and, later, the usage flusher).
pub fn add_usage(
    conn: &mut DbConnection,
    id: &str,
    requests: i64,
    last_used_at: NaiveDateTime,
    last_used_ip: &str,
) -> QueryResult<()> {
    diesel::update(c::table.find(id))
        .set((
            c::usage_count.eq(c::usage_count + requests),
            c::last_used_at.eq(last_used_at),
            c::last_used_ip.eq(last_used_ip),
        ))
        .execute(conn)
        .map(drop)
}

/// Sets one day's request count (seeding and, later, the usage flusher).
pub fn set_daily_usage(
    conn: &mut DbConnection,
    id: &str,
    day: chrono::NaiveDate,
    requests: i64,
) -> QueryResult<()> {
    use super::schema::credential_usage_daily as d;
    diesel::insert_into(d::table)
        .values((
            d::credential_id.eq(id),
            d::day.eq(day),
            d::request_count.eq(requests),
            d::failed_count.eq(0_i64),
        ))
        .execute(conn)
        .map(drop)
}

/// A replacement minted by rotation, fully prepared except for what comes from its predecessor.
pub struct Replacement {
    pub id: String,
    pub secret_hash: String,
    pub display_prefix: String,
    pub created_by: String,
}

#[derive(Debug)]
pub enum RotateOutcome {
    Rotated { old: Box<CredentialRow>, new_id: String },
    Refused(&'static str),
    NotFound,
}

/// Rotation: a replacement with the predecessor's name, kind, grants, description, passphrase
/// and state; the predecessor stops at `now + grace`. `expiry` computes the new expiry from the
/// predecessor (same lifetime, same policy). One transaction, audited as one linked entry.
#[allow(clippy::too_many_arguments)]
pub fn rotate(
    conn: &mut DbConnection,
    org_id: &str,
    kind: CredentialKind,
    id: &str,
    replacement: Replacement,
    grace: chrono::TimeDelta,
    expiry: impl FnOnce(&CredentialRow) -> Result<Option<NaiveDateTime>, String>,
    actor: &Actor,
    now: NaiveDateTime,
) -> QueryResult<RotateOutcome> {
    conn.transaction(|conn| {
        orgs::lock_org(conn, org_id)?;
        let Some(old) = find(conn, org_id, kind, id)? else {
            return Ok(RotateOutcome::NotFound);
        };
        if old.revoked_at.is_some_and(|at| at <= now) {
            return Ok(RotateOutcome::Refused(
                "A revoked credential cannot be rotated. Create a new one instead.",
            ));
        }
        if old.expires_at.is_some_and(|at| at <= now) {
            return Ok(RotateOutcome::Refused(
                "An expired credential cannot be rotated. Create a new one instead.",
            ));
        }
        if old.revoked_at.is_some() {
            return Ok(RotateOutcome::Refused(
                "This credential was already rotated; rotate its replacement instead.",
            ));
        }
        let Ok(expires_at) = expiry(&old) else {
            return Ok(RotateOutcome::Refused(
                "The organization's lifetime policy leaves no valid expiry for a replacement.",
            ));
        };
        let new = NewCredential {
            id: replacement.id,
            org_id: old.org_id.clone(),
            kind: old.kind.clone(),
            name: old.name.clone(),
            description: old.description.clone(),
            secret_hash: replacement.secret_hash,
            display_prefix: replacement.display_prefix,
            grants: old.grants.clone(),
            passphrase_hash: old.passphrase_hash.clone(),
            active: old.active,
            rate_limit_per_minute: old.rate_limit_per_minute,
            expires_at,
            created_at: now,
            created_by: replacement.created_by,
            owner_user_id: old.owner_user_id.clone(),
            rotated_from: Some(old.id.clone()),
        };
        diesel::insert_into(c::table).values(&new).execute(conn)?;
        let stops_at = now + grace;
        diesel::update(c::table.find(&old.id))
            .set((c::revoked_at.eq(stops_at), c::revoked_by.eq(actor.user_id.clone())))
            .execute(conn)?;
        let details = serde_json::json!({
            "rotated_from": old.id,
            "previous_display_prefix": old.display_prefix,
            "display_prefix": new.display_prefix,
            "previous_stops_at": stops_at,
            "grace_seconds": grace.num_seconds(),
            "expires_at": new.expires_at,
        });
        let event = AuditEvent {
            org_id: Some(org_id),
            action: &format!("{}.rotate", kind.as_str()),
            target_type: Some(kind.as_str()),
            target_id: Some(&new.id),
            target_label: Some(&new.name),
            details,
        };
        audit::record(conn, actor, event, now)?;
        Ok(RotateOutcome::Rotated { old: Box::new(old), new_id: new.id })
    })
}

/// What an API key edit may change; the secret never does.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = c, treat_none_as_null = true)]
pub struct KeyChanges {
    pub name: String,
    pub description: Option<String>,
    pub grants: String,
    pub expires_at: Option<NaiveDateTime>,
    pub active: bool,
}

#[derive(Debug)]
pub enum EditOutcome {
    Edited,
    NameTaken,
    Refused(&'static str),
    NotFound,
}

/// Applies an edit and audits before and after, in one transaction.
pub fn edit(
    conn: &mut DbConnection,
    org_id: &str,
    kind: CredentialKind,
    id: &str,
    changes: &KeyChanges,
    actor: &Actor,
    now: NaiveDateTime,
) -> QueryResult<EditOutcome> {
    conn.transaction(|conn| {
        orgs::lock_org(conn, org_id)?;
        let Some(before) = find(conn, org_id, kind, id)? else {
            return Ok(EditOutcome::NotFound);
        };
        if before.revoked_at.is_some_and(|at| at <= now) {
            return Ok(EditOutcome::Refused("A revoked credential cannot be edited."));
        }
        // Its own rotation partners share its name by design.
        let mut others = c::table
            .filter(c::org_id.eq(org_id))
            .filter(c::kind.eq(kind.as_str()))
            .filter(c::name.eq(&changes.name))
            .filter(c::id.ne(id))
            .filter(c::rotated_from.ne(id).or(c::rotated_from.is_null()))
            .filter(live_at!(now))
            .into_boxed();
        if let Some(predecessor) = &before.rotated_from {
            others = others.filter(c::id.ne(predecessor.clone()));
        }
        let same_name: i64 = others.count().get_result(conn)?;
        if same_name > 0 {
            return Ok(EditOutcome::NameTaken);
        }
        diesel::update(c::table.find(id)).set(changes).execute(conn)?;
        let snapshot = |name: &str, description: &Option<String>, grants: &str, expires_at: &Option<NaiveDateTime>, active: bool| {
            serde_json::json!({ "name": name, "description": description, "grants": grants.split(' ').collect::<Vec<_>>(), "expires_at": expires_at, "active": active })
        };
        let details = serde_json::json!({
            "before": snapshot(&before.name, &before.description, &before.grants, &before.expires_at, before.active),
            "after": snapshot(&changes.name, &changes.description, &changes.grants, &changes.expires_at, changes.active),
        });
        let event = AuditEvent {
            org_id: Some(org_id),
            action: &format!("{}.edit", kind.as_str()),
            target_type: Some(kind.as_str()),
            target_id: Some(id),
            target_label: Some(&changes.name),
            details,
        };
        audit::record(conn, actor, event, now)?;
        Ok(EditOutcome::Edited)
    })
}

/// A credential id with a display prefix.
pub type IdPrefix = (String, String);

/// Rotation partners of the given rows: (predecessor id → display prefix) and
/// (predecessor id → successor display prefix).
pub fn rotation_links(
    conn: &mut DbConnection,
    rows: &[CredentialRow],
) -> QueryResult<(Vec<IdPrefix>, Vec<IdPrefix>)> {
    let predecessor_ids: Vec<String> = rows.iter().filter_map(|r| r.rotated_from.clone()).collect();
    let predecessors =
        c::table.filter(c::id.eq_any(&predecessor_ids)).select((c::id, c::display_prefix)).load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let successors: Vec<(Option<String>, String)> = c::table
        .filter(c::rotated_from.eq_any(&ids))
        .select((c::rotated_from, c::display_prefix))
        .load(conn)?;
    let successors = successors.into_iter().filter_map(|(from, prefix)| from.map(|f| (f, prefix))).collect();
    Ok((predecessors, successors))
}

/// What the hot path needs of a credential's org.
#[derive(Debug, Clone, Queryable)]
pub struct OrgOfCredential {
    pub slug: String,
    pub name: String,
    pub api_access: bool,
}

/// The credential with this secret hash, with its org's slug, name and API-access gate: the
/// hot path's one query, on an index.
pub fn find_by_hash(
    conn: &mut DbConnection,
    hash_hex: &str,
) -> QueryResult<Option<(CredentialRow, OrgOfCredential)>> {
    use super::schema::organizations as o;
    c::table
        .inner_join(o::table)
        .filter(c::secret_hash.eq(hash_hex))
        .select((CredentialRow::as_select(), (o::slug, o::name, o::api_access)))
        .get_result(conn)
        .optional()
}

/// One of a person's own personal tokens, in whichever org, with that org: one query scoped by
/// its owner, so another person's id reads as absent whatever either holds.
pub fn own_personal_token(
    conn: &mut DbConnection,
    user_id: &str,
    id: &str,
) -> QueryResult<Option<(CredentialRow, orgs::Org)>> {
    use super::schema::organizations as o;
    c::table
        .inner_join(o::table)
        .filter(c::id.eq(id))
        .filter(c::kind.eq(CredentialKind::PersonalToken.as_str()))
        .filter(c::owner_user_id.eq(user_id))
        .select((CredentialRow::as_select(), orgs::Org::as_select()))
        .get_result(conn)
        .optional()
}

/// A person's personal access tokens in every org, newest first, with each org's slug and name.
pub fn personal_tokens_of(
    conn: &mut DbConnection,
    user_id: &str,
) -> QueryResult<Vec<(CredentialRow, String, String)>> {
    use super::schema::organizations as o;
    c::table
        .inner_join(o::table)
        .filter(c::kind.eq(CredentialKind::PersonalToken.as_str()))
        .filter(c::owner_user_id.eq(user_id))
        .order((c::created_at.desc(), c::id.desc()))
        .limit(500)
        .select((CredentialRow::as_select(), o::slug, o::name))
        .load(conn)
}
