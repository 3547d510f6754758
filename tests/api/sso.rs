//! OpenID Connect sign-in against a real provider (npm `oidc-provider`), driven over HTTP with
//! the provider's development login and consent forms.

use std::collections::HashMap;

use diesel::prelude::*;
use tessera::auth::Role;
use tessera::catalog::Catalog;
use tessera::config::OidcSettings;
use tessera::credentials::Plan;
use tessera::db::orgs;
use url::Url;

use crate::helpers::*;
use crate::oidc_provider::OidcProvider;

struct Sso {
    app: TestApp,
    provider: OidcProvider,
    acme: TestOrg,
}

async fn spawn_with_provider() -> Sso {
    let provider = OidcProvider::start();
    // The redirect URI is the public URL's, so the port is chosen before the server binds it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let oidc = OidcSettings {
        issuer: provider.issuer.clone(),
        client_id: provider.client_id.clone(),
        client_secret: provider.client_secret.clone(),
    };
    let app = spawn_app_configured(Catalog::built_in(), |settings| {
        settings.bind = format!("127.0.0.1:{port}").parse().unwrap();
        settings.public_url = format!("http://127.0.0.1:{port}").parse().unwrap();
        settings.oidc = Some(oidc);
    })
    .await;
    let acme = app.org("acme", Plan::Growth);
    for (email, role) in [("alice@example.com", Role::Owner), ("mallory@example.com", Role::Member)] {
        let user = app.user(email);
        app.add_member(&acme, &user, role);
    }
    Sso { app, provider, acme }
}

fn location(response: &reqwest::Response) -> Url {
    let raw = response.headers()["location"].to_str().unwrap();
    response.url().join(raw).unwrap()
}

/// `/auth/login`'s redirect to the provider.
pub async fn start(session: &Session) -> Url {
    let response = session.get("/auth/login").await;
    assert_eq!(response.status(), 303);
    location(&response)
}

/// Walks the provider's login and consent pages as `email` until the provider sends the browser
/// back to Tessera; returns that callback URL without following it.
pub async fn through_provider(session: &Session, authorize: Url, email: &str) -> Url {
    let mut response = session.client.get(authorize).send().await.unwrap();
    for _ in 0..20 {
        if response.status().is_redirection() {
            let next = location(&response);
            if next.path() == "/auth/callback" {
                return next;
            }
            response = session.client.get(next).send().await.unwrap();
            continue;
        }
        assert_eq!(response.status(), 200, "provider page {}", response.url());
        let page_url = response.url().clone();
        let html = response.text().await.unwrap();
        let (action, fields) = form_of(&html, email);
        response = session.client.post(page_url.join(&action).unwrap()).form(&fields).send().await.unwrap();
    }
    panic!("the provider never redirected back to Tessera");
}

/// The first form of a provider page, filled in: hidden fields kept, `login` and `password` set.
fn form_of(html: &str, email: &str) -> (String, HashMap<String, String>) {
    let doc = scraper::Html::parse_document(html);
    let form_selector = scraper::Selector::parse("form").unwrap();
    let input_selector = scraper::Selector::parse("input, button[name]").unwrap();
    let form = doc.select(&form_selector).next().unwrap_or_else(|| panic!("no form in {html}"));
    let action = form.value().attr("action").unwrap_or("").to_owned();
    let mut fields = HashMap::new();
    for input in form.select(&input_selector) {
        let Some(name) = input.value().attr("name") else { continue };
        let value = match name {
            "login" => email.to_owned(),
            "password" => "any password".to_owned(),
            _ => input.value().attr("value").unwrap_or("").to_owned(),
        };
        fields.insert(name.to_owned(), value);
    }
    (action, fields)
}

fn with_query(url: &Url, key: &str, value: &str) -> Url {
    let mut changed = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == key { value.to_owned() } else { v.into_owned() };
            (k.into_owned(), v)
        })
        .collect();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

fn query(url: &Url, key: &str) -> String {
    url.query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.into_owned()).unwrap_or_default()
}

async fn signed_in_email(sso: &Sso, session: &Session) -> Option<String> {
    let response = session.get(&tokens_path(&sso.acme)).await;
    if response.status() != 200 {
        return None;
    }
    let html = response.text().await.unwrap();
    texts(&html, ".topbar .email").into_iter().next()
}

fn last_failure(sso: &Sso) -> serde_json::Value {
    let entry =
        sso.app.audit().into_iter().rev().find(|e| e.action == "auth.sign_in_failed").expect("audited");
    serde_json::from_str(&entry.details).unwrap()
}

async fn failed_page(response: reqwest::Response, status: u16, says: &str) {
    assert_eq!(response.status(), status);
    let html = response.text().await.unwrap();
    assert!(html.contains("Sign-in failed"), "{html}");
    assert!(html.contains(says), "{says:?} in {html}");
}

#[tokio::test]
async fn the_login_redirect_asks_for_a_code_with_pkce_state_and_nonce() {
    let sso = spawn_with_provider().await;
    let authorize = start(&sso.app.anonymous()).await;
    assert!(authorize.as_str().starts_with(&sso.provider.issuer), "{authorize}");
    assert_eq!(query(&authorize, "response_type"), "code");
    assert_eq!(query(&authorize, "client_id"), sso.provider.client_id);
    assert_eq!(query(&authorize, "redirect_uri"), sso.app.url("/auth/callback"));
    assert_eq!(query(&authorize, "code_challenge_method"), "S256");
    let scopes = query(&authorize, "scope");
    for scope in ["openid", "email", "profile"] {
        assert!(scopes.split(' ').any(|s| s == scope), "{scopes}");
    }
    for random in ["state", "nonce", "code_challenge"] {
        assert!(query(&authorize, random).len() >= 22, "{random} is long and random");
    }
}

#[tokio::test]
async fn first_sign_in_links_the_added_person_by_verified_email_then_the_subject_is_used() {
    let sso = spawn_with_provider().await;
    let session = sso.app.anonymous();
    let callback = through_provider(&session, start(&session).await, "alice@example.com").await;
    let landed = session.client.get(callback).send().await.unwrap();
    assert_eq!(landed.status(), 303);
    assert_eq!(signed_in_email(&sso, &session).await.as_deref(), Some("alice@example.com"));

    let alice = orgs::find_user_by_email(&mut sso.app.conn(), "alice@example.com").unwrap().unwrap();
    assert_eq!(alice.oidc_issuer.as_deref(), Some(sso.provider.issuer.as_str()));
    let subject = alice.oidc_subject.clone().expect("linked");
    assert_ne!(subject, "alice@example.com");

    // Renamed at the provider or not, the next sign-in finds her by (issuer, subject).
    use tessera::db::schema::users::dsl as u;
    diesel::update(u::users.find(&alice.id))
        .set(u::email.eq("alice.renamed@example.com"))
        .execute(&mut sso.app.conn())
        .unwrap();
    let again = sso.app.anonymous();
    let callback = through_provider(&again, start(&again).await, "alice@example.com").await;
    assert_eq!(again.client.get(callback).send().await.unwrap().status(), 303);
    assert_eq!(signed_in_email(&sso, &again).await.as_deref(), Some("alice.renamed@example.com"));

    let sign_ins: Vec<serde_json::Value> = sso
        .app
        .audit()
        .into_iter()
        .filter(|e| e.action == "auth.sign_in")
        .map(|e| serde_json::from_str(&e.details).unwrap())
        .collect();
    assert_eq!(sign_ins.len(), 2);
    assert_eq!(sign_ins[0]["method"], "oidc");
    assert_eq!(sign_ins[0]["linked"], true);
    assert_eq!(sign_ins[1]["linked"], false);
}

#[tokio::test]
async fn a_tampered_state_is_refused_and_audited() {
    let sso = spawn_with_provider().await;
    let session = sso.app.anonymous();
    let callback = through_provider(&session, start(&session).await, "alice@example.com").await;
    let tampered = with_query(&callback, "state", "not-the-state");
    failed_page(session.client.get(tampered).send().await.unwrap(), 400, "no longer valid").await;
    assert_eq!(last_failure(&sso)["reason"], "invalid_state");
    assert_eq!(signed_in_email(&sso, &session).await, None);
    // The state was used up by the attempt: the genuine callback cannot follow it.
    failed_page(session.client.get(callback).send().await.unwrap(), 400, "no longer valid").await;
}

#[tokio::test]
async fn a_replayed_callback_is_refused() {
    let sso = spawn_with_provider().await;
    let session = sso.app.anonymous();
    let callback = through_provider(&session, start(&session).await, "alice@example.com").await;
    assert_eq!(session.client.get(callback.clone()).send().await.unwrap().status(), 303);
    let other = sso.app.anonymous();
    failed_page(other.client.get(callback.clone()).send().await.unwrap(), 400, "no longer valid").await;
    failed_page(session.client.get(callback).send().await.unwrap(), 400, "no longer valid").await;
}

#[tokio::test]
async fn a_nonce_the_session_did_not_ask_for_is_refused() {
    let sso = spawn_with_provider().await;
    let session = sso.app.anonymous();
    let authorize = with_query(&start(&session).await, "nonce", "a-nonce-from-somewhere-else-0123456789");
    let callback = through_provider(&session, authorize, "alice@example.com").await;
    failed_page(session.client.get(callback).send().await.unwrap(), 400, "did not match").await;
    assert_eq!(last_failure(&sso)["reason"], "nonce_mismatch");
    assert_eq!(signed_in_email(&sso, &session).await, None);
}

#[tokio::test]
async fn consent_denied_and_a_refused_code_give_clear_pages() {
    let sso = spawn_with_provider().await;
    let session = sso.app.anonymous();
    let state = query(&start(&session).await, "state");
    let denied = format!("/auth/callback?error=access_denied&state={state}");
    failed_page(session.get(&denied).await, 400, "cancelled").await;
    assert_eq!(last_failure(&sso)["reason"], "cancelled");

    // A code the provider does not know (expired, or made up) is refused at the token endpoint.
    let callback = through_provider(&session, start(&session).await, "alice@example.com").await;
    let bogus = with_query(&callback, "code", "expired-or-made-up");
    failed_page(session.client.get(bogus).send().await.unwrap(), 400, "refused the sign-in code").await;
    assert_eq!(last_failure(&sso)["reason"], "code_refused");
    assert_eq!(signed_in_email(&sso, &session).await, None);
}

#[tokio::test]
async fn unverified_emails_and_unknown_people_are_refused() {
    let sso = spawn_with_provider().await;
    let session = sso.app.anonymous();
    let callback = through_provider(&session, start(&session).await, "mallory@example.com").await;
    failed_page(session.client.get(callback).send().await.unwrap(), 403, "not verified").await;
    assert_eq!(last_failure(&sso)["reason"], "email_not_verified");
    let mallory = orgs::find_user_by_email(&mut sso.app.conn(), "mallory@example.com").unwrap().unwrap();
    assert_eq!(mallory.oidc_subject, None, "not linked");

    // A new browser: the provider would otherwise remember mallory.
    let session = sso.app.anonymous();
    let callback = through_provider(&session, start(&session).await, "eve@example.com").await;
    failed_page(session.client.get(callback).send().await.unwrap(), 403, "No Tessera account").await;
    assert_eq!(last_failure(&sso)["reason"], "unknown_person");
    assert_eq!(signed_in_email(&sso, &session).await, None);
    for entry in sso.app.audit() {
        assert!(!entry.details.contains("code="), "no codes in the audit log");
    }
    // A refusal naming a known person is in the log of their org; one naming nobody is in none.
    let failures: Vec<_> =
        sso.app.audit().into_iter().filter(|e| e.action == "auth.sign_in_failed").collect();
    let org_of = |email: &str| {
        failures.iter().find(|e| e.target_label.as_deref() == Some(email)).map(|e| e.org_id.clone())
    };
    assert_eq!(org_of("mallory@example.com"), Some(Some(sso.acme.org.id.clone())));
    assert_eq!(org_of("eve@example.com"), Some(None));
}

#[tokio::test]
async fn without_a_provider_the_sso_routes_do_not_exist() {
    let app = spawn_app().await;
    let session = app.anonymous();
    assert_eq!(session.get("/auth/login").await.status(), 404);
    assert_eq!(session.get("/auth/callback?code=x&state=y").await.status(), 404);
    let html = session.get("/sign-in").await.text().await.unwrap();
    assert!(!html.contains("single sign-on"));
}

#[tokio::test]
async fn the_sign_in_page_offers_single_sign_on() {
    let sso = spawn_with_provider().await;
    let html = sso.app.anonymous().get("/sign-in").await.text().await.unwrap();
    assert!(html.contains(r#"href="/auth/login""#), "{html}");
    assert!(html.contains("Sign in with single sign-on"));
}
