//! One error type for the whole server, and how it is shown: a small HTML page for the console
//! (the cause logged beside an id the person can quote, never shown).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("sign-in required")]
    SignInRequired,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("service unavailable")]
    Unavailable,
    #[error("internal error {id}: {cause}")]
    Internal { id: String, cause: String },
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        let cause = cause.to_string();
        tracing::error!(error_id = %id, %cause, "internal error");
        Self::Internal { id, cause }
    }

    pub fn from_pool(e: diesel::r2d2::PoolError) -> Self {
        tracing::warn!(error = %e, "database pool unavailable");
        Self::Unavailable
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => Self::NotFound,
            other => Self::internal(format!("database: {other}")),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    error_id: Option<&'a str>,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::SignInRequired => StatusCode::SEE_OTHER,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::SignInRequired = self {
            return HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/sign-in"))
                .insert_header(("HX-Redirect", "/sign-in"))
                .finish();
        }
        let status = self.status_code();
        let (title, message, error_id) = match self {
            Self::NotFound => ("Not found", "There is nothing here, or you have no access to it.", None),
            Self::Forbidden(why) => ("Not allowed", why.as_str(), None),
            Self::BadRequest(why) => ("Bad request", why.as_str(), None),
            Self::Conflict(why) => ("Conflict", why.as_str(), None),
            Self::Unavailable => ("Unavailable", "The service is busy. Try again in a moment.", None),
            Self::Internal { id, .. } => (
                "Something went wrong",
                "The error has been logged. Quote this id when you report it:",
                Some(id.as_str()),
            ),
            Self::SignInRequired => ("Sign in", "Sign in to continue.", None),
        };
        let page = ErrorPage { status: status.as_u16(), title, message, error_id };
        let body = page.render().unwrap_or_else(|_| title.to_owned());
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body)
    }
}
