//! The few static files, compiled into the binary so a deployed server needs nothing beside it.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::error::AppError;

const ASSETS: &[(&str, &str, &[u8])] = &[
    ("htmx-2.0.8.min.js", "text/javascript; charset=utf-8", include_bytes!("../../static/htmx-2.0.8.min.js")),
    ("app.js", "text/javascript; charset=utf-8", include_bytes!("../../static/app.js")),
    ("app.css", "text/css; charset=utf-8", include_bytes!("../../static/app.css")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../../static/favicon.svg")),
];

pub async fn serve(file: web::Path<String>) -> Result<HttpResponse, AppError> {
    let (_, content_type, body) =
        ASSETS.iter().find(|(name, _, _)| *name == file.as_str()).ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(*body))
}
