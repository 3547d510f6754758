//! The console's features, each in its own folder, and the route table.

pub mod account;
pub mod assets;
pub mod credentials;
pub mod forms;
pub mod members;
pub mod operator;

use actix_web::web;

use crate::auth::{dev_login, sso};
use crate::startup::{healthz, readyz};
use credentials::handlers as creds;
use members::handlers as membership;

pub fn routes(cfg: &mut web::ServiceConfig) {
    // One resource per path, so a wrong method gets 405 with `Allow`, not 404.
    cfg.service(web::resource("/").get(dev_login::home))
        .service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource("/static/{file}").get(assets::serve))
        .service(web::resource("/sign-in").get(dev_login::sign_in_page))
        .service(web::resource("/auth/dev").post(dev_login::dev_sign_in))
        .service(web::resource("/auth/login").get(sso::login))
        .service(web::resource("/auth/callback").get(sso::callback))
        .service(web::resource("/sign-out").post(dev_login::sign_out))
        .service(
            web::resource("/account/tokens").get(account::handlers::page).post(account::handlers::create),
        )
        .service(web::resource("/account/tokens/{id}/revoke").post(account::handlers::revoke))
        .service(web::resource("/operator/orgs").get(operator::orgs_page))
        // Members before the credential tabs, whose `{tab}` would match `members` too.
        .service(web::resource("/orgs/{slug}/settings/members").get(membership::page).post(membership::add))
        .service(web::resource("/orgs/{slug}/settings/members/{user_id}/role").post(membership::change_role))
        .service(web::resource("/orgs/{slug}/settings/members/{user_id}/remove").post(membership::remove))
        .service(web::resource("/orgs/{slug}/settings/{tab}").get(creds::page).post(creds::create))
        .service(web::resource("/orgs/{slug}/settings/{tab}/{id}/revoke").post(creds::revoke))
        .service(web::resource("/orgs/{slug}/settings/{tab}/{id}/rotate").post(creds::rotate))
        .service(
            web::resource("/orgs/{slug}/settings/{tab}/{id}/edit").get(creds::edit_page).post(creds::edit),
        );
}
