//! The console's features, each in its own folder, and the route table.

pub mod assets;
pub mod forms;
pub mod listing;
pub mod tokens;

use actix_web::web::{self, get, post};

use crate::auth::dev_login;
use crate::startup::{healthz, readyz};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", get().to(dev_login::home))
        .route("/healthz", get().to(healthz))
        .route("/readyz", get().to(readyz))
        .route("/static/{file}", get().to(assets::serve))
        .route("/sign-in", get().to(dev_login::sign_in_page))
        .route("/auth/dev", post().to(dev_login::dev_sign_in))
        .route("/sign-out", post().to(dev_login::sign_out))
        .service(
            web::scope("/orgs/{slug}/settings/tokens")
                .route("", get().to(tokens::handlers::page))
                .route("", post().to(tokens::handlers::create))
                .route("/{id}/revoke", post().to(tokens::handlers::revoke)),
        );
}
