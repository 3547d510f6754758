use askama::Template;
use chrono::NaiveDateTime;

use super::forms::AddForm;
use crate::auth::Role;
use crate::db::orgs::MemberRow;
use crate::service::fields::FormErrors;
use crate::views::{Chrome, Moment};

#[derive(Template)]
#[template(path = "members/page.html", blocks = ["panel"])]
pub struct MembersPage {
    pub chrome: Chrome,
    pub members: Vec<MemberView>,
    /// Owners change things; an operator looking in only reads.
    pub can_change: bool,
    pub form: AddFormView,
    pub notice: Option<String>,
    /// A refusal about the list (the last owner), shown above it.
    pub error: Option<String>,
    pub base_path: String,
    pub roles: [Role; 4],
}

/// One member as a list row.
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub added: Moment,
    pub last_sign_in: Option<Moment>,
    /// Linked to an OpenID identity (made at the first sign-in).
    pub linked: bool,
    pub is_you: bool,
}

impl MemberView {
    pub fn of(row: MemberRow, viewer_id: &str, now: NaiveDateTime) -> Self {
        let name = row.user.display_name.trim();
        Self {
            is_you: row.user.id == viewer_id,
            name: (!name.is_empty()).then(|| name.to_owned()),
            linked: row.user.oidc_subject.is_some(),
            added: Moment::of(row.added_at, now),
            last_sign_in: row.last_sign_in.map(|at| Moment::of(at, now)),
            user_id: row.user.id,
            email: row.user.email,
            role: row.role,
        }
    }

    /// Someone who has never signed in: added by an owner, waiting for a first sign-in.
    pub fn pending(&self) -> bool {
        !self.linked && self.last_sign_in.is_none()
    }
}

/// The add form as shown: blank, or refilled after a refusal.
pub struct AddFormView {
    pub email: String,
    pub role: String,
    pub errors: FormErrors,
}

impl AddFormView {
    pub fn blank() -> Self {
        Self { email: String::new(), role: Role::Member.as_str().to_owned(), errors: FormErrors::default() }
    }

    pub fn refilled(form: &AddForm, errors: FormErrors) -> Self {
        Self {
            email: form.email.trim().chars().take(300).collect(),
            role: form.role.chars().take(10).collect(),
            errors,
        }
    }
}

/// What each role may do, for the add form's help.
pub fn role_summary(role: &Role) -> &'static str {
    match role {
        Role::Owner => "everything, including members and roles",
        Role::Admin => "create, edit, rotate and revoke credentials; read the audit log",
        Role::Member => "see the credential lists, nothing else",
        Role::Auditor => "read-only: credential lists, usage and the audit log",
    }
}
