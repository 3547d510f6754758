//! Settings → Personal tokens: the personal access tokens people hold for this org. Owners and
//! admins list and revoke them (a lost laptop, a departed contractor); a platform operator reads
//! the list; members and auditors get 403. The JSON API reads the same list.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::csrf::{TokenOnly, Verified};
use crate::auth::dev_login::see_other;
use crate::auth::{Access, OrgMember};
use crate::credentials::{CredentialKind, Status, StatusFilter};
use crate::db::credentials::{RevokeOutcome, PAGE_SIZE};
use crate::error::AppError;
use crate::features::credentials::listing::ListParams;
use crate::service::credentials::{self as service, Acting};
use crate::state::AppState;
use crate::views::{is_htmx, render_with, Chrome, Moment};

pub fn path(org_slug: &str) -> String {
    crate::urls::org_page(org_slug, crate::urls::OrgPage::PersonalTokens)
}

/// Whether the console shows the Personal tokens tab to this viewer.
pub fn tab_visible(access: &Option<Access>) -> bool {
    access.is_some_and(Access::can_read_personal_tokens)
}

pub struct TokenRow {
    pub id: String,
    pub owner: String,
    pub name: String,
    pub display_prefix: String,
    pub status: Status,
    pub created: Moment,
    pub last_used: Option<Moment>,
    pub last_used_ip: Option<String>,
    pub expires: Option<Moment>,
}

#[derive(Template)]
#[template(path = "personal_tokens/page.html", blocks = ["panel"])]
pub struct PersonalTokensPage {
    pub chrome: Chrome,
    pub rows: Vec<TokenRow>,
    pub total: i64,
    pub filter: StatusFilter,
    pub base_path: String,
    pub can_revoke: bool,
    pub notice: Option<String>,
    pub previous_link: Option<String>,
    pub next_link: Option<String>,
}

impl PersonalTokensPage {
    pub fn filters(&self) -> Vec<(StatusFilter, String, bool)> {
        StatusFilter::ALL
            .into_iter()
            .map(|f| (f, format!("{}?status={}", self.base_path, f.as_str()), f == self.filter))
            .collect()
    }
}

fn require_read(member: &OrgMember) -> Result<(), AppError> {
    if member.access.can_read_personal_tokens() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "Only owners and admins of {} can see its members' personal tokens.",
            member.org.name
        )))
    }
}

async fn build(
    state: &AppState,
    member: &OrgMember,
    params: &ListParams,
    notice: Option<String>,
) -> Result<PersonalTokensPage, AppError> {
    let (rows, total) = crate::service::list::org_personal_tokens(state, &member.org.id, params).await?;
    let now = state.clock.now();
    let base_path = path(&member.org.slug);
    let (filter, page) = (params.filter(), params.page());
    let link = |page: i64| format!("{base_path}?status={}&page={}", filter.as_str(), page + 1);
    let rows = rows
        .into_iter()
        .map(|(row, owner)| TokenRow {
            status: Status::of(row.revoked_at, row.expires_at, row.active, now),
            created: Moment::of(row.created_at, now),
            last_used: row.last_used_at.map(|at| Moment::of(at, now)),
            expires: row.expires_at.map(|at| Moment::of(at, now)),
            last_used_ip: row.last_used_ip,
            id: row.id,
            owner,
            name: row.name,
            display_prefix: row.display_prefix,
        })
        .collect();
    Ok(PersonalTokensPage {
        chrome: Chrome::of(member, "personal-tokens")?,
        rows,
        total,
        filter,
        can_revoke: member.access.can_manage_credentials(),
        notice,
        previous_link: (page > 0).then(|| link(page - 1)),
        next_link: ((page + 1) * PAGE_SIZE < total).then(|| link(page + 1)),
        base_path,
    })
}

fn respond(req: &HttpRequest, page: &PersonalTokensPage) -> Result<HttpResponse, AppError> {
    if is_htmx(req) {
        render_with(StatusCode::OK, &page.as_panel())
    } else {
        render_with(StatusCode::OK, page)
    }
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    let page = build(&state, &member, &params, None).await?;
    respond(&req, &page)
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: web::Path<(String, String)>,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let acting = Acting::from(&member);
    let notice = match service::revoke(&state, &acting, CredentialKind::PersonalToken, &path.1).await? {
        RevokeOutcome::NotFound => return Err(AppError::NotFound),
        RevokeOutcome::AlreadyRevoked => "That personal token was already revoked.".to_owned(),
        RevokeOutcome::Revoked { name } => {
            format!("Personal token “{name}” revoked. It stopped working immediately.")
        }
    };
    if !is_htmx(&req) {
        return Ok(see_other(&self::path(&member.org.slug)));
    }
    let page = build(&state, &member, &ListParams::default(), Some(notice)).await?;
    respond(&req, &page)
}
