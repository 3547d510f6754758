//! RFC 7662 token introspection for the platform's API servers. Callers are an API key with the
//! `introspect` permission (its own org only) or a resource server credential (any org).

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bearer::{authenticate, bearer, locked_out};
use super::error::{ApiError, PASSPHRASE_LOCKED};
use super::openapi::{BadRequest, Forbidden, RateLimited, Unauthorized};
use crate::auth::state;
use crate::credentials::{secret, CredentialKind};
use crate::state::AppState;
use crate::verification::rate_limit::RateInfo;
use crate::verification::verifier::{Outcome, Rejection};

pub const INTROSPECT_PERMISSION: &str = "introspect";

/// Whose credentials a caller may introspect.
pub enum Introspector {
    AnyOrg,
    Org(String),
}

async fn introspector(req: HttpRequest) -> Result<Introspector, ApiError> {
    let state = state(&req).map_err(ApiError::from)?;
    let server_prefix = &state.settings.catalog.prefixes.resource_server;
    if let Some(presented) = bearer(&req)?.filter(|t| t.starts_with(server_prefix.as_str())) {
        let invalid = || ApiError::invalid("unknown_token", "The credential is not known.");
        let plain = secret::parse_prefixed(&presented, server_prefix).map_err(|_| invalid())?;
        let server = state.servers.find(&state.pool, plain.hash()).await?.ok_or_else(invalid)?;
        if server.revoked_at.is_some_and(|at| at <= state.clock.now()) {
            return Err(ApiError::invalid("revoked", "The credential has been revoked."));
        }
        return Ok(Introspector::AnyOrg);
    }
    let caller = authenticate(req).await?;
    let c = &caller.credential;
    if c.kind == CredentialKind::ApiKey && c.grants.contains(INTROSPECT_PERMISSION) {
        Ok(Introspector::Org(c.org_id.clone()))
    } else {
        Err(ApiError::insufficient_scope(
            "introspect_permission_required",
            "Introspection needs an API key with the introspect permission or a resource server credential.",
        ))
    }
}

impl FromRequest for Introspector {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(introspector(req.clone()))
    }
}

/// An RFC 7662 introspection request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectForm {
    /// The secret to check.
    #[schema(value_type = String, min_length = 1)]
    pub token: Option<String>,
    #[serde(default)]
    pub token_type_hint: Option<String>,
    /// The passphrase of a credential that has one.
    pub passphrase: Option<String>,
}

/// RFC 7662 §2.2; an inactive answer carries only `active` and `reason`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    /// Why an inactive credential is inactive: `not_found`, `malformed_token`, `revoked`, `expired`,
    /// `inactive`, `passphrase_required`, `wrong_passphrase`, `not_a_member`, `api_access_disabled`,
    /// `rate_limited` or `passphrase_locked` (the last with HTTP 429 and `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratelimit: Option<RateLimitJson>,
    /// Seconds left of a wrong-passphrase lock-out: sent as `Retry-After`, not in the body.
    #[serde(skip)]
    #[schema(ignore)]
    pub locked_for: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitJson {
    pub limit: u32,
    pub remaining: u32,
    pub reset: u64,
}

impl From<RateInfo> for RateLimitJson {
    fn from(info: RateInfo) -> Self {
        Self { limit: info.limit, remaining: info.remaining, reset: info.reset_seconds }
    }
}

fn inactive(reason: &'static str) -> Introspection {
    Introspection {
        active: false,
        reason: Some(reason),
        token_type: None,
        scope: None,
        org: None,
        sub: None,
        name: None,
        exp: None,
        iat: None,
        client_id: None,
        ratelimit: None,
        locked_for: None,
    }
}

fn reason(rejection: Rejection) -> &'static str {
    match rejection {
        Rejection::Unknown => "not_found",
        other => other.code(),
    }
}

/// RFC 7662 introspection: is this credential active now, and what may it do? For resource
/// server credentials (any org) and API keys with the `introspect` permission (their own org).
#[utoipa::path(
    post,
    path = "/api/v1/introspect",
    tag = "introspection",
    request_body(content = IntrospectForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The answer, active or not.", body = Introspection, headers(("Cache-Control" = String, description = "`no-store`"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 429, response = RateLimited),
    ),
)]
pub async fn introspect(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Introspector,
    form: web::Form<IntrospectForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let token = form
        .token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("The form field `token` is required."))?;
    let answer = answer(&req, &state, &caller, &token, form.passphrase.as_deref()).await?;
    // A locked-out credential is answered 429 with Retry-After (SPEC §7). The body is both an
    // RFC 7662 answer and an API error, so a resource server reading only `active` still denies,
    // and `reason`/`code` tell this apart from its own rate limit (`rate_limited`).
    if let Some(seconds) = answer.locked_for {
        let error = ApiError::passphrase_locked(seconds);
        return Ok(HttpResponse::TooManyRequests()
            .insert_header((header::RETRY_AFTER, seconds.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "active": false,
                "reason": PASSPHRASE_LOCKED,
                "error": error.message,
                "code": error.code,
            })));
    }
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(answer))
}

async fn answer(
    req: &HttpRequest,
    state: &AppState,
    caller: &Introspector,
    token: &str,
    passphrase: Option<&str>,
) -> Result<Introspection, ApiError> {
    let now = state.clock.now();
    let prefixes = &state.settings.catalog.prefixes;
    let outcome = state.verifier.verify(&state.pool, prefixes, token, passphrase, now).await?;
    let in_scope = |org_id: &str| match caller {
        Introspector::AnyOrg => true,
        Introspector::Org(own) => own == org_id,
    };
    let known = match outcome {
        // Another org's credential reads as unknown, valid or not.
        Outcome::Locked(lockout, known) => {
            locked_out(state, &known, lockout, "introspection", req).await?;
            if !in_scope(&known.org_id) {
                return Ok(inactive("not_found"));
            }
            state.usage.failed(&known.id, now);
            return Ok(Introspection {
                locked_for: Some(lockout.retry_after),
                ..inactive(PASSPHRASE_LOCKED)
            });
        }
        Outcome::Refused(_, Some(known)) | Outcome::Valid(known) if !in_scope(&known.org_id) => {
            return Ok(inactive("not_found"));
        }
        Outcome::Refused(rejection, known) => {
            if let Some(known) = known.filter(|_| rejection.is_counted()) {
                state.usage.failed(&known.id, now);
            }
            return Ok(inactive(reason(rejection)));
        }
        Outcome::Valid(known) => known,
    };
    // An introspection is a use of the introspected credential: limited and counted as one.
    let limit = known.rate_limit_per_minute.unwrap_or_else(|| state.settings.default_rate_limit());
    let ip = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    let info = match state.limits.check(&known.id, limit) {
        Ok(info) => info,
        Err(retry_after) => {
            let mut answer = inactive("rate_limited");
            answer.ratelimit = Some(RateLimitJson { limit, remaining: 0, reset: retry_after });
            return Ok(answer);
        }
    };
    state.usage.accepted(&known.id, now, &ip);
    let scope = match (known.kind, known.owner_role) {
        (CredentialKind::PersonalToken, Some(role)) => format!("role:{}", role.as_str()),
        _ => known.grants.iter().collect::<Vec<_>>().join(" "),
    };
    Ok(Introspection {
        active: true,
        reason: None,
        token_type: Some(known.kind.as_str()),
        scope: Some(scope),
        org: Some(known.org_slug.clone()),
        sub: Some(known.owner_user_id.clone().unwrap_or_else(|| known.id.clone())),
        name: Some(known.name.clone()),
        exp: known.expires_at.map(|at| at.and_utc().timestamp()),
        iat: Some(known.created_at.and_utc().timestamp()),
        client_id: Some(known.id.clone()),
        ratelimit: Some(info.into()),
        locked_for: None,
    })
}
