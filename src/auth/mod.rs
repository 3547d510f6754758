//! Who is asking: sessions, CSRF, and the extractors that load the signed-in user and their
//! role in the org named by the path.

pub mod csrf;
pub mod dev_login;
pub mod session;
pub mod session_store;
pub mod sso;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

pub use crate::domain::{Access, RequestMeta, Role};
pub use session::TypedSession;

use crate::db;
use crate::db::audit::Actor;
use crate::db::orgs::{self, Org, User};
use crate::error::AppError;
use crate::state::AppState;

/// A signed-in person. Extracting it redirects to sign-in when there is none.
pub struct SignedIn {
    pub user: User,
    pub session: TypedSession,
    pub request: RequestMeta,
}

impl SignedIn {
    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id.clone()),
            credential_id: None,
            label: self.user.email.clone(),
            ip: self.request.ip.clone(),
            user_agent: self.request.user_agent.clone(),
        }
    }
}

pub fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))
}

async fn signed_in(req: HttpRequest) -> Result<SignedIn, AppError> {
    let session = TypedSession::extract(&req).await.map_err(|_| AppError::SignInRequired)?;
    let state = state(&req)?;
    let now = state.clock.now().and_utc().timestamp();
    let user_id =
        session.live_user_id(now, state.settings.session_limits)?.ok_or(AppError::SignInRequired)?;
    let user = db::run(&state.pool, move |conn| Ok(orgs::find_user(conn, &user_id)?)).await?;
    // A session of a user who no longer exists is no session.
    let user = user.ok_or(AppError::SignInRequired)?;
    Ok(SignedIn { user, session, request: RequestMeta::of(&req) })
}

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(signed_in(req).await?) })
    }
}

/// A signed-in person who may look at the org named by `{slug}` in the path: a member, or a
/// platform operator (read-only, see `Access`). Anyone else gets 404, so the existence of other
/// orgs does not leak. Every org page takes this, so each one answers operators alike.
pub struct OrgMember {
    pub who: SignedIn,
    pub org: Org,
    pub access: Access,
    /// Every org the person belongs to, for the org switcher.
    pub memberships: Vec<(Org, Role)>,
}

impl OrgMember {
    pub fn actor(&self) -> Actor {
        self.who.actor()
    }

    /// The person's membership role here; `None` for an operator looking in from outside.
    pub fn role(&self) -> Option<Role> {
        self.access.role()
    }
}

impl FromRequest for OrgMember {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let who = signed_in(req.clone()).await?;
            let slug = req.match_info().get("slug").unwrap_or_default().to_owned();
            let state = state(&req)?;
            let (user_id, is_operator) = (who.user.id.clone(), who.user.is_operator);
            let (memberships, org, role) = db::run(&state.pool, move |conn| {
                let memberships = orgs::orgs_of(conn, &user_id)?;
                let here = memberships.iter().find(|(org, _)| org.slug == slug).cloned();
                let (org, role) = match here {
                    Some((org, role)) => (Some(org), Some(role)),
                    // Only an operator ever learns whether an org they are not in exists.
                    None if is_operator => (orgs::find_org_by_slug(conn, &slug)?, None),
                    None => (None, None),
                };
                Ok((memberships, org, role))
            })
            .await?;
            let org = org.ok_or(AppError::NotFound)?;
            let access = Access::resolve(role, is_operator).ok_or(AppError::NotFound)?;
            Ok(Self { who, org, access, memberships })
        })
    }
}
