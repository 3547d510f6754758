//! The console's features, each in its own folder, and the route table.

pub mod account;
pub mod assets;
pub mod audit;
pub mod credentials;
pub mod members;
pub mod operator;
pub mod personal_tokens;
pub mod probes;
pub mod usage;

use actix_web::web;

use crate::auth::{dev_login, sso};
use audit::handlers as audit_log;
use credentials::handlers as creds;
use members::handlers as membership;
use probes::{healthz, metrics, readyz};
use usage::handlers as usage_pages;

crate::routing::route_table! {
    pub const ROUTES, fn resources, prefix "",
    {
        "/" => { get: dev_login::home },
        "/healthz" => { get: healthz },
        "/readyz" => { get: readyz },
        "/metrics" => { get: metrics },
        "/static/{file}" => { get: assets::serve },
        "/sign-in" => { get: dev_login::sign_in_page },
        "/auth/dev" => { post: dev_login::dev_sign_in },
        "/auth/login" => { get: sso::login },
        "/auth/callback" => { get: sso::callback },
        "/sign-out" => { post: dev_login::sign_out },
        "/account/tokens" => { get: account::handlers::page, post: account::handlers::create },
        "/account/tokens/{id}/revoke" => { post: account::handlers::revoke },
        "/account/sessions" => { get: account::sessions::page },
        "/account/sessions/end-others" => { post: account::sessions::end_others },
        "/account/sessions/{id}/end" => { post: account::sessions::end },
        "/operator/orgs" => { get: operator::orgs_page },
        "/operator/audit" => { get: audit_log::instance_page },
        "/operator/audit/export" => { get: audit_log::instance_export },
        // Members before the credential tabs, whose `{tab}` would match `members` too.
        "/orgs/{slug}/settings/members" => { get: membership::page, post: membership::add },
        "/orgs/{slug}/settings/members/{user_id}/role" => { post: membership::change_role },
        "/orgs/{slug}/settings/members/{user_id}/remove" => { post: membership::remove },
        "/orgs/{slug}/settings/personal-tokens" => { get: personal_tokens::page },
        "/orgs/{slug}/settings/personal-tokens/{id}/revoke" => { post: personal_tokens::revoke },
        "/orgs/{slug}/settings/audit" => { get: audit_log::page },
        "/orgs/{slug}/settings/audit/export" => { get: audit_log::export },
        // Reports before the credential tabs too, for the same reason.
        "/orgs/{slug}/settings/reports" => { get: usage_pages::reports_page },
        "/orgs/{slug}/settings/{tab}" => { get: creds::page, post: creds::create },
        "/orgs/{slug}/settings/{tab}/{id}/revoke" => { post: creds::revoke },
        "/orgs/{slug}/settings/{tab}/{id}/rotate" => { post: creds::rotate },
        "/orgs/{slug}/settings/{tab}/{id}/edit" => { get: creds::edit_page, post: creds::edit },
        "/orgs/{slug}/settings/{tab}/{id}/usage" => { get: usage_pages::usage_page },
    }
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    for resource in resources() {
        cfg.service(resource);
    }
}
