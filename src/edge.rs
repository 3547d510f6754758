//! What every request meets before any handler: the count by route group and status, the limit
//! on header size and the `Host` check against DNS rebinding (SPEC §7).

use std::net::Ipv4Addr;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};

use crate::api::error::ApiError;
use crate::config::Settings;
use crate::error::AppError;
use crate::metrics::route_group;
use crate::state::AppState;

/// Header bytes (names and values) a request may carry: nginx's default, far below the 128 KiB
/// at which actix-http answers 431 itself, before the app and without our headers.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Header lines a request may carry; actix-http's own limit, past which it answers alone, is 96.
pub const MAX_HEADERS: usize = 64;

/// Probes and scrapers address an instance by its own address (an orchestrator sends the pod's
/// IP as `Host`), and these routes read no session and change nothing, so a rebinding page gains
/// nothing from them.
const ANY_HOST_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Counts every answer, the refusals below included, by route group and status.
pub async fn count<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    let group = route_group(req.path());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await;
    if let Some(state) = state {
        let status = match &response {
            Ok(response) => response.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        state.metrics.request(group, status.as_u16());
    }
    response
}

/// Refuses over-large heads with 431 and foreign `Host` names with 400, inside the security
/// headers (so both answers carry them) and before the session is read.
pub async fn check<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let api = req.path().starts_with("/api/");
    let refusal = if too_large(&req) {
        Some(if api { ApiError::headers_too_large().error_response() } else { headers_too_large_page() })
    } else if !host_allowed(&req) {
        let why = "The Host header names no host this server answers for.";
        Some(if api {
            ApiError::bad_request(why).error_response()
        } else {
            AppError::BadRequest(why.into()).error_response()
        })
    } else {
        None
    };
    match refusal {
        Some(response) => Ok(req.into_response(response).map_into_right_body()),
        None => next.call(req).await.map(ServiceResponse::map_into_left_body),
    }
}

fn too_large(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    let bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES
}

fn headers_too_large_page() -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body("The request headers are too large. Clearing this site's cookies may help.")
}

fn host_allowed(req: &ServiceRequest) -> bool {
    if ANY_HOST_PATHS.contains(&req.path()) {
        return true;
    }
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return false;
    };
    let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    host.and_then(host_name).is_some_and(|name| allows(&state.settings, name))
}

/// Ports are not compared: a rebinding page differs from us by its host name, whatever port it
/// names, while the port a legitimate `Host` carries varies (tests bind port 0, proxies add or
/// drop `:443`, the demo may be opened on any port it was given).
fn allows(settings: &Settings, name: &str) -> bool {
    let public = settings.public_url.host_str().map(|h| h.strip_suffix('.').unwrap_or(h));
    public.is_some_and(|public| public.eq_ignore_ascii_case(name))
        || (settings.dev_login && is_loopback_name(name))
}

/// The host name of a `Host` value without its port or a final dot; `None` when malformed.
fn host_name(authority: &str) -> Option<&str> {
    let name = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (name, rest) = authority.split_at(end + 1);
        if !(rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        name
    } else {
        match authority.rsplit_once(':') {
            Some((name, port)) if is_port(port) && !name.contains(':') => name,
            Some(_) => return None,
            None => authority,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

fn is_port(port: &str) -> bool {
    !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit())
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name == "[::1]"
        || name.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses, before any handler, a request whose path or query string holds text that
/// `text::check` refuses (once percent-decoded): 400, as JSON on `/api`, as a page elsewhere.
/// Path ids and query parameters of every route, present and future, pass through here.
pub async fn refuse_unsafe_text(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    use crate::text::{check, percent_decoded, Lines};

    let uri = req.uri();
    let path_ok = check(&percent_decoded(uri.path()), Lines::Single).is_ok();
    let query_ok = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .all(|(key, value)| check(&key, Lines::Single).is_ok() && check(&value, Lines::Single).is_ok());
    if path_ok && query_ok {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let why = format!("The address holds a character that is not allowed. {}", crate::text::REFUSED);
    let response = if uri.path().starts_with("/api/") {
        ApiError::bad_request(why).error_response()
    } else {
        AppError::BadRequest(why).error_response()
    };
    Ok(req.into_response(response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port_and_final_dot() {
        assert_eq!(host_name("tessera.example.com"), Some("tessera.example.com"));
        assert_eq!(host_name("Tessera.Example.com.:443"), Some("Tessera.Example.com"));
        assert_eq!(host_name("127.0.0.1:8080"), Some("127.0.0.1"));
        assert_eq!(host_name("[::1]:8080"), Some("[::1]"));
        assert_eq!(host_name("[::1]"), Some("[::1]"));
        assert_eq!(host_name("evil.example:80:80"), None);
        assert_eq!(host_name("evil.example:"), None);
        assert_eq!(host_name("[::1]x"), None);
        assert_eq!(host_name(":8080"), None);
    }

    #[test]
    fn loopback_names() {
        for name in ["localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "[::1]"] {
            assert!(is_loopback_name(name), "{name}");
        }
        for name in ["localhost.evil.example", "128.0.0.1", "[::2]", "0.0.0.0", "127.0.0.1.evil.example"] {
            assert!(!is_loopback_name(name), "{name}");
        }
    }
}
