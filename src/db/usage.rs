//! Usage: writes of aggregated usage (one batch per flush, never one write per request), and
//! the reads of the usage pages and reports.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::audit::AuditEntry;
use super::credentials::CredentialRow;
use super::schema::{credential_addresses as a, credential_usage_daily as d, credentials as c};
use super::DbConnection;

pub const KEPT_ADDRESSES: i64 = 5;

/// What one credential did since the last flush.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingUsage {
    pub requests: i64,
    pub failed: i64,
    pub last_used: Option<(NaiveDateTime, String)>,
    pub per_day: Vec<(NaiveDate, i64, i64)>,
    pub addresses: Vec<(String, NaiveDateTime)>,
}

/// Rows per multi-row statement: 4 bind parameters each stays far below both backends' limits.
const ROWS_PER_STATEMENT: usize = 1_000;

/// Adds `per_day` to the rows already there (insert … on conflict do update). The multi-row
/// upsert is the same SQL on both backends, but diesel's connection enum does not offer it, so
/// it is written once for each connection type.
macro_rules! upsert_daily {
    ($conn:expr, $rows:expr) => {{
        use diesel::upsert::excluded;
        diesel::insert_into(d::table)
            .values($rows)
            .on_conflict((d::credential_id, d::day))
            .do_update()
            .set((
                d::request_count.eq(d::request_count + excluded(d::request_count)),
                d::failed_count.eq(d::failed_count + excluded(d::failed_count)),
            ))
            .execute($conn)
    }};
}

/// Records when each address was last seen (insert … on conflict do update).
macro_rules! upsert_addresses {
    ($conn:expr, $rows:expr) => {{
        use diesel::upsert::excluded;
        diesel::insert_into(a::table)
            .values($rows)
            .on_conflict((a::credential_id, a::ip))
            .do_update()
            .set(a::last_seen_at.eq(excluded(a::last_seen_at)))
            .execute($conn)
    }};
}

/// Applies a whole flush in one transaction: a multi-row upsert for the per-day rows, one for
/// the addresses, one query finding the credentials now past `KEPT_ADDRESSES` addresses (only
/// those are trimmed), and an update per used credential for its count and last use (a
/// multi-row UPDATE … FROM is not expressible in diesel's query builder on both backends).
/// All or nothing: on an error nothing was written and the caller keeps the whole batch.
pub fn apply_all(conn: &mut DbConnection, batch: &[(String, PendingUsage)]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for (id, usage) in batch {
            if let Some((at, ip)) = &usage.last_used {
                diesel::update(c::table.find(id))
                    .set((
                        c::usage_count.eq(c::usage_count + usage.requests),
                        c::last_used_at.eq(at),
                        c::last_used_ip.eq(ip),
                    ))
                    .execute(conn)?;
            }
        }
        let days: Vec<_> = batch
            .iter()
            .flat_map(|(id, usage)| {
                usage.per_day.iter().map(move |(day, requests, failed)| {
                    (
                        d::credential_id.eq(id),
                        d::day.eq(*day),
                        d::request_count.eq(*requests),
                        d::failed_count.eq(*failed),
                    )
                })
            })
            .collect();
        let addresses: Vec<_> = batch
            .iter()
            .flat_map(|(id, usage)| {
                usage
                    .addresses
                    .iter()
                    .map(move |(ip, seen)| (a::credential_id.eq(id), a::ip.eq(ip), a::last_seen_at.eq(*seen)))
            })
            .collect();
        for rows in days.chunks(ROWS_PER_STATEMENT) {
            match conn {
                DbConnection::Postgres(pg) => upsert_daily!(pg, rows)?,
                DbConnection::Sqlite(lite) => upsert_daily!(lite, rows)?,
            };
        }
        for rows in addresses.chunks(ROWS_PER_STATEMENT) {
            match conn {
                DbConnection::Postgres(pg) => upsert_addresses!(pg, rows)?,
                DbConnection::Sqlite(lite) => upsert_addresses!(lite, rows)?,
            };
        }
        let seen_from: Vec<&str> = batch
            .iter()
            .filter(|(_, usage)| !usage.addresses.is_empty())
            .map(|(id, _)| id.as_str())
            .collect();
        for ids in seen_from.chunks(ROWS_PER_STATEMENT) {
            let crowded: Vec<String> = a::table
                .filter(a::credential_id.eq_any(ids))
                .group_by(a::credential_id)
                .having(diesel::dsl::count_star().gt(KEPT_ADDRESSES))
                .select(a::credential_id)
                .load(conn)?;
            for id in crowded {
                keep_newest_addresses(conn, &id)?;
            }
        }
        Ok(())
    })
}

/// Applies one credential's pending usage in one transaction.
pub fn apply(conn: &mut DbConnection, credential_id: &str, usage: &PendingUsage) -> QueryResult<()> {
    conn.transaction(|conn| {
        if let Some((at, ip)) = &usage.last_used {
            diesel::update(c::table.find(credential_id))
                .set((
                    c::usage_count.eq(c::usage_count + usage.requests),
                    c::last_used_at.eq(at),
                    c::last_used_ip.eq(ip),
                ))
                .execute(conn)?;
        }
        for (day, requests, failed) in &usage.per_day {
            add_daily(conn, credential_id, *day, *requests, *failed)?;
        }
        for (ip, seen) in &usage.addresses {
            touch_address(conn, credential_id, ip, *seen)?;
        }
        if !usage.addresses.is_empty() {
            keep_newest_addresses(conn, credential_id)?;
        }
        Ok(())
    })
}

/// Update-then-insert works the same on both backends; the transaction holds the row.
fn add_daily(
    conn: &mut DbConnection,
    id: &str,
    day: NaiveDate,
    requests: i64,
    failed: i64,
) -> QueryResult<()> {
    let row = d::table.find((id, day));
    let updated = diesel::update(row)
        .set((d::request_count.eq(d::request_count + requests), d::failed_count.eq(d::failed_count + failed)))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(d::table)
            .values((
                d::credential_id.eq(id),
                d::day.eq(day),
                d::request_count.eq(requests),
                d::failed_count.eq(failed),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn touch_address(conn: &mut DbConnection, id: &str, ip: &str, seen: NaiveDateTime) -> QueryResult<()> {
    let updated = diesel::update(a::table.find((id, ip))).set(a::last_seen_at.eq(seen)).execute(conn)?;
    if updated == 0 {
        diesel::insert_into(a::table)
            .values((a::credential_id.eq(id), a::ip.eq(ip), a::last_seen_at.eq(seen)))
            .execute(conn)?;
    }
    Ok(())
}

fn keep_newest_addresses(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    let older: Vec<String> = a::table
        .filter(a::credential_id.eq(id))
        .order((a::last_seen_at.desc(), a::ip.asc()))
        .offset(KEPT_ADDRESSES)
        .limit(1000)
        .select(a::ip)
        .load(conn)?;
    if !older.is_empty() {
        diesel::delete(a::table.filter(a::credential_id.eq(id)).filter(a::ip.eq_any(older))).execute(conn)?;
    }
    Ok(())
}

/// The last `KEPT_ADDRESSES` distinct addresses, the newest first.
pub fn recent_addresses(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    a::table
        .filter(a::credential_id.eq(id))
        .order((a::last_seen_at.desc(), a::ip.asc()))
        .limit(KEPT_ADDRESSES)
        .select((a::ip, a::last_seen_at))
        .load(conn)
}

/// (day, requests, failed) of one credential, oldest first.
pub fn daily(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<(NaiveDate, i64, i64)>> {
    d::table
        .filter(d::credential_id.eq(id))
        .order(d::day.asc())
        .select((d::day, d::request_count, d::failed_count))
        .load(conn)
}

/// (day, requests, failed) of one credential from `first` to `last` inclusive, oldest first;
/// days without a row had no use.
pub fn daily_between(
    conn: &mut DbConnection,
    id: &str,
    first: NaiveDate,
    last: NaiveDate,
) -> QueryResult<Vec<(NaiveDate, i64, i64)>> {
    d::table
        .filter(d::credential_id.eq(id))
        .filter(d::day.ge(first))
        .filter(d::day.le(last))
        .order(d::day.asc())
        .select((d::day, d::request_count, d::failed_count))
        .load(conn)
}

/// How long the audit history of one credential may get on its page.
pub const HISTORY_LIMIT: i64 = 200;

/// The audit entries about one credential of an org, oldest first: its creation (or the
/// rotation that minted it), edits, revocation, and the rotation that replaced it (an entry
/// whose target is the successor). Past `HISTORY_LIMIT`, the newest are kept.
pub fn history(conn: &mut DbConnection, org_id: &str, id: &str) -> QueryResult<Vec<AuditEntry>> {
    use super::schema::audit_log as l;
    let successors: Vec<String> =
        c::table.filter(c::org_id.eq(org_id)).filter(c::rotated_from.eq(id)).select(c::id).load(conn)?;
    let mut entries: Vec<AuditEntry> = l::table
        .filter(l::org_id.eq(org_id))
        .filter(l::target_id.eq(id).or(l::target_id.eq_any(successors).and(l::action.like("%.rotate"))))
        .order((l::occurred_at.desc(), l::id.desc()))
        .limit(HISTORY_LIMIT)
        .select(AuditEntry::as_select())
        .load(conn)?;
    entries.reverse();
    Ok(entries)
}

/// Which credentials a stale report lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Never used, however old.
    NeverUsed,
    /// No use since this moment: the last use, or the creation of one never used, is older.
    UnusedSince(NaiveDateTime),
}

/// How many rows a report section shows at most.
pub const REPORT_LIMIT: i64 = 500;

/// Credentials that still work: not revoked (nor scheduled to stop after a rotation) and not
/// expired. Reports are about what could still be used.
macro_rules! in_service_at {
    ($now:expr) => {
        c::revoked_at.is_null().and(c::expires_at.is_null().or(c::expires_at.gt($now)))
    };
}

/// The org's credentials of every kind that are stale, least recently used first.
pub fn stale(
    conn: &mut DbConnection,
    org_id: &str,
    which: Stale,
    now: NaiveDateTime,
) -> QueryResult<Vec<CredentialRow>> {
    let query = c::table.filter(c::org_id.eq(org_id)).filter(in_service_at!(now)).into_boxed();
    let query = match which {
        Stale::NeverUsed => query.filter(c::last_used_at.is_null()),
        Stale::UnusedSince(cutoff) => query
            .filter(c::last_used_at.le(cutoff).or(c::last_used_at.is_null().and(c::created_at.le(cutoff)))),
    };
    let mut rows = query
        .order((c::created_at.asc(), c::id.asc()))
        .limit(REPORT_LIMIT)
        .select(CredentialRow::as_select())
        .load(conn)?;
    // The backends order NULLs differently; sorted here, alike on both.
    rows.sort_by(|a, b| {
        (a.last_used_at.unwrap_or(a.created_at), &a.id).cmp(&(b.last_used_at.unwrap_or(b.created_at), &b.id))
    });
    Ok(rows)
}

/// The org's credentials of every kind that stop working after `now` and no later than `until`,
/// soonest first.
pub fn expiring(
    conn: &mut DbConnection,
    org_id: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<CredentialRow>> {
    c::table
        .filter(c::org_id.eq(org_id))
        .filter(in_service_at!(now))
        .filter(c::expires_at.le(until))
        .order((c::expires_at.asc(), c::id.asc()))
        .limit(REPORT_LIMIT)
        .select(CredentialRow::as_select())
        .load(conn)
}
