use actix_session::{Session, SessionExt, SessionGetError, SessionInsertError};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use base64::Engine;
use rand::TryRngCore;
use std::future::{ready, Ready};

use crate::error::AppError;

const USER_ID: &str = "user_id";
const CSRF: &str = "csrf";

/// The session with named, typed accessors instead of string keys scattered around.
pub struct TypedSession(Session);

impl TypedSession {
    /// A new session id and a new CSRF token at sign-in, so nothing set before survives it.
    pub fn sign_in(&self, user_id: &str) -> Result<(), AppError> {
        self.0.renew();
        self.0.clear();
        self.0.insert(USER_ID, user_id).map_err(insert_failed)?;
        self.0.insert(CSRF, new_csrf_token()).map_err(insert_failed)?;
        Ok(())
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
