//! Writes of aggregated usage: one batch per flush, never one write per request.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

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

/// The newest addresses first.
pub fn recent_addresses(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<(String, NaiveDateTime)>> {
    a::table
        .filter(a::credential_id.eq(id))
        .order(a::last_seen_at.desc())
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
