//! The org's audit log.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::bearer::ApiCaller;
use crate::api::error::ApiError;
use crate::api::me::rfc3339;
use crate::api::openapi::{AuditAction, BadRequest, Forbidden, NotFound, RateLimited, Unauthorized};
use crate::db;
use crate::db::audit::{self as audit_log, AuditFilter, Cursor, Window};
use crate::service::audit_filter::{parse_cursor, FilterInput, CHOOSE_AN_ACTION};
use crate::state::AppState;

use super::{acting, OrgPath};

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
