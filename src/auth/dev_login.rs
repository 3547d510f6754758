//! The dev sign-in: a list of users to sign in as, for `tessera demo` and `serve --dev-login`.
//! Only on loopback, both at start-up (checked in config) and per request (checked here).

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::csrf::{CsrfForm, TokenOnly, Verified};
use super::session::TypedSession;
use super::{RequestMeta, SignedIn};
use crate::db;
use crate::db::audit::{self, Actor, AuditEvent};
use crate::db::orgs::{self, User};
use crate::error::AppError;
use crate::html::render;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "auth/sign_in.html")]
struct SignInPage {
    csrf_token: String,
    sso: bool,
    dev_login: bool,
    users: Vec<User>,
}

pub async fn sign_in_page(
    state: web::Data<AppState>,
    session: TypedSession,
) -> Result<HttpResponse, AppError> {
    let dev_login = state.settings.dev_login;
    let users =
        if dev_login { db::run(&state.pool, |conn| Ok(orgs::all_users(conn)?)).await? } else { Vec::new() };
    render(&SignInPage { csrf_token: session.csrf_token()?, sso: state.oidc.is_some(), dev_login, users })
}

#[derive(Deserialize)]
pub struct DevSignInForm {
    #[serde(default)]
    csrf_token: String,
    user_id: String,
}

impl CsrfForm for DevSignInForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

pub async fn dev_sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: TypedSession,
    Verified(form): Verified<DevSignInForm>,
) -> Result<HttpResponse, AppError> {
    let from_loopback = req.peer_addr().is_some_and(|a| a.ip().is_loopback());
    if !state.settings.dev_login || !from_loopback {
        return Err(AppError::NotFound);
    }
    crate::text::check(&form.user_id, crate::text::Lines::Single).map_err(AppError::BadRequest)?;
    let meta = RequestMeta::of(&req);
    let now = state.clock.now();
    let user = db::run(&state.pool, {
        let meta = meta.clone();
        move |conn| {
            let user = orgs::find_user(conn, &form.user_id)?.ok_or(AppError::NotFound)?;
            record_sign_in(conn, &user, meta, serde_json::json!({ "method": "dev" }), now)?;
            Ok(user)
        }
    })
    .await?;
    session.sign_in(&user.id, now.and_utc().timestamp(), &meta)?;
    Ok(see_other("/"))
}

pub async fn sign_out(
    state: web::Data<AppState>,
    who: SignedIn,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    end_current_session(&state, who).await
}

/// Signs this session out: audited, and its server-side record deleted, so a copy of the cookie
/// opens nothing afterwards.
pub async fn end_current_session(state: &AppState, who: SignedIn) -> Result<HttpResponse, AppError> {
    let actor = who.actor();
    let now = state.clock.now();
    db::run(&state.pool, move |conn| {
        let event = AuditEvent {
            org_id: None,
            action: "auth.sign_out",
            target_type: Some("user"),
            target_id: actor.user_id.as_deref(),
            target_label: Some(&actor.label),
            details: serde_json::json!({}),
        };
        Ok(audit::record_for_person(conn, &actor, event, actor.user_id.as_deref(), now)?)
    })
    .await?;
    who.session.sign_out();
    Ok(see_other("/sign-in"))
}

/// `/`: the first org of a signed-in person, or the sign-in page.
pub async fn home(state: web::Data<AppState>, session: TypedSession) -> Result<HttpResponse, AppError> {
    let now = state.clock.now().and_utc().timestamp();
    let Some(user_id) = session.live_user_id(now, state.settings.session_limits)? else {
        return Ok(see_other("/sign-in"));
    };
    let (orgs, user) = db::run(&state.pool, move |conn| {
        Ok((orgs::orgs_of(conn, &user_id)?, orgs::find_user(conn, &user_id)?))
    })
    .await?;
    Ok(match (orgs.first(), user.is_some_and(|u| u.is_operator)) {
        (Some((org, _)), _) => see_other(&crate::urls::org_home(&org.slug)),
        // An operator in no org still has every org to read.
        (None, true) => see_other("/operator/orgs"),
        (None, false) => see_other("/sign-in"),
    })
}

/// The audit entry of a successful sign-in, whichever way it happened.
pub fn record_sign_in(
    conn: &mut crate::db::DbConnection,
    user: &User,
    meta: RequestMeta,
    details: serde_json::Value,
    now: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    let actor = Actor {
        user_id: Some(user.id.clone()),
        credential_id: None,
        label: user.email.clone(),
        ip: meta.ip,
        user_agent: meta.user_agent,
    };
    let event = AuditEvent {
        org_id: None,
        action: "auth.sign_in",
        target_type: Some("user"),
        target_id: Some(&user.id),
        target_label: Some(&user.email),
        details,
    };
    audit::record_for_person(conn, &actor, event, Some(&user.id), now)
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}
