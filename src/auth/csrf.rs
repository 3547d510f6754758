//! Every state-changing console request carries the session's CSRF token (hidden field, or the
//! `X-CSRF-Token` header htmx sends) and comes from our own origin.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use super::session::TypedSession;
use crate::error::AppError;
use crate::state::AppState;

pub const CSRF_HEADER: &str = "X-CSRF-Token";
pub const CSRF_FIELD: &str = "csrf_token";
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A form whose fields include `csrf_token` (empty where the header carries it).
pub trait CsrfForm {
    fn csrf_token(&self) -> &str;
}

/// A form that passed the origin and token checks. Its fields are parsed with
/// `serde_html_form`, so repeated checkboxes become a `Vec`.
pub struct Verified<T>(pub T);

impl<T: DeserializeOwned + CsrfForm + 'static> FromRequest for Verified<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let body = web::Bytes::from_request(&req, payload);
        Box::pin(async move {
            check_origin(&req)?;
            let body = body.await?;
            if body.len() > MAX_FORM_BYTES {
                return Err(AppError::BadRequest("The form is too large.".into()).into());
            }
            let form: T = serde_html_form::from_bytes(&body)
                .map_err(|_| AppError::BadRequest("The form could not be read.".into()))?;
            check_token(&req, form.csrf_token())?;
            Ok(Self(form))
        })
    }
}

/// Cross-site requests are refused: `Origin`, when sent, must be our public origin or the
/// origin the browser addressed; `Sec-Fetch-Site`, when sent, must not say cross-site.
fn check_origin(req: &HttpRequest) -> Result<(), AppError> {
    let refused = || AppError::Forbidden("This request did not come from this site.".into());
    if let Some(site) = req.headers().get("Sec-Fetch-Site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Err(refused());
        }
    }
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| refused())?;
    let addressed = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let public = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.public_url.origin().ascii_serialization());
    if origin == addressed || Some(origin) == public.as_deref() {
        Ok(())
    } else {
        Err(refused())
    }
}

fn check_token(req: &HttpRequest, from_form: &str) -> Result<(), AppError> {
    let refused = || AppError::Forbidden("The form has expired. Reload the page and try again.".into());
    let session = TypedSession::extract(req).into_inner().map_err(|_| refused())?;
    let expected = session.existing_csrf_token()?.ok_or_else(refused)?;
    let presented = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(from_form);
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(refused())
    }
}

/// A POST with nothing but the token (revoke, sign-out).
#[derive(serde::Deserialize)]
pub struct TokenOnly {
    #[serde(default)]
    pub csrf_token: String,
}

impl CsrfForm for TokenOnly {
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
}
