use std::time::Duration;

use chrono::TimeDelta;
use diesel::prelude::*;
use tessera::credentials::{secret, CredentialKind, Plan};
use tessera::db::schema::credentials::dsl as c;

use crate::helpers::*;

async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn me_describes_the_calling_credential() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(
        &acme,
        TokenSpec {
            name: "ci",
            scopes: "basic_deployment modify_env",
            expires_at: Some(app.now() + TimeDelta::days(3)),
            ..Default::default()
        },
    );
    let response = app.me(plain.expose()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-ratelimit-limit"], "600");
    assert_eq!(response.headers()["x-ratelimit-remaining"], "599");
    assert!(response.headers().contains_key("x-ratelimit-reset"));
    let body = json(response).await;
    assert_eq!(body["credential"]["id"], row.id.as_str());
    assert_eq!(body["credential"]["kind"], "access_token");
    assert_eq!(body["credential"]["name"], "ci");
    assert_eq!(body["credential"]["grants"], serde_json::json!(["basic_deployment", "modify_env"]));
    assert_eq!(body["credential"]["expires_at"], "2026-11-26T09:30:00Z");
    assert_eq!(body["org"], serde_json::json!({ "slug": "acme", "name": "acme Inc" }));
    assert_eq!(body["user"], serde_json::Value::Null);
    assert_eq!(body["is_api_token"], true);
}

#[tokio::test]
async fn refusals_follow_rfc_6750() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let missing = app.api().get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(challenge(&missing), "Bearer realm=\"tessera\"");
    assert_eq!(
        json(missing).await,
        serde_json::json!({ "error": "A bearer credential is required.", "code": "missing_token" })
    );

    let (_, plain) = app.token(&acme, TokenSpec::default());
    let mut forged = plain.expose().to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'a' { 'b' } else { 'a' });
    let unknown = secret::generate(CredentialKind::AccessToken, &app.catalog.prefixes);
    let basic = app
        .api()
        .get(app.url("/api/v1/me"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    for (response, code) in [
        (app.me(&forged).await, "malformed_token"),
        (app.me("tsr_at_short").await, "malformed_token"),
        (app.me(unknown.expose()).await, "unknown_token"),
        (basic, "malformed_token"),
    ] {
        assert_eq!(response.status(), 401, "{code}");
        let header = challenge(&response);
        assert!(header.starts_with("Bearer realm=\"tessera\", error=\"invalid_token\""), "{header}");
        assert_eq!(json(response).await["code"], code);
    }
}

#[tokio::test]
async fn revoked_expired_and_inactive_credentials_get_401_and_count_no_usage() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (revoked, revoked_secret) = app.token(&acme, TokenSpec { name: "revoked", ..Default::default() });
    let (expiring, expiring_secret) = app.token(
        &acme,
        TokenSpec {
            name: "expiring",
            expires_at: Some(app.now() + TimeDelta::minutes(1)),
            ..Default::default()
        },
    );
    let (inactive, inactive_secret) = app.token(&acme, TokenSpec { active: false, ..key_spec("inactive") });
    assert_eq!(app.me(expiring_secret.expose()).await.status(), 200);
    app.flush_usage().await;
    let alice = app.sign_in(&acme.owner).await;
    alice.post(&format!("{}/{}/revoke", tokens_path(&acme), revoked.id), &[]).await;
    app.clock.advance(TimeDelta::minutes(2));

    for (secret, code) in
        [(&revoked_secret, "revoked"), (&expiring_secret, "expired"), (&inactive_secret, "inactive")]
    {
        let response = app.me(secret.expose()).await;
        assert_eq!(response.status(), 401, "{code}");
        assert!(challenge(&response).contains("error=\"invalid_token\""));
        assert!(
            !response.headers().contains_key("x-ratelimit-limit"),
            "{code}: refused before rate limiting"
        );
        assert_eq!(json(response).await["code"], code);
    }
    app.flush_usage().await;
    assert_eq!(app.credential(&expiring.id).usage_count, 1, "the expired credential's usage is unchanged");
    assert_eq!(app.credential(&revoked.id).usage_count, 0);
    assert_eq!(app.credential(&inactive.id).usage_count, 0);
    let failed: i64 =
        tessera::db::usage::daily(&mut app.conn(), &expiring.id).unwrap().iter().map(|d| d.2).sum();
    assert_eq!(failed, 1, "a refused known credential counts as a failed attempt");
}

#[tokio::test]
async fn revoke_then_use_is_401_on_the_very_next_request() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, key_spec("hot"));
    for _ in 0..3 {
        assert_eq!(app.me(plain.expose()).await.status(), 200, "cached and valid");
    }
    let alice = app.sign_in(&acme.owner).await;
    alice.post(&format!("{}/{}/revoke", keys_path(&acme), row.id), &[]).await;
    assert_eq!(app.me(plain.expose()).await.status(), 401);
}

#[tokio::test]
async fn an_edit_to_inactive_and_a_rotation_take_effect_at_once() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (key, key_secret) = app.token(&acme, key_spec("editable"));
    let (token, token_secret) = app.token(&acme, TokenSpec { name: "rotating", ..Default::default() });
    assert_eq!(app.me(key_secret.expose()).await.status(), 200);
    assert_eq!(app.me(token_secret.expose()).await.status(), 200);
    let alice = app.sign_in(&acme.owner).await;
    let edit = [("name", "editable"), ("permissions", "read"), ("expiry", "keep")];
    assert_eq!(alice.post(&format!("{}/{}/edit", keys_path(&acme), key.id), &edit).await.status(), 303);
    assert_eq!(json(app.me(key_secret.expose()).await).await["code"], "inactive");

    let html = alice
        .post(&format!("{}/{}/rotate", tokens_path(&acme), token.id), &[("grace", "1h")])
        .await
        .text()
        .await
        .unwrap();
    let replacement = texts(&html, "#new-secret").remove(0);
    assert_eq!(
        app.me(token_secret.expose()).await.status(),
        200,
        "the old secret works during the grace period"
    );
    assert_eq!(app.me(&replacement).await.status(), 200);
    app.clock.advance(TimeDelta::minutes(61));
    assert_eq!(json(app.me(token_secret.expose()).await).await["code"], "revoked", "and stops when it ends");
    assert_eq!(app.me(&replacement).await.status(), 200);
}

#[tokio::test]
async fn a_passphrase_must_be_presented_with_its_token() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let html = alice
        .post(
            &tokens_path(&acme),
            &[("name", "guarded"), ("scopes", "all"), ("expiry", "30"), ("passphrase", "correct horse")],
        )
        .await
        .text()
        .await
        .unwrap();
    let plain = texts(&html, "#new-secret").remove(0);
    let with = |phrase: Option<&'static str>| {
        let mut request = app.api().get(app.url("/api/v1/me")).bearer_auth(&plain);
        if let Some(phrase) = phrase {
            request = request.header("X-Tessera-Passphrase", phrase);
        }
        request.send()
    };
    assert_eq!(json(with(None).await.unwrap()).await["code"], "passphrase_required");
    assert_eq!(json(with(Some("wrong horse")).await.unwrap()).await["code"], "wrong_passphrase");
    assert_eq!(with(Some("correct horse")).await.unwrap().status(), 200);
    assert_eq!(with(Some("correct horse")).await.unwrap().status(), 200, "remembered without argon2 again");
    assert_eq!(
        json(with(Some("wrong horse")).await.unwrap()).await["code"],
        "wrong_passphrase",
        "and still checked"
    );
}

#[tokio::test]
async fn sessions_never_authenticate_the_api_and_bearers_never_the_console() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (_, plain) = app.token(&acme, TokenSpec::default());
    let alice = app.sign_in(&acme.owner).await;
    let with_cookie = alice.get("/api/v1/me").await;
    assert_eq!(with_cookie.status(), 401, "a signed-in session is not an API credential");
    assert_eq!(challenge(&with_cookie), "Bearer realm=\"tessera\"");

    let console =
        app.api().get(app.url(&tokens_path(&acme))).bearer_auth(plain.expose()).send().await.unwrap();
    assert_eq!(console.status(), 303, "a bearer secret does not open the console");
    assert_eq!(console.headers()["location"], "/sign-in");
    let unknown = app.api().get(app.url("/api/v1/nothing")).bearer_auth(plain.expose()).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(json(unknown).await["code"], "not_found");
}

#[tokio::test]
async fn usage_equals_accepted_requests_after_a_flush() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    for _ in 0..7 {
        assert_eq!(app.me(plain.expose()).await.status(), 200);
    }
    let before = app.credential(&row.id);
    assert_eq!(before.usage_count, 0, "nothing is written per request");
    app.flush_usage().await;
    let after = app.credential(&row.id);
    assert_eq!(after.usage_count, 7);
    assert_eq!(after.last_used_at, Some(app.now()));
    assert_eq!(after.last_used_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(tessera::db::usage::daily(&mut app.conn(), &row.id).unwrap(), [(app.now().date(), 7, 0)]);
    assert_eq!(
        tessera::db::usage::recent_addresses(&mut app.conn(), &row.id).unwrap(),
        [("127.0.0.1".to_owned(), app.now())]
    );

    app.clock.advance(TimeDelta::days(1));
    app.me(plain.expose()).await;
    app.flush_usage().await;
    assert_eq!(app.credential(&row.id).usage_count, 8);
    assert_eq!(tessera::db::usage::daily(&mut app.conn(), &row.id).unwrap().len(), 2, "one row per day");
}

#[tokio::test]
async fn usage_is_written_at_graceful_shutdown() {
    let mut app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    for _ in 0..4 {
        app.me(plain.expose()).await;
    }
    app.stop().await;
    assert_eq!(
        app.credential(&row.id).usage_count,
        4,
        "written before the process ends, so a restart finds it"
    );
}

#[tokio::test]
async fn rate_limit_headers_count_down_and_429_arrives_at_the_limit() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, key_spec("limited"));
    diesel::update(c::credentials.find(&row.id))
        .set(c::rate_limit_per_minute.eq(Some(3)))
        .execute(&mut app.conn())
        .unwrap();
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = app.me(plain.expose()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-ratelimit-limit"], "3");
        remaining.push(response.headers()["x-ratelimit-remaining"].to_str().unwrap().to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let limited = app.me(plain.expose()).await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(json(limited).await["code"], "rate_limited");
    app.flush_usage().await;
    assert_eq!(app.credential(&row.id).usage_count, 3, "a limited request is not counted");
}

#[tokio::test]
async fn failed_authentication_is_limited_per_address() {
    let app = spawn_app().await;
    let unknown = secret::generate(CredentialKind::ApiKey, &app.catalog.prefixes);
    let mut statuses = Vec::new();
    for _ in 0..32 {
        statuses.push(app.me(unknown.expose()).await.status().as_u16());
    }
    assert!(statuses[..30].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[31], 429);
}

#[tokio::test]
async fn an_address_over_its_failure_budget_keeps_its_known_good_credentials() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, known_good) = app.token(&acme, TokenSpec::default());
    let (_, not_yet_seen) = app.token(&acme, TokenSpec { name: "second", ..Default::default() });
    assert_eq!(app.me(known_good.expose()).await.status(), 200);
    let unknown = secret::generate(CredentialKind::ApiKey, &app.catalog.prefixes);
    for _ in 0..31 {
        app.me(unknown.expose()).await;
    }
    let limited = app.me(unknown.expose()).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(app.me(known_good.expose()).await.status(), 200, "a cached good credential still works");
    // Anything that would need a lookup waits: guessing cannot reach the database.
    assert_eq!(app.me(not_yet_seen.expose()).await.status(), 429);
    app.flush_usage().await;
    assert_eq!(app.credential(&row.id).usage_count, 2);
}

#[tokio::test]
async fn another_instance_sees_a_revocation_within_a_second() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    let other = app.second_instance().await;
    let me_at = |base: String| {
        let client = app.api();
        let secret = plain.expose().to_owned();
        async move {
            client
                .get(format!("{base}/api/v1/me"))
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me_at(other.clone()).await, 200, "cached on the other instance");
    let alice = app.sign_in(&acme.owner).await;
    alice.post(&format!("{}/{}/revoke", tokens_path(&acme), row.id), &[]).await;
    let started = std::time::Instant::now();
    while me_at(other.clone()).await != 401 {
        assert!(started.elapsed() < Duration::from_secs(1), "the other instance still accepts it after 1 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_benchmark_baseline_answers_the_asked_size() {
    let app = spawn_app().await;
    let body = app
        .api()
        .get(app.url("/api/v1/bench/baseline?bytes=321"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(body.len(), 321);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
}
