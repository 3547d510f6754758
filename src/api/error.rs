//! The JSON presenter of errors on `/api/*`: `{"error", "code"}` bodies and RFC 6750
//! `WWW-Authenticate` challenges. Causes of internal errors are logged, never sent.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::error::AppError;
use crate::verification::rate_limit::RateInfo;

const REALM: &str = "Bearer realm=\"tessera\"";
pub use crate::verification::verifier::PASSPHRASE_LOCKED;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub challenge: Option<String>,
    pub retry_after: Option<u64>,
    /// The limit that refused the request, for its `X-RateLimit-*` headers.
    pub rate: Option<RateInfo>,
}

/// Every error of `/api/*`: a sentence for people and a stable code for programs.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct Body<'a> {
    pub error: &'a str,
    pub code: &'a str,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), challenge: None, retry_after: None, rate: None }
    }

    /// No credential presented: a bare challenge, as RFC 6750 §3.1 asks.
    pub fn missing() -> Self {
        Self {
            challenge: Some(REALM.into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "missing_token", "A bearer credential is required.")
        }
    }

    /// A credential was presented and is not valid now.
    pub fn invalid(code: &'static str, message: &str) -> Self {
        let challenge = format!("{REALM}, error=\"invalid_token\", error_description=\"{message}\"");
        Self { challenge: Some(challenge), ..Self::new(StatusCode::UNAUTHORIZED, code, message) }
    }

    /// Valid, but not allowed to do this.
    pub fn insufficient_scope(code: &'static str, message: &str) -> Self {
        let challenge = format!("{REALM}, error=\"insufficient_scope\", error_description=\"{message}\"");
        Self { challenge: Some(challenge), ..Self::new(StatusCode::FORBIDDEN, code, message) }
    }

    /// Over a limit of `limit` a minute: nothing remains until `retry_after` seconds from now.
    pub fn rate_limited(limit: u32, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            rate: Some(RateInfo { limit, remaining: 0, reset_seconds: retry_after }),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests.")
        }
    }

    pub fn headers_too_large() -> Self {
        Self::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            "The request headers are too large.",
        )
    }

    /// Too many wrong passphrases for this credential: refused until the lock-out ends.
    pub fn passphrase_locked(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                PASSPHRASE_LOCKED,
                "Too many wrong passphrases for this credential. Try again after Retry-After seconds.",
            )
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found.")
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => Self::not_found(),
            AppError::Forbidden(why) => Self::insufficient_scope("forbidden", &why),
            AppError::SignInRequired => Self::missing(),
            AppError::BadRequest(why) => Self::bad_request(why),
            AppError::Conflict(why) => Self::new(StatusCode::CONFLICT, "conflict", why),
            AppError::Unavailable => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "The service is busy.")
            }
            AppError::Internal { id, .. } => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("Internal error {id}."))
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = &self.challenge {
            response.insert_header((header::WWW_AUTHENTICATE, challenge.as_str()));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        for rate_header in self.rate.iter().flat_map(RateInfo::headers) {
            response.insert_header(rate_header);
        }
        response.json(Body { error: &self.message, code: self.code })
    }
}
