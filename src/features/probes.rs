//! The probes a load balancer and Prometheus call: `/healthz`, `/readyz` and `/metrics`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::db;
use crate::error::AppError;
use crate::state::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Prometheus text (SPEC §6). Open like `/healthz` unless `TESSERA_METRICS_TOKEN` is set; then
/// only a scraper presenting it as a bearer token is answered.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(token) = &state.settings.metrics_token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !presented.is_some_and(|p| token.matches(p.trim())) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tessera-metrics\""))
                .content_type("text/plain")
                .body("A bearer token is required.");
        }
    }
    match state.metrics.render(&state.pool) {
        Ok(text) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .content_type(crate::metrics::CONTENT_TYPE)
            .body(text),
        Err(e) => AppError::internal(e).error_response(),
    }
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match db::run(&state.pool, |conn| Ok(db::ping(conn)?)).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(_) => HttpResponse::ServiceUnavailable().content_type("text/plain").body("database unreachable"),
    }
}
