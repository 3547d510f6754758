//! The console chrome every page shares: who is signed in, where, and their orgs.

use crate::auth::{Access, OrgMember, Role, SignedIn};
use crate::db::orgs::Org;
use crate::error::AppError;
pub use crate::html::{is_htmx, render, render_with, Moment};

/// What the console frame around every org page needs.
pub struct Chrome {
    pub user_email: String,
    pub org_slug: String,
    pub org_name: String,
    /// How the person sees the current org; None outside an org (the account pages).
    pub access: Option<Access>,
    /// The person is a platform operator (offered the list of every org).
    pub platform_operator: bool,
    pub csrf_token: String,
    pub orgs: Vec<(String, String)>,
    pub tab: &'static str,
}

impl Chrome {
    pub fn of(member: &OrgMember, tab: &'static str) -> Result<Self, AppError> {
        Ok(Self {
            user_email: member.who.user.email.clone(),
            org_slug: member.org.slug.clone(),
            org_name: member.org.name.clone(),
            access: Some(member.access),
            platform_operator: member.who.user.is_operator,
            csrf_token: member.who.session.csrf_token()?,
            orgs: member.memberships.iter().map(|(org, _)| (org.slug.clone(), org.name.clone())).collect(),
            tab,
        })
    }

    /// An operator looking at an org they are not a member of: the page says so.
    pub fn operator_view(&self) -> bool {
        self.access.is_some_and(Access::is_operator_view)
    }
}

impl Chrome {
    /// The frame of the account pages: the person, their orgs, no current org.
    pub fn for_account(who: &SignedIn, orgs: &[(Org, Role)], tab: &'static str) -> Result<Self, AppError> {
        Ok(Self {
            user_email: who.user.email.clone(),
            org_slug: String::new(),
            org_name: "Account".into(),
            access: None,
            platform_operator: who.user.is_operator,
            csrf_token: who.session.csrf_token()?,
            orgs: orgs.iter().map(|(org, _)| (org.slug.clone(), org.name.clone())).collect(),
            tab,
        })
    }
}
