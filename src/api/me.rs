use actix_web::web::Json;
use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use super::bearer::ApiCaller;
use super::openapi::{RateLimited, Unauthorized};

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub credential: CredentialInfo,
    pub org: OrgInfo,
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
pub async fn me(caller: ApiCaller) -> Json<Me> {
    let c = &caller.credential;
    Json(Me {
        credential: CredentialInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: c.kind.as_str(),
            grants: c.grants.iter().map(str::to_owned).collect(),
            expires_at: c.expires_at.map(rfc3339),
            created_at: rfc3339(c.created_at),
        },
        org: OrgInfo { slug: c.org_slug.clone(), name: c.org_name.clone() },
        user: c.owner_user_id.clone().map(|id| UserInfo { id }),
        is_api_token: true,
    })
}

#[derive(serde::Deserialize)]
pub struct BaselineParams {
    pub bytes: Option<usize>,
}

/// The benchmarks' baseline: the same stack and a JSON body of the asked size, no credential.
/// Only routed when the server was started with `--bench-baseline`.
pub async fn baseline(
    state: actix_web::web::Data<crate::startup::AppState>,
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
