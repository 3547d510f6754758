use tessera::credentials::Plan;

use crate::helpers::*;

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    for path in
        ["/sign-in", tokens_path(&acme).as_str(), "/orgs/nope/settings/tokens", "/static/app.js", "/healthz"]
    {
        let response = alice.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "same-origin", "{path}");
    }
}

#[tokio::test]
async fn pages_have_no_inline_script_or_event_handlers() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    app.token(&acme, TokenSpec::default());
    let alice = app.sign_in(&acme.owner).await;
    let created = alice
        .post(
            &tokens_path(&acme),
            &[("name", "x<script>alert(1)</script>"), ("scopes", "all"), ("expiry", "30")],
        )
        .await;
    for html in [
        created.text().await.unwrap(),
        alice.get(&tokens_path(&acme)).await.text().await.unwrap(),
        alice.get("/sign-in").await.text().await.unwrap(),
    ] {
        let doc = scraper::Html::parse_document(&html);
        let scripts = scraper::Selector::parse("script").unwrap();
        for script in doc.select(&scripts) {
            assert!(script.value().attr("src").is_some(), "inline script found");
        }
        for element in doc.select(&scraper::Selector::parse("*").unwrap()) {
            assert!(
                element.value().attrs().all(|(name, _)| !name.starts_with("on")),
                "event handler attribute found"
            );
        }
        assert!(!html.contains("<script>alert(1)"), "user data is escaped");
    }
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_and_our_origin() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let fields = [("name", "csrf test"), ("scopes", "all"), ("expiry", "30")];
    let path = tokens_path(&acme);

    let missing = alice.post_raw(&path, &fields).await;
    assert_eq!(missing.status(), 403, "no token");
    let wrong = alice.post_raw(&path, &[fields.as_slice(), &[("csrf_token", "forged")]].concat()).await;
    assert_eq!(wrong.status(), 403, "wrong token");

    let token = alice.csrf().await;
    let body =
        serde_html_form::to_string([fields.as_slice(), &[("csrf_token", token.as_str())]].concat()).unwrap();
    let send = |origin: Option<&'static str>, site: Option<&'static str>| {
        let mut request = alice
            .client
            .post(app.url(&path))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone());
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        if let Some(site) = site {
            request = request.header("Sec-Fetch-Site", site);
        }
        request.send()
    };
    assert_eq!(send(Some("https://evil.example"), None).await.unwrap().status(), 403, "foreign Origin");
    assert_eq!(send(Some("null"), None).await.unwrap().status(), 403, "opaque Origin");
    assert_eq!(send(None, Some("cross-site")).await.unwrap().status(), 403, "cross-site fetch");
    assert_eq!(send(None, Some("same-site")).await.unwrap().status(), 403, "a sibling subdomain is not us");
    assert!(app.credentials_of(&acme).is_empty(), "nothing was created by a refused request");

    let origin: &'static str = Box::leak(app.address.clone().into_boxed_str());
    assert_eq!(send(Some(origin), Some("same-origin")).await.unwrap().status(), 200, "our own page");

    let header_only = alice
        .client
        .post(app.url(&path))
        .header("X-CSRF-Token", token)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            serde_html_form::to_string([("name", "via header"), ("scopes", "all"), ("expiry", "30")])
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(header_only.status(), 200, "htmx sends the token as a header");
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_same_site_lax() {
    let app = spawn_app().await;
    let response = app.anonymous().get("/sign-in").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("tessera_session="));
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: a Secure cookie would never come back");
    assert!(cookie.contains("Max-Age=28800"), "the idle limit: {cookie}");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let app = spawn_app_configured(tessera::catalog::Catalog::built_in(), |settings| {
        settings.public_url = "https://tessera.example.test".parse().unwrap();
    })
    .await;
    let response = app.anonymous().get("/sign-in").await;
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test]
async fn oversized_and_unreadable_forms_are_refused_cleanly() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let huge = "x".repeat(100 * 1024);
    let response = alice
        .post(&tokens_path(&acme), &[("name", huge.as_str()), ("scopes", "all"), ("expiry", "30")])
        .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(app.credentials_of(&acme).is_empty());
}
