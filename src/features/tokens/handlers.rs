//! Settings → Tokens: list, generate (one-time reveal), revoke.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms::GenerateTokenForm;
use super::views::{Revealed, TokenFormView, TokensPage};
use crate::auth::csrf::{TokenOnly, Verified};
use crate::auth::OrgMember;
use crate::credentials::{cap_refusal, secret, CredentialKind};
use crate::db::credentials::{self as repo, CreateRefusal, NewCredential, RevokeOutcome};
use crate::db::{self, new_id};
use crate::error::AppError;
use crate::features::forms::FormErrors;
use crate::features::listing::{CredentialList, ListParams};
use crate::startup::AppState;
use crate::views::{is_htmx, render_with, Chrome};

const KIND: CredentialKind = CredentialKind::AccessToken;

pub fn path(slug: &str) -> String {
    format!("/orgs/{slug}/settings/tokens")
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let form = TokenFormView::blank(&state.settings.catalog);
    let page = build(&state, &member, params.into_inner(), form, None, None).await?;
    if is_htmx(&req)
        && req
            .headers()
            .get("HX-Target")
            .is_some_and(|t| t == "credential-list")
    {
        return render_with(StatusCode::OK, &page.as_list());
    }
    respond(&req, StatusCode::OK, &page)
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    Verified(form): Verified<GenerateTokenForm>,
) -> Result<HttpResponse, AppError> {
    member.require_manage()?;
    let now = state.clock.now();
    let catalog = state.settings.catalog.clone();
    let valid = match form.parse(&catalog, now, member.org.max_lifetime_days()) {
        Ok(valid) => valid,
        Err(errors) => return refuse(&req, &state, &member, &form, errors).await,
    };
    let plain = secret::generate(KIND, &catalog.prefixes);
    let cap = catalog
        .plans
        .cap(member.org.plan(), member.org.cap_override());
    let details = serde_json::json!({
        "scopes": valid.scopes.iter().collect::<Vec<_>>(),
        "expires_at": valid.expires_at,
        "passphrase": valid.passphrase.is_some(),
        "display_prefix": plain.display_prefix(catalog.prefixes.get(KIND).len()),
    });
    let mut new = NewCredential {
        id: new_id(),
        org_id: member.org.id.clone(),
        kind: KIND.as_str().to_owned(),
        name: valid.name.as_str().to_owned(),
        description: None,
        secret_hash: plain.hash().to_hex(),
        display_prefix: plain.display_prefix(catalog.prefixes.get(KIND).len()),
        grants: valid.scopes.to_stored(),
        passphrase_hash: None,
        active: true,
        rate_limit_per_minute: None,
        expires_at: valid.expires_at,
        created_at: now,
        created_by: member.who.user.id.clone(),
        owner_user_id: None,
        rotated_from: None,
    };
    let actor = member.actor();
    let outcome = db::run(&state.pool, move |conn| {
        // argon2 is slow on purpose; this closure already runs off the async workers.
        new.passphrase_hash = valid
            .passphrase
            .map(|p| p.hash())
            .transpose()
            .map_err(|e| AppError::internal(format!("passphrase hashing: {e}")))?;
        Ok(repo::create(conn, &new, cap, &actor, details, now)?)
    })
    .await?;
    let mut errors = FormErrors::default();
    match outcome {
        Ok(()) => {
            let revealed = Revealed {
                name: form.name.trim().to_owned(),
                secret: plain.expose().to_owned(),
            };
            let blank = TokenFormView::blank(&catalog);
            let page = build(
                &state,
                &member,
                ListParams::default(),
                blank,
                Some(revealed),
                None,
            )
            .await?;
            return respond(&req, StatusCode::OK, &page);
        }
        Err(CreateRefusal::CapReached) => {
            errors.add("form", cap_refusal(member.org.plan(), cap, "access tokens"))
        }
        Err(CreateRefusal::NameTaken) => {
            errors.add("name", "An active token with this name already exists.")
        }
    }
    refuse(&req, &state, &member, &form, errors).await
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path_ids: web::Path<(String, String)>,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    member.require_manage()?;
    let (_, id) = path_ids.into_inner();
    let (org_id, actor, now) = (member.org.id.clone(), member.actor(), state.clock.now());
    let outcome = db::run(&state.pool, move |conn| {
        Ok(repo::revoke(conn, &org_id, KIND, &id, &actor, now)?)
    })
    .await?;
    let notice = match outcome {
        RevokeOutcome::NotFound => return Err(AppError::NotFound),
        RevokeOutcome::AlreadyRevoked => "That token was already revoked.".to_owned(),
        RevokeOutcome::Revoked { name } => {
            format!("Token “{name}” revoked. It stopped working immediately.")
        }
    };
    if !is_htmx(&req) {
        return Ok(crate::auth::dev_login::see_other(&path(&member.org.slug)));
    }
    let form = TokenFormView::blank(&state.settings.catalog);
    let page = build(
        &state,
        &member,
        ListParams::default(),
        form,
        None,
        Some(notice),
    )
    .await?;
    respond(&req, StatusCode::OK, &page)
}

/// The form again with its messages, 422, nothing created.
async fn refuse(
    req: &HttpRequest,
    state: &AppState,
    member: &OrgMember,
    form: &GenerateTokenForm,
    errors: FormErrors,
) -> Result<HttpResponse, AppError> {
    let view = TokenFormView::refilled(&state.settings.catalog, form, errors);
    let page = build(state, member, ListParams::default(), view, None, None).await?;
    respond(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

async fn build(
    state: &AppState,
    member: &OrgMember,
    params: ListParams,
    form: TokenFormView,
    revealed: Option<Revealed>,
    notice: Option<String>,
) -> Result<TokensPage, AppError> {
    let now = state.clock.now();
    let org_id = member.org.id.clone();
    let filter = params.filter();
    let (search, page) = (params.search(), params.page());
    let (rows, total) = db::run(&state.pool, move |conn| {
        Ok(CredentialList::load(conn, &org_id, KIND, &params, now)?)
    })
    .await?;
    let list = CredentialList {
        rows,
        filter,
        search,
        page,
        total,
        base_path: path(&member.org.slug),
        can_manage: member.role.can_manage_credentials(),
        noun: "token",
    };
    Ok(TokensPage {
        chrome: Chrome::of(member, "tokens")?,
        form,
        revealed,
        list,
        notice,
    })
}

/// The whole page, or only the panel for htmx. A page that reveals a secret must never be
/// cached, and no page here is worth caching, so every response is `no-store`.
fn respond(
    req: &HttpRequest,
    status: StatusCode,
    page: &TokensPage,
) -> Result<HttpResponse, AppError> {
    if is_htmx(req) {
        render_with(status, &page.as_panel())
    } else {
        render_with(status, page)
    }
}
