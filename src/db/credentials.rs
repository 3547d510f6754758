use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::audit::{self, Actor, AuditEvent};
use super::schema::credentials as c;
use super::{orgs, DbConnection};
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

pub fn count_live(
    conn: &mut DbConnection,
    org_id: &str,
    kind: CredentialKind,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    c::table
        .filter(c::org_id.eq(org_id))
        .filter(c::kind.eq(kind.as_str()))
        .filter(live_at!(now))
        .count()
        .get_result(conn)
}

fn name_taken(
    conn: &mut DbConnection,
    new: &NewCredential,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let same_name: i64 = c::table
        .filter(c::org_id.eq(&new.org_id))
        .filter(c::kind.eq(&new.kind))
        .filter(c::name.eq(&new.name))
        .filter(live_at!(now))
        .count()
        .get_result(conn)?;
    Ok(same_name > 0)
}

/// Inserts a credential and its audit entry in one transaction, after checking the plan cap
/// and the name under the org's lock.
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
        if count_live(conn, &new.org_id, kind, now)? >= i64::from(cap) {
            return Ok(Err(CreateRefusal::CapReached));
        }
        if name_taken(conn, new, now)? {
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
            StatusFilter::Expired => query
                .filter(c::expires_at.le(now))
                .filter(c::revoked_at.is_null().or(c::revoked_at.gt(now))),
            StatusFilter::All => query,
        };
        if let Some(term) = q.search {
            let pattern = format!("%{}%", escape_like(term));
            query = query.filter(
                c::name
                    .like(pattern.clone())
                    .escape('\\')
                    .or(c::display_prefix.like(pattern).escape('\\')),
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

fn escape_like(term: &str) -> String {
    term.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
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
        .first(conn)
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
            .set((
                c::revoked_at.eq(now),
                c::revoked_by.eq(actor.user_id.clone()),
            ))
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
