//! Settings → Tokens and Settings → API keys: list, create (one-time reveal), rotate, revoke,
//! and edit for API keys. Both tabs share these handlers; `Tab` says what differs.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms::{CreateForm, EditForm, Grace, RotateForm, ValidCreate};
use super::listing::{CredentialList, ListParams};
use super::setup::SetupCard;
use super::tab::{Tab, API_ACCESS_DISABLED};
use super::views::{CredentialPage, EditPage, FormView, Revealed};
use crate::auth::csrf::{TokenOnly, Verified};
use crate::auth::dev_login::see_other;
use crate::auth::OrgMember;
use crate::credentials::{cap_refusal, replacement_expiry, secret, PlainSecret};
use crate::db::credentials::{
    self as repo, CreateRefusal, EditOutcome, KeyChanges, NewCredential, Replacement, RevokeOutcome,
    RotateOutcome,
};
use crate::db::{self, new_id};
use crate::error::AppError;
use crate::features::forms::FormErrors;
use crate::startup::AppState;
use crate::views::{is_htmx, render, render_with, Chrome};

type TabPath = web::Path<(String, String)>;
type ItemPath = web::Path<(String, String, String)>;

fn tab(segment: &str) -> Result<Tab, AppError> {
    Tab::from_segment(segment).ok_or(AppError::NotFound)
}

/// The API-access gate: when an operator has closed it, no API key is minted.
fn gate_closed(tab: Tab, member: &OrgMember) -> bool {
    tab.is_api_keys() && !member.org.api_access
}

fn require_mint(tab: Tab, member: &OrgMember) -> Result<(), AppError> {
    member.require_manage()?;
    if gate_closed(tab, member) {
        return Err(AppError::Forbidden(API_ACCESS_DISABLED.into()));
    }
    Ok(())
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: TabPath,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, AppError> {
    let tab = tab(&path.1)?;
    let page = Builder::new(tab, &state, &member).params(params.into_inner()).build().await?;
    if is_htmx(&req) && req.headers().get("HX-Target").is_some_and(|t| t == "credential-list") {
        return render_with(StatusCode::OK, &page.as_list());
    }
    respond(&req, StatusCode::OK, &page)
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: TabPath,
    Verified(form): Verified<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let tab = tab(&path.1)?;
    require_mint(tab, &member)?;
    let now = state.clock.now();
    let catalog = &state.settings.catalog;
    let valid = match form.parse(tab, catalog, now, member.org.max_lifetime_days()) {
        Ok(valid) => valid,
        Err(errors) => return refuse(&req, &state, &member, tab, &form, errors).await,
    };
    let plain = secret::generate(tab.kind, &catalog.prefixes);
    let cap = catalog.plans.cap(member.org.plan(), member.org.cap_override());
    let name = valid.name.as_str().to_owned();
    let outcome = insert(&state, &member, tab, valid, &plain, cap).await?;
    let mut errors = FormErrors::default();
    match outcome {
        Ok(()) => {
            let revealed = Revealed { name, secret: plain.expose().to_owned(), verb: "created" };
            let page = Builder::new(tab, &state, &member).revealed(revealed).build().await?;
            return respond(&req, StatusCode::OK, &page);
        }
        Err(CreateRefusal::CapReached) => {
            errors.add("form", cap_refusal(member.org.plan(), cap, tab.plural()))
        }
        Err(CreateRefusal::NameTaken) => {
            errors.add("name", format!("An active {} with this name already exists.", tab.noun))
        }
    }
    refuse(&req, &state, &member, tab, &form, errors).await
}

async fn insert(
    state: &AppState,
    member: &OrgMember,
    tab: Tab,
    valid: ValidCreate,
    plain: &PlainSecret,
    cap: u32,
) -> Result<Result<(), CreateRefusal>, AppError> {
    let prefix_len = state.settings.catalog.prefixes.get(tab.kind).len();
    let now = state.clock.now();
    let details = serde_json::json!({
        "grants": valid.grants.iter().collect::<Vec<_>>(),
        "expires_at": valid.expires_at,
        "passphrase": valid.passphrase.is_some(),
        "active": valid.active,
        "display_prefix": plain.display_prefix(prefix_len),
    });
    let mut new = NewCredential {
        id: new_id(),
        org_id: member.org.id.clone(),
        kind: tab.kind.as_str().to_owned(),
        name: valid.name.as_str().to_owned(),
        description: valid.description,
        secret_hash: plain.hash().to_hex(),
        display_prefix: plain.display_prefix(prefix_len),
        grants: valid.grants.to_stored(),
        passphrase_hash: None,
        active: valid.active,
        rate_limit_per_minute: None,
        expires_at: valid.expires_at,
        created_at: now,
        created_by: member.who.user.id.clone(),
        owner_user_id: None,
        rotated_from: None,
    };
    let passphrase = valid.passphrase;
    let actor = member.actor();
    db::run(&state.pool, move |conn| {
        // argon2 is slow on purpose; this closure already runs off the async workers.
        new.passphrase_hash = passphrase
            .map(|p| p.hash())
            .transpose()
            .map_err(|e| AppError::internal(format!("passphrase hashing: {e}")))?;
        Ok(repo::create(conn, &new, cap, &actor, details, now)?)
    })
    .await
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: ItemPath,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let tab = tab(&path.1)?;
    member.require_manage()?;
    let id = path.2.clone();
    let (org_id, actor, now) = (member.org.id.clone(), member.actor(), state.clock.now());
    let forget = [id.clone()];
    let outcome =
        db::run(&state.pool, move |conn| Ok(repo::revoke(conn, &org_id, tab.kind, &id, &actor, now)?))
            .await?;
    // The next request with this credential gets 401, on this instance at once.
    state.verifier.forget(&forget);
    let notice = match outcome {
        RevokeOutcome::NotFound => return Err(AppError::NotFound),
        RevokeOutcome::AlreadyRevoked => format!("That {} was already revoked.", tab.noun),
        RevokeOutcome::Revoked { name } => {
            format!("{} “{name}” revoked. It stopped working immediately.", tab.capitalized_noun())
        }
    };
    if !is_htmx(&req) {
        return Ok(see_other(&tab.path(&member.org.slug)));
    }
    let page = Builder::new(tab, &state, &member).notice(notice).build().await?;
    respond(&req, StatusCode::OK, &page)
}

pub async fn rotate(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: ItemPath,
    Verified(form): Verified<RotateForm>,
) -> Result<HttpResponse, AppError> {
    let tab = tab(&path.1)?;
    require_mint(tab, &member)?;
    let grace = Grace::parse(&form.grace)
        .ok_or_else(|| AppError::BadRequest("Choose when the old secret stops working.".into()))?;
    let catalog = &state.settings.catalog;
    let plain = secret::generate(tab.kind, &catalog.prefixes);
    let replacement = Replacement {
        id: new_id(),
        secret_hash: plain.hash().to_hex(),
        display_prefix: plain.display_prefix(catalog.prefixes.get(tab.kind).len()),
        created_by: member.who.user.id.clone(),
    };
    let id = path.2.clone();
    let (org_id, actor, now, max_days) =
        (member.org.id.clone(), member.actor(), state.clock.now(), member.org.max_lifetime_days());
    let expiry =
        move |old: &repo::CredentialRow| replacement_expiry(old.created_at, old.expires_at, now, max_days);
    let outcome = db::run(&state.pool, move |conn| {
        Ok(repo::rotate(conn, &org_id, tab.kind, &id, replacement, grace.duration(), expiry, &actor, now)?)
    })
    .await?;
    let builder = Builder::new(tab, &state, &member);
    let (page, status) = match outcome {
        RotateOutcome::NotFound => return Err(AppError::NotFound),
        RotateOutcome::Refused(why) => (builder.notice(why.to_owned()).build().await?, StatusCode::CONFLICT),
        RotateOutcome::Rotated { old, .. } => {
            state.verifier.forget(std::slice::from_ref(&old.id));
            let revealed =
                Revealed { name: old.name.clone(), secret: plain.expose().to_owned(), verb: "rotated" };
            let notice = format!("{} “{}” rotated. {}", tab.capitalized_noun(), old.name, grace.outcome());
            (builder.revealed(revealed).notice(notice).build().await?, StatusCode::OK)
        }
    };
    respond(&req, status, &page)
}

pub async fn edit_page(
    state: web::Data<AppState>,
    member: OrgMember,
    path: ItemPath,
) -> Result<HttpResponse, AppError> {
    let tab = editable_tab(&path.1)?;
    member.require_manage()?;
    let row = find(&state, &member, tab, &path.2).await?;
    let form = FormView::for_edit(tab, &state.settings.catalog, &row);
    render(&edit_page_view(&member, tab, &row, form)?)
}

pub async fn edit(
    state: web::Data<AppState>,
    member: OrgMember,
    path: ItemPath,
    Verified(form): Verified<EditForm>,
) -> Result<HttpResponse, AppError> {
    let tab = editable_tab(&path.1)?;
    member.require_manage()?;
    let row = find(&state, &member, tab, &path.2).await?;
    let now = state.clock.now();
    let catalog = &state.settings.catalog;
    let valid = match form.parse(catalog, row.expires_at, now, member.org.max_lifetime_days()) {
        Ok(valid) => valid,
        Err(errors) => return refuse_edit(&state, &member, tab, &row, &form, errors),
    };
    let changes = KeyChanges {
        name: valid.name.as_str().to_owned(),
        description: valid.description,
        grants: valid.grants.to_stored(),
        expires_at: valid.expires_at,
        active: valid.active,
    };
    let (org_id, id, actor) = (member.org.id.clone(), row.id.clone(), member.actor());
    let outcome = db::run(&state.pool, move |conn| {
        Ok(repo::edit(conn, &org_id, tab.kind, &id, &changes, &actor, now)?)
    })
    .await?;
    let mut errors = FormErrors::default();
    match outcome {
        EditOutcome::Edited => {
            state.verifier.forget(std::slice::from_ref(&row.id));
            return Ok(see_other(&tab.path(&member.org.slug)));
        }
        EditOutcome::NotFound => return Err(AppError::NotFound),
        EditOutcome::NameTaken => {
            errors.add("name", format!("An active {} with this name already exists.", tab.noun))
        }
        EditOutcome::Refused(why) => errors.add("form", why),
    }
    refuse_edit(&state, &member, tab, &row, &form, errors)
}

/// Only API keys are edited; a token's grants are fixed at creation.
fn editable_tab(segment: &str) -> Result<Tab, AppError> {
    tab(segment).and_then(|t| if t.is_api_keys() { Ok(t) } else { Err(AppError::NotFound) })
}

async fn find(
    state: &AppState,
    member: &OrgMember,
    tab: Tab,
    id: &str,
) -> Result<repo::CredentialRow, AppError> {
    let (org_id, id) = (member.org.id.clone(), id.to_owned());
    db::run(&state.pool, move |conn| repo::find(conn, &org_id, tab.kind, &id)?.ok_or(AppError::NotFound))
        .await
}

fn edit_page_view(
    member: &OrgMember,
    tab: Tab,
    row: &repo::CredentialRow,
    form: FormView,
) -> Result<EditPage, AppError> {
    Ok(EditPage {
        chrome: Chrome::of(member, tab.segment)?,
        tab,
        id: row.id.clone(),
        display_prefix: row.display_prefix.clone(),
        form,
        list_path: tab.path(&member.org.slug),
    })
}

fn refuse_edit(
    state: &AppState,
    member: &OrgMember,
    tab: Tab,
    row: &repo::CredentialRow,
    form: &EditForm,
    errors: FormErrors,
) -> Result<HttpResponse, AppError> {
    let view = FormView::edit_refilled(tab, &state.settings.catalog, row, form, errors);
    render_with(StatusCode::UNPROCESSABLE_ENTITY, &edit_page_view(member, tab, row, view)?)
}

/// The form again with its messages, 422, nothing created.
async fn refuse(
    req: &HttpRequest,
    state: &AppState,
    member: &OrgMember,
    tab: Tab,
    form: &CreateForm,
    errors: FormErrors,
) -> Result<HttpResponse, AppError> {
    let view = FormView::refilled(tab, &state.settings.catalog, form, errors);
    let page = Builder::new(tab, state, member).form(view).build().await?;
    respond(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// Assembles a tab's page from what a handler has to show.
struct Builder<'a> {
    tab: Tab,
    state: &'a AppState,
    member: &'a OrgMember,
    params: ListParams,
    form: Option<FormView>,
    revealed: Option<Revealed>,
    notice: Option<String>,
}

impl<'a> Builder<'a> {
    fn new(tab: Tab, state: &'a AppState, member: &'a OrgMember) -> Self {
        Self { tab, state, member, params: ListParams::default(), form: None, revealed: None, notice: None }
    }

    fn params(mut self, params: ListParams) -> Self {
        self.params = params;
        self
    }

    fn form(mut self, form: FormView) -> Self {
        self.form = Some(form);
        self
    }

    fn revealed(mut self, revealed: Revealed) -> Self {
        self.revealed = Some(revealed);
        self
    }

    fn notice(mut self, notice: String) -> Self {
        self.notice = Some(notice);
        self
    }

    async fn build(self) -> Result<CredentialPage, AppError> {
        let Self { tab, state, member, params, form, revealed, notice } = self;
        let now = state.clock.now();
        let org_id = member.org.id.clone();
        let (filter, search, page) = (params.filter(), params.search(), params.page());
        let (rows, total) = db::run(&state.pool, move |conn| {
            Ok(CredentialList::load(conn, &org_id, tab.kind, &params, now)?)
        })
        .await?;
        let can_manage = member.role.can_manage_credentials();
        let gate_closed = gate_closed(tab, member);
        let can_mint = can_manage && !gate_closed;
        let list = CredentialList {
            rows,
            filter,
            search,
            page,
            total,
            base_path: tab.path(&member.org.slug),
            can_manage,
            can_mint,
            noun: tab.noun,
            is_api_keys: tab.is_api_keys(),
        };
        let catalog = &state.settings.catalog;
        let setup = SetupCard::new(
            &state.settings.api_url,
            &catalog.setup,
            revealed.as_ref().map(|r| r.secret.as_str()),
        );
        Ok(CredentialPage {
            chrome: Chrome::of(member, tab.segment)?,
            tab,
            form: can_mint.then(|| form.unwrap_or_else(|| FormView::blank(tab, catalog))),
            gate_closed,
            revealed,
            setup,
            list,
            notice,
            graces: Grace::ALL,
        })
    }
}

/// The whole page, or only the panel for htmx. A page that reveals a secret must never be
/// cached, and no page here is worth caching, so every response is `no-store`.
fn respond(req: &HttpRequest, status: StatusCode, page: &CredentialPage) -> Result<HttpResponse, AppError> {
    if is_htmx(req) {
        render_with(status, &page.as_panel())
    } else {
        render_with(status, page)
    }
}
