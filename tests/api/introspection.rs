use chrono::TimeDelta;
use tessera::credentials::{secret, CredentialKind, Plan};

use crate::helpers::*;

async fn introspect(app: &TestApp, caller: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.api()
        .post(app.url("/api/v1/introspect"))
        .bearer_auth(caller)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_html_form::to_string(fields).unwrap())
        .send()
        .await
        .unwrap()
}

async fn answer(app: &TestApp, caller: &str, token: &str) -> serde_json::Value {
    let response = introspect(app, caller, &[("token", token)]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

fn resource_server(app: &TestApp, name: &str) -> String {
    let (ok, out) = tessera_cli(app, &["resource-server", "create", name]);
    assert!(ok, "{out}");
    out.split_whitespace().find(|w| w.starts_with("tsr_rs_")).expect("the secret is printed once").to_owned()
}

#[tokio::test]
async fn a_resource_server_introspects_any_org() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let server = resource_server(&app, "gateway");
    let (token, plain) = app.token(
        &acme,
        TokenSpec {
            name: "ci",
            scopes: "basic_deployment modify_env",
            expires_at: Some(app.now() + TimeDelta::days(2)),
            ..Default::default()
        },
    );
    let (_, other) = app.token(&globex, key_spec("theirs"));

    let body = answer(&app, &server, plain.expose()).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["scope"], "basic_deployment modify_env");
    assert_eq!(body["org"], "acme");
    assert_eq!(body["name"], "ci");
    assert_eq!(body["client_id"], token.id.as_str());
    assert_eq!(body["sub"], token.id.as_str());
    assert_eq!(body["exp"], (app.now() + TimeDelta::days(2)).and_utc().timestamp());
    assert_eq!(body["iat"], app.now().and_utc().timestamp());
    assert_eq!(body["ratelimit"]["limit"], 600);
    assert_eq!(body["ratelimit"]["remaining"], 599);
    assert_eq!(answer(&app, &server, other.expose()).await["org"], "globex");

    let (ok, out) = tessera_cli(&app, &["resource-server", "create", "gateway"]);
    assert!(!ok && out.contains("already exists"), "{out}");
    let audit = app.audit();
    assert!(audit.iter().any(|e| e.action == "resource_server.create" && !e.details.contains(&server[7..])));
}

#[tokio::test]
async fn an_api_key_with_introspect_sees_only_its_own_org() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let (_, gateway) = app.token(&acme, TokenSpec { scopes: "introspect", ..key_spec("gateway") });
    let (_, ours) = app.token(&acme, TokenSpec { name: "ours", ..Default::default() });
    let (_, theirs) = app.token(&globex, TokenSpec { name: "theirs", ..Default::default() });
    assert_eq!(answer(&app, gateway.expose(), ours.expose()).await["active"], true);
    assert_eq!(
        answer(&app, gateway.expose(), theirs.expose()).await,
        serde_json::json!({ "active": false, "reason": "not_found" })
    );

    let (_, plain_key) = app.token(&acme, key_spec("no permission"));
    let denied = introspect(&app, plain_key.expose(), &[("token", ours.expose())]).await;
    assert_eq!(denied.status(), 403);
    assert!(denied.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    assert_eq!(
        introspect(&app, ours.expose(), &[("token", ours.expose())]).await.status(),
        403,
        "an access token cannot introspect"
    );

    let anonymous =
        app.api().post(app.url("/api/v1/introspect")).form(&[("token", ours.expose())]).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(introspect(&app, gateway.expose(), &[]).await.status(), 400, "token is required");
}

#[tokio::test]
async fn inactive_answers_give_a_reason() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let server = resource_server(&app, "gateway");
    let (revoked, revoked_secret) = app.token(&acme, TokenSpec { name: "revoked", ..Default::default() });
    let (_, expired) = app.token(
        &acme,
        TokenSpec {
            name: "expired",
            expires_at: Some(app.now() + TimeDelta::minutes(1)),
            ..Default::default()
        },
    );
    let (_, inactive) = app.token(&acme, TokenSpec { active: false, ..key_spec("inactive") });
    let alice = app.sign_in(&acme.owner).await;
    alice.post(&format!("{}/{}/revoke", tokens_path(&acme), revoked.id), &[]).await;
    app.clock.advance(TimeDelta::minutes(2));
    let unknown = secret::generate(CredentialKind::AccessToken, &app.catalog.prefixes);
    for (token, reason) in [
        (revoked_secret.expose(), "revoked"),
        (expired.expose(), "expired"),
        (inactive.expose(), "inactive"),
        (unknown.expose(), "not_found"),
        ("tsr_at_garbage", "malformed_token"),
    ] {
        assert_eq!(
            answer(&app, &server, token).await,
            serde_json::json!({ "active": false, "reason": reason }),
            "{reason}"
        );
    }
}

#[tokio::test]
async fn a_passphrase_is_checked_and_an_introspection_counts_as_a_use() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let server = resource_server(&app, "gateway");
    let alice = app.sign_in(&acme.owner).await;
    let html = alice
        .post(
            &tokens_path(&acme),
            &[("name", "guarded"), ("scopes", "all"), ("expiry", "30"), ("passphrase", "open sesame")],
        )
        .await
        .text()
        .await
        .unwrap();
    let plain = texts(&html, "#new-secret").remove(0);
    let without: serde_json::Value =
        introspect(&app, &server, &[("token", &plain)]).await.json().await.unwrap();
    assert_eq!(without["reason"], "passphrase_required");
    let wrong: serde_json::Value =
        introspect(&app, &server, &[("token", &plain), ("passphrase", "open sesame!")])
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(wrong["reason"], "wrong_passphrase");
    for _ in 0..3 {
        let right: serde_json::Value =
            introspect(&app, &server, &[("token", &plain), ("passphrase", "open sesame")])
                .await
                .json()
                .await
                .unwrap();
        assert_eq!(right["active"], true);
    }
    app.flush_usage().await;
    let row = app.credentials_of(&acme).into_iter().find(|r| r.name == "guarded").unwrap();
    assert_eq!(row.usage_count, 3, "three active introspections, three uses");
    let failed: i64 = tessera::db::usage::daily(&mut app.conn(), &row.id).unwrap().iter().map(|d| d.2).sum();
    assert_eq!(failed, 2);
}
