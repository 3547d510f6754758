//! The JSON API under `/api/v1`, authenticated by bearer credentials only.

pub mod bearer;
pub mod error;
pub mod me;
pub mod rate_limit;
pub mod usage;
pub mod verifier;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage};

use error::ApiError;
use rate_limit::RateInfo;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .wrap(from_fn(add_rate_headers))
            .service(web::resource("/v1/me").get(me::me))
            .default_service(web::to(|| async { Err::<&str, _>(ApiError::not_found()) })),
    );
}

async fn add_rate_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let info = response.request().extensions().get::<RateInfo>().copied();
    if let Some(info) = info {
        for (name, value) in bearer::rate_headers(&info) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}
