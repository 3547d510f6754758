use actix_web::http::header;
use actix_web::HttpRequest;

const MAX_USER_AGENT: usize = 512;

/// Where a request came from, for the audit log.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    pub fn of(req: &HttpRequest) -> Self {
        Self {
            // The peer address: a proxy in front would need an explicit trusted-proxy setting,
            // because X-Forwarded-For from an untrusted client is whatever it likes.
            ip: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent: req
                .headers()
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        }
    }
}
