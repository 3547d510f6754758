//! The query of a credential list: status filter, search and page, bounded.

use serde::Deserialize;

use crate::credentials::{CredentialKind, StatusFilter};
use crate::db::credentials::{self as repo, CredentialRow, ListQuery};
use crate::db::{self, orgs};
use crate::error::AppError;
use crate::state::AppState;

const MAX_SEARCH_CHARS: usize = 100;
const MAX_PAGE: i64 = 100_000;

#[derive(Debug, Default, Deserialize)]
pub struct ListParams {
    pub status: Option<String>,
    pub q: Option<String>,
    pub page: Option<i64>,
}

impl ListParams {
    pub fn filter(&self) -> StatusFilter {
        StatusFilter::parse(self.status.as_deref())
    }

    /// Control characters are dropped: no name holds one, and PostgreSQL refuses a NUL outright.
    pub fn search(&self) -> String {
        let q = self.q.as_deref().unwrap_or_default();
        q.chars().filter(|c| !c.is_control()).take(MAX_SEARCH_CHARS).collect::<String>().trim().to_owned()
    }

    /// Zero-based page.
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, MAX_PAGE) - 1
    }
}

/// One page of the org's personal tokens, newest first, each with its person's email, and the
/// number matching the filter.
pub async fn org_personal_tokens(
    state: &AppState,
    org_id: &str,
    params: &ListParams,
) -> Result<(Vec<(CredentialRow, String)>, i64), AppError> {
    let (org_id, now) = (org_id.to_owned(), state.clock.now());
    let (filter, search, page) = (params.filter(), params.search(), params.page());
    db::run(&state.pool, move |conn| {
        let query = ListQuery {
            org_id: &org_id,
            kind: CredentialKind::PersonalToken,
            filter,
            search: (!search.is_empty()).then_some(search.as_str()),
            page,
        };
        let (rows, total) = repo::list(conn, &query, now)?;
        let owners: Vec<String> = rows.iter().filter_map(|r| r.owner_user_id.clone()).collect();
        let emails = orgs::emails_of(conn, &owners)?;
        let email_of = |row: &CredentialRow| {
            let owner = row.owner_user_id.as_deref().unwrap_or_default();
            emails.iter().find(|(id, _)| id == owner).map(|(_, email)| email.clone()).unwrap_or_default()
        };
        let rows = rows
            .into_iter()
            .map(|row| {
                let email = email_of(&row);
                (row, email)
            })
            .collect();
        Ok((rows, total))
    })
    .await
}
