//! Access tokens and API keys: list, create, rotate, revoke, edit.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::bearer::ApiCaller;
use crate::api::error::ApiError;
use crate::api::me::rfc3339;
use crate::api::openapi::{
    BadRequest, Collection, Conflict, Forbidden, NotFound, RateLimited, Unauthorized, Unprocessable,
};
use crate::credentials::{CredentialKind, Status};
use crate::db;
use crate::db::credentials::{self as repo, CredentialRow};
use crate::service::credentials::{self as service, Acting, Refusal, Rotated};
use crate::service::fields::FormErrors;
use crate::service::inputs::{CreateInput, EditInput, Grace};
use crate::service::list::ListParams;
use crate::service::tab::{Tab, API_KEYS, TOKENS};
use crate::state::AppState;

use super::{acting, revoked, CollectionPath, ItemPath, Revoked};

fn tab_of(kind: CredentialKind) -> Tab {
    if kind == CredentialKind::ApiKey {
        API_KEYS
    } else {
        TOKENS
    }
}

/// A credential as the API shows it; never its secret.
#[derive(Serialize, ToSchema)]
pub struct CredentialJson {
    pub id: String,
    /// `access_token`, `api_key` or `personal_token`.
    pub kind: String,
    pub name: String,
    pub description: Option<String>,
    pub display_prefix: String,
    /// Scopes of a token, permissions of an API key.
    pub grants: Vec<String>,
    pub status: StatusJson,
    pub active: bool,
    /// Whether requests must also send `X-Tessera-Passphrase`.
    pub passphrase: bool,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    /// The id of the credential this one replaced by rotation.
    pub rotated_from: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    pub usage_count: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusJson {
    Active,
    /// Active, and expiring within 14 days.
    ExpiringSoon,
    Inactive,
    Expired,
    Revoked,
}

impl From<Status> for StatusJson {
    fn from(status: Status) -> Self {
        match status {
            Status::Active => Self::Active,
            Status::ExpiringSoon => Self::ExpiringSoon,
            Status::Inactive => Self::Inactive,
            Status::Expired => Self::Expired,
            Status::Revoked => Self::Revoked,
        }
    }
}

impl CredentialJson {
    pub(super) fn of(row: CredentialRow, now: chrono::NaiveDateTime) -> Self {
        Self {
            status: Status::of(row.revoked_at, row.expires_at, row.active, now).into(),
            grants: row.grants.split_whitespace().map(str::to_owned).collect(),
            passphrase: row.passphrase_hash.is_some(),
            created_at: rfc3339(row.created_at),
            expires_at: row.expires_at.map(rfc3339),
            revoked_at: row.revoked_at.map(rfc3339),
            last_used_at: row.last_used_at.map(rfc3339),
            id: row.id,
            kind: row.kind,
            name: row.name,
            description: row.description,
            display_prefix: row.display_prefix,
            active: row.active,
            rotated_from: row.rotated_from,
            last_used_ip: row.last_used_ip,
            usage_count: row.usage_count,
        }
    }
}

/// One page of a credential list, 50 to a page.
#[derive(Serialize, ToSchema)]
pub struct CredentialPage {
    pub items: Vec<CredentialJson>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

async fn list(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    params: ListParams,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    let org_id = acting.org.id.clone();
    let page = params.page();
    let (rows, total) = db::run(&state.pool, move |conn| {
        let search = params.search();
        let query = repo::ListQuery {
            org_id: &org_id,
            kind,
            filter: params.filter(),
            search: (!search.is_empty()).then_some(search.as_str()),
            page,
        };
        Ok(repo::list(conn, &query, now)?)
    })
    .await?;
    let items = rows.into_iter().map(|row| CredentialJson::of(row, now)).collect();
    Ok(HttpResponse::Ok().json(CredentialPage { items, total, page: page + 1, per_page: repo::PAGE_SIZE }))
}

/// A create request; the same fields and rules as the console's form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[schema(min_length = 3, max_length = 255, example = "CI deploy")]
    pub name: String,
    /// API keys only.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub description: String,
    /// Access tokens: scopes from the catalog.
    #[serde(default)]
    #[schema(example = json!(["read"]))]
    pub scopes: Vec<String>,
    /// API keys: permissions from the catalog.
    #[serde(default)]
    pub permissions: Vec<String>,
    #[serde(default)]
    pub passphrase: String,
    /// `never`, a number of days, or `custom` with `expires_on`; the tab's default when absent.
    #[schema(pattern = "^(never|custom|[1-9][0-9]{0,3})$", example = "90")]
    pub expiry: Option<String>,
    /// `YYYY-MM-DD`, with `expiry` `custom`.
    #[serde(default)]
    pub expires_on: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A credential just minted, with its secret.
#[derive(Serialize, ToSchema)]
pub struct Minted {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    /// Shown in this response only.
    pub secret: String,
}

fn unprocessable(errors: &FormErrors) -> ApiError {
    let message = errors.messages().collect::<Vec<_>>().join(" ");
    ApiError::unprocessable("invalid", message)
}

fn refused(refusal: Refusal) -> ApiError {
    let code = if refusal.field == "name" { "name_taken" } else { "cap_reached" };
    ApiError::unprocessable(code, refusal.message)
}

fn minted(
    id: String,
    name: String,
    kind: CredentialKind,
    secret: &crate::credentials::PlainSecret,
) -> HttpResponse {
    HttpResponse::Created().insert_header((header::CACHE_CONTROL, "no-store")).json(Minted {
        id,
        name,
        kind: kind.as_str(),
        secret: secret.expose().to_owned(),
    })
}

async fn create(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    body: CreateRequest,
) -> Result<HttpResponse, ApiError> {
    let tab = tab_of(kind);
    acting.require_mint(kind)?;
    let input = CreateInput {
        name: body.name,
        description: body.description,
        scopes: body.scopes,
        permissions: body.permissions,
        passphrase: body.passphrase,
        expiry: body.expiry.unwrap_or_else(|| tab.default_expiry.to_owned()),
        expires_on: body.expires_on,
        active: body.active,
    };
    let valid = input
        .parse(tab, &state.settings.catalog, state.clock.now(), acting.org.max_lifetime_days())
        .map_err(|e| unprocessable(&e))?;
    match service::create(state, acting, kind, valid).await? {
        Ok(m) => Ok(minted(m.id, m.name, kind, &m.secret)),
        Err(refusal) => Err(refused(refusal)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the old secret keeps working: `now`, `1h`, `24h` or `7d`.
    #[schema(pattern = "^(now|1h|24h|7d)$", example = "24h")]
    pub grace: String,
}

async fn rotate(
    state: &AppState,
    acting: &Acting,
    kind: CredentialKind,
    id: &str,
    body: RotateRequest,
) -> Result<HttpResponse, ApiError> {
    let grace = Grace::parse(&body.grace)
        .ok_or_else(|| ApiError::bad_request("grace must be now, 1h, 24h or 7d."))?;
    match service::rotate(state, acting, kind, id, grace).await? {
        Rotated::Done { name, id, secret, .. } => Ok(minted(id, name, kind, &secret)),
        Rotated::Refused(why) => Err(ApiError::conflict("not_rotatable", why)),
        Rotated::NotFound => Err(ApiError::not_found()),
    }
}

/// An API key edit; absent fields keep their value. The secret never changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    #[schema(min_length = 3, max_length = 255)]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// `keep` (the default), `never`, a number of days, or `custom` with `expires_on`.
    #[schema(pattern = "^(keep|never|custom|[1-9][0-9]{0,3})$")]
    pub expiry: Option<String>,
    #[serde(default)]
    pub expires_on: String,
    pub active: Option<bool>,
}

/// `tokens` or `api-keys`, the same collections as the console's tabs.
fn collection(segment: &str) -> Result<CredentialKind, ApiError> {
    Tab::from_segment(segment).map(|tab| tab.kind).ok_or_else(ApiError::not_found)
}

/// List a collection of the token's org, newest first, 50 to a page.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{slug}/{collection}",
    tag = "credentials",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("collection" = Collection, Path),
        ("status" = Option<String>, Query, description = "`active`, `expired`, `revoked` or `all` (default)."),
        ("q" = Option<String>, Query, description = "Search by name or display prefix."),
        ("page" = Option<i64>, Query, description = "1-based page number."),
    ),
    responses(
        (status = 200, description = "One page of the list.", body = CredentialPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn list_credentials(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: CollectionPath,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let kind = collection(&path.1)?;
    let acting = acting(&state, &caller, &path.0).await?;
    list(&state, &acting, kind, params.into_inner()).await
}

/// Create a credential; its secret is in this response only.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{slug}/{collection}",
    tag = "credentials",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("collection" = Collection, Path),
    ),
    request_body = CreateRequest,
    responses(
        (status = 201, description = "Minted; the secret is shown here only.", body = Minted, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn create_credential(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: CollectionPath,
    body: web::Json<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let kind = collection(&path.1)?;
    let acting = acting(&state, &caller, &path.0).await?;
    create(&state, &acting, kind, body.into_inner()).await
}

/// Replace a credential by a new one with the same name and grants; the old secret stops
/// working now or after the grace period.
#[utoipa::path(
    post,
    path = "/api/v1/orgs/{slug}/{collection}/{id}/rotate",
    tag = "credentials",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("collection" = Collection, Path),
        ("id" = String, Path, description = "The credential's id."),
    ),
    request_body = RotateRequest,
    responses(
        (status = 201, description = "Minted; the secret is shown here only.", body = Minted, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn rotate_credential(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: ItemPath,
    body: web::Json<RotateRequest>,
) -> Result<HttpResponse, ApiError> {
    let kind = collection(&path.1)?;
    let acting = acting(&state, &caller, &path.0).await?;
    rotate(&state, &acting, kind, &path.2, body.into_inner()).await
}

/// Revoke a credential at once; revoking twice is not an error.
#[utoipa::path(
    delete,
    path = "/api/v1/orgs/{slug}/{collection}/{id}",
    tag = "credentials",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("collection" = Collection, Path),
        ("id" = String, Path, description = "The credential's id."),
    ),
    responses(
        (status = 200, description = "Revoked, now or before.", body = Revoked),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn revoke_credential(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: ItemPath,
) -> Result<HttpResponse, ApiError> {
    let kind = collection(&path.1)?;
    let acting = acting(&state, &caller, &path.0).await?;
    revoked(&path.2, service::revoke(&state, &acting, kind, &path.2).await?)
}

/// Edit an API key (only API keys: a token's grants are fixed at creation, so `tokens` gives
/// 404).
#[utoipa::path(
    patch,
    path = "/api/v1/orgs/{slug}/{collection}/{id}",
    tag = "credentials",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("collection" = Collection, Path),
        ("id" = String, Path, description = "The credential's id."),
    ),
    request_body = EditRequest,
    responses(
        (status = 200, description = "The key after the edit.", body = CredentialJson),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = Unprocessable),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn edit_key(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: ItemPath,
    body: web::Json<EditRequest>,
) -> Result<HttpResponse, ApiError> {
    let kind = collection(&path.1)?;
    if kind != CredentialKind::ApiKey {
        return Err(ApiError::not_found());
    }
    let acting = acting(&state, &caller, &path.0).await?;
    acting.require_manage()?;
    let row = service::find(&state, &acting, kind, &path.2).await?;
    let body = body.into_inner();
    let input = EditInput {
        name: body.name.unwrap_or_else(|| row.name.clone()),
        description: body.description.unwrap_or_else(|| row.description.clone().unwrap_or_default()),
        permissions: body
            .permissions
            .unwrap_or_else(|| row.grants.split_whitespace().map(str::to_owned).collect()),
        expiry: body.expiry.unwrap_or_else(|| "keep".to_owned()),
        expires_on: body.expires_on,
        active: body.active.unwrap_or(row.active),
    };
    let now = state.clock.now();
    let valid = input
        .parse(&state.settings.catalog, row.expires_at, now, acting.org.max_lifetime_days())
        .map_err(|e| unprocessable(&e))?;
    service::edit(&state, &acting, kind, &row.id, valid).await?.map_err(refused)?;
    let after = service::find(&state, &acting, kind, &row.id).await?;
    Ok(HttpResponse::Ok().json(CredentialJson::of(after, now)))
}
