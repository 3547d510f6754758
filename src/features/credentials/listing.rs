//! The credential list shared by every credential tab: query parameters, rows as people read
//! them, filter and pager links.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use crate::credentials::{CredentialKind, Grants, Status, StatusFilter};
use crate::db::credentials::{self as repo, CredentialRow, ListQuery, PAGE_SIZE};
use crate::db::{orgs, DbConnection};
pub use crate::service::list::ListParams;
use crate::views::Moment;

/// One credential as a list row.
pub struct CredentialView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub display_prefix: String,
    pub grants: Vec<String>,
    pub status: Status,
    pub has_passphrase: bool,
    pub created: Moment,
    pub created_by: String,
    pub expires: Option<Moment>,
    pub last_used: Option<Moment>,
    pub last_used_ip: Option<String>,
    pub usage_count: i64,
    pub revoked: Option<Moment>,
    pub revoked_by: String,
    /// Display prefix of the credential this one replaced by rotation.
    pub rotated_from: Option<String>,
    /// Display prefix of the replacement, and when this one stops (a grace period still running).
    pub replaced_by: Option<String>,
    pub stops: Option<Moment>,
}

pub struct CredentialList {
    pub rows: Vec<CredentialView>,
    pub filter: StatusFilter,
    pub search: String,
    pub page: i64,
    pub total: i64,
    pub base_path: String,
    pub can_manage: bool,
    /// Rotation mints a secret, so the API-access gate closes it too.
    pub can_mint: bool,
    /// Each row's usage count links to its usage page.
    pub can_read_usage: bool,
    pub noun: &'static str,
    pub is_api_keys: bool,
}

impl CredentialList {
    /// Runs the list query and turns rows into views; call inside `db::run`.
    pub fn load(
        conn: &mut DbConnection,
        org_id: &str,
        kind: CredentialKind,
        params: &ListParams,
        now: NaiveDateTime,
    ) -> diesel::QueryResult<(Vec<CredentialView>, i64)> {
        let search = params.search();
        let query = ListQuery {
            org_id,
            kind,
            filter: params.filter(),
            search: (!search.is_empty()).then_some(search.as_str()),
            page: params.page(),
        };
        let (rows, total) = repo::list(conn, &query, now)?;
        let mut people: Vec<String> = rows.iter().map(|r| r.created_by.clone()).collect();
        people.extend(rows.iter().filter_map(|r| r.revoked_by.clone()));
        people.sort();
        people.dedup();
        let (predecessors, successors) = repo::rotation_links(conn, &rows)?;
        let links = Links {
            emails: orgs::emails_of(conn, &people)?.into_iter().collect(),
            predecessors: predecessors.into_iter().collect(),
            successors: successors.into_iter().collect(),
        };
        let views = rows.into_iter().map(|row| view(row, &links, now)).collect();
        Ok((views, total))
    }

    pub fn link(&self, filter: StatusFilter, page: i64) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("status", filter.as_str());
        if !self.search.is_empty() {
            query.append_pair("q", &self.search);
        }
        if page > 0 {
            query.append_pair("page", &(page + 1).to_string());
        }
        format!("{}?{}", self.base_path, query.finish())
    }

    pub fn filters(&self) -> Vec<(StatusFilter, String, bool)> {
        StatusFilter::ALL.into_iter().map(|f| (f, self.link(f, 0), f == self.filter)).collect()
    }

    pub fn pages(&self) -> i64 {
        ((self.total + PAGE_SIZE - 1) / PAGE_SIZE).max(1)
    }

    pub fn previous_link(&self) -> Option<String> {
        (self.page > 0).then(|| self.link(self.filter, self.page - 1))
    }

    pub fn next_link(&self) -> Option<String> {
        (self.page + 1 < self.pages()).then(|| self.link(self.filter, self.page + 1))
    }

    pub fn first_shown(&self) -> i64 {
        if self.rows.is_empty() {
            0
        } else {
            self.page * PAGE_SIZE + 1
        }
    }

    pub fn last_shown(&self) -> i64 {
        self.page * PAGE_SIZE + self.rows.len() as i64
    }
}

/// People and rotation partners of a page of rows, looked up once for the page.
struct Links {
    emails: HashMap<String, String>,
    predecessors: HashMap<String, String>,
    successors: HashMap<String, String>,
}

fn view(row: CredentialRow, links: &Links, now: NaiveDateTime) -> CredentialView {
    let email = |id: &str| links.emails.get(id).cloned().unwrap_or_else(|| "a deleted user".to_owned());
    let revoked_now = row.revoked_at.filter(|at| *at <= now);
    CredentialView {
        rotated_from: row.rotated_from.as_ref().and_then(|id| links.predecessors.get(id).cloned()),
        replaced_by: links.successors.get(&row.id).cloned(),
        stops: row.revoked_at.filter(|at| *at > now).map(|at| Moment::of(at, now)),
        status: Status::of(row.revoked_at, row.expires_at, row.active, now),
        grants: Grants::from_stored(&row.grants).iter().map(str::to_owned).collect(),
        has_passphrase: row.passphrase_hash.is_some(),
        created: Moment::of(row.created_at, now),
        created_by: email(&row.created_by),
        expires: row.expires_at.map(|at| Moment::of(at, now)),
        last_used: row.last_used_at.map(|at| Moment::of(at, now)),
        revoked: revoked_now.map(|at| Moment::of(at, now)),
        revoked_by: row.revoked_by.as_deref().map(email).unwrap_or_default(),
        id: row.id,
        name: row.name,
        description: row.description,
        display_prefix: row.display_prefix,
        last_used_ip: row.last_used_ip,
        usage_count: row.usage_count,
    }
}
