//! Managing credentials with a personal access token. Every rule comes from the same service
//! and form parsing as the console; this module only reads JSON and writes JSON.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::ApiCaller;
use super::error::ApiError;
use super::me::rfc3339;
use super::openapi::{
    AuditAction, BadRequest, Collection, Conflict, Forbidden, NotFound, RateLimited, Unauthorized,
    Unprocessable,
};
use crate::auth::{Access, Role};
use crate::credentials::{CredentialKind, Status};
use crate::db::audit::{self as audit_log, AuditFilter, Cursor, Window};
use crate::db::credentials::{self as repo, CredentialRow, RevokeOutcome};
use crate::db::{self, orgs};
use crate::features::audit::filter::{parse_cursor, FilterInput, CHOOSE_AN_ACTION};
use crate::features::credentials::forms::{CreateForm, EditForm, Grace};
use crate::features::credentials::listing::ListParams;
use crate::features::credentials::service::{self, Acting, Refusal, Rotated};
use crate::features::credentials::tab::{Tab, API_KEYS, TOKENS};
use crate::features::forms::FormErrors;
use crate::features::personal_tokens;
use crate::startup::AppState;

/// The caller as someone acting in the org of the path: only a personal access token can be,
/// and only in the org it is bound to.
async fn acting(state: &AppState, caller: &ApiCaller, slug: &str) -> Result<Acting, ApiError> {
    let c = &caller.credential;
    if c.kind != CredentialKind::PersonalToken {
        return Err(ApiError::insufficient_scope(
            "personal_token_required",
            "Managing credentials needs a personal access token.",
        ));
    }
    if c.org_slug != slug {
        return Err(ApiError::insufficient_scope(
            "wrong_org",
            "This personal token is bound to another organization.",
        ));
    }
    let role = c
        .owner_role
        .ok_or_else(|| ApiError::invalid("not_a_member", "The token's user left the organization."))?;
    let user_id = c.owner_user_id.clone().unwrap_or_default();
    acting_as(state, caller, &c.org_id, user_id, role).await
}

/// The org and the person a personal token acts for, loaded in one database call.
async fn acting_as(
    state: &AppState,
    caller: &ApiCaller,
    org_id: &str,
    user_id: String,
    role: Role,
) -> Result<Acting, ApiError> {
    let org_id = org_id.to_owned();
    let (org, user) = db::run(&state.pool, move |conn| {
        let org = orgs::find_org_by_id(conn, &org_id)?.ok_or(crate::error::AppError::NotFound)?;
        let user = orgs::find_user(conn, &user_id)?.ok_or(crate::error::AppError::NotFound)?;
        Ok((org, user))
    })
    .await?;
    Ok(Acting { org, access: Access::Member(role), actor: caller.actor(&user.email), user_id: user.id })
}

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
    fn of(row: CredentialRow, now: chrono::NaiveDateTime) -> Self {
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
    let form = CreateForm {
        csrf_token: String::new(),
        name: body.name,
        description: body.description,
        scopes: body.scopes,
        permissions: body.permissions,
        passphrase: body.passphrase,
        expiry: body.expiry.unwrap_or_else(|| tab.default_expiry.to_owned()),
        expires_on: body.expires_on,
        active: body.active.then(|| "on".to_owned()),
    };
    let valid = form
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

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    pub id: String,
    pub revoked: bool,
    pub already_revoked: bool,
}

fn revoked(id: &str, outcome: RevokeOutcome) -> Result<HttpResponse, ApiError> {
    let already = match outcome {
        RevokeOutcome::NotFound => return Err(ApiError::not_found()),
        RevokeOutcome::AlreadyRevoked => true,
        RevokeOutcome::Revoked { .. } => false,
    };
    Ok(HttpResponse::Ok().json(Revoked { id: id.to_owned(), revoked: true, already_revoked: already }))
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

type OrgPath = web::Path<String>;
type CollectionPath = web::Path<(String, String)>;
type ItemPath = web::Path<(String, String, String)>;

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
    let form = EditForm {
        csrf_token: String::new(),
        name: body.name.unwrap_or_else(|| row.name.clone()),
        description: body.description.unwrap_or_else(|| row.description.clone().unwrap_or_default()),
        permissions: body
            .permissions
            .unwrap_or_else(|| row.grants.split_whitespace().map(str::to_owned).collect()),
        expiry: body.expiry.unwrap_or_else(|| "keep".to_owned()),
        expires_on: body.expires_on,
        active: body.active.unwrap_or(row.active).then(|| "on".to_owned()),
    };
    let now = state.clock.now();
    let valid = form
        .parse(&state.settings.catalog, row.expires_at, now, acting.org.max_lifetime_days())
        .map_err(|e| unprocessable(&e))?;
    service::edit(&state, &acting, kind, &row.id, valid).await?.map_err(refused)?;
    let after = service::find(&state, &acting, kind, &row.id).await?;
    Ok(HttpResponse::Ok().json(CredentialJson::of(after, now)))
}

/// The audit log's query: the console page's filters, a cursor and a page size.
#[derive(Debug, Deserialize)]
pub struct AuditParams {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub credential: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

const AUDIT_DEFAULT_LIMIT: i64 = 100;
const AUDIT_MAX_LIMIT: i64 = 500;

impl AuditParams {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        // A console form sends an empty action for "all actions"; the API's is one of its enum.
        if self.action.as_deref() == Some("") {
            return Err(ApiError::bad_request(format!("action: {CHOOSE_AN_ACTION}")));
        }
        let input = FilterInput {
            action: self.action.as_deref(),
            actor: self.actor.as_deref(),
            credential: self.credential.as_deref(),
            from: self.from.as_deref(),
            to: self.to.as_deref(),
        };
        input.parse().map_err(|errors| {
            let why: Vec<String> =
                errors.fields().map(|(field, message)| format!("{field}: {message}")).collect();
            ApiError::bad_request(why.join(" "))
        })
    }

    fn window(&self) -> Result<Window, ApiError> {
        match self.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => Ok(Window::Newest),
            Some(raw) => parse_cursor(raw)
                .map(Window::Before)
                .map_err(|m| ApiError::bad_request(format!("cursor: {m}"))),
        }
    }

    fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(AUDIT_DEFAULT_LIMIT),
            Some(limit) if (1..=AUDIT_MAX_LIMIT).contains(&limit) => Ok(limit),
            Some(_) => {
                Err(ApiError::bad_request(format!("limit: Use a number from 1 to {AUDIT_MAX_LIMIT}.")))
            }
        }
    }
}

/// One audit log entry.
#[derive(Serialize, ToSchema)]
pub struct AuditJson {
    pub id: String,
    pub occurred_at: String,
    pub actor: String,
    pub actor_user_id: Option<String>,
    pub actor_credential_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// Entries, newest first, and where the next (older) ones start.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditJson>,
    /// Pass it as `cursor` for the entries after these; `null` when there are none.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

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

/// The org's audit log, newest first (owner, admin and auditor), filtered as the console's
/// Settings → Audit log page is, and paged by cursor: pass `next_cursor` back as `cursor`.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{slug}/audit",
    tag = "audit",
    params(
        ("slug" = String, Path, description = "The org the personal token is bound to."),
        ("action" = Option<AuditAction>, Query, description = "Only entries of this action."),
        ("actor" = Option<String>, Query, max_length = 100, description = "Only entries whose actor (an email, `operator (cli)`) contains this, in any case."),
        ("credential" = Option<String>, Query, max_length = 100, description = "Only entries about, or made with, the org's credentials with this id, this display prefix (or its start) or a name containing this."),
        ("from" = Option<String>, Query, max_length = 40, description = "Only entries at or after this: a date (`YYYY-MM-DD`, from 00:00 UTC) or an RFC 3339 time."),
        ("to" = Option<String>, Query, max_length = 40, description = "Only entries at or before this: a date (`YYYY-MM-DD`, the whole UTC day) or an RFC 3339 time."),
        ("cursor" = Option<String>, Query, max_length = 200, description = "`next_cursor` of the previous answer (opaque)."),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 500, description = "Entries to return, 1 to 500 (default 100)."),
    ),
    responses(
        (status = 200, description = "Entries, newest first.", body = AuditPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn audit(
    state: web::Data<AppState>,
    caller: ApiCaller,
    path: OrgPath,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    let acting = acting(&state, &caller, &path).await?;
    if !acting.access.can_read_audit() {
        return Err(ApiError::insufficient_scope(
            "forbidden",
            "Reading the audit log needs the owner, admin or auditor role.",
        ));
    }
    let (filter, window, limit) = (params.filter()?, params.window()?, params.limit()?);
    let scope = audit_log::Scope::Org(acting.org.id.clone());
    let slice =
        db::run(&state.pool, move |conn| Ok(audit_log::search(conn, &scope, &filter, &window, limit)?))
            .await?;
    let next_cursor =
        if slice.more { slice.records.last().map(|r| Cursor::of(&r.entry).encode()) } else { None };
    let items: Vec<AuditJson> = slice
        .records
        .into_iter()
        .map(|record| {
            let e = record.entry;
            AuditJson {
                occurred_at: rfc3339(e.occurred_at),
                details: serde_json::from_str(&e.details).unwrap_or_default(),
                id: e.id,
                actor: e.actor_label,
                actor_user_id: e.actor_user_id,
                actor_credential_id: e.actor_credential_id,
                action: e.action,
                target_type: e.target_type,
                target_id: e.target_id,
                target: e.target_label,
                ip: e.ip,
                user_agent: e.user_agent,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(AuditPage { items, next_cursor }))
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
    let (rows, total) = personal_tokens::of_org(&state, &acting.org.id, &params).await?;
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

fn own_user(caller: &ApiCaller) -> Result<String, ApiError> {
    match (&caller.credential.kind, &caller.credential.owner_user_id) {
        (CredentialKind::PersonalToken, Some(user_id)) => Ok(user_id.clone()),
        _ => Err(ApiError::insufficient_scope(
            "personal_token_required",
            "This needs a personal access token.",
        )),
    }
}

/// Revoking one's own token in another org one may have left: the org is the token's.
async fn acting_for_own(state: &AppState, caller: &ApiCaller, org_id: &str) -> Result<Acting, ApiError> {
    acting_as(state, caller, org_id, own_user(caller)?, Role::Member).await
}
