use actix_session::{Session, SessionExt, SessionGetError, SessionInsertError};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use rand::TryRngCore;
use std::future::{ready, Ready};

use super::RequestMeta;
pub use crate::config::SessionLimits;
use crate::error::AppError;
use crate::oidc::PendingSignIn;

/// The session's keys; the store reads the first six into columns of the session's row.
pub(super) mod keys {
    pub const USER_ID: &str = "user_id";
    pub const PUBLIC_ID: &str = "public_id";
    pub const SIGNED_IN_AT: &str = "signed_in_at";
    pub const LAST_SEEN_AT: &str = "last_seen_at";
    pub const IP: &str = "ip";
    pub const USER_AGENT: &str = "user_agent";
    pub const CSRF: &str = "csrf";
    pub const OIDC_PENDING: &str = "oidc_pending";
}
use keys::*;

/// `last_seen_at` is rewritten at most this often, so that not every request re-sends the cookie.
const LAST_SEEN_RESOLUTION_SECONDS: i64 = 60;

/// The session with named, typed accessors instead of string keys scattered around.
pub struct TypedSession(Session);

impl TypedSession {
    /// A new session key, public id and CSRF token at sign-in, so nothing set before survives
    /// it; where and with what browser it started, for Account → Sessions.
    pub fn sign_in(&self, user_id: &str, now: i64, from: &RequestMeta) -> Result<(), AppError> {
        self.0.renew();
        self.0.clear();
        self.0.insert(USER_ID, user_id).map_err(insert_failed)?;
        self.0.insert(PUBLIC_ID, new_public_id()).map_err(insert_failed)?;
        self.0.insert(CSRF, new_csrf_token()).map_err(insert_failed)?;
        self.0.insert(SIGNED_IN_AT, now).map_err(insert_failed)?;
        self.0.insert(LAST_SEEN_AT, now).map_err(insert_failed)?;
        if let Some(ip) = &from.ip {
            self.0.insert(IP, ip).map_err(insert_failed)?;
        }
        if let Some(user_agent) = &from.user_agent {
            self.0.insert(USER_AGENT, user_agent).map_err(insert_failed)?;
        }
        Ok(())
    }

    /// The id Account → Sessions knows this session by.
    pub fn public_id(&self) -> Result<Option<String>, AppError> {
        self.0.get(PUBLIC_ID).map_err(get_failed)
    }

    /// The signed-in user, if the session is still within its limits; an expired session is
    /// ended here, so the next page asks to sign in again.
    pub fn live_user_id(&self, now: i64, limits: SessionLimits) -> Result<Option<String>, AppError> {
        let Some(user_id) = self.user_id()? else {
            return Ok(None);
        };
        let signed_in_at: i64 = self.0.get(SIGNED_IN_AT).map_err(get_failed)?.unwrap_or(i64::MIN);
        let last_seen_at: i64 = self.0.get(LAST_SEEN_AT).map_err(get_failed)?.unwrap_or(i64::MIN);
        let too_old = now.saturating_sub(signed_in_at) > limits.absolute_seconds;
        let idle = now.saturating_sub(last_seen_at) > limits.idle_seconds;
        if too_old || idle {
            self.sign_out();
            return Ok(None);
        }
        if now - last_seen_at >= LAST_SEEN_RESOLUTION_SECONDS {
            self.0.insert(LAST_SEEN_AT, now).map_err(insert_failed)?;
        }
        Ok(Some(user_id))
    }

    pub fn start_oidc(&self, pending: &PendingSignIn) -> Result<(), AppError> {
        self.0.insert(OIDC_PENDING, pending).map_err(insert_failed)
    }

    /// The pending sign-in, removed: a callback can use it once.
    pub fn take_oidc(&self) -> Option<PendingSignIn> {
        self.0.remove_as::<PendingSignIn>(OIDC_PENDING).and_then(Result::ok)
    }

    pub fn sign_out(&self) {
        self.0.purge();
    }

    pub fn user_id(&self) -> Result<Option<String>, AppError> {
        self.0.get(USER_ID).map_err(get_failed)
    }

    /// The session's CSRF token, made on first use (a sign-in form needs one before sign-in).
    pub fn csrf_token(&self) -> Result<String, AppError> {
        if let Some(token) = self.0.get::<String>(CSRF).map_err(get_failed)? {
            return Ok(token);
        }
        let token = new_csrf_token();
        self.0.insert(CSRF, &token).map_err(insert_failed)?;
        Ok(token)
    }

    /// The stored token without making one: a request with no token in its session fails.
    pub fn existing_csrf_token(&self) -> Result<Option<String>, AppError> {
        self.0.get(CSRF).map_err(get_failed)
    }
}

/// Names a session in pages and forms; unrelated to the cookie's key.
pub fn new_public_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn new_csrf_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.unwrap_err().try_fill_bytes(&mut bytes).unwrap_or(());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn insert_failed(e: SessionInsertError) -> AppError {
    AppError::internal(format!("session insert: {e}"))
}

fn get_failed(e: SessionGetError) -> AppError {
    // A cookie we signed but cannot read: treat it as no session.
    tracing::warn!(error = %e, "unreadable session");
    AppError::SignInRequired
}

impl FromRequest for TypedSession {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self(req.get_session())))
    }
}
