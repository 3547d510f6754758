use chrono::TimeDelta;
use diesel::prelude::*;
use tessera::credentials::{secret, CredentialKind, Passphrase, Plan};

use crate::helpers::*;

fn generate<'a>(name: &'a str, scopes: &[&'a str], expiry: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("name", name), ("expiry", expiry)];
    fields.extend(scopes.iter().map(|s| ("scopes", *s)));
    fields
}

#[tokio::test]
async fn generating_a_token_reveals_the_secret_once_with_no_store() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;

    let response = alice
        .post(&tokens_path(&acme), &generate("deploy bot", &["basic_deployment", "modify_env"], "30"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("Copy this key now. It will not be shown again."));
    let shown = texts(&html, "#new-secret");
    assert_eq!(shown.len(), 1);
    let plain = shown[0].clone();
    let (kind, parsed) = secret::parse(&plain, &app.catalog.prefixes).expect("a well-formed secret");
    assert_eq!(kind, CredentialKind::AccessToken);
    assert!(plain.starts_with("tsr_at_"));

    let rows = app.credentials_of(&acme);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.name, "deploy bot");
    assert_eq!(row.grants, "basic_deployment modify_env");
    assert_eq!(row.display_prefix, &plain[..13]);
    assert!(parsed.hash().matches_hex(&stored_hash(&app, &row.id)));
    assert_eq!(row.expires_at, Some(app.now() + TimeDelta::days(30)));
    assert_eq!(row.created_by, acme.owner.id);

    let again = alice.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(!again.contains(&plain), "the secret is never shown again");
    assert!(again.contains(&row.display_prefix));
    assert!(row_text(&again, "deploy bot").contains("Active"));
}

fn stored_hash(app: &TestApp, id: &str) -> String {
    use tessera::db::schema::credentials::dsl as c;
    c::credentials.find(id).select(c::secret_hash).first(&mut app.conn()).unwrap()
}

fn row_text(html: &str, name: &str) -> String {
    row(html, name).unwrap_or_else(|| panic!("no row for {name}"))
}

#[tokio::test]
async fn the_secret_is_nowhere_in_the_database() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let html = alice
        .post(
            &tokens_path(&acme),
            &[
                ("name", "with phrase"),
                ("scopes", "all"),
                ("expiry", "never"),
                ("passphrase", "open sesame 123"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    let plain = texts(&html, "#new-secret").remove(0);
    let random_part = &plain["tsr_at_".len()..];
    let dump = dump_text_columns(&app);
    assert!(!dump.contains(random_part), "secret found in the database");
    assert!(!dump.contains("open sesame 123"), "passphrase found in the database");
    let row = &app.credentials_of(&acme)[0];
    let phc = row.passphrase_hash.as_deref().expect("passphrase stored hashed");
    assert!(phc.starts_with("$argon2id$"));
    assert!(Passphrase::parse("open sesame 123").unwrap().verify(phc));
}

/// Every text column of every row, as one string.
fn dump_text_columns(app: &TestApp) -> String {
    use tessera::db::schema::{audit_log as a, credentials as c};
    let mut conn = app.conn();
    let creds: Vec<(String, String, String, Option<String>, String)> = c::table
        .select((c::name, c::secret_hash, c::display_prefix, c::passphrase_hash, c::grants))
        .load(&mut conn)
        .unwrap();
    let audit: Vec<(String, Option<String>, String)> =
        a::table.select((a::action, a::target_label, a::details)).load(&mut conn).unwrap();
    format!("{creds:?}{audit:?}")
}

#[tokio::test]
async fn bad_fields_re_render_the_form_with_422_and_create_nothing() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let long_name = "n".repeat(256);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (generate("ab", &["all"], "30"), "Name must be at least 3 characters."),
        (generate("   ab   ", &["all"], "30"), "Name must be at least 3 characters."),
        (generate(&long_name, &["all"], "30"), "Name must be at most 255 characters."),
        (generate("no scopes", &[], "30"), "Select at least one scope."),
        (generate("bad scope", &["all", "root"], "30"), "Unknown scope"),
        (generate("past date", &["all"], "custom"), "Enter the expiry date as YYYY-MM-DD."),
        (generate("zero days", &["all"], "0"), "Choose Never"),
        (
            [generate("short phrase", &["all"], "30"), vec![("passphrase", "short")]].concat(),
            "Passphrase must be 8–255 characters.",
        ),
        (
            [generate("yesterday", &["all"], "custom"), vec![("expires_on", "2026-11-22")]].concat(),
            "Expiry must lie in the future.",
        ),
        (
            [generate("today", &["all"], "custom"), vec![("expires_on", "2026-11-23")]].concat(),
            "Expiry must lie in the future.",
        ),
    ];
    for (fields, message) in cases {
        let response = alice.post(&tokens_path(&acme), &fields).await;
        assert_eq!(response.status(), 422, "{message}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "expected {message:?}");
        assert!(!html.contains("tsr_at_"), "no secret in a refusal");
    }
    assert!(app.credentials_of(&acme).is_empty());
    assert!(app.audit().iter().all(|e| e.action != "access_token.create"));
}

#[tokio::test]
async fn a_refused_form_keeps_what_was_typed_but_never_the_passphrase() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let fields = [generate("ok name", &["modify_env"], "60"), vec![("passphrase", "tiny")]].concat();
    let html = alice.post(&tokens_path(&acme), &fields).await.text().await.unwrap();
    assert!(html.contains("value=\"ok name\""));
    assert!(html.contains("value=\"modify_env\" checked"));
    assert!(!html.contains("tiny"));
}

#[tokio::test]
async fn names_are_trimmed_and_unique_among_live_tokens_of_the_org() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&tokens_path(&acme), &generate("  ci bot  ", &["all"], "30")).await.status(), 200);
    assert_eq!(app.credentials_of(&acme)[0].name, "ci bot");

    let taken = alice.post(&tokens_path(&acme), &generate("ci bot", &["all"], "30")).await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("An active token with this name already exists."));

    app.token(&globex, TokenSpec { name: "shared", ..Default::default() });
    let other_org = alice.post(&tokens_path(&acme), &generate("shared", &["all"], "30")).await;
    assert_eq!(other_org.status(), 200, "names are unique per org only");

    let id = app.credentials_of(&acme)[0].id.clone();
    alice.post(&format!("{}/{id}/revoke", tokens_path(&acme)), &[]).await;
    let after_revoke = alice.post(&tokens_path(&acme), &generate("ci bot", &["all"], "30")).await;
    assert_eq!(after_revoke.status(), 200, "a revoked token's name is free again");

    app.token(
        &acme,
        TokenSpec { name: "old", expires_at: Some(app.now() + TimeDelta::hours(1)), ..Default::default() },
    );
    app.clock.advance(TimeDelta::hours(2));
    let after_expiry = alice.post(&tokens_path(&acme), &generate("old", &["all"], "30")).await;
    let status = after_expiry.status();
    let body = after_expiry.text().await.unwrap();
    assert_eq!(
        status,
        200,
        "an expired token's name is free again: {:?}",
        texts(&body, ".field-error, .form-error")
    );
}

#[tokio::test]
async fn never_is_allowed_unless_the_org_caps_lifetime() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&tokens_path(&acme), &generate("forever", &["all"], "never")).await.status(), 200);
    assert_eq!(app.credentials_of(&acme)[0].expires_at, None);

    use tessera::db::schema::organizations::dsl as o;
    app.set_org(&acme.org, |conn, id| {
        diesel::update(o::organizations.find(id)).set(o::max_lifetime_days.eq(Some(60))).execute(conn)
    });
    let refused = alice.post(&tokens_path(&acme), &generate("forever 2", &["all"], "never")).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("expire within 60 days"));
    let too_long = alice.post(&tokens_path(&acme), &generate("ninety", &["all"], "90")).await;
    assert_eq!(too_long.status(), 422);
    assert_eq!(alice.post(&tokens_path(&acme), &generate("sixty", &["all"], "60")).await.status(), 200);
    let custom = [generate("custom", &["all"], "custom"), vec![("expires_on", "2026-12-24")]].concat();
    assert_eq!(alice.post(&tokens_path(&acme), &custom).await.status(), 200);
    let custom_row = app.credentials_of(&acme).into_iter().find(|r| r.name == "custom").unwrap();
    assert_eq!(custom_row.expires_at.unwrap().to_string(), "2026-12-24 00:00:00");
}

#[tokio::test]
async fn the_plan_caps_live_tokens_and_refuses_clearly() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Free);
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&tokens_path(&acme), &generate("first", &["all"], "30")).await.status(), 200);
    let over = alice.post(&tokens_path(&acme), &generate("second", &["all"], "30")).await;
    assert_eq!(over.status(), 422);
    let html = over.text().await.unwrap();
    assert!(
        html.contains("The free plan allows 1 live access tokens."),
        "{}",
        texts(&html, ".form-error").join("|")
    );
    assert_eq!(app.credentials_of(&acme).len(), 1, "nothing created over the cap");

    let id = app.credentials_of(&acme)[0].id.clone();
    alice.post(&format!("{}/{id}/revoke", tokens_path(&acme)), &[]).await;
    assert_eq!(
        alice.post(&tokens_path(&acme), &generate("second", &["all"], "30")).await.status(),
        200,
        "revoked tokens do not count"
    );

    app.clock.advance(TimeDelta::days(31));
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(
        alice.post(&tokens_path(&acme), &generate("third", &["all"], "30")).await.status(),
        200,
        "expired tokens do not count"
    );
}

#[tokio::test]
async fn team_and_enterprise_caps() {
    let app = spawn_app().await;
    let team = app.org("team", Plan::Team);
    for i in 0..5 {
        app.token(&team, TokenSpec { name: &format!("t{i}"), ..Default::default() });
    }
    let owner = app.sign_in(&team.owner).await;
    let over = owner.post(&tokens_path(&team), &generate("sixth", &["all"], "30")).await;
    assert_eq!(over.status(), 422);
    assert!(over.text().await.unwrap().contains("The team plan allows 5 live access tokens."));

    let big = app.org("big", Plan::Enterprise);
    use tessera::db::schema::organizations::dsl as o;
    app.set_org(&big.org, |conn, id| {
        diesel::update(o::organizations.find(id)).set(o::credential_cap.eq(Some(2))).execute(conn)
    });
    let owner = app.sign_in(&big.owner).await;
    assert_eq!(owner.post(&tokens_path(&big), &generate("one", &["all"], "30")).await.status(), 200);
    assert_eq!(owner.post(&tokens_path(&big), &generate("two", &["all"], "30")).await.status(), 200);
    let over = owner.post(&tokens_path(&big), &generate("three", &["all"], "30")).await;
    assert!(over.text().await.unwrap().contains("The enterprise plan allows 2 live access tokens."));
}

#[tokio::test]
async fn revoking_keeps_the_row_marked_with_when_and_by_whom() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (token, _) = app.token(&acme, TokenSpec { name: "to revoke", ..Default::default() });
    let bob = app.sign_in(&acme.admin).await;
    app.clock.advance(TimeDelta::minutes(5));

    let response = bob.post(&format!("{}/{}/revoke", tokens_path(&acme), token.id), &[]).await;
    assert_eq!(response.status(), 303, "a plain form post goes back to the list");
    let row = app.credential(&token.id);
    assert_eq!(row.revoked_at, Some(app.now()));
    assert_eq!(row.revoked_by.as_deref(), Some(acme.admin.id.as_str()));

    let html = bob.get(&tokens_path(&acme)).await.text().await.unwrap();
    let text = row_text(&html, "to revoke");
    assert!(text.contains("Revoked"), "{text}");
    assert!(text.contains(&format!("by {}", acme.admin.email)), "{text}");
    assert!(!html.contains(&format!("{}/revoke", token.id)), "no revoke control on a revoked token");

    let again = bob.post(&format!("{}/{}/revoke", tokens_path(&acme), token.id), &[]).await;
    assert_eq!(again.status(), 303);
    assert_eq!(app.credential(&token.id).revoked_at, row.revoked_at, "revoking twice changes nothing");
    assert_eq!(app.audit().iter().filter(|e| e.action == "access_token.revoke").count(), 1);
}

#[tokio::test]
async fn htmx_revoke_answers_with_the_panel_and_a_notice() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (token, _) = app.token(&acme, TokenSpec { name: "htmx revoke", ..Default::default() });
    let alice = app.sign_in(&acme.owner).await;
    let csrf = alice.csrf().await;
    let response = alice
        .client
        .post(app.url(&format!("{}/{}/revoke", tokens_path(&acme), token.id)))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", csrf)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.trim_start().starts_with("<section id=\"credential-panel\""), "a partial, not a page");
    assert!(html.contains("Token “htmx revoke” revoked."));
    assert!(row_text(&html, "htmx revoke").contains("Revoked"));
}

#[tokio::test]
async fn statuses_filters_and_never() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let now = app.now();
    app.token(&acme, TokenSpec { name: "forever", ..Default::default() });
    app.token(
        &acme,
        TokenSpec { name: "soon", expires_at: Some(now + TimeDelta::days(10)), ..Default::default() },
    );
    app.token(
        &acme,
        TokenSpec { name: "later", expires_at: Some(now + TimeDelta::days(40)), ..Default::default() },
    );
    app.token(
        &acme,
        TokenSpec { name: "lapsing", expires_at: Some(now + TimeDelta::hours(1)), ..Default::default() },
    );
    let (gone, _) = app.token(&acme, TokenSpec { name: "gone", ..Default::default() });
    let carol = app.sign_in(&acme.member).await;
    let alice = app.sign_in(&acme.owner).await;
    alice.post(&format!("{}/{}/revoke", tokens_path(&acme), gone.id), &[]).await;
    app.clock.advance(TimeDelta::hours(2));

    let all = carol.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(row_text(&all, "forever").contains("Active"));
    assert!(row_text(&all, "forever").contains("Never"), "no expiry reads Never");
    assert!(row_text(&all, "soon").contains("Expiring soon"));
    assert!(row_text(&all, "later").contains("Active") && !row_text(&all, "later").contains("Expiring soon"));
    assert!(row_text(&all, "lapsing").contains("Expired"));
    assert!(row_text(&all, "gone").contains("Revoked"));

    let names = |html: &str| texts(html, "tr[data-credential] .name");
    let path = tokens_path(&acme);
    assert_eq!(
        names(&carol.get(&format!("{path}?status=active")).await.text().await.unwrap()),
        ["later", "soon", "forever"]
    );
    assert_eq!(names(&carol.get(&format!("{path}?status=expired")).await.text().await.unwrap()), ["lapsing"]);
    assert_eq!(names(&carol.get(&format!("{path}?status=revoked")).await.text().await.unwrap()), ["gone"]);
}

#[tokio::test]
async fn lists_show_last_used_usage_count_and_are_newest_first() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (used, _) = app.token(
        &acme,
        TokenSpec { name: "used", created_at: Some(app.now() - TimeDelta::days(3)), ..Default::default() },
    );
    app.token(&acme, TokenSpec { name: "unused", ..Default::default() });
    tessera::db::credentials::add_usage(
        &mut app.conn(),
        &used.id,
        17,
        app.now() - TimeDelta::hours(3),
        "198.51.100.7",
    )
    .unwrap();

    let html = app.sign_in(&acme.auditor).await.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert_eq!(texts(&html, "tr[data-credential] .name"), ["unused", "used"]);
    let used_row = row_text(&html, "used");
    assert!(
        used_row.contains("3 hours ago") && used_row.contains("198.51.100.7") && used_row.contains("17"),
        "{used_row}"
    );
    assert!(html.contains("title=\"2026-11-23 06:30:00 UTC\""), "absolute UTC on hover");
    let unused_row = row_text(&html, "unused");
    assert!(unused_row.contains("Never"), "{unused_row}");
    assert!(unused_row.contains(&format!("by {}", acme.owner.email)));
}

#[tokio::test]
async fn search_and_pagination_by_fifty() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Enterprise);
    let start = app.now() - TimeDelta::days(1);
    for i in 0..51 {
        app.token(
            &acme,
            TokenSpec {
                name: &format!("bulk {i:02}"),
                created_at: Some(start + TimeDelta::minutes(i)),
                ..Default::default()
            },
        );
    }
    let (special, _) = app.token(&acme, TokenSpec { name: "100%_literal", ..Default::default() });
    let alice = app.sign_in(&acme.owner).await;
    let path = tokens_path(&acme);
    let first = alice.get(&path).await.text().await.unwrap();
    assert_eq!(texts(&first, "tr[data-credential]").len(), 50);
    assert!(first.contains("1–50 of 52"));
    let second = alice.get(&format!("{path}?status=all&page=2")).await.text().await.unwrap();
    assert_eq!(texts(&second, "tr[data-credential] .name"), ["bulk 01", "bulk 00"]);

    let found = alice.get(&format!("{path}?q=bulk+4")).await.text().await.unwrap();
    assert_eq!(texts(&found, "tr[data-credential]").len(), 10);
    let literal = alice.get(&format!("{path}?q=%25_")).await.text().await.unwrap();
    assert_eq!(texts(&literal, "tr[data-credential] .name"), ["100%_literal"], "LIKE wildcards are escaped");
    let by_prefix = alice.get(&format!("{path}?q={}", special.display_prefix)).await.text().await.unwrap();
    assert_eq!(texts(&by_prefix, "tr[data-credential] .name"), ["100%_literal"]);

    let partial = alice.get_htmx(&format!("{path}?q=bulk+4"), "credential-list").await.text().await.unwrap();
    assert!(partial.trim_start().starts_with("<section id=\"credential-list\""), "htmx gets only the list");
}

#[tokio::test]
async fn every_write_lands_in_the_audit_log_without_the_secret() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let html =
        alice.post(&tokens_path(&acme), &generate("audited", &["all"], "30")).await.text().await.unwrap();
    let plain = texts(&html, "#new-secret").remove(0);
    let id = app.credentials_of(&acme)[0].id.clone();
    alice.post(&format!("{}/{id}/revoke", tokens_path(&acme)), &[]).await;

    let entries: Vec<_> =
        app.audit().into_iter().filter(|e| e.org_id.as_deref() == Some(&acme.org.id)).collect();
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["auth.sign_in", "access_token.create", "access_token.revoke"]);
    let entries = &entries[1..];
    for entry in entries {
        assert_eq!(entry.actor_user_id.as_deref(), Some(acme.owner.id.as_str()));
        assert_eq!(entry.actor_label, acme.owner.email);
        assert_eq!(entry.target_id.as_deref(), Some(id.as_str()));
        assert_eq!(entry.target_label.as_deref(), Some("audited"));
        assert_eq!(entry.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(entry.user_agent.as_deref(), Some("tessera-tests/1.0"));
        assert!(!entry.details.contains(&plain[7..]), "no secret in audit details");
    }
    let details: serde_json::Value = serde_json::from_str(&entries[0].details).unwrap();
    assert_eq!(details["grants"], serde_json::json!(["all"]));
    assert_eq!(details["passphrase"], false);
}

async fn post_concurrently(app: &TestApp, org: &TestOrg, names: Vec<String>) -> Vec<u16> {
    let session = std::sync::Arc::new(app.sign_in(&org.owner).await);
    let path = tokens_path(org);
    let tasks: Vec<_> = names
        .into_iter()
        .map(|name| {
            let (session, path) = (session.clone(), path.clone());
            tokio::spawn(async move {
                session
                    .post(&path, &[("name", name.as_str()), ("scopes", "all"), ("expiry", "30")])
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn concurrent_creations_never_exceed_the_cap() {
    let app = spawn_app().await;
    let team = app.org("team", Plan::Team);
    let statuses = post_concurrently(&app, &team, (0..12).map(|i| format!("token {i}")).collect()).await;
    assert_eq!(app.credentials_of(&team).len(), 5, "team cap is 5; statuses {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 422).count(), 7, "{statuses:?}");
}

#[tokio::test]
async fn concurrent_creations_never_duplicate_a_name() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let statuses = post_concurrently(&app, &acme, vec!["same name".to_owned(); 8]).await;
    assert_eq!(app.credentials_of(&acme).len(), 1, "statuses {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
}

#[tokio::test]
async fn a_search_with_control_characters_is_answered_not_failed() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    app.token(&acme, TokenSpec { name: "deploy", ..Default::default() });
    let alice = app.sign_in(&acme.owner).await;
    let page = alice.get(&format!("{}?q=dep%00loy%07", tokens_path(&acme))).await;
    // PostgreSQL refuses NUL in a query: it must never get one, and the person is told why.
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("Control characters and bidirectional-override"));
    let page = alice.get(&format!("{}?q=dep", tokens_path(&acme))).await;
    assert_eq!(texts(&page.text().await.unwrap(), "tr[data-credential]").len(), 1);
}
