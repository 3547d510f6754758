use actix_web::web::{self, Json};
use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::bearer::ApiCaller;
use super::error::ApiError;
use super::openapi::{RateLimited, Unauthorized};
use crate::db::{self, orgs};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub credential: CredentialInfo,
    pub org: OrgInfo,
    /// The person a personal access token acts for; `null` for other kinds.
    pub user: Option<UserInfo>,
    pub is_api_token: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CredentialInfo {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub grants: Vec<String>,
    pub expires_at: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct OrgInfo {
    pub slug: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserInfo {
    pub id: String,
    pub email: String,
    /// As the OpenID provider gave it; empty before the first sign-in.
    pub name: String,
    /// The role the person holds in the token's org now.
    #[schema(example = "admin")]
    pub role: &'static str,
}

pub fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Which credential is calling, and for which org; any valid credential may ask.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    responses(
        (status = 200, description = "The calling credential.", body = Me),
        (status = 401, response = Unauthorized),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn me(state: web::Data<AppState>, caller: ApiCaller) -> Result<Json<Me>, ApiError> {
    let c = &caller.credential;
    let user = user_of(&state, &caller).await?;
    Ok(Json(Me {
        credential: CredentialInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: c.kind.as_str(),
            grants: c.grants.iter().map(str::to_owned).collect(),
            expires_at: c.expires_at.map(rfc3339),
            created_at: rfc3339(c.created_at),
        },
        org: OrgInfo { slug: c.org_slug.clone(), name: c.org_name.clone() },
        user,
        is_api_token: true,
    }))
}

/// The person behind a personal token, with the role the verifier just read for this request.
async fn user_of(state: &AppState, caller: &ApiCaller) -> Result<Option<UserInfo>, ApiError> {
    let c = &caller.credential;
    let (Some(user_id), Some(role)) = (c.owner_user_id.clone(), c.owner_role) else {
        return Ok(None);
    };
    let user = db::run(&state.pool, move |conn| Ok(orgs::find_user(conn, &user_id)?)).await?;
    // A token whose person is gone never gets this far (the verifier refuses it).
    let user = user.ok_or_else(ApiError::not_found)?;
    Ok(Some(UserInfo { id: user.id, email: user.email, name: user.display_name, role: role.as_str() }))
}

#[derive(serde::Deserialize)]
pub struct BaselineParams {
    pub bytes: Option<usize>,
}

/// The benchmarks' baseline: the same stack and a JSON body of the asked size, no credential.
/// Only routed when the server was started with `--bench-baseline`.
pub async fn baseline(
    state: actix_web::web::Data<crate::state::AppState>,
    params: actix_web::web::Query<BaselineParams>,
) -> actix_web::HttpResponse {
    if !state.settings.bench_baseline {
        return actix_web::HttpResponse::NotFound()
            .json(serde_json::json!({ "error": "Not found.", "code": "not_found" }));
    }
    const FRAME: usize = r#"{"pad":""}"#.len();
    let pad = params.bytes.unwrap_or(256).clamp(FRAME, 64 * 1024) - FRAME;
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(format!(r#"{{"pad":"{}"}}"#, "x".repeat(pad)))
}
