//! The JSON API under `/api/v1`, authenticated by bearer credentials only.

pub mod bearer;
pub mod error;
pub mod introspect;
pub mod manage;
pub mod me;
pub mod openapi;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage};

use crate::verification::rate_limit::RateInfo;
use error::ApiError;

crate::routing::route_table! {
    pub const ROUTES, fn resources, prefix "/api",
    {
        "/v1/openapi.json" => { get: openapi::openapi_document },
        "/v1/me" => { get: me::me },
        "/v1/bench/baseline" => { get: me::baseline },
        "/v1/introspect" => { post: introspect::introspect },
        "/v1/me/tokens" => { get: manage::my_tokens },
        "/v1/me/tokens/{id}" => { delete: manage::revoke_my_token },
        // Before `{collection}`, which would otherwise match `audit` and `personal-tokens`.
        "/v1/orgs/{slug}/audit" => { get: manage::audit },
        "/v1/orgs/{slug}/personal-tokens" => { get: manage::org_personal_tokens },
        "/v1/orgs/{slug}/personal-tokens/{id}" => { delete: manage::revoke_org_personal_token },
        "/v1/orgs/{slug}/{collection}" => { get: manage::list_credentials, post: manage::create_credential },
        "/v1/orgs/{slug}/{collection}/{id}" => { patch: manage::edit_key, delete: manage::revoke_credential },
        "/v1/orgs/{slug}/{collection}/{id}/rotate" => { post: manage::rotate_credential },
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    let scope = resources().into_iter().fold(web::scope("/api"), |scope, resource| scope.service(resource));
    cfg.service(
        scope
            .wrap(from_fn(add_rate_headers))
            .app_data(web::JsonConfig::default().limit(64 * 1024).error_handler(|e, _| {
                ApiError::bad_request(format!("The JSON body could not be read: {e}")).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::bad_request(format!("The query could not be read: {e}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()))
            .app_data(web::FormConfig::default().limit(16 * 1024).error_handler(|e, _| {
                ApiError::bad_request(format!("The form could not be read: {e}")).into()
            }))
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
        for (name, value) in info.headers() {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}
