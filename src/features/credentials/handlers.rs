//! Settings → Tokens and Settings → API keys: list, create (one-time reveal), rotate, revoke,
//! and edit for API keys. Both tabs share these handlers; `Tab` says what differs.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms::{CreateForm, EditForm, RotateForm};
use super::listing::{CredentialList, ListParams};
use super::setup::SetupCard;
use super::views::{CredentialPage, EditPage, FormView, Revealed};
use crate::auth::csrf::{TokenOnly, Verified};
use crate::auth::dev_login::see_other;
use crate::auth::OrgMember;
use crate::db;
use crate::db::credentials::{CredentialRow, RevokeOutcome};
use crate::error::AppError;
use crate::service::credentials::{self as service, Acting, Rotated};
use crate::service::fields::FormErrors;
use crate::service::inputs::Grace;
use crate::service::tab::Tab;
use crate::state::AppState;
use crate::views::{is_htmx, render, render_with, Chrome};

type TabPath = web::Path<(String, String)>;
type ItemPath = web::Path<(String, String, String)>;

fn tab(segment: &str) -> Result<Tab, AppError> {
    Tab::from_segment(segment).ok_or(AppError::NotFound)
}

impl From<&OrgMember> for Acting {
    fn from(member: &OrgMember) -> Self {
        Self {
            org: member.org.clone(),
            access: member.access,
            user_id: member.who.user.id.clone(),
            actor: member.actor(),
        }
    }
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
    let acting = Acting::from(&member);
    acting.require_mint(tab.kind)?;
    let valid = match form.input().parse(
        tab,
        &state.settings.catalog,
        state.clock.now(),
        member.org.max_lifetime_days(),
    ) {
        Ok(valid) => valid,
        Err(errors) => return refuse(&req, &state, &member, tab, &form, errors).await,
    };
    match service::create(&state, &acting, tab.kind, valid).await? {
        Ok(minted) => {
            let revealed =
                Revealed { name: minted.name, secret: minted.secret.expose().to_owned(), verb: "created" };
            let page = Builder::new(tab, &state, &member).revealed(revealed).build().await?;
            respond(&req, StatusCode::OK, &page)
        }
        Err(refusal) => {
            let mut errors = FormErrors::default();
            errors.add(refusal.field, refusal.message);
            refuse(&req, &state, &member, tab, &form, errors).await
        }
    }
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: ItemPath,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    let tab = tab(&path.1)?;
    let notice = match service::revoke(&state, &Acting::from(&member), tab.kind, &path.2).await? {
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
    let acting = Acting::from(&member);
    acting.require_mint(tab.kind)?;
    let grace = Grace::parse(&form.grace)
        .ok_or_else(|| AppError::BadRequest("Choose when the old secret stops working.".into()))?;
    let builder = Builder::new(tab, &state, &member);
    let (page, status) = match service::rotate(&state, &acting, tab.kind, &path.2, grace).await? {
        Rotated::NotFound => return Err(AppError::NotFound),
        Rotated::Refused(why) => (builder.notice(why.to_owned()).build().await?, StatusCode::CONFLICT),
        Rotated::Done { name, secret, grace, .. } => {
            let notice = format!("{} “{name}” rotated. {}", tab.capitalized_noun(), grace.outcome());
            let revealed = Revealed { name, secret: secret.expose().to_owned(), verb: "rotated" };
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
    let acting = Acting::from(&member);
    acting.require_manage()?;
    let row = service::find(&state, &acting, tab.kind, &path.2).await?;
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
    let acting = Acting::from(&member);
    acting.require_manage()?;
    let row = service::find(&state, &acting, tab.kind, &path.2).await?;
    let catalog = &state.settings.catalog;
    let parsed =
        form.input().parse(catalog, row.expires_at, state.clock.now(), member.org.max_lifetime_days());
    let errors = match parsed {
        Err(errors) => errors,
        Ok(valid) => match service::edit(&state, &acting, tab.kind, &row.id, valid).await? {
            Ok(()) => return Ok(see_other(&tab.path(&member.org.slug))),
            Err(refusal) => {
                let mut errors = FormErrors::default();
                errors.add(refusal.field, refusal.message);
                errors
            }
        },
    };
    let view = FormView::edit_refilled(tab, catalog, &row, &form, errors);
    render_with(StatusCode::UNPROCESSABLE_ENTITY, &edit_page_view(&member, tab, &row, view)?)
}

/// Only API keys are edited; a token's grants are fixed at creation.
fn editable_tab(segment: &str) -> Result<Tab, AppError> {
    tab(segment).and_then(|t| if t.is_api_keys() { Ok(t) } else { Err(AppError::NotFound) })
}

fn edit_page_view(
    member: &OrgMember,
    tab: Tab,
    row: &CredentialRow,
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
        let can_manage = member.access.can_manage_credentials();
        let gate_closed = Acting::from(member).gate_closed(tab.kind);
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
            can_read_usage: member.access.can_read_usage(),
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
