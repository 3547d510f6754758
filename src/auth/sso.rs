//! The single sign-on routes: `/auth/login` sends the browser to the OpenID provider,
//! `/auth/callback` brings it back signed in, or on a page that says why not. Every outcome is
//! audited; none is a 500.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::Connection;

use super::dev_login::{record_sign_in, see_other};
use super::session::TypedSession;
use super::RequestMeta;
use crate::db::audit::{self, Actor, AuditEvent};
use crate::db::orgs::{self, User};
use crate::db::{self, DbConnection};
use crate::error::AppError;
use crate::oidc::{Callback, SignInFailure, VerifiedIdentity};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "auth/sign_in_failed.html")]
struct SignInFailedPage {
    message: String,
}

pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let oidc = state.oidc.as_ref().ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    match oidc.start(now.and_utc().timestamp()).await {
        Ok((url, pending)) => {
            session.start_oidc(&pending)?;
            Ok(see_other(url.as_str()))
        }
        Err(failure) => refuse(&state, RequestMeta::of(&req), failure, None).await,
    }
}

pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    query: web::Query<Callback>,
) -> Result<HttpResponse, AppError> {
    let oidc = state.oidc.as_ref().ok_or(AppError::NotFound)?;
    let now = state.clock.now();
    let meta = RequestMeta::of(&req);
    let identity = match oidc.finish(session.take_oidc(), &query, now.and_utc().timestamp()).await {
        Ok(identity) => identity,
        Err(failure) => return refuse(&state, meta, failure, None).await,
    };
    let email = identity.email.clone();
    let outcome = db::run(&state.pool, {
        let meta = meta.clone();
        move |conn| Ok(conn.transaction(|conn| sign_in(conn, &identity, meta, now))?)
    })
    .await?;
    match outcome {
        Ok(user) => {
            session.sign_in(&user.id, now.and_utc().timestamp(), &meta)?;
            Ok(see_other("/"))
        }
        Err(failure) => refuse(&state, meta, failure, email).await,
    }
}

/// The person this identity signs in, linked by verified email the first time; audited.
fn sign_in(
    conn: &mut DbConnection,
    identity: &VerifiedIdentity,
    meta: RequestMeta,
    now: NaiveDateTime,
) -> diesel::QueryResult<Result<User, SignInFailure>> {
    let (user, linked) = match find_or_link(conn, identity)? {
        Ok(found) => found,
        Err(failure) => return Ok(Err(failure)),
    };
    let details = serde_json::json!({ "method": "oidc", "issuer": identity.issuer, "linked": linked });
    record_sign_in(conn, &user, meta, details, now)?;
    Ok(Ok(user))
}

fn find_or_link(
    conn: &mut DbConnection,
    identity: &VerifiedIdentity,
) -> diesel::QueryResult<Result<(User, bool), SignInFailure>> {
    if let Some(user) = orgs::find_user_by_oidc(conn, &identity.issuer, &identity.subject)? {
        return Ok(Ok((user, false)));
    }
    let Some(email) = identity.email.clone() else {
        return Ok(Err(SignInFailure::UnknownPerson("this identity".into())));
    };
    if !identity.email_verified {
        return Ok(Err(SignInFailure::EmailNotVerified));
    }
    let Some(user) = orgs::find_user_by_email(conn, &email)? else {
        return Ok(Err(SignInFailure::UnknownPerson(email)));
    };
    if !orgs::link_oidc(conn, &user.id, &identity.issuer, &identity.subject, identity.name.as_deref())? {
        return Ok(Err(SignInFailure::IdentityConflict));
    }
    Ok(Ok((user, true)))
}

/// A clear page, and an audit entry naming the reason (never a code, token or nonce).
async fn refuse(
    state: &AppState,
    meta: RequestMeta,
    failure: SignInFailure,
    email: Option<String>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let reason = failure.reason();
    db::run(&state.pool, move |conn| {
        let actor = Actor {
            user_id: None,
            credential_id: None,
            label: email.clone().unwrap_or_else(|| "anonymous".into()),
            ip: meta.ip,
            user_agent: meta.user_agent,
        };
        let event = AuditEvent {
            org_id: None,
            action: "auth.sign_in_failed",
            target_type: None,
            target_id: None,
            target_label: email.as_deref(),
            details: serde_json::json!({ "method": "oidc", "reason": reason }),
        };
        Ok(audit::record_for_email(conn, &actor, event, email.as_deref(), now)?)
    })
    .await?;
    let status = StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let page = SignInFailedPage { message: failure.message() };
    let html = page.render().map_err(AppError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(html))
}
