//! API access off (SPEC §2): the org's API keys are refused on use (403 `api_access_disabled`,
//! nothing counted; introspection `active: false`) until it is on again, and a running server
//! sees the operator command within a second. Access and personal tokens keep working.

use std::time::{Duration, Instant};

use tessera::credentials::Plan;

use crate::helpers::*;

async fn status_of(app: &TestApp, secret: &str) -> u16 {
    app.me(secret).await.status().as_u16()
}

/// Polls until `secret` answers `expected`, failing after one second.
async fn within_a_second(app: &TestApp, secret: &str, expected: u16) {
    let started = Instant::now();
    while status_of(app, secret).await != expected {
        assert!(started.elapsed() < Duration::from_secs(1), "still not {expected} after 1 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn api_access_off_refuses_cached_api_keys_at_once_and_counts_nothing() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (key, key_secret) = app.token(&acme, key_spec("billing"));
    let (_, token_secret) = app.token(&acme, TokenSpec::default());
    let alice = app.sign_in(&acme.owner).await;
    let response =
        alice.post("/account/tokens", &[("name", "laptop"), ("org", "acme"), ("expiry", "30")]).await;
    let personal = texts(&response.text().await.unwrap(), "#new-secret").remove(0);
    let (ok, out) = tessera_cli(&app, &["resource-server", "create", "gateway"]);
    assert!(ok, "{out}");
    let server = out.split_whitespace().find(|w| w.starts_with("tsr_rs_")).unwrap().to_owned();

    assert_eq!(status_of(&app, key_secret.expose()).await, 200, "cached while access is on");

    let (ok, out) = tessera_cli(&app, &["org", "api-access", "acme", "off"]);
    assert!(ok, "{out}");
    within_a_second(&app, key_secret.expose(), 403).await;
    // Uses accepted before the change was seen are counted; from here on nothing may be.
    app.flush_usage().await;
    let before = app.credential(&key.id);
    let failed_before: i64 =
        tessera::db::usage::daily(&mut app.conn(), &key.id).unwrap().iter().map(|d| d.2).sum();
    let response = app.me(key_secret.expose()).await;
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer realm=\"tessera\", error=\"insufficient_scope\""), "{challenge}");
    assert!(!response.headers().contains_key("x-ratelimit-limit"), "refused before rate limiting");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "api_access_disabled");

    let introspection = app
        .api()
        .post(app.url("/api/v1/introspect"))
        .bearer_auth(&server)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={}", key_secret.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(introspection.status(), 200);
    let answer: serde_json::Value = introspection.json().await.unwrap();
    assert_eq!(answer, serde_json::json!({ "active": false, "reason": "api_access_disabled" }));

    assert_eq!(status_of(&app, token_secret.expose()).await, 200, "access tokens keep working");
    assert_eq!(status_of(&app, &personal).await, 200, "personal tokens keep working");

    app.flush_usage().await;
    let after = app.credential(&key.id);
    assert_eq!(after.usage_count, before.usage_count, "no usage counted");
    assert_eq!((after.last_used_at, after.last_used_ip), (before.last_used_at, before.last_used_ip));
    let failed: i64 = tessera::db::usage::daily(&mut app.conn(), &key.id).unwrap().iter().map(|d| d.2).sum();
    assert_eq!(failed, failed_before, "not a failed attempt either");
    assert!(before.usage_count >= 1 && before.last_used_at.is_some());

    let (ok, out) = tessera_cli(&app, &["org", "api-access", "acme", "on"]);
    assert!(ok, "{out}");
    within_a_second(&app, key_secret.expose(), 200).await;
}

#[tokio::test]
async fn an_introspecting_api_key_of_a_gated_org_is_refused() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (_, caller) = app.token(&acme, TokenSpec { scopes: "read introspect", ..key_spec("introspector") });
    let (_, token) = app.token(&acme, TokenSpec::default());
    app.set_org(&acme.org, |conn, id| {
        use diesel::prelude::*;
        use tessera::db::schema::organizations::dsl as o;
        diesel::update(o::organizations.find(id)).set(o::api_access.eq(false)).execute(conn)
    });
    let response = app
        .api()
        .post(app.url("/api/v1/introspect"))
        .bearer_auth(caller.expose())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("token={}", token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "api_access_disabled");
}
