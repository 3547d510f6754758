//! Personal access tokens act with their user's current role in the org they were minted for,
//! and stop working when the user leaves it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::NaiveDateTime;
use serde::Deserialize;

use crate::auth::csrf::{CsrfForm, TokenOnly, Verified};
use crate::auth::dev_login::see_other;
use crate::auth::{Access, Role, SignedIn};
use crate::credentials::{CredentialKind, ExpiryChoice, Grants, Status};
use crate::db::credentials::{self as repo, RevokeOutcome};
use crate::db::orgs::{self, Org};
use crate::db::{self};
use crate::error::AppError;
use crate::service::credentials::{self as service, Acting};
use crate::service::fields::FormErrors;
use crate::service::inputs::ValidCreate;
use crate::state::AppState;
use crate::views::{render_with, Chrome, Moment};

const PATH: &str = "/account/tokens";

pub struct PersonalRow {
    pub id: String,
    pub name: String,
    pub org_name: String,
    pub display_prefix: String,
    pub status: Status,
    pub role: Option<Role>,
    pub created: Moment,
    pub expires: Option<Moment>,
    pub last_used: Option<Moment>,
    pub usage_count: i64,
}

#[derive(Template)]
#[template(path = "account/tokens.html")]
pub struct AccountTokensPage {
    pub chrome: Chrome,
    pub rows: Vec<PersonalRow>,
    pub orgs: Vec<(String, String, &'static str)>,
    pub name: String,
    pub org: String,
    pub expiry: String,
    pub errors: FormErrors,
    pub secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct PersonalForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    expires_on: String,
}

impl CsrfForm for PersonalForm {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}

pub async fn page(state: web::Data<AppState>, who: SignedIn) -> Result<HttpResponse, AppError> {
    respond(&state, &who, StatusCode::OK, Draft::default()).await
}

#[derive(Default)]
struct Draft {
    name: String,
    org: String,
    expiry: String,
    errors: FormErrors,
    secret: Option<String>,
}

pub async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    Verified(form): Verified<PersonalForm>,
) -> Result<HttpResponse, AppError> {
    let user_id = who.user.id.clone();
    let memberships = db::run(&state.pool, move |conn| Ok(orgs::orgs_of(conn, &user_id)?)).await?;
    let draft = |errors: FormErrors| Draft {
        name: form.name.clone(),
        org: form.org.clone(),
        expiry: form.expiry.clone(),
        errors,
        ..Draft::default()
    };
    let Some((org, role)) = memberships.into_iter().find(|(org, _)| org.slug == form.org) else {
        let mut errors = FormErrors::default();
        errors.add("org", "Choose one of your organizations.");
        return respond(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, draft(errors)).await;
    };
    let valid = match parse(&form, &org, state.clock.now()) {
        Ok(valid) => valid,
        Err(errors) => return respond(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, draft(errors)).await,
    };
    let acting =
        Acting { org, access: Access::Member(role), user_id: who.user.id.clone(), actor: who.actor() };
    match service::create(&state, &acting, CredentialKind::PersonalToken, valid).await? {
        Ok(minted) => {
            let done = Draft { secret: Some(minted.secret.expose().to_owned()), ..Draft::default() };
            respond(&state, &who, StatusCode::OK, done).await
        }
        Err(refusal) => {
            let mut errors = FormErrors::default();
            errors.add(refusal.field, refusal.message);
            respond(&state, &who, StatusCode::UNPROCESSABLE_ENTITY, draft(errors)).await
        }
    }
}

fn parse(form: &PersonalForm, org: &Org, now: NaiveDateTime) -> Result<ValidCreate, FormErrors> {
    let mut errors = FormErrors::default();
    let name = errors.take("name", crate::credentials::CredentialName::parse(&form.name));
    let expires_at = errors.take(
        "expiry",
        ExpiryChoice::parse(&form.expiry, &form.expires_on)
            .and_then(|c| c.resolve(now, org.max_lifetime_days())),
    );
    match (name, expires_at) {
        (Some(name), Some(expires_at)) => Ok(ValidCreate {
            name,
            description: None,
            // A personal token's authority is its user's role, read at each use.
            grants: Grants::from_stored(""),
            passphrase: None,
            expires_at,
            active: true,
        }),
        _ => Err(errors),
    }
}

pub async fn revoke(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let (user_id, id) = (who.user.id.clone(), path.into_inner());
    let own = {
        let id = id.clone();
        db::run(&state.pool, move |conn| {
            Ok(repo::own_personal_token(conn, &user_id, &id)?.map(|(_, org)| org))
        })
        .await?
    };
    // Only one's own tokens: anyone else's id reads as absent.
    let org = own.ok_or(AppError::NotFound)?;
    let acting = Acting {
        org,
        access: Access::Member(Role::Member),
        user_id: who.user.id.clone(),
        actor: who.actor(),
    };
    match service::revoke_unchecked(&state, &acting, CredentialKind::PersonalToken, &id).await? {
        RevokeOutcome::NotFound => Err(AppError::NotFound),
        RevokeOutcome::AlreadyRevoked | RevokeOutcome::Revoked { .. } => Ok(see_other(PATH)),
    }
}

async fn respond(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    draft: Draft,
) -> Result<HttpResponse, AppError> {
    let (user_id, now) = (who.user.id.clone(), state.clock.now());
    let (memberships, tokens) = db::run(&state.pool, move |conn| {
        let memberships = orgs::orgs_of(conn, &user_id)?;
        let tokens = repo::personal_tokens_of(conn, &user_id)?;
        Ok((memberships, tokens))
    })
    .await?;
    let rows = tokens
        .into_iter()
        .map(|(row, _, org_name)| PersonalRow {
            status: Status::of(row.revoked_at, row.expires_at, row.active, now),
            role: memberships.iter().find(|(org, _)| org.id == row.org_id).map(|(_, role)| *role),
            created: Moment::of(row.created_at, now),
            expires: row.expires_at.map(|at| Moment::of(at, now)),
            last_used: row.last_used_at.map(|at| Moment::of(at, now)),
            id: row.id,
            name: row.name,
            org_name,
            display_prefix: row.display_prefix,
            usage_count: row.usage_count,
        })
        .collect();
    let page = AccountTokensPage {
        chrome: Chrome::for_account(who, &memberships, "account")?,
        rows,
        orgs: memberships
            .iter()
            .map(|(org, role)| (org.slug.clone(), org.name.clone(), role.label()))
            .collect(),
        name: draft.name.chars().take(300).collect(),
        org: draft.org,
        expiry: if draft.expiry.is_empty() { "90".into() } else { draft.expiry.chars().take(10).collect() },
        errors: draft.errors,
        secret: draft.secret,
    };
    render_with(status, &page)
}
