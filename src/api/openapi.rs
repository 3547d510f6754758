//! The OpenAPI document of `/api/v1`, generated from the handlers' own annotations so that a
//! route, a body or an error cannot change without the document changing with it.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Type};
use utoipa::{Modify, OpenApi, ToResponse, ToSchema};

use super::error::Body;
use super::{introspect, manage, me};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera API",
        description = "Organization-scoped API credentials. Every route takes \
            `Authorization: Bearer <secret>`; a credential with a passphrase also needs \
            `X-Tessera-Passphrase`. Errors are `{\"error\", \"code\"}` with a stable code."
    ),
    paths(
        me::me,
        introspect::introspect,
        manage::my_tokens,
        manage::revoke_my_token,
        manage::audit,
        manage::org_personal_tokens,
        manage::revoke_org_personal_token,
        manage::list_credentials,
        manage::create_credential,
        manage::edit_key,
        manage::revoke_credential,
        manage::rotate_credential,
        openapi_document,
    ),
    components(
        schemas(Collection, AuditAction, Body),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Unprocessable, RateLimited),
    ),
    modifiers(&BearerAuth, &RateHeaders, &UnsafeTextGuard),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

/// The credential collections, named as the console's tabs.
#[derive(Serialize, ToSchema)]
pub enum Collection {
    #[serde(rename = "tokens")]
    Tokens,
    #[serde(rename = "api-keys")]
    ApiKeys,
}

/// An action of an org's audit log.
pub struct AuditAction;

impl utoipa::PartialSchema for AuditAction {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(crate::db::audit::ORG_ACTIONS))
            .description(Some("An action of an org's audit log."))
            .into()
    }
}

impl ToSchema for AuditAction {}

/// The request could not be read: a malformed body, query or field, or a control or bidi-override
/// character in the path or query string.
#[derive(ToResponse)]
pub struct BadRequest(#[allow(dead_code)] Body<'static>);

/// No credential, or one that is malformed, unknown, revoked, expired, inactive, of a user who
/// left its org, or sent without its right passphrase.
#[derive(ToResponse)]
#[response(headers((
    "WWW-Authenticate" = String,
    description = "`Bearer realm=\"tessera\"`, with `error=\"invalid_token\"` when a credential was sent."
)))]
pub struct Unauthorized(#[allow(dead_code)] Body<'static>);

/// The credential is valid but may not do this: a missing scope or role, a personal token on
/// another org's path (`wrong_org`), or a credential of the wrong kind.
#[derive(ToResponse)]
#[response(headers((
    "WWW-Authenticate" = String,
    description = "`Bearer realm=\"tessera\", error=\"insufficient_scope\"`"
)))]
pub struct Forbidden(#[allow(dead_code)] Body<'static>);

/// No such resource in the caller's org.
#[derive(ToResponse)]
pub struct NotFound(#[allow(dead_code)] Body<'static>);

/// The resource's state forbids this, as rotating a revoked or expired credential.
#[derive(ToResponse)]
pub struct Conflict(#[allow(dead_code)] Body<'static>);

/// A field breaks a rule (`invalid`), the name is taken (`name_taken`) or the plan's cap is
/// reached (`cap_reached`). Nothing was changed.
#[derive(ToResponse)]
pub struct Unprocessable(#[allow(dead_code)] Body<'static>);

/// The credential's rate limit, or the caller address's budget of failed authentications, is spent
/// (`rate_limited`); or the credential is locked out after too many wrong passphrases
/// (`passphrase_locked`; an introspection answer then also carries `active: false` and `reason`).
#[derive(ToResponse)]
#[response(headers(
    ("Retry-After" = u64, description = "Seconds to wait."),
    ("X-RateLimit-Limit" = u32, description = "Requests (or failed authentications) allowed per minute."),
    ("X-RateLimit-Remaining" = u32, description = "Always 0 here."),
    ("X-RateLimit-Reset" = u64, description = "Seconds until a request is allowed again, as Retry-After."),
))]
pub struct RateLimited(#[allow(dead_code)] Body<'static>);

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An access token, API key or personal access token; `tsr_…`."))
            .build();
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        }
    }
}

/// Every successful answer to a bearer credential carries its rate limit, as the API's middleware
/// adds it; introspection's limit is the introspected credential's, so it is in the body instead.
struct RateHeaders;

const RATE_HEADERS: [(&str, &str); 3] = [
    ("X-RateLimit-Limit", "Requests allowed per minute."),
    ("X-RateLimit-Remaining", "Requests left now."),
    ("X-RateLimit-Reset", "Seconds until the limit is whole again."),
];

impl Modify for RateHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if path == INTROSPECT_PATH || path == DOCUMENT_PATH {
                continue;
            }
            let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                for (status, response) in operation.responses.responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
                        for (name, description) in RATE_HEADERS {
                            let schema = ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0));
                            let header = utoipa::openapi::HeaderBuilder::new()
                                .schema(Some(schema))
                                .description(Some(description))
                                .build();
                            response.headers.insert(name.to_owned(), RefOr::T(header));
                        }
                    }
                }
            }
        }
    }
}

/// Any address may be refused with 400 before its handler runs (`edge::refuse_unsafe_text`:
/// control and bidi-override characters in the path or query), so every operation says so; the
/// rule is written once here rather than on each route.
struct UnsafeTextGuard;

impl Modify for UnsafeTextGuard {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let bad_request = || RefOr::Ref(utoipa::openapi::Ref::from_response_name("BadRequest"));
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                operation.responses.responses.entry("400".to_owned()).or_insert_with(bad_request);
            }
        }
    }
}

const INTROSPECT_PATH: &str = "/api/v1/introspect";
const DOCUMENT_PATH: &str = "/api/v1/openapi.json";

static DOCUMENT: LazyLock<String> = LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_default());

/// This document (OpenAPI 3.1); no credential needed.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json")),
)]
pub async fn openapi_document() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}
