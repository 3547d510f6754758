//! Settings → Members. Every route answers 404 outside the org (the extractor) and 403 to
//! anyone but an owner (a platform operator may read); every POST carries the CSRF token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms::{parse_role, AddForm, RoleForm};
use super::path;
use super::views::{AddFormView, MemberView, MembersPage};
use crate::auth::csrf::{TokenOnly, Verified};
use crate::auth::dev_login::see_other;
use crate::auth::{OrgMember, Role};
use crate::db::orgs::{self, AddMember, MemberChange};
use crate::db::{self};
use crate::error::AppError;
use crate::service::fields::FormErrors;
use crate::state::AppState;
use crate::views::{is_htmx, render_with, Chrome};

type MemberPath = web::Path<(String, String)>;

fn require_read(member: &OrgMember) -> Result<(), AppError> {
    if member.access.can_read_members() {
        Ok(())
    } else {
        Err(only_owners(member))
    }
}

fn require_change(member: &OrgMember) -> Result<(), AppError> {
    if member.access.can_manage_members() {
        return Ok(());
    }
    if member.access.is_operator_view() {
        return Err(AppError::Forbidden(format!(
            "You are viewing {} as a platform operator. You are not a member: changes are disabled.",
            member.org.name
        )));
    }
    Err(only_owners(member))
}

fn only_owners(member: &OrgMember) -> AppError {
    AppError::Forbidden(format!("Only owners of {} can see and change its members.", member.org.name))
}

pub async fn page(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
) -> Result<HttpResponse, AppError> {
    require_read(&member)?;
    let page = Builder::new(&state, &member).build().await?;
    respond(&req, StatusCode::OK, &page)
}

pub async fn add(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    Verified(form): Verified<AddForm>,
) -> Result<HttpResponse, AppError> {
    require_change(&member)?;
    let valid = match form.parse() {
        Ok(valid) => valid,
        Err(errors) => return refuse_add(&req, &state, &member, &form, errors).await,
    };
    let (org_id, actor, now) = (member.org.id.clone(), member.actor(), state.clock.now());
    let (email, role) = (valid.email.into_inner(), valid.role);
    let stored_email = email.clone();
    let outcome = db::run(&state.pool, move |conn| {
        Ok(orgs::add_member_by_email(conn, &org_id, &stored_email, role, &actor, now)?)
    })
    .await?;
    match outcome {
        AddMember::Added { new_user, .. } => {
            let notice = if new_user {
                format!("{email} was added as {}. They can sign in with that email address.", role.label())
            } else {
                format!("{email} was added as {}.", role.label())
            };
            done(&req, &state, &member, notice).await
        }
        AddMember::AlreadyMember(existing) => {
            let mut errors = FormErrors::default();
            errors.add(
                "email",
                format!("{email} is already a member of {} ({}).", member.org.name, existing.label()),
            );
            refuse_add(&req, &state, &member, &form, errors).await
        }
    }
}

pub async fn change_role(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: MemberPath,
    Verified(form): Verified<RoleForm>,
) -> Result<HttpResponse, AppError> {
    require_change(&member)?;
    let role = parse_role(&form.role).map_err(AppError::BadRequest)?;
    let user_id = path.into_inner().1;
    let (org_id, actor, now, target) =
        (member.org.id.clone(), member.actor(), state.clock.now(), user_id.clone());
    let outcome =
        db::run(&state.pool, move |conn| Ok(orgs::change_role(conn, &org_id, &target, role, &actor, now)?))
            .await?;
    let is_you = user_id == member.who.user.id;
    match outcome {
        MemberChange::NotFound => Err(AppError::NotFound),
        MemberChange::Unchanged { email } => {
            done(&req, &state, &member, format!("{email} is already {}.", role.label())).await
        }
        MemberChange::LastOwner { email } => {
            let message = if is_you {
                format!(
                    "You are the only owner of {}. Make someone else an owner before you change your own role.",
                    member.org.name
                )
            } else {
                format!("{email} is the only owner of {}. Make someone else an owner first.", member.org.name)
            };
            refuse(&req, &state, &member, message).await
        }
        MemberChange::Changed { email, before } => {
            if is_you && !role.can_manage_members() {
                // No longer an owner: this page is not theirs any more.
                return Ok(leave_for(&req, &crate::urls::org_home(&member.org.slug)));
            }
            let notice = format!("{email} is now {} (was {}).", role.label(), before.label());
            done(&req, &state, &member, notice).await
        }
    }
}

pub async fn remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    member: OrgMember,
    path: MemberPath,
    Verified(_): Verified<TokenOnly>,
) -> Result<HttpResponse, AppError> {
    require_change(&member)?;
    let user_id = path.into_inner().1;
    let (org_id, actor, now, target) =
        (member.org.id.clone(), member.actor(), state.clock.now(), user_id.clone());
    let outcome =
        db::run(&state.pool, move |conn| Ok(orgs::remove_member(conn, &org_id, &target, &actor, now)?))
            .await?;
    let is_you = user_id == member.who.user.id;
    match outcome {
        MemberChange::NotFound => Err(AppError::NotFound),
        MemberChange::LastOwner { email } => {
            let message = if is_you {
                format!(
                    "You are the only owner of {}. Make someone else an owner before you leave.",
                    member.org.name
                )
            } else {
                format!("{email} is the only owner of {} and cannot be removed.", member.org.name)
            };
            refuse(&req, &state, &member, message).await
        }
        MemberChange::Changed { email, .. } | MemberChange::Unchanged { email } => {
            if is_you {
                return Ok(leave_for(&req, "/"));
            }
            let notice = format!(
                "{email} was removed from {}. Their personal access tokens for it were revoked.",
                member.org.name
            );
            done(&req, &state, &member, notice).await
        }
    }
}

/// After a change: the page again (post/redirect/get), or the panel with a notice for htmx.
async fn done(
    req: &HttpRequest,
    state: &AppState,
    member: &OrgMember,
    notice: String,
) -> Result<HttpResponse, AppError> {
    if !is_htmx(req) {
        return Ok(see_other(&path(&member.org.slug)));
    }
    let page = Builder::new(state, member).notice(notice).build().await?;
    respond(req, StatusCode::OK, &page)
}

/// A rule refused the change: the page with the message, 422, nothing changed.
async fn refuse(
    req: &HttpRequest,
    state: &AppState,
    member: &OrgMember,
    message: String,
) -> Result<HttpResponse, AppError> {
    let page = Builder::new(state, member).error(message).build().await?;
    respond(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The add form again with its messages, 422, nothing created.
async fn refuse_add(
    req: &HttpRequest,
    state: &AppState,
    member: &OrgMember,
    form: &AddForm,
    errors: FormErrors,
) -> Result<HttpResponse, AppError> {
    let page = Builder::new(state, member).form(AddFormView::refilled(form, errors)).build().await?;
    respond(req, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

/// The person changed their own standing: off to a page they may still see.
fn leave_for(req: &HttpRequest, location: &str) -> HttpResponse {
    if is_htmx(req) {
        HttpResponse::Ok().insert_header(("HX-Redirect", location)).finish()
    } else {
        see_other(location)
    }
}

struct Builder<'a> {
    state: &'a AppState,
    member: &'a OrgMember,
    form: Option<AddFormView>,
    notice: Option<String>,
    error: Option<String>,
}

impl<'a> Builder<'a> {
    fn new(state: &'a AppState, member: &'a OrgMember) -> Self {
        Self { state, member, form: None, notice: None, error: None }
    }

    fn form(mut self, form: AddFormView) -> Self {
        self.form = Some(form);
        self
    }

    fn notice(mut self, notice: String) -> Self {
        self.notice = Some(notice);
        self
    }

    fn error(mut self, error: String) -> Self {
        self.error = Some(error);
        self
    }

    async fn build(self) -> Result<MembersPage, AppError> {
        let Self { state, member, form, notice, error } = self;
        let org_id = member.org.id.clone();
        let rows = db::run(&state.pool, move |conn| Ok(orgs::members_of(conn, &org_id)?)).await?;
        let (viewer, now) = (member.who.user.id.as_str(), state.clock.now());
        Ok(MembersPage {
            chrome: Chrome::of(member, "members")?,
            members: rows.into_iter().map(|row| MemberView::of(row, viewer, now)).collect(),
            can_change: member.access.can_manage_members(),
            form: form.unwrap_or_else(AddFormView::blank),
            notice,
            error,
            base_path: path(&member.org.slug),
            roles: Role::ALL,
        })
    }
}

/// The whole page, or only the panel for htmx.
fn respond(req: &HttpRequest, status: StatusCode, page: &MembersPage) -> Result<HttpResponse, AppError> {
    if is_htmx(req) {
        render_with(status, &page.as_panel())
    } else {
        render_with(status, page)
    }
}
