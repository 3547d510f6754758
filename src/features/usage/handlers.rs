//! A credential's usage page and the org's reports. Both are read-only: anything of another org
//! is 404 (the extractor), members get 403, and the rotate and revoke buttons of the reports post
//! to the credential tabs' own routes, which check again.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use chrono::TimeDelta;

use super::chart::{self, BarChart};
use super::history::HistoryItem;
use super::reports::{ReportParams, ReportRow, StaleFilter};
use super::views::{AddressView, ReportsPage, UsagePage};
use super::{kind_of_segment, reports_path, tab_of, CredentialFacts};
use crate::auth::OrgMember;
use crate::credentials::EXPIRING_SOON_DAYS;
use crate::db::credentials::{self as repo, CredentialRow};
use crate::db::{self, orgs, usage, DbConnection};
use crate::error::AppError;
use crate::service::credentials::Acting;
use crate::service::inputs::Grace;
use crate::state::AppState;
use crate::views::{render, Chrome, Moment};

type ItemPath = web::Path<(String, String, String)>;

fn require_read(member: &OrgMember) -> Result<(), AppError> {
    if member.access.can_read_usage() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "Usage and reports of {} are for its owners, admins and auditors.",
            member.org.name
        )))
    }
}

/// `/orgs/{slug}/settings/{tab}/{id}/usage`
pub async fn usage_page(
    state: web::Data<AppState>,
    member: OrgMember,
    path: ItemPath,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    let (_, segment, id) = path.into_inner();
    let kind = kind_of_segment(&segment).ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let today = now.date();
    let org_id = member.org.id.clone();
    let loaded = db::run(&state.pool, move |conn| {
        let Some(row) = repo::find(conn, &org_id, kind, &id)? else {
            return Ok(None);
        };
        let daily = usage::daily_between(conn, &row.id, chart::first_day(today), today)?;
        let addresses = usage::recent_addresses(conn, &row.id)?;
        let history = usage::history(conn, &org_id, &row.id)?;
        let emails = emails_for(conn, std::slice::from_ref(&row))?;
        Ok(Some((row, daily, addresses, history, emails)))
    })
    .await?;
    let (row, daily, addresses, history, emails) = loaded.ok_or(AppError::NotFound)?;
    let days = chart::last_days(today, &daily);
    let failed_total = days.iter().map(|d| d.failed).sum();
    let requests =
        BarChart::new("requests-chart", "Requests per day", ("request", "requests"), &days, |d| d.requests);
    let failed = (failed_total > 0).then(|| {
        BarChart::new(
            "failed-chart",
            "Failed attempts per day",
            ("failed attempt", "failed attempts"),
            &days,
            |d| d.failed,
        )
    });
    let history_truncated = history.len() as i64 >= usage::HISTORY_LIMIT;
    let history = history.into_iter().map(|entry| HistoryItem::of(entry, &row.id, now)).collect();
    let description = row.description.clone().filter(|d| !d.trim().is_empty());
    let slug = member.org.slug.clone();
    let credential = CredentialFacts::of(row, &slug, &emails, now).ok_or(AppError::NotFound)?;
    let tab = tab_of(kind).map_or("reports", |t| t.segment);
    render(&UsagePage {
        chrome: Chrome::of(&member, tab)?,
        credential,
        description,
        days,
        requests,
        failed,
        failed_total,
        addresses: addresses
            .into_iter()
            .map(|(ip, seen)| AddressView { ip, last_seen: Moment::of(seen, now) })
            .collect(),
        history,
        history_truncated,
        reports_path: reports_path(&slug),
    })
}

/// `/orgs/{slug}/settings/reports?stale=30|90|never`
pub async fn reports_page(
    state: web::Data<AppState>,
    member: OrgMember,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    let filter = StaleFilter::parse(params.stale.as_deref());
    let now = state.clock.now();
    let until = now + TimeDelta::days(EXPIRING_SOON_DAYS);
    let org_id = member.org.id.clone();
    let (stale, expiring, emails) = db::run(&state.pool, move |conn| {
        let stale = usage::stale(conn, &org_id, filter.query(now), now)?;
        let expiring = usage::expiring(conn, &org_id, now, until)?;
        let emails = emails_for(conn, &[stale.as_slice(), expiring.as_slice()].concat())?;
        Ok((stale, expiring, emails))
    })
    .await?;
    let acting = Acting::from(&member);
    let slug = member.org.slug.clone();
    let rows = |rows: Vec<CredentialRow>| -> Vec<ReportRow> {
        rows.into_iter()
            .filter_map(|row| CredentialFacts::of(row, &slug, &emails, now))
            .map(|facts| report_row(facts, &acting, &slug))
            .collect()
    };
    let base = reports_path(&slug);
    let filters = StaleFilter::ALL
        .into_iter()
        .map(|f| (f, format!("{base}?stale={}", f.as_str()), f == filter))
        .collect();
    render(&ReportsPage {
        chrome: Chrome::of(&member, "reports")?,
        filter,
        filters,
        stale: rows(stale),
        expiring: rows(expiring),
        expiring_days: EXPIRING_SOON_DAYS,
        limit: usage::REPORT_LIMIT,
        graces: Grace::ALL,
    })
}

/// What the viewer may do about a credential in a report: what its tab would let them do.
/// Personal tokens are their owners' to revoke, from their account.
fn report_row(facts: CredentialFacts, acting: &Acting, org_slug: &str) -> ReportRow {
    let tab = tab_of(facts.kind);
    let manage = tab.is_some() && acting.access.can_manage_credentials() && facts.status.is_live();
    ReportRow {
        actions_path: tab.map(|t| format!("{}/{}", t.path(org_slug), facts.id)),
        can_rotate: manage && !acting.gate_closed(facts.kind),
        can_revoke: manage,
        facts,
    }
}

/// Emails of the people who created the given rows.
fn emails_for(conn: &mut DbConnection, rows: &[CredentialRow]) -> Result<HashMap<String, String>, AppError> {
    let mut ids: Vec<String> = rows.iter().map(|r| r.created_by.clone()).collect();
    ids.sort();
    ids.dedup();
    Ok(orgs::emails_of(conn, &ids)?.into_iter().collect())
}
