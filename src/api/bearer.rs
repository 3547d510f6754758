//! `Authorization: Bearer` on `/api/*` only. Session cookies play no part here.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::error::ApiError;
use crate::auth::{state, RequestMeta};
use crate::db::audit::Actor;
use crate::state::AppState;
use crate::verification::rate_limit::FAILED_AUTH_PER_MINUTE;
use crate::verification::verifier::{audit_lockout, Known, Lockout, Outcome, Rejection};

pub const PASSPHRASE_HEADER: &str = "X-Tessera-Passphrase";
const MAX_HEADER_CHARS: usize = 512;

/// A caller whose credential is valid now, counted and within its rate limit.
pub struct ApiCaller {
    pub credential: Arc<Known>,
    pub request: RequestMeta,
}

impl ApiCaller {
    /// The audit actor: the person behind a personal token, acting through it.
    pub fn actor(&self, email: &str) -> Actor {
        Actor {
            user_id: self.credential.owner_user_id.clone(),
            credential_id: Some(self.credential.id.clone()),
            label: format!("{email} (personal token “{}”)", self.credential.name),
            ip: self.request.ip.clone(),
            user_agent: self.request.user_agent.clone(),
        }
    }
}

pub(crate) fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed =
        || ApiError::invalid("malformed_token", "The Authorization header must be `Bearer <credential>`.");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() || token.len() > MAX_HEADER_CHARS {
        return Err(malformed());
    }
    Ok(Some(token.trim().to_owned()))
}

fn passphrase(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(PASSPHRASE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= MAX_HEADER_CHARS)
        .map(str::to_owned)
}

pub(crate) async fn authenticate(req: HttpRequest) -> Result<ApiCaller, ApiError> {
    let state = state(&req).map_err(ApiError::from)?;
    let ip = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let refuse = |error: ApiError| match state.limits.failed_attempt(ip) {
        Ok(()) => error,
        Err(retry_after) => ApiError::rate_limited(FAILED_AUTH_PER_MINUTE, retry_after),
    };
    let presented = match bearer(&req) {
        Ok(Some(token)) => token,
        Ok(None) => return Err(ApiError::missing()),
        Err(error) => return Err(refuse(error)),
    };
    let now = state.clock.now();
    let passphrase = passphrase(&req);
    let prefixes = &state.settings.catalog.prefixes;
    // A client over its failure budget is answered before the database is asked, unless it
    // presents a credential already known to be good (a shared address must not lock it out).
    if let Some(retry_after) = state.limits.blocked(ip) {
        if !state.verifier.has_cached(prefixes, &presented) {
            return Err(ApiError::rate_limited(FAILED_AUTH_PER_MINUTE, retry_after));
        }
    }
    let outcome =
        state.verifier.verify(&state.pool, prefixes, &presented, passphrase.as_deref(), now).await?;
    let known = match outcome {
        Outcome::Valid(known) => known,
        Outcome::Refused(Rejection::ApiAccessDisabled, _) => return Err(api_access_disabled()),
        Outcome::Refused(rejection, known) => {
            if let Some(known) = known {
                state.usage.failed(&known.id, now);
            }
            return Err(refuse(ApiError::invalid(rejection.code(), rejection.message())));
        }
        Outcome::Locked(lockout, known) => {
            state.usage.failed(&known.id, now);
            locked_out(&state, &known, lockout, "bearer", &req).await?;
            return Err(refuse(ApiError::passphrase_locked(lockout.retry_after)));
        }
    };
    let limit = known.rate_limit_per_minute.unwrap_or_else(|| state.settings.default_rate_limit());
    let info = state
        .limits
        .check(&known.id, limit)
        .map_err(|retry_after| ApiError::rate_limited(limit, retry_after))?;
    req.extensions_mut().insert(info);
    state.usage.accepted(&known.id, now, &ip.to_string());
    Ok(ApiCaller { credential: known, request: RequestMeta::of(&req) })
}

/// The org's API access is off: the key is known and well formed, but not usable now.
pub(crate) fn api_access_disabled() -> ApiError {
    let rejection = Rejection::ApiAccessDisabled;
    ApiError::insufficient_scope(rejection.code(), rejection.message())
}

/// Audits the attempt that began a lock-out; later attempts during it are not audited.
pub(crate) async fn locked_out(
    state: &AppState,
    known: &Known,
    lockout: Lockout,
    via: &'static str,
    req: &HttpRequest,
) -> Result<(), ApiError> {
    if !lockout.started {
        return Ok(());
    }
    let limit = state.settings.wrong_passphrase_limit();
    let (meta, now) = (RequestMeta::of(req), state.clock.now());
    audit_lockout(&state.pool, known, lockout, limit, via, meta, now).await.map_err(ApiError::from)
}

impl FromRequest for ApiCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
