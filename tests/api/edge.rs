//! What every request meets before a handler (SPEC §7): the `Host` check against DNS rebinding,
//! the header-size limit, HSTS behind https, and the rate headers on every 429.

use diesel::prelude::*;
use tessera::catalog::Catalog;
use tessera::credentials::{secret, CredentialKind, Plan};
use tessera::db::schema::credentials::dsl as c;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

fn port(app: &TestApp) -> u16 {
    app.address.rsplit(':').next().unwrap().parse().unwrap()
}

fn assert_security_headers(response: &reqwest::Response, what: &str) {
    let headers = response.headers();
    let csp = headers.get("content-security-policy").map(|v| v.to_str().unwrap()).unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: CSP {csp:?}");
    assert_eq!(headers.get("x-content-type-options").map(|v| v.to_str().unwrap()), Some("nosniff"), "{what}");
    assert_eq!(headers.get("x-frame-options").map(|v| v.to_str().unwrap()), Some("DENY"), "{what}");
    assert_eq!(headers.get("referrer-policy").map(|v| v.to_str().unwrap()), Some("same-origin"), "{what}");
}

/// The whole answer to bytes written straight to the socket, for requests reqwest cannot make.
async fn raw(app: &TestApp, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port(app))).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_rebinding_host_is_refused_on_pages_the_dev_sign_in_and_the_api() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    let evil = format!("evil.example:{}", port(&app));

    // A page a rebinding script would read with the victim's cookie.
    let alice = app.sign_in(&acme.owner).await;
    let page = alice.client.get(app.url(&tokens_path(&acme))).header("Host", &evil).send().await.unwrap();
    assert_eq!(page.status(), 400, "console page");
    assert_security_headers(&page, "console page");
    assert!(page.headers().get("set-cookie").is_none(), "a refused request never reaches the session");
    assert!(!page.text().await.unwrap().contains(&row.name));

    // The dev sign-in: the attack itself. The CSRF token is one the attacker's page can read
    // through the rebound name, so only the Host check stands in the way.
    let attacker = app.anonymous();
    let csrf = attacker.csrf().await;
    let signed_in_before = app.audit().len();
    let form =
        serde_html_form::to_string([("csrf_token", csrf.as_str()), ("user_id", acme.owner.id.as_str())])
            .unwrap();
    let post = attacker
        .client
        .post(app.url("/auth/dev"))
        .header("Host", &evil)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 400, "dev sign-in");
    assert_security_headers(&post, "dev sign-in");
    assert_eq!(app.audit().len(), signed_in_before, "no sign-in happened");
    assert_eq!(attacker.get("/").await.headers()["location"], "/sign-in", "still signed out");

    // An API route answers in its JSON shape, and nothing is counted.
    let api = app.api().get(app.url("/api/v1/me")).header("Host", &evil).bearer_auth(plain.expose());
    let api = api.send().await.unwrap();
    assert_eq!(api.status(), 400, "API route");
    assert_security_headers(&api, "API route");
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["code"], "bad_request");
    app.flush_usage().await;
    assert_eq!(app.credential(&row.id).usage_count, 0);

    // Names that only look like ours, and malformed Host values.
    for host in ["localhost.evil.example", "127.0.0.1.nip.io", "evil.example", "127.0.0.1:80:80", "[::1]x"] {
        let response = app.api().get(app.url("/sign-in")).header("Host", host).send().await.unwrap();
        assert_eq!(response.status(), 400, "{host}");
    }
    // HTTP/1.0 may omit Host; a browser never does, and nothing is served without one.
    let no_host = raw(&app, "GET /sign-in HTTP/1.0\r\n\r\n").await;
    assert!(no_host.starts_with("HTTP/1.0 400") || no_host.starts_with("HTTP/1.1 400"), "{no_host}");
}

#[tokio::test]
async fn loopback_names_are_served_with_dev_sign_in_whatever_the_port() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (_, plain) = app.token(&acme, TokenSpec::default());
    let p = port(&app);
    for host in [
        format!("127.0.0.1:{p}"),
        format!("localhost:{p}"),
        format!("LocalHost:{p}"),
        format!("localhost.:{p}"),
        format!("127.0.0.2:{p}"),
        format!("[::1]:{p}"),
        "127.0.0.1".to_owned(),
        "localhost:9".to_owned(),
    ] {
        let page = app.api().get(app.url("/sign-in")).header("Host", &host).send().await.unwrap();
        assert_eq!(page.status(), 200, "{host}");
        let me = app.api().get(app.url("/api/v1/me")).header("Host", &host).bearer_auth(plain.expose());
        assert_eq!(me.send().await.unwrap().status(), 200, "{host}");
    }
    // Probes and scrapers name the instance by its own address: they are answered whatever it is.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let probe = app.api().get(app.url(path)).header("Host", "10.1.2.3:8080").send().await.unwrap();
        assert_eq!(probe.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn without_dev_sign_in_only_the_public_host_is_served_and_https_adds_hsts() {
    let app = spawn_app_configured(Catalog::built_in(), |settings| {
        settings.public_url = "https://tessera.example.test".parse().unwrap();
        settings.dev_login = false;
    })
    .await;
    let get =
        |host: &'static str, path: &'static str| app.api().get(app.url(path)).header("Host", host).send();
    for host in ["tessera.example.test", "Tessera.EXAMPLE.test:443", "tessera.example.test."] {
        let page = get(host, "/sign-in").await.unwrap();
        assert_eq!(page.status(), 200, "{host}");
        assert_eq!(page.headers()["strict-transport-security"], "max-age=31536000", "{host}");
    }
    for host in ["localhost", "127.0.0.1", "evil.example"] {
        let refused = get(host, "/sign-in").await.unwrap();
        assert_eq!(refused.status(), 400, "{host}: loopback names are for dev sign-in only");
        assert_security_headers(&refused, host);
        assert_eq!(refused.headers()["strict-transport-security"], "max-age=31536000", "{host}");
    }
    // Every answer, errors included.
    for (path, status) in
        [("/healthz", 200), ("/static/app.js", 200), ("/no/such/page", 404), ("/api/v1/me", 401), ("/", 303)]
    {
        let response = get("tessera.example.test", path).await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000", "{path}");
    }
}

#[tokio::test]
async fn plain_http_sends_no_hsts() {
    let app = spawn_app().await;
    let page = app.anonymous().get("/sign-in").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("strict-transport-security").is_none());
}

#[tokio::test]
async fn over_large_headers_get_431_with_the_security_headers() {
    let app = spawn_app_configured(Catalog::built_in(), |settings| {
        settings.public_url = "https://127.0.0.1".parse().unwrap();
    })
    .await;
    let big = "x".repeat(40 * 1024);
    let page = app.anonymous().client.get(app.url("/sign-in")).header("Cookie", format!("junk={big}"));
    let page = page.send().await.unwrap();
    assert_eq!(page.status(), 431);
    assert_security_headers(&page, "431 on a page");
    assert_eq!(page.headers()["strict-transport-security"], "max-age=31536000");

    let api = app.api().get(app.url("/api/v1/me")).header("X-Padding", &big).send().await.unwrap();
    assert_eq!(api.status(), 431);
    assert_security_headers(&api, "431 on the API");
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["code"], "headers_too_large");

    let mut many = app.api().get(app.url("/sign-in"));
    for i in 0..70 {
        many = many.header(format!("x-h{i}"), "1");
    }
    let many = many.send().await.unwrap();
    assert_eq!(many.status(), 431, "too many header lines");
    assert_security_headers(&many, "431 for many headers");

    let fine = app.anonymous().client.get(app.url("/sign-in")).header("X-Padding", "x".repeat(8 * 1024));
    assert_eq!(fine.send().await.unwrap().status(), 200, "an 8 KiB header is fine");
}

#[tokio::test]
async fn rate_limited_answers_carry_the_rate_limit_headers() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, key_spec("limited"));
    diesel::update(c::credentials.find(&row.id))
        .set(c::rate_limit_per_minute.eq(Some(2)))
        .execute(&mut app.conn())
        .unwrap();
    app.me(plain.expose()).await;
    app.me(plain.expose()).await;
    let limited = app.me(plain.expose()).await;
    assert_eq!(limited.status(), 429);
    let h = limited.headers();
    assert_eq!(h["x-ratelimit-limit"], "2");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-reset"], h["retry-after"], "nothing remains until the retry time");
    assert_security_headers(&limited, "credential 429");

    // The failed-authentication budget of an address.
    let unknown = secret::generate(CredentialKind::ApiKey, &app.catalog.prefixes);
    let mut last = None;
    for _ in 0..31 {
        last = Some(app.me(unknown.expose()).await);
    }
    let blocked = last.unwrap();
    assert_eq!(blocked.status(), 429);
    let h = blocked.headers();
    assert_eq!(h["x-ratelimit-limit"], "30");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset), "{reset}");
    // And once blocked, before any lookup.
    let again = app.me(unknown.expose()).await;
    assert_eq!(again.status(), 429);
    assert_eq!(again.headers()["x-ratelimit-limit"], "30");
}
