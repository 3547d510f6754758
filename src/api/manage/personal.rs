//! Personal access tokens: one's own, and (owners and admins) the org's.

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::bearer::ApiCaller;
use crate::api::error::ApiError;
use crate::api::openapi::{BadRequest, Forbidden, NotFound, RateLimited, Unauthorized};
use crate::credentials::CredentialKind;
use crate::db;
use crate::db::credentials as repo;
use crate::service::credentials as service;
use crate::service::list::ListParams;
use crate::state::AppState;

use super::credentials::CredentialJson;
use super::{acting, acting_for_own, own_user, revoked, CollectionPath, OrgPath, Revoked};

/// A personal token of the caller's user, with the org it is bound to.
#[derive(Serialize, ToSchema)]
pub struct PersonalTokenJson {
    #[serde(flatten)]
    pub credential: CredentialJson,
    pub org: String,
}

#[derive(Serialize, ToSchema)]
pub struct PersonalTokenList {
    pub items: Vec<PersonalTokenJson>,
}

/// A personal token of the org, with the person who holds it.
#[derive(Serialize, ToSchema)]
pub struct OrgPersonalTokenJson {
    #[serde(flatten)]
    pub credential: CredentialJson,
    pub owner: OwnerJson,
}

#[derive(Serialize, ToSchema)]
pub struct OwnerJson {
    pub id: String,
    pub email: String,
}

/// One page of the org's personal tokens, 50 to a page.
#[derive(Serialize, ToSchema)]
pub struct OrgPersonalTokenPage {
    pub items: Vec<OrgPersonalTokenJson>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The personal tokens people hold for the org, newest first (owner and admin), as Settings →
/// Personal tokens lists them.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{slug}/personal-tokens",
    tag = "personal tokens",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("status" = Option<String>, Query, description = "`active`, `expired`, `revoked` or `all` (default)."),
        ("q" = Option<String>, Query, description = "Search by name or display prefix."),
        ("page" = Option<i64>, Query, description = "1-based page number."),
    ),
    responses(
        (status = 200, description = "One page of the list.", body = OrgPersonalTokenPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn org_personal_tokens(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: OrgPath,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let acting = acting(&state, &caller, &path).await?;
    // Listing them is for those who may revoke them.
    acting.require_manage()?;
    let (rows, total) = crate::service::list::org_personal_tokens(&state, &acting.org.id, &params).await?;
    let now = state.clock.now();
    let items = rows
        .into_iter()
        .map(|(row, email)| OrgPersonalTokenJson {
            owner: OwnerJson { id: row.owner_user_id.clone().unwrap_or_default(), email },
            credential: CredentialJson::of(row, now),
        })
        .collect();
    let page = params.page() + 1;
    Ok(HttpResponse::Ok().json(OrgPersonalTokenPage { items, total, page, per_page: repo::PAGE_SIZE }))
}

/// Revoke a personal token of the org, whoever holds it (owner and admin); revoking twice is not
/// an error.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{slug}/personal-tokens/{id}",
    tag = "personal tokens",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("id" = String, Path, description = "The personal token's id."),
    ),
    responses(
        (status = 200, description = "Revoked, now or before.", body = Revoked),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn revoke_org_personal_token(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: CollectionPath,
) -> Result<HttpResponse, ApiError> {
    let acting = acting(&state, &caller, &path.0).await?;
    revoked(&path.1, service::revoke(&state, &acting, CredentialKind::PersonalToken, &path.1).await?)
}

/// The caller's user's personal tokens, in every org (personal tokens only).
#[utoipa::path(
    get,
    path = "/api/v1/me/tokens",
    tag = "personal tokens",
    responses(
        (status = 200, description = "Every personal token of the user.", body = PersonalTokenList),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn my_tokens(state: web::Data<AppState>, caller: ApiCaller) -> Result<HttpResponse, ApiError> {
    let user_id = own_user(&caller)?;
    let now = state.clock.now();
    let rows = db::run(&state.pool, move |conn| Ok(repo::personal_tokens_of(conn, &user_id)?)).await?;
    let items = rows
        .into_iter()
        .map(|(row, org, _)| PersonalTokenJson { credential: CredentialJson::of(row, now), org })
        .collect();
    Ok(HttpResponse::Ok().json(PersonalTokenList { items }))
}

/// Revoke one of the caller's user's personal tokens, in any org.
#[utoipa::path(
    delete,
    path = "/api/v1/me/tokens/{id}",
    tag = "personal tokens",
    params(("id" = String, Path, description = "The personal token's id.")),
    responses(
        (status = 200, description = "Revoked, now or before.", body = Revoked),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn revoke_my_token(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user_id = own_user(&caller)?;
    let id = path.into_inner();
    let owned = {
        let (user_id, id) = (user_id.clone(), id.clone());
        db::run(&state.pool, move |conn| Ok(repo::own_personal_token(conn, &user_id, &id)?)).await?
    };
    let Some((row, _)) = owned else {
        return Err(ApiError::not_found());
    };
    let acting = acting_for_own(&state, &caller, &row.org_id).await?;
    let outcome = service::revoke_unchecked(&state, &acting, CredentialKind::PersonalToken, &row.id).await?;
    revoked(&id, outcome)
}
