//! Managing credentials with a personal access token. Every rule comes from the same service
//! and parsing as the console; these modules only read JSON and write JSON, one per resource.

mod audit;
mod credentials;
mod personal;

pub use audit::*;
pub use credentials::*;
pub use personal::*;

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::bearer::ApiCaller;
use crate::api::error::ApiError;
use crate::auth::{Access, Role};
use crate::credentials::CredentialKind;
use crate::db::credentials::RevokeOutcome;
use crate::db::{self, orgs};
use crate::service::credentials::Acting;
use crate::state::AppState;

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

type OrgPath = web::Path<String>;
type CollectionPath = web::Path<(String, String)>;
type ItemPath = web::Path<(String, String, String)>;

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
