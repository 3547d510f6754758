//! `/operator/orgs`: every org, for platform operators to find the one they investigate. Anyone
//! else gets 404, as for any page that is not theirs.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::auth::SignedIn;
use crate::db::{self, orgs};
use crate::error::AppError;
use crate::state::AppState;
use crate::views::{render, Chrome};

pub struct OrgRow {
    pub slug: String,
    pub name: String,
    pub plan: String,
    pub api_access: bool,
    pub members: i64,
    /// The operator's own role there, when they are a member.
    pub role: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "operator/orgs.html")]
pub struct OrgsPage {
    pub chrome: Chrome,
    pub rows: Vec<OrgRow>,
}

pub async fn orgs_page(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, AppError> {
    if !who.user.is_operator {
        return Err(AppError::NotFound);
    }
    let user_id = who.user.id.clone();
    let (all, memberships) = db::run(&state.pool, move |conn| {
        Ok((orgs::all_orgs_with_member_counts(conn)?, orgs::orgs_of(conn, &user_id)?))
    })
    .await?;
    let rows = all
        .into_iter()
        .map(|(org, members)| OrgRow {
            role: memberships.iter().find(|(m, _)| m.id == org.id).map(|(_, role)| role.label()),
            plan: org.plan().as_str().to_owned(),
            slug: org.slug,
            name: org.name,
            api_access: org.api_access,
            members,
        })
        .collect();
    let mut chrome = Chrome::for_account(&who, &memberships, "operator")?;
    chrome.org_name = "All organizations".into();
    render(&OrgsPage { chrome, rows })
}
