//! Settings → Audit log, its CSV export and `GET /api/v1/orgs/{slug}/audit`: one filter and one
//! query behind all three, cursor pages that hold still while entries are appended, a CSV that
//! spreadsheets cannot be tricked by, who may read it, and a log the database keeps append-only.

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};
use diesel::prelude::*;
use serde_json::Value;
use tessera::credentials::Plan;
use tessera::db::audit::{self, Actor, AuditEntry, AuditEvent};

use crate::helpers::*;

fn audit_path(org: &TestOrg) -> String {
    format!("/orgs/{}/settings/audit", org.org.slug)
}

fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

async fn personal_token(session: &Session, org: &TestOrg, name: &str) -> String {
    let response = session
        .post("/account/tokens", &[("name", name), ("org", org.org.slug.as_str()), ("expiry", "30")])
        .await;
    assert_eq!(response.status(), 200);
    texts(&response.text().await.unwrap(), "#new-secret").remove(0)
}

/// An entry's key in these tests: its action and target, unique in the world below.
fn key(entry: &AuditEntry) -> String {
    format!("{} {}", entry.action, entry.target_label.as_deref().unwrap_or_default())
}

const DEPLOY: &str = "deploy bot";
const BILLING: &str = "billing, \"prod\"";
const FORMULA: &str = "=HYPERLINK(\"http://evil.test\",\"x\")";

/// Acme's log, one or two entries a day for a week, made the way people make them: the console,
/// the API with a personal token, and a credential of another org with the same name.
struct World {
    app: TestApp,
    acme: TestOrg,
    globex: TestOrg,
    /// The auditor's session, signed in before day 0.
    reader: Session,
    auditor_pat: String,
    admin_pat_id: String,
    billing_prefix: String,
    day0: NaiveDateTime,
}

async fn world() -> World {
    // Sessions made before day 0 last the whole week.
    let app = spawn_app_configured(tessera::catalog::Catalog::built_in(), |settings| {
        settings.session_limits.idle_seconds = 30 * 24 * 3600;
        settings.session_limits.absolute_seconds = 30 * 24 * 3600;
    })
    .await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    // The day before: the people sign in, each a second apart (sign-ins are in the org's log).
    let reader = app.sign_in(&acme.auditor).await;
    app.clock.advance(TimeDelta::seconds(1));
    let alice = app.sign_in(&acme.owner).await;
    app.clock.advance(TimeDelta::seconds(1));
    let bob = app.sign_in(&acme.admin).await;
    app.clock.advance(TimeDelta::days(1));
    let day0 = app.now();
    let day = TimeDelta::days(1);
    // Day 0: the auditor's personal token, for reading the API.
    let auditor_pat = personal_token(&reader, &acme, "auditor pat").await;
    app.clock.advance(day);
    let (deploy, _) = app.token(&acme, TokenSpec { name: DEPLOY, ..Default::default() });
    app.token(&globex, TokenSpec { name: DEPLOY, ..Default::default() });
    app.clock.advance(day);
    let (billing, _) = app.token(&acme, key_spec(BILLING));
    app.clock.advance(day);
    app.token(&acme, TokenSpec { name: FORMULA, ..Default::default() });
    app.clock.advance(day);
    let members = format!("/orgs/{}/settings/members", acme.org.slug);
    assert_eq!(alice.post(&members, &[("email", "frank@acme.test"), ("role", "member")]).await.status(), 303);
    let frank = tessera::db::orgs::find_user_by_email(&mut app.conn(), "frank@acme.test").unwrap().unwrap();
    let role = format!("{members}/{}/role", frank.id);
    assert_eq!(alice.post(&role, &[("role", "auditor")]).await.status(), 303);
    app.clock.advance(day);
    let revoke = format!("{}/{}/revoke", tokens_path(&acme), deploy.id);
    assert_eq!(bob.post(&revoke, &[]).await.status(), 303);
    let admin_pat = personal_token(&bob, &acme, "admin pat").await;
    app.clock.advance(day);
    let response = app
        .api()
        .delete(app.url(&format!("/api/v1/orgs/acme/api-keys/{}", billing.id)))
        .bearer_auth(&admin_pat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let admin_pat_id = app
        .credentials_of(&acme)
        .into_iter()
        .find(|c| c.name == "admin pat")
        .map(|c| c.id)
        .expect("admin pat");
    World {
        app,
        acme,
        globex,
        reader,
        auditor_pat,
        admin_pat_id,
        billing_prefix: billing.display_prefix,
        day0,
    }
}

impl World {
    /// Ids of the entries with these keys, in the given order.
    fn ids(&self, keys: &[&str]) -> Vec<String> {
        let by_key: HashMap<String, String> = self
            .app
            .audit()
            .into_iter()
            .filter(|e| e.org_id.as_deref() == Some(self.acme.org.id.as_str()))
            .map(|e| (key(&e), e.id))
            .collect();
        keys.iter().map(|k| by_key.get(*k).unwrap_or_else(|| panic!("no entry {k}")).clone()).collect()
    }

    fn date(&self, days: i64) -> String {
        (self.day0 + TimeDelta::days(days)).format("%Y-%m-%d").to_string()
    }

    fn instant(&self, days: i64) -> String {
        (self.day0 + TimeDelta::days(days)).and_utc().to_rfc3339()
    }

    async fn reader(&self) -> &Session {
        &self.reader
    }

    async fn page_ids(&self, session: &Session, query: &str) -> Vec<String> {
        let response = session.get(&with_query(&audit_path(&self.acme), query)).await;
        assert_eq!(response.status(), 200, "{query}");
        let html = response.text().await.unwrap();
        attrs(&html, "tr[data-entry]", "data-entry")
    }

    async fn csv(&self, session: &Session, query: &str) -> Vec<csv::StringRecord> {
        let response = session.get(&with_query(&format!("{}/export", audit_path(&self.acme)), query)).await;
        assert_eq!(response.status(), 200, "{query}");
        parse_csv(&response.bytes().await.unwrap())
    }

    async fn api(&self, query: &str) -> reqwest::Response {
        let path = with_query("/api/v1/orgs/acme/audit", query);
        self.app.api().get(self.app.url(&path)).bearer_auth(&self.auditor_pat).send().await.unwrap()
    }

    async fn api_ids(&self, query: &str) -> Vec<String> {
        let query = if query.is_empty() { "limit=500".to_owned() } else { format!("{query}&limit=500") };
        let response = self.api(&query).await;
        assert_eq!(response.status(), 200, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["next_cursor"], Value::Null, "{query}");
        body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
    }
}

fn attrs(html: &str, selector: &str, attr: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).filter_map(|e| e.value().attr(attr).map(str::to_owned)).collect()
}

fn parse_csv(bytes: &[u8]) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "Time (UTC)",
            "Actor",
            "Via credential",
            "Action",
            "Target",
            "Target type",
            "Address",
            "User agent",
            "Details"
        ]
    );
    reader.records().map(|r| r.unwrap()).collect()
}

/// (action, target) of CSV rows, with the formula guard taken off the target.
fn csv_keys(rows: &[csv::StringRecord]) -> Vec<String> {
    rows.iter().map(|r| format!("{} {}", &r[3], r[4].strip_prefix('\'').unwrap_or(&r[4]))).collect()
}

#[tokio::test]
async fn each_filter_alone_and_combined_gives_the_same_rows_on_the_page_in_the_csv_and_the_api() {
    let w = world().await;
    let reader = w.reader().await;
    let pat = w.admin_pat_id.clone();
    let prefix = format!("{}…", w.billing_prefix);
    let revoke_billing = format!("api_key.revoke {BILLING}");
    let create_billing = format!("api_key.create {BILLING}");
    let create_formula = format!("access_token.create {FORMULA}");
    let everything = [
        revoke_billing.as_str(),
        "personal_token.create admin pat",
        "access_token.revoke deploy bot",
        "member.role_change frank@acme.test",
        "member.add frank@acme.test",
        create_formula.as_str(),
        create_billing.as_str(),
        "access_token.create deploy bot",
        "personal_token.create auditor pat",
        "auth.sign_in admin@acme.test",
        "auth.sign_in owner@acme.test",
        "auth.sign_in auditor@acme.test",
    ];
    let encode = |pairs: &[(&str, &str)]| serde_html_form::to_string(pairs).unwrap();
    let cases: Vec<(String, Vec<&str>)> = vec![
        (String::new(), everything.to_vec()),
        (
            encode(&[("action", "access_token.create")]),
            vec![&create_formula, "access_token.create deploy bot"],
        ),
        (
            encode(&[("actor", "ADMIN@acme")]),
            vec![
                &revoke_billing,
                "personal_token.create admin pat",
                "access_token.revoke deploy bot",
                "auth.sign_in admin@acme.test",
            ],
        ),
        (encode(&[("action", "auth.sign_in")]), everything[9..].to_vec()),
        (encode(&[("actor", "frank")]), vec![]),
        (
            encode(&[("credential", "deploy")]),
            vec!["access_token.revoke deploy bot", "access_token.create deploy bot"],
        ),
        (encode(&[("credential", &prefix)]), vec![&revoke_billing, &create_billing]),
        (encode(&[("credential", &pat)]), vec![&revoke_billing, "personal_token.create admin pat"]),
        (
            encode(&[("from", &w.date(2)), ("to", &w.date(4))]),
            vec![
                "member.role_change frank@acme.test",
                "member.add frank@acme.test",
                &create_formula,
                &create_billing,
            ],
        ),
        (
            encode(&[("from", &w.instant(5))]),
            vec![&revoke_billing, "personal_token.create admin pat", "access_token.revoke deploy bot"],
        ),
        (
            encode(&[("from", &w.instant(5)), ("to", &w.instant(5))]),
            vec!["personal_token.create admin pat", "access_token.revoke deploy bot"],
        ),
        (encode(&[("action", "api_key.revoke"), ("actor", "admin")]), vec![&revoke_billing]),
        (encode(&[("credential", "bill"), ("from", &w.date(3))]), vec![&revoke_billing]),
        (
            encode(&[("action", "access_token.create"), ("credential", "deploy"), ("to", &w.date(1))]),
            vec!["access_token.create deploy bot"],
        ),
    ];
    for (query, keys) in cases {
        let expected = w.ids(&keys);
        assert_eq!(w.page_ids(reader, &query).await, expected, "page: {query}");
        assert_eq!(w.api_ids(&query).await, expected, "api: {query}");
        let rows = w.csv(reader, &query).await;
        assert_eq!(csv_keys(&rows), keys, "csv: {query}");
    }
    // Another org's entries, even for a credential of the same name, are never among them.
    let globex_ids: Vec<String> = w
        .app
        .audit()
        .into_iter()
        .filter(|e| e.org_id.as_deref() == Some(w.globex.org.id.as_str()))
        .map(|e| e.id)
        .collect();
    assert!(!globex_ids.is_empty());
    assert!(w.page_ids(reader, "").await.iter().all(|id| !globex_ids.contains(id)));
}

#[tokio::test]
async fn rows_show_who_did_what_to_which_target_from_where_and_what_changed() {
    let w = world().await;
    let reader = w.reader().await;
    let page = reader.get(&audit_path(&w.acme)).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(texts(&html, "h2").contains(&"12 entries".to_owned()), "{:?}", texts(&html, "h2"));
    let row = |action: &str| -> String {
        let doc = scraper::Html::parse_document(&html);
        let sel = scraper::Selector::parse(&format!("tr[data-action=\"{action}\"]")).unwrap();
        let found = doc.select(&sel).next().unwrap_or_else(|| panic!("no {action} row"));
        found.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let via = row("api_key.revoke");
    assert!(via.starts_with("6 days ago") || via.contains("just now"), "{via}");
    assert!(via.contains("admin@acme.test via personal token “admin pat” (tsr_pat_"), "{via}");
    assert!(via.contains("API key revoked") && via.contains(BILLING) && via.contains("127.0.0.1"), "{via}");
    let role = row("member.role_change");
    assert!(role.contains("owner@acme.test") && role.contains("member → auditor"), "{role}");
    assert!(role.contains("tessera-tests/1.0"), "the user agent: {role}");
    // Absolute UTC on hover.
    let titles = attrs(&html, "td.when time", "title");
    assert!(titles.iter().all(|t| t.ends_with(" UTC")), "{titles:?}");

    // An edit shows before and after.
    let admin = w.app.sign_in(&w.acme.admin).await;
    let (key, _) = w.app.token(&w.acme, key_spec("edited key"));
    let edit = format!("{}/{}/edit", keys_path(&w.acme), key.id);
    let fields = [
        ("name", "edited key v2"),
        ("description", "now described"),
        ("permissions", "read"),
        ("permissions", "deploy"),
        ("expiry", "keep"),
        ("active", "on"),
    ];
    assert_eq!(admin.post(&edit, &fields).await.status(), 303);
    let html =
        reader.get(&format!("{}?action=api_key.edit", audit_path(&w.acme))).await.text().await.unwrap();
    let details = texts(&html, "td.details li");
    assert!(details.contains(&"name: edited key → edited key v2".to_owned()), "{details:?}");
    assert!(details.contains(&"description: none → now described".to_owned()), "{details:?}");
    assert!(details.contains(&"grants: read, write → read, deploy".to_owned()), "{details:?}");
}

#[tokio::test]
async fn the_csv_is_a_dated_attachment_with_the_page_rows_and_defused_formulas() {
    let w = world().await;
    let reader = w.reader().await;
    let response = reader.get(&format!("{}/export", audit_path(&w.acme))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let filename = format!("tessera-audit-acme-{}.csv", w.app.now().format("%Y%m%d"));
    assert_eq!(
        response.headers()["content-disposition"],
        format!("attachment; filename=\"{filename}\"").as_str()
    );
    assert_eq!(filename, "tessera-audit-acme-20261130.csv");
    let bytes = response.bytes().await.unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    // Commas and quotes are quoted, as CSV does; a leading `=` gets a `'`, so no formula runs.
    assert!(text.contains("\"billing, \"\"prod\"\"\""), "{text}");
    assert!(text.contains("'=HYPERLINK(\"\"http://evil.test\"\",\"\"x\"\")"), "{text}");
    let rows = parse_csv(&bytes);
    let targets: Vec<&str> = rows.iter().map(|r| &r[4]).collect();
    assert!(targets.contains(&BILLING), "{targets:?}");
    assert!(targets.contains(&format!("'{FORMULA}").as_str()), "{targets:?}");
    for row in &rows {
        for cell in row.iter() {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?} would run as a formula");
        }
    }
    // The same rows as the page, column by column.
    let html = reader.get(&audit_path(&w.acme)).await.text().await.unwrap();
    let times: Vec<String> =
        attrs(&html, "td.when time", "title").iter().map(|t| t.trim_end_matches(" UTC").to_owned()).collect();
    assert_eq!(rows.iter().map(|r| r[0].to_owned()).collect::<Vec<_>>(), times);
    assert_eq!(
        rows.iter().map(|r| r[3].to_owned()).collect::<Vec<_>>(),
        attrs(&html, "tr[data-entry]", "data-action")
    );
    let revoke = rows.iter().find(|r| &r[3] == "api_key.revoke").unwrap();
    assert_eq!(&revoke[1], "admin@acme.test");
    assert!(revoke[2].starts_with("personal token “admin pat” (tsr_pat_"), "{:?}", &revoke[2]);
    assert_eq!((&revoke[5], &revoke[6]), ("API key", "127.0.0.1"));
    assert!(revoke[8].contains(&format!("display prefix: {}", w.billing_prefix)), "{:?}", &revoke[8]);
    // The page links the export of what it shows.
    let filtered =
        reader.get(&format!("{}?action=member.add", audit_path(&w.acme))).await.text().await.unwrap();
    let link = attrs(&filtered, "a[download]", "href").remove(0);
    assert_eq!(link, format!("{}/export?action=member.add", audit_path(&w.acme)));
}

#[tokio::test]
async fn pages_and_cursors_hold_still_while_entries_are_appended() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let actor = Actor {
        user_id: Some(acme.owner.id.clone()),
        credential_id: None,
        label: acme.owner.email.clone(),
        ip: Some("192.0.2.7".into()),
        user_agent: None,
    };
    let append = |n: usize, label: &str| {
        for i in 0..n {
            let target = format!("{label} {i}");
            let event = AuditEvent {
                org_id: Some(&acme.org.id),
                action: "org.set_plan",
                target_type: Some("org"),
                target_id: Some(&acme.org.id),
                target_label: Some(&target),
                details: serde_json::json!({ "i": i }),
            };
            audit::record(&mut app.conn(), &actor, event, app.now()).unwrap();
            // Three entries a second: equal times, told apart by id.
            if i % 3 == 2 {
                app.clock.advance(TimeDelta::seconds(1));
            }
        }
    };
    // The reader's own sign-in is the oldest entry.
    let reader = app.sign_in(&acme.auditor).await;
    app.clock.advance(TimeDelta::seconds(1));
    append(120, "old");
    let mut all = app.audit();
    all.sort_by(|a, b| (b.occurred_at, &b.id).cmp(&(a.occurred_at, &a.id)));
    let ids: Vec<String> = all.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids.len(), 121);
    let page = |path: String| {
        let reader = &reader;
        async move { reader.get(&path).await.text().await.unwrap() }
    };
    let first = page(audit_path(&acme)).await;
    assert_eq!(attrs(&first, "tr[data-entry]", "data-entry"), ids[..50]);
    assert!(attrs(&first, "a[rel=prev]", "href").is_empty(), "the newest page has no newer one");
    let older = attrs(&first, "a[rel=next]", "href").remove(0);
    assert!(older.contains("before="), "{older}");

    // Entries appended meanwhile do not move the pages already handed out.
    app.clock.advance(TimeDelta::seconds(5));
    append(7, "new");
    let second = page(older).await;
    assert_eq!(attrs(&second, "tr[data-entry]", "data-entry"), ids[50..100]);
    let third = page(attrs(&second, "a[rel=next]", "href").remove(0)).await;
    assert_eq!(attrs(&third, "tr[data-entry]", "data-entry"), ids[100..]);
    assert!(attrs(&third, "a[rel=next]", "href").is_empty(), "the oldest page has no older one");
    // Newer from the second page is the first page as it was handed out.
    let back = page(attrs(&second, "a[rel=prev]", "href").remove(0)).await;
    assert_eq!(attrs(&back, "tr[data-entry]", "data-entry"), ids[..50]);
    // Newer from there reaches the newest entries: the first page as it is now.
    let newest = page(attrs(&back, "a[rel=prev]", "href").remove(0)).await;
    let now_first = attrs(&newest, "tr[data-entry]", "data-entry");
    assert_eq!(now_first.len(), 50);
    assert_eq!(now_first[7..], ids[..43]);

    // The API: the same order, in pages of any size, by `next_cursor`.
    let pat = personal_token(&app.sign_in(&acme.admin).await, &acme, "reader").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut calls = 0;
    loop {
        let mut url = "/api/v1/orgs/acme/audit?limit=40&action=org.set_plan".to_owned();
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        if calls == 1 {
            append(3, "newer still");
        }
        let body: Value =
            app.api().get(app.url(&url)).bearer_auth(&pat).send().await.unwrap().json().await.unwrap();
        seen.extend(body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        calls += 1;
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(calls, 4);
    assert_eq!(seen.len(), 127);
    assert_eq!(seen[7..], ids[..120], "all but the sign-in, which is not a plan change");
}

#[tokio::test]
async fn a_rotation_is_found_by_the_credential_it_replaced() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (old, _) = app.token(&acme, TokenSpec { name: "rotating", ..Default::default() });
    app.clock.advance(TimeDelta::minutes(1));
    let alice = app.sign_in(&acme.owner).await;
    let rotate = format!("{}/{}/rotate", tokens_path(&acme), old.id);
    assert_eq!(alice.post(&rotate, &[("grace", "now")]).await.status(), 200);
    let reader = app.sign_in(&acme.auditor).await;
    let html = reader
        .get(&format!("{}?credential={}", audit_path(&acme), old.display_prefix))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(attrs(&html, "tr[data-entry]", "data-action"), ["access_token.rotate", "access_token.create"]);
}

#[tokio::test]
async fn owners_admins_auditors_and_operators_read_members_get_403_and_other_orgs_404() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let path = audit_path(&acme);
    let export = format!("{path}/export");
    for user in [&acme.owner, &acme.admin, &acme.auditor] {
        let session = app.sign_in(user).await;
        let html = session.get(&tokens_path(&acme)).await.text().await.unwrap();
        assert!(texts(&html, "nav.tabs a").contains(&"Audit log".to_owned()), "{} sees the tab", user.email);
        assert_eq!(session.get(&path).await.status(), 200);
        assert_eq!(session.get(&export).await.status(), 200);
    }
    let carol = app.sign_in(&acme.member).await;
    let html = carol.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(!texts(&html, "nav.tabs a").contains(&"Audit log".to_owned()), "a member has no Audit log tab");
    let denied = carol.get(&path).await;
    assert_eq!(denied.status(), 403);
    assert!(denied
        .text()
        .await
        .unwrap()
        .contains("Only owners, admins and auditors of acme Inc can read its audit log."));
    assert_eq!(carol.get(&export).await.status(), 403);

    let outsider = app.sign_in(&globex.owner).await;
    assert_eq!(outsider.get(&path).await.status(), 404);
    assert_eq!(outsider.get(&export).await.status(), 404);
    assert_eq!(outsider.get("/orgs/nowhere/settings/audit").await.status(), 404);

    let olga = app.user("olga@platform.test");
    tessera::db::orgs::set_operator(&mut app.conn(), &olga.id, true).unwrap();
    let operator = app.sign_in(&olga).await;
    let page = operator.get(&path).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(texts(&html, ".operator-banner").concat().contains("as a platform operator"));
    assert!(texts(&html, "nav.tabs a").contains(&"Audit log".to_owned()));
    assert_eq!(operator.get(&export).await.status(), 200);

    // The API: a member's personal token is refused, a token of another org too.
    let member_pat = personal_token(&carol, &acme, "carol pat").await;
    let outsider_pat = personal_token(&outsider, &globex, "globex pat").await;
    for (pat, code) in [(&member_pat, "forbidden"), (&outsider_pat, "wrong_org")] {
        let response =
            app.api().get(app.url("/api/v1/orgs/acme/audit")).bearer_auth(pat).send().await.unwrap();
        assert_eq!(response.status(), 403);
        assert_eq!(response.json::<Value>().await.unwrap()["code"], code);
    }
}

#[tokio::test]
async fn the_page_works_without_javascript_and_htmx_swaps_only_the_panel() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    app.token(&acme, TokenSpec::default());
    let reader = app.sign_in(&acme.auditor).await;
    let html = reader.get(&audit_path(&acme)).await.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>"));
    let forms = attrs(&html, "form.audit-filters", "method");
    assert_eq!(forms, ["get"], "a plain GET form");
    for name in ["action", "actor", "credential", "from", "to"] {
        assert_eq!(attrs(&html, &format!("form.audit-filters [name={name}]"), "name").len(), 1, "{name}");
    }
    assert!(attrs(&html, "select[name=action] option", "value").contains(&"member.role_change".to_owned()));
    assert!(attrs(&html, "#audit-people option", "value").contains(&acme.auditor.email));
    assert!(!html.contains("<script>") && !html.contains(" onclick="));

    let query = format!("{}?action=access_token.create", audit_path(&acme));
    let partial = reader.get_htmx(&query, "audit-panel").await;
    assert_eq!(partial.status(), 200);
    let fragment = partial.text().await.unwrap();
    assert!(fragment.trim_start().starts_with("<section id=\"audit-panel\""), "{fragment}");
    assert!(!fragment.contains("<html"));
    assert_eq!(attrs(&fragment, "tr[data-entry]", "data-action"), ["access_token.create"]);
    assert_eq!(
        attrs(&fragment, "select[name=action] option[selected]", "value"),
        ["access_token.create"],
        "the form keeps the filter"
    );
}

#[tokio::test]
async fn bad_filters_are_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let reader = app.sign_in(&acme.auditor).await;
    let long = "x".repeat(101);
    let long = format!("actor={long}");
    let cases = [
        ("action=api_key.delete", "action", "Choose one of the listed actions."),
        ("from=yesterday", "from", "Use a date (YYYY-MM-DD) or an RFC 3339 time"),
        ("to=2026-02-30", "to", "Use a date (YYYY-MM-DD) or an RFC 3339 time"),
        ("from=2026-11-23&to=2026-11-22", "to", "The end of the range must come after its start."),
        (long.as_str(), "actor", "Use at most 100 characters."),
        ("before=bm9wZQ", "cursor", "The cursor is not one this server gave out."),
    ];
    for (query, field, message) in cases {
        let path = format!("{}?{query}", audit_path(&acme));
        let response = reader.get(&path).await;
        assert_eq!(response.status(), 422, "{query}");
        let html = response.text().await.unwrap();
        let shown = texts(&html, ".field-error, .form-error").join(" ");
        assert!(shown.contains(message), "{query}: {shown}");
        assert!(attrs(&html, "tr[data-entry]", "data-entry").is_empty());
        let export = reader.get(&format!("{}/export?{query}", audit_path(&acme))).await;
        if field != "cursor" {
            assert_eq!(export.status(), 400, "export {query}");
            assert!(export.text().await.unwrap().contains(message), "export {query}");
        }
    }

    // A control character anywhere in the query is refused before the page (400), with the rule.
    for path in [audit_path(&acme), format!("{}/export", audit_path(&acme))] {
        let response = reader.get(&format!("{path}?credential=a%00b")).await;
        assert_eq!(response.status(), 400, "{path}");
        assert!(response.text().await.unwrap().contains("Control characters and bidirectional-override"));
    }

    let pat = personal_token(&app.sign_in(&acme.admin).await, &acme, "reader").await;
    let api_cases = [
        ("action=api_key.delete", "action: Choose one of the listed actions."),
        ("action=", "action: Choose one of the listed actions."),
        ("from=yesterday", "from: Use a date (YYYY-MM-DD) or an RFC 3339 time"),
        ("from=2026-11-23&to=2026-11-22", "to: The end of the range must come after its start."),
        ("actor=a%00b", "Control characters and bidirectional-override characters are not allowed."),
        ("cursor=bm9wZQ", "cursor: The cursor is not one this server gave out."),
        ("limit=0", "limit: Use a number from 1 to 500."),
        ("limit=501", "limit: Use a number from 1 to 500."),
        ("limit=ten", "The query could not be read"),
    ];
    for (query, message) in api_cases {
        let url = app.url(&format!("/api/v1/orgs/acme/audit?{query}"));
        let response = app.api().get(url).bearer_auth(&pat).send().await.unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "bad_request", "{query}");
        assert!(body["error"].as_str().unwrap().contains(message), "{query}: {body}");
    }
    let fine = app
        .api()
        .get(app.url("/api/v1/orgs/acme/audit?limit=500&from=2026-11-23T00:00:00%2B01:00"))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap();
    assert_eq!(fine.status(), 200);
}

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_audit_entries() {
    use tessera::db::schema::audit_log::dsl as a;
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    app.token(&acme, TokenSpec::default());
    let before = app.audit();
    assert_eq!(before.len(), 1);
    let mut conn = app.conn();
    let update = diesel::update(a::audit_log).set(a::action.eq("nothing.happened")).execute(&mut conn);
    let delete = diesel::delete(a::audit_log.filter(a::id.eq(&before[0].id))).execute(&mut conn);
    let mut refusals = vec![("UPDATE", update), ("DELETE", delete)];
    if backend() == "postgres" {
        refusals.push(("TRUNCATE", diesel::sql_query("TRUNCATE audit_log").execute(&mut conn)));
    }
    for (what, outcome) in refusals {
        let error = outcome.expect_err(what).to_string();
        assert!(error.contains("audit_log is append-only"), "{what}: {error}");
    }
    drop(conn);
    let after = app.audit();
    assert_eq!(after.len(), 1);
    assert_eq!((&after[0].id, &after[0].action), (&before[0].id, &before[0].action));
    // Appending still works.
    app.token(&acme, TokenSpec { name: "second", ..Default::default() });
    assert_eq!(app.audit().len(), 2);
}

/// Every `diesel::update(…)` and `diesel::delete(…)` of the server's code, and what it names.
#[test]
fn no_code_path_updates_or_deletes_audit_entries() {
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut writes = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Names the audit table goes by in this file: itself and any `audit_log as x` alias.
        let mut names = vec!["audit_log".to_owned()];
        for part in text.split("audit_log as ").skip(1) {
            names.push(part.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
        for call in ["diesel::update(", "diesel::delete(", "update(", "delete("] {
            for (at, _) in text.match_indices(call) {
                let argument: String = text[at + call.len()..].chars().take_while(|c| *c != ')').collect();
                let table = argument.trim().split([':', '.', ' ']).next().unwrap_or_default().to_owned();
                if call.starts_with("diesel::") {
                    writes += 1;
                }
                assert!(
                    !names.contains(&table) && !argument.contains("audit_log"),
                    "{} changes the audit log: {call}{argument})",
                    file.display()
                );
            }
        }
        assert!(
            !text.contains("DELETE FROM audit_log") && !text.contains("UPDATE audit_log"),
            "{}",
            file.display()
        );
    }
    assert!(writes > 5, "the scan found the code's other updates and deletes ({writes})");
}

/// Values of one column of a CSV export, by header name.
fn csv_column(rows: &[csv::StringRecord], headers: &csv::StringRecord, name: &str) -> Vec<String> {
    let index = headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    rows.iter().map(|r| r[index].to_owned()).collect()
}

fn read_csv(bytes: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().unwrap().clone();
    (headers, reader.records().map(|r| r.unwrap()).collect())
}

#[tokio::test]
async fn sign_ins_and_sign_outs_are_in_the_log_of_each_org_the_person_belongs_to() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let initech = app.org("initech", Plan::Growth);
    app.add_member(&globex, &acme.member, tessera::auth::Role::Member);
    let alice = app.sign_in(&acme.owner).await;
    app.clock.advance(TimeDelta::seconds(1));
    let carol = app.sign_in(&acme.member).await;
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(carol.post("/sign-out", &[]).await.status(), 303);

    let carols: Vec<AuditEntry> =
        app.audit().into_iter().filter(|e| e.actor_label == acme.member.email).collect();
    let mut placed: Vec<(String, Option<String>)> =
        carols.iter().map(|e| (e.action.clone(), e.org_id.clone())).collect();
    placed.sort();
    let mut expected = vec![
        ("auth.sign_in".to_owned(), Some(acme.org.id.clone())),
        ("auth.sign_in".to_owned(), Some(globex.org.id.clone())),
        ("auth.sign_out".to_owned(), Some(acme.org.id.clone())),
        ("auth.sign_out".to_owned(), Some(globex.org.id.clone())),
    ];
    expected.sort();
    assert_eq!(placed, expected, "one entry per org she belongs to, none elsewhere");

    let page = alice.get(&audit_path(&acme)).await.text().await.unwrap();
    let actions = attrs(&page, "tr[data-entry]", "data-action");
    assert_eq!(actions, ["auth.sign_out", "auth.sign_in", "auth.sign_in"], "carol's, then alice's");
    assert!(page.contains("<option value=\"auth.sign_in\">Signed in</option>"), "in the action filter");
    assert!(page.contains("<option value=\"auth.sign_out\">Signed out</option>"));
    assert!(page.contains("<option value=\"auth.sign_in_failed\">Sign-in refused</option>"));
    let filtered =
        alice.get(&format!("{}?action=auth.sign_out", audit_path(&acme))).await.text().await.unwrap();
    let rows = attrs(&filtered, "tr[data-entry]", "data-entry");
    assert_eq!(rows.len(), 1);
    assert!(texts(&filtered, "tr[data-entry] td.actor")[0].contains("member@acme.test"));

    let export = alice.get(&format!("{}/export?action=auth.sign_in", audit_path(&acme))).await;
    assert_eq!(export.status(), 200);
    let rows = parse_csv(&export.bytes().await.unwrap());
    let who: Vec<String> = rows.iter().map(|r| format!("{} {}", &r[3], &r[1])).collect();
    assert_eq!(who, ["auth.sign_in member@acme.test", "auth.sign_in owner@acme.test"]);

    let globex_page = app.sign_in(&globex.owner).await.get(&audit_path(&globex)).await.text().await.unwrap();
    assert!(texts(&globex_page, "tr[data-action=\"auth.sign_out\"] td.actor")
        .iter()
        .any(|actor| actor.contains("member@acme.test")));
    let initech_page =
        app.sign_in(&initech.owner).await.get(&audit_path(&initech)).await.text().await.unwrap();
    assert!(!initech_page.contains("member@acme.test"), "not her org");

    let pat = personal_token(&alice, &acme, "reader").await;
    let body: Value = app
        .api()
        .get(app.url("/api/v1/orgs/acme/audit?action=auth.sign_in"))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actors: Vec<&str> =
        body["items"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert_eq!(actors, ["member@acme.test", "owner@acme.test"]);
}

#[tokio::test]
async fn operators_read_the_instance_wide_log_with_the_same_filters_and_export() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let olga = app.user("olga@platform.test");
    tessera::db::orgs::set_operator(&mut app.conn(), &olga.id, true).unwrap();
    let loner = app.user("loner@nowhere.test");
    app.sign_in(&acme.owner).await;
    app.clock.advance(TimeDelta::seconds(1));
    app.sign_in(&globex.admin).await;
    app.clock.advance(TimeDelta::seconds(1));
    app.sign_in(&loner).await;
    app.clock.advance(TimeDelta::seconds(1));
    app.token(&globex, TokenSpec { name: "globex deploy", ..Default::default() });
    app.clock.advance(TimeDelta::seconds(1));
    let operator = app.sign_in(&olga).await;

    let orgs_page = operator.get("/operator/orgs").await.text().await.unwrap();
    assert!(orgs_page.contains("href=\"/operator/audit\""), "reached from the list of orgs");
    let page = operator.get("/operator/audit").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let actions = attrs(&html, "tr[data-entry]", "data-action");
    assert_eq!(
        actions,
        ["auth.sign_in", "access_token.create", "auth.sign_in", "auth.sign_in", "auth.sign_in"],
        "every entry, newest first"
    );
    let orgs = texts(&html, "tr[data-entry] td.org");
    assert_eq!(orgs, ["—", "globex", "—", "globex", "acme"], "each entry's org; none for people in none");
    assert!(texts(&html, "tr[data-entry] td.actor")[2].contains("loner@nowhere.test"));

    let filtered =
        operator.get("/operator/audit?action=auth.sign_in&actor=loner").await.text().await.unwrap();
    assert_eq!(attrs(&filtered, "tr[data-entry]", "data-action"), ["auth.sign_in"]);
    let unknown = operator.get("/operator/audit?action=nonsense").await;
    assert_eq!(unknown.status(), 422);
    let htmx = operator.get_htmx("/operator/audit?action=access_token.create", "audit-panel").await;
    let panel = htmx.text().await.unwrap();
    assert!(!panel.contains("<html") && panel.contains("globex deploy"), "the panel for htmx");

    let export = operator.get("/operator/audit/export?action=auth.sign_in").await;
    assert_eq!(export.status(), 200);
    let disposition = export.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.contains("tessera-audit-all-"), "{disposition}");
    let (headers, rows) = read_csv(&export.bytes().await.unwrap());
    assert_eq!(csv_column(&rows, &headers, "Organization"), ["", "", "globex", "acme"]);
    assert_eq!(
        csv_column(&rows, &headers, "Actor"),
        ["olga@platform.test", "loner@nowhere.test", "admin@globex.test", "owner@acme.test"]
    );

    for person in [&acme.owner, &loner] {
        let session = app.sign_in(person).await;
        assert_eq!(session.get("/operator/audit").await.status(), 404, "{}", person.email);
        assert_eq!(session.get("/operator/audit/export").await.status(), 404);
    }
}
