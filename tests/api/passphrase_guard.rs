//! Wrong passphrases are limited per credential (SPEC §7): the budget, then 429 with
//! Retry-After for that credential — the right passphrase too — and one audit entry per lock-out,
//! on the bearer path and on introspection.

use tessera::catalog::Catalog;
use tessera::credentials::Plan;

use crate::helpers::*;

const RIGHT: &str = "correct horse";
const WRONG: &str = "wrong horse!";

/// A token with a passphrase, minted through the console as a person would.
async fn guarded_token(app: &TestApp, org: &TestOrg, name: &str) -> String {
    let alice = app.sign_in(&org.owner).await;
    let html = alice
        .post(
            &tokens_path(org),
            &[("name", name), ("scopes", "all"), ("expiry", "30"), ("passphrase", RIGHT)],
        )
        .await
        .text()
        .await
        .unwrap();
    texts(&html, "#new-secret").remove(0)
}

async fn me_with(app: &TestApp, secret: &str, passphrase: &str) -> reqwest::Response {
    app.api()
        .get(app.url("/api/v1/me"))
        .bearer_auth(secret)
        .header("X-Tessera-Passphrase", passphrase)
        .send()
        .await
        .unwrap()
}

async fn code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.unwrap();
    body["code"].as_str().unwrap_or_default().to_owned()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

fn lockouts(app: &TestApp) -> Vec<tessera::db::audit::AuditEntry> {
    app.audit().into_iter().filter(|e| e.action == "access_token.passphrase_lockout").collect()
}

#[tokio::test]
async fn wrong_passphrases_lock_a_cached_credential_on_the_bearer_path() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let plain = guarded_token(&app, &acme, "guarded").await;
    let other = guarded_token(&app, &acme, "bystander").await;
    // Known good first, so the guesses below hit the cache (the path the attack took).
    assert_eq!(me_with(&app, &plain, RIGHT).await.status(), 200);

    for attempt in 1..=10 {
        let response = me_with(&app, &plain, WRONG).await;
        assert_eq!(response.status(), 401, "attempt {attempt} is within the budget");
        assert_eq!(code(response).await, "wrong_passphrase");
    }
    let locked = me_with(&app, &plain, WRONG).await;
    assert_eq!(locked.status(), 429, "the 11th wrong passphrase in a minute");
    assert!((50..=60).contains(&retry_after(&locked)), "{:?}", locked.headers());
    assert_eq!(code(locked).await, "passphrase_locked");

    let right = me_with(&app, &plain, RIGHT).await;
    assert_eq!(right.status(), 429, "the right passphrase is refused too while the lock lasts");
    assert!(retry_after(&right) >= 1);
    for _ in 0..5 {
        assert_eq!(me_with(&app, &plain, WRONG).await.status(), 429);
    }
    assert_eq!(me_with(&app, &other, RIGHT).await.status(), 200, "another credential is not locked");

    let entries = lockouts(&app);
    assert_eq!(entries.len(), 1, "one audit entry per lock-out, not per attempt");
    let entry = &entries[0];
    assert_eq!(entry.org_id.as_deref(), Some(acme.org.id.as_str()));
    assert_eq!(entry.target_label.as_deref(), Some("guarded"));
    assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details["via"], "bearer");
    assert_eq!(details["wrong_passphrases_per_minute"], 10);
    assert!(!entry.details.contains(WRONG) && !entry.details.contains(&plain), "no secret in the log");

    let owner = app.sign_in(&acme.owner).await;
    let log = owner.get("/orgs/acme/settings/audit?action=access_token.passphrase_lockout").await;
    assert_eq!(log.status(), 200);
    assert!(log.text().await.unwrap().contains("guarded"), "filterable in the org's log");
}

#[tokio::test]
async fn wrong_passphrases_through_introspection_lock_the_credential_with_429() {
    let mut catalog = Catalog::built_in();
    catalog.wrong_passphrases_per_minute = Some(3);
    let app = spawn_app_with(catalog).await;
    let acme = app.org("acme", Plan::Growth);
    let plain = guarded_token(&app, &acme, "guarded").await;
    let (ok, out) = tessera_cli(&app, &["resource-server", "create", "gateway"]);
    assert!(ok, "{out}");
    let server = out.split_whitespace().find(|w| w.starts_with("tsr_rs_")).unwrap().to_owned();
    let introspect = |passphrase: &'static str| {
        let body =
            serde_html_form::to_string([("token", plain.as_str()), ("passphrase", passphrase)]).unwrap();
        app.api()
            .post(app.url("/api/v1/introspect"))
            .bearer_auth(&server)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    for attempt in 1..=3 {
        let response = introspect(WRONG).await.unwrap();
        assert_eq!(response.status(), 200, "attempt {attempt}: the catalog's budget of 3");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            (body["active"].clone(), body["reason"].clone()),
            (false.into(), "wrong_passphrase".into())
        );
    }
    for phrase in [WRONG, RIGHT] {
        let response = introspect(phrase).await.unwrap();
        assert_eq!(response.status(), 429, "{phrase}");
        assert!((50..=60).contains(&retry_after(&response)));
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["active"], false, "still an RFC 7662 answer: inactive");
        assert_eq!(body["reason"], "passphrase_locked");
        assert_eq!(body["code"], "passphrase_locked", "not the resource server's own rate limit");
    }
    assert_eq!(me_with(&app, &plain, RIGHT).await.status(), 429, "one lock for both paths");

    let entries = lockouts(&app);
    assert_eq!(entries.len(), 1);
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).unwrap();
    assert_eq!(
        (details["via"].as_str(), details["wrong_passphrases_per_minute"].as_u64()),
        (Some("introspection"), Some(3))
    );
}
