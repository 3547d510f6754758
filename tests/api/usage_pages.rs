//! Usage pages and reports: requests per day as an SVG chart whose numbers equal its table and
//! what was recorded, recent addresses, failed attempts, a credential's history; stale and
//! expiring reports; who may read them and who gets controls.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use tessera::credentials::{CredentialKind, Plan};
use tessera::db::credentials as repo;
use tessera::db::orgs::User;

use crate::helpers::*;

fn usage_path(org: &TestOrg, tab: &str, id: &str) -> String {
    format!("/orgs/{}/settings/{tab}/{id}/usage", org.org.slug)
}

fn reports_path(org: &TestOrg) -> String {
    format!("/orgs/{}/settings/reports", org.org.slug)
}

fn parse(html: &str) -> scraper::Html {
    scraper::Html::parse_document(html)
}

fn select<'a>(doc: &'a scraper::Html, selector: &str) -> Vec<scraper::ElementRef<'a>> {
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).collect()
}

fn attrs(doc: &scraper::Html, selector: &str, attr: &str) -> Vec<String> {
    select(doc, selector).iter().map(|e| e.value().attr(attr).unwrap_or_default().to_owned()).collect()
}

fn text(e: &scraper::ElementRef<'_>) -> String {
    e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn numbers(doc: &scraper::Html, selector: &str) -> Vec<i64> {
    select(doc, selector).iter().map(|e| text(e).replace(',', "").parse().expect("a number")).collect()
}

/// Names of the credentials in one report table.
fn report_names(html: &str, table: &str) -> Vec<String> {
    let mut names = attrs(&parse(html), &format!("#{table} tr[data-credential]"), "data-credential");
    names.sort();
    names
}

fn make_operator(app: &TestApp, email: &str) -> User {
    let user = app.user(email);
    use tessera::db::schema::users::dsl as u;
    diesel::update(u::users.find(&user.id)).set(u::is_operator.eq(true)).execute(&mut app.conn()).unwrap();
    User { is_operator: true, ..user }
}

fn days_ago(app: &TestApp, days: i64) -> NaiveDateTime {
    app.now() - TimeDelta::days(days)
}

/// Forms a page offers besides signing out.
fn write_forms(html: &str) -> usize {
    select(&parse(html), "form[method=post]")
        .iter()
        .filter(|f| f.value().attr("action") != Some("/sign-out"))
        .count()
}

#[tokio::test]
async fn the_chart_has_thirty_bars_equal_to_its_table_and_to_what_was_recorded() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (token, _) =
        app.token(&acme, TokenSpec { created_at: Some(days_ago(&app, 60)), ..Default::default() });
    let (other, _) = app.token(&acme, TokenSpec { name: "another", ..Default::default() });
    let usage = &app.state.usage;
    // An hour before now, so the addresses below are the most recent.
    let at = |days: i64| days_ago(&app, days) - TimeDelta::hours(1);
    // Today is 23 Nov 2026; the window runs from 25 Oct.
    let recorded: [(i64, i64, i64); 5] = [(0, 3, 1), (10, 1020, 0), (11, 210, 2), (29, 1, 0), (30, 50, 4)];
    for (days, requests, failed) in recorded {
        for _ in 0..requests {
            usage.accepted(&token.id, at(days), "198.51.100.1");
        }
        for _ in 0..failed {
            usage.failed(&token.id, at(days));
        }
    }
    for _ in 0..99 {
        usage.accepted(&other.id, at(5), "198.51.100.99");
    }
    // Seven addresses today, a minute apart: the last five are kept.
    for i in 1..=7 {
        usage.accepted(&token.id, app.now() - TimeDelta::minutes(10 - i), &format!("192.0.2.{i}"));
    }
    app.flush_usage().await;

    let auditor = app.sign_in(&acme.auditor).await;
    let response = auditor.get(&usage_path(&acme, "tokens", &token.id)).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let doc = parse(&html);

    let mut expected = vec![0_i64; 30];
    for (days, requests, _) in recorded.iter().filter(|r| r.0 < 30) {
        expected[29 - *days as usize] = *requests;
    }
    expected[29] += 7;
    let bars = numbers_of_bars(&doc, "#requests-chart");
    assert_eq!(bars.len(), 30, "one bar per day");
    assert_eq!(bars, expected, "zero-filled, the day 30 days ago left out, the other credential not counted");
    assert_eq!(
        numbers(&doc, "#daily-usage tbody td.requests"),
        expected,
        "the table says what the chart shows"
    );
    assert_eq!(numbers(&doc, "#daily-usage tfoot td.requests"), [1241]);
    assert_eq!(attrs(&doc, "#requests-chart rect.bar", "data-day")[0], "2026-10-25");
    assert_eq!(attrs(&doc, "#daily-usage tbody tr", "data-day")[29], "2026-11-23");
    assert_eq!(bars.iter().filter(|b| **b == 0).count(), 26);

    let svg = &select(&doc, "svg#requests-chart")[0];
    assert_eq!(svg.value().attr("role"), Some("img"));
    assert_eq!(svg.value().attr("aria-labelledby"), Some("requests-chart-title"));
    assert_eq!(svg.value().attr("aria-describedby"), Some("requests-chart-desc"));
    assert_eq!(
        texts(&html, "svg#requests-chart > title#requests-chart-title"),
        ["Requests per day, last 30 days (UTC)"]
    );
    assert_eq!(
        texts(&html, "svg#requests-chart > desc#requests-chart-desc"),
        ["Requests per day, 25 Oct to 23 Nov 2026: 1,241 in total, most on 13 Nov (1,020)."]
    );
    assert!(texts(&html, "#requests-chart rect.bar title").contains(&"12 Nov 2026: 210 requests".to_owned()));
    let tallest =
        select(&doc, "#requests-chart rect.bar[data-day='2026-11-13']")[0].value().attr("height").unwrap();
    let small =
        select(&doc, "#requests-chart rect.bar[data-day='2026-10-25']")[0].value().attr("height").unwrap();
    assert!(tallest.parse::<u32>().unwrap() > small.parse::<u32>().unwrap() && small != "0");
    assert!(!html.contains("style="), "no inline style: the CSP forbids it");

    let mut failed = vec![0_i64; 30];
    failed[29] = 1;
    failed[18] = 2;
    assert_eq!(numbers_of_bars(&doc, "#failed-chart"), failed);
    assert_eq!(numbers(&doc, "#daily-usage tbody td.failed"), failed);
    assert_eq!(
        texts(&html, "svg#failed-chart > desc"),
        ["Failed attempts per day, 25 Oct to 23 Nov 2026: 3 in total, most on 12 Nov (2)."]
    );

    let addresses: Vec<String> = texts(&html, "table.addresses code.ip");
    assert_eq!(addresses, ["192.0.2.7", "192.0.2.6", "192.0.2.5", "192.0.2.4", "192.0.2.3"]);
    assert_eq!(texts(&html, ".credential-facts .usage-count"), ["1,291"]);

    // A credential nobody used: thirty empty days, a description saying so, no failure chart.
    let html = auditor
        .get(&usage_path(
            &acme,
            "tokens",
            &app.token(&acme, TokenSpec { name: "idle", ..Default::default() }).0.id,
        ))
        .await
        .text()
        .await
        .unwrap();
    let doc = parse(&html);
    assert_eq!(numbers_of_bars(&doc, "#requests-chart"), vec![0; 30]);
    assert_eq!(texts(&html, "svg#requests-chart > desc"), ["Requests per day, 25 Oct to 23 Nov 2026: none."]);
    assert!(select(&doc, "#failed-chart").is_empty());
    assert_eq!(texts(&html, "#no-failures"), ["No failed attempts in the last 30 days."]);
    assert!(html.contains("No address recorded"));
}

fn numbers_of_bars(doc: &scraper::Html, chart: &str) -> Vec<i64> {
    attrs(doc, &format!("{chart} rect.bar"), "data-value").iter().map(|v| v.parse().unwrap()).collect()
}

#[tokio::test]
async fn the_history_lists_creation_edits_rotation_and_revocation() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let bob = app.sign_in(&acme.admin).await;
    let (token, _) = app.token(&acme, TokenSpec { name: "deploy", ..Default::default() });
    let rotate = format!("{}/{}/rotate", tokens_path(&acme), token.id);
    assert_eq!(bob.post(&rotate, &[("grace", "1h")]).await.status(), 200);
    let successor = app
        .credentials_of(&acme)
        .into_iter()
        .find(|c| c.rotated_from.as_deref() == Some(token.id.as_str()))
        .expect("a replacement");
    app.clock.advance(TimeDelta::minutes(5));
    let revoke = format!("{}/{}/revoke", tokens_path(&acme), token.id);
    assert_eq!(bob.post(&revoke, &[]).await.status(), 303);

    let dave = app.sign_in(&acme.auditor).await;
    let html = dave.get(&usage_path(&acme, "tokens", &token.id)).await.text().await.unwrap();
    let doc = parse(&html);
    assert_eq!(
        attrs(&doc, "ol.history li", "data-action"),
        ["access_token.create", "access_token.rotate", "access_token.revoke"]
    );
    assert_eq!(texts(&html, "ol.history .what"), ["Created", "Rotated", "Revoked"]);
    let rotated = &texts(&html, "ol.history li")[1];
    assert!(rotated.contains(&format!("Replaced by {}…", successor.display_prefix)), "{rotated}");
    assert!(rotated.contains("by admin@acme.test"), "{rotated}");
    assert!(rotated.contains("the old secret stops working at 2026-11-23 10:30:00 UTC"), "{rotated}");
    assert!(texts(&html, ".credential-facts dd").iter().any(|t| t == "Revoked"));

    let html = dave.get(&usage_path(&acme, "tokens", &successor.id)).await.text().await.unwrap();
    assert_eq!(texts(&html, "ol.history .what"), ["Created by rotation"]);
    assert!(texts(&html, "ol.history li")[0].contains(&format!("Replaces {}…", token.display_prefix)));

    let (key, _) = app.token(&acme, key_spec("billing"));
    let edit = format!("{}/{}/edit", keys_path(&acme), key.id);
    let fields = [("name", "billing v2"), ("permissions", "read"), ("expiry", "keep"), ("active", "on")];
    assert_eq!(bob.post(&edit, &fields).await.status(), 303);
    let html = dave.get(&usage_path(&acme, "api-keys", &key.id)).await.text().await.unwrap();
    assert_eq!(texts(&html, "ol.history .what"), ["Created", "Edited"]);
    assert!(texts(&html, "ol.history li")[1].contains("Changed name and permissions."));
    assert_eq!(texts(&html, "h2"), ["Usage of “billing v2”"]);
}

#[tokio::test]
async fn stale_and_expiring_reports_list_the_right_credentials() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let made = |name: &'static str, kind: CredentialKind, created: i64, expires: Option<i64>| {
        let spec = TokenSpec {
            kind,
            name,
            scopes: if kind == CredentialKind::ApiKey { "read" } else { "all" },
            created_at: Some(days_ago(&app, created)),
            expires_at: expires.map(|d| app.now() + TimeDelta::days(d)),
            ..Default::default()
        };
        app.token(&acme, spec).0
    };
    let used = |id: &str, days: i64| {
        repo::add_usage(&mut app.conn(), id, 1, days_ago(&app, days), "192.0.2.1").unwrap();
    };
    use CredentialKind::*;
    made("fresh, never used", AccessToken, 0, None);
    made("40 days, never used", AccessToken, 40, None);
    made("120 days, never used", ApiKey, 120, None);
    let personal = made("personal, 40 days, never used", PersonalToken, 40, None);
    used(&made("used 45 days ago", AccessToken, 100, None).id, 45);
    used(&made("used 100 days ago", ApiKey, 200, None).id, 100);
    used(&made("used yesterday", AccessToken, 200, None).id, 1);
    let revoked = made("revoked, never used", AccessToken, 120, None);
    repo::revoke(&mut app.conn(), &acme.org.id, AccessToken, &revoked.id, &actor(&acme.owner), app.now())
        .unwrap();
    made("expired, never used", AccessToken, 120, Some(-1));
    used(&made("key expiring in 10 days", ApiKey, 50, Some(10)).id, 0);
    used(&made("token expiring in 13 days", AccessToken, 10, Some(13)).id, 0);
    used(&made("expiring in 20 days", AccessToken, 10, Some(20)).id, 0);
    app.token(
        &globex,
        TokenSpec { name: "globex, never used", created_at: Some(days_ago(&app, 300)), ..Default::default() },
    );

    let dave = app.sign_in(&acme.auditor).await;
    // Signed in afresh each time: a session ends after 8 idle hours, and the clock moves by days.
    let report = |stale: &'static str| {
        let (app, auditor) = (&app, &acme.auditor);
        let path = format!("{}?stale={stale}", reports_path(&acme));
        async move {
            let response = app.sign_in(auditor).await.get(&path).await;
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let never = report("never").await;
    assert_eq!(
        report_names(&never, "stale-report"),
        ["120 days, never used", "40 days, never used", "fresh, never used", "personal, 40 days, never used"]
    );
    let thirty = report("30").await;
    assert_eq!(
        report_names(&thirty, "stale-report"),
        [
            "120 days, never used",
            "40 days, never used",
            "personal, 40 days, never used",
            "used 100 days ago",
            "used 45 days ago"
        ]
    );
    assert_eq!(
        report_names(&report("90").await, "stale-report"),
        ["120 days, never used", "used 100 days ago"]
    );
    assert_eq!(
        report_names(&dave.get(&reports_path(&acme)).await.text().await.unwrap(), "stale-report"),
        report_names(&thirty, "stale-report"),
        "30 days by default"
    );
    assert_eq!(
        report_names(&thirty, "expiring-report"),
        ["key expiring in 10 days", "token expiring in 13 days"]
    );
    assert_eq!(texts(&thirty, "h2#expiring-heading"), ["Expiring within 14 days: 2"]);

    // Each row: kind, prefix, creator, last use, expiry, a link to its usage and to its list row.
    let personal_row = row(&thirty, "personal, 40 days, never used").unwrap();
    assert!(
        personal_row.contains("Personal token") && personal_row.contains(&personal.display_prefix),
        "{personal_row}"
    );
    assert!(personal_row.contains("by owner@acme.test") && personal_row.contains("Never"), "{personal_row}");
    let doc = parse(&thirty);
    let links = attrs(&doc, "#stale-report td.links a", "href");
    assert!(links.contains(&usage_path(&acme, "personal-tokens", &personal.id)), "{links:?}");
    let key = app.credentials_of(&acme).into_iter().find(|c| c.name == "used 100 days ago").unwrap();
    assert!(links.contains(&usage_path(&acme, "api-keys", &key.id)));
    assert!(links.contains(&format!("{}?status=all&q={}", keys_path(&acme), key.display_prefix)));
    assert_eq!(dave.get(&usage_path(&acme, "personal-tokens", &personal.id)).await.status(), 200);
    let list = dave
        .get(&format!("{}?status=all&q={}", keys_path(&acme), key.display_prefix))
        .await
        .text()
        .await
        .unwrap();
    assert!(row(&list, "used 100 days ago").is_some(), "the list link finds its row");
    let expires = attrs(
        &doc,
        "#expiring-report tr[data-credential='token expiring in 13 days'] td.expires time",
        "datetime",
    );
    assert_eq!(expires, ["2026-12-06T09:30:00Z"]);

    // Ten days on, the key has expired and what had 20 days left now has 10.
    app.clock.advance(TimeDelta::days(10));
    let later = report("30").await;
    assert_eq!(report_names(&later, "expiring-report"), ["expiring in 20 days", "token expiring in 13 days"]);
    // A month on, yesterday's use is 31 days old and the fresh token was created 30 days ago.
    app.clock.advance(TimeDelta::days(20));
    let later = report("30").await;
    let stale = report_names(&later, "stale-report");
    assert!(
        stale.contains(&"used yesterday".to_owned()) && stale.contains(&"fresh, never used".to_owned()),
        "{stale:?}"
    );
    assert_eq!(report_names(&later, "expiring-report"), Vec::<String>::new(), "all of them expired by now");
}

fn actor(user: &User) -> tessera::db::audit::Actor {
    tessera::db::audit::Actor {
        user_id: Some(user.id.clone()),
        credential_id: None,
        label: user.email.clone(),
        ip: None,
        user_agent: None,
    }
}

#[tokio::test]
async fn rotate_and_revoke_controls_only_for_owners_and_admins() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (token, _) = app.token(
        &acme,
        TokenSpec { name: "stale token", created_at: Some(days_ago(&app, 40)), ..Default::default() },
    );
    let (key, _) =
        app.token(&acme, TokenSpec { created_at: Some(days_ago(&app, 40)), ..key_spec("stale key") });
    let operator = make_operator(&app, "ops@platform.test");

    for (user, controls) in
        [(&acme.owner, true), (&acme.admin, true), (&acme.auditor, false), (&operator, false)]
    {
        let session = app.sign_in(user).await;
        let html = session.get(&reports_path(&acme)).await.text().await.unwrap();
        let doc = parse(&html);
        let actions = attrs(&doc, "#stale-report form[method=post]", "action");
        if controls {
            let base = |tab: &str, id: &str| format!("/orgs/acme/settings/{tab}/{id}");
            for expected in [
                format!("{}/rotate", base("tokens", &token.id)),
                format!("{}/revoke", base("tokens", &token.id)),
                format!("{}/rotate", base("api-keys", &key.id)),
                format!("{}/revoke", base("api-keys", &key.id)),
            ] {
                assert!(actions.contains(&expected), "{}: {expected} in {actions:?}", user.email);
            }
            assert_eq!(texts(&html, "#stale-report input[name=csrf_token]").len(), 4);
        } else {
            assert!(actions.is_empty(), "{}: {actions:?}", user.email);
            assert_eq!(write_forms(&html), 0, "{} gets nothing that changes anything", user.email);
            assert!(texts(&html, "summary").is_empty(), "{}: no Rotate or Revoke", user.email);
        }
        let usage = session.get(&usage_path(&acme, "tokens", &token.id)).await.text().await.unwrap();
        assert_eq!(write_forms(&usage), 0, "the usage page is read-only for everyone");
        // The list links each row to its usage page, for those who may read it.
        let list = session.get(&tokens_path(&acme)).await.text().await.unwrap();
        let usage_links = attrs(&parse(&list), "td.usage a", "href");
        assert_eq!(usage_links, [usage_path(&acme, "tokens", &token.id)]);
        assert!(list.contains(&format!("href=\"{}\"", reports_path(&acme))), "the Reports tab");
    }

    // With the API-access gate closed, an API key cannot be rotated: no button for it.
    app.set_org(&acme.org, |conn, id| {
        use tessera::db::schema::organizations::dsl as o;
        diesel::update(o::organizations.find(id)).set(o::api_access.eq(false)).execute(conn)
    });
    let bob = app.sign_in(&acme.admin).await;
    let html = bob.get(&reports_path(&acme)).await.text().await.unwrap();
    let actions = attrs(&parse(&html), "#stale-report form[method=post]", "action");
    assert!(!actions.iter().any(|a| a.ends_with(&format!("{}/rotate", key.id))), "{actions:?}");
    assert!(actions.iter().any(|a| a.ends_with(&format!("{}/revoke", key.id))));

    // The buttons post to the tabs' own routes, which work from here.
    let csrf = csrf_of(&html);
    let response = bob
        .post_raw(&format!("{}/{}/revoke", tokens_path(&acme), token.id), &[("csrf_token", csrf.as_str())])
        .await;
    assert_eq!(response.status(), 303);
    assert!(app.credential(&token.id).revoked_at.is_some());
    let html = bob.get(&reports_path(&acme)).await.text().await.unwrap();
    assert_eq!(report_names(&html, "stale-report"), ["stale key"], "a revoked credential is no longer stale");
}

#[tokio::test]
async fn members_get_403_other_orgs_404_and_operators_read_without_writing() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let (token, _) = app.token(&acme, TokenSpec::default());
    let (key, _) = app.token(&acme, key_spec("a key"));
    let (theirs, _) = app.token(&globex, TokenSpec::default());
    let usage = usage_path(&acme, "tokens", &token.id);

    let carol = app.sign_in(&acme.member).await;
    assert_eq!(carol.get(&usage).await.status(), 403);
    assert_eq!(carol.get(&reports_path(&acme)).await.status(), 403);
    let list = carol.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(attrs(&parse(&list), "td.usage a", "href").is_empty(), "no usage link for members");
    assert!(!list.contains("/settings/reports"), "no Reports tab for members");

    let outsider = app.sign_in(&globex.owner).await;
    assert_eq!(outsider.get(&usage).await.status(), 404);
    assert_eq!(outsider.get(&reports_path(&acme)).await.status(), 404);

    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.get(&usage).await.status(), 200);
    assert_eq!(alice.get(&usage_path(&acme, "tokens", &theirs.id)).await.status(), 404, "another org's id");
    assert_eq!(
        alice.get(&usage_path(&acme, "api-keys", &token.id)).await.status(),
        404,
        "a token is not a key"
    );
    assert_eq!(alice.get(&usage_path(&acme, "members", &token.id)).await.status(), 404);
    assert_eq!(alice.get(&usage_path(&acme, "api-keys", &key.id)).await.status(), 200);

    let operator = make_operator(&app, "ops@platform.test");
    let ops = app.sign_in(&operator).await;
    for path in [usage.clone(), reports_path(&acme)] {
        let response = ops.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        let html = response.text().await.unwrap();
        assert!(
            html.contains("as a platform operator. You are not a member: changes are disabled."),
            "{path}"
        );
        assert_eq!(write_forms(&html), 0, "{path}");
    }
    let revoke = format!("{}/{}/revoke", tokens_path(&acme), token.id);
    assert_eq!(ops.post(&revoke, &[]).await.status(), 403, "an operator's write stays forbidden");
    let dave = app.sign_in(&acme.auditor).await;
    assert_eq!(dave.post(&revoke, &[]).await.status(), 403, "so does an auditor's");
    assert!(app.credential(&token.id).revoked_at.is_none());
}
