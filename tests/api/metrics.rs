//! `/metrics` (SPEC §6): Prometheus text that moves with real traffic and names no secret,
//! credential or org.

use tessera::catalog::Catalog;
use tessera::config::MetricsToken;
use tessera::credentials::{secret, CredentialKind, Plan};

use crate::helpers::*;

/// The value of one series, `0` when it is absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok()).unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let response = app.api().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    response.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_real_traffic_and_name_no_secret_credential_or_org() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (valid, valid_secret) = app.token(&acme, TokenSpec { name: "deploy bot", ..Default::default() });
    let (revoked, revoked_secret) = app.token(&acme, TokenSpec { name: "old bot", ..Default::default() });
    let alice = app.sign_in(&acme.owner).await;
    let revoke = alice.post(&format!("{}/{}/revoke", tokens_path(&acme), revoked.id), &[]).await;
    assert!(revoke.status().is_success() || revoke.status().is_redirection(), "{}", revoke.status());
    let before = scrape(&app).await;

    assert_eq!(app.me(valid_secret.expose()).await.status(), 200);
    assert_eq!(app.me(valid_secret.expose()).await.status(), 200);
    assert_eq!(app.me("tsr_not_even_close").await.status(), 401);
    let unknown = secret::generate(CredentialKind::AccessToken, &app.catalog.prefixes);
    assert_eq!(app.me(unknown.expose()).await.status(), 401);
    assert_eq!(app.me(revoked_secret.expose()).await.status(), 401);
    assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 200);
    app.flush_usage().await;

    let after = scrape(&app).await;
    let moved = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(moved("tessera_verifications_total{outcome=\"valid\"}"), 2.0, "{after}");
    assert_eq!(moved("tessera_verifications_total{outcome=\"malformed\"}"), 1.0);
    assert_eq!(moved("tessera_verifications_total{outcome=\"unknown\"}"), 1.0);
    assert_eq!(moved("tessera_verifications_total{outcome=\"revoked\"}"), 1.0);
    // The valid token is read once, then served from the cache; unknown and revoked ones are
    // read from the database; a malformed one never gets as far as the cache.
    assert_eq!(moved("tessera_verification_cache_hits_total"), 1.0);
    assert_eq!(moved("tessera_verification_cache_misses_total"), 3.0);
    assert_eq!(moved("tessera_http_requests_total{group=\"api\",status=\"200\"}"), 2.0);
    assert_eq!(moved("tessera_http_requests_total{group=\"api\",status=\"401\"}"), 3.0);
    assert_eq!(moved("tessera_http_requests_total{group=\"console\",status=\"200\"}"), 1.0);
    assert!(value(&after, "tessera_http_requests_total{group=\"metrics\",status=\"200\"}") >= 1.0);
    assert!(value(&after, "tessera_http_requests_total{group=\"auth\",status=\"303\"}") >= 1.0, "sign-in");
    assert!(value(&after, "tessera_db_pool_max_connections") >= 1.0, "{after}");
    assert!(after.contains("tessera_db_pool_connections{state=\"idle\"}"));
    assert!(after.contains("tessera_db_pool_connections{state=\"in_use\"}"));
    assert!(after.contains("# TYPE tessera_usage_flush_lag_seconds gauge"));
    assert!(value(&after, "tessera_usage_flush_lag_seconds") < 60.0);
    assert_eq!(value(&after, "tessera_usage_flush_failures_total"), 0.0);

    for secret_or_name in [
        valid_secret.expose(),
        revoked_secret.expose(),
        unknown.expose(),
        valid.id.as_str(),
        revoked.id.as_str(),
        valid.display_prefix.as_str(),
        "deploy bot",
        "acme",
        acme.org.id.as_str(),
        acme.owner.id.as_str(),
        acme.owner.email.as_str(),
    ] {
        assert!(!after.contains(secret_or_name), "{secret_or_name} appears in /metrics");
    }
}

#[tokio::test]
async fn a_metrics_token_keeps_the_text_for_its_scraper() {
    let app = spawn_app_configured(Catalog::built_in(), |settings| {
        settings.metrics_token = Some(MetricsToken::parse("scraper-secret-0123456789").unwrap());
    })
    .await;
    let get = |token: Option<&str>| {
        let request = app.api().get(app.url("/metrics"));
        match token {
            Some(token) => request.bearer_auth(token).send(),
            None => request.send(),
        }
    };
    let anonymous = get(None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    assert!(!anonymous.text().await.unwrap().contains("tessera_"));
    assert_eq!(get(Some("scraper-secret-012345678")).await.unwrap().status(), 401, "a near miss");
    let scraper = get(Some("scraper-secret-0123456789")).await.unwrap();
    assert_eq!(scraper.status(), 200);
    assert!(scraper.text().await.unwrap().contains("tessera_http_requests_total"));
}
