//! Settings → Members: owners add, re-role and remove people; the last owner stays; every change
//! is audited; personal tokens follow their user's membership at once, on every instance.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::{json, Value};
use tessera::auth::Role;
use tessera::credentials::Plan;
use tessera::db::audit::AuditEntry;
use tessera::db::orgs::{self, User};

use crate::helpers::*;

fn members_path(org: &TestOrg) -> String {
    format!("/orgs/{}/settings/members", org.org.slug)
}

fn role_path(org: &TestOrg, user: &User) -> String {
    format!("{}/{}/role", members_path(org), user.id)
}

fn remove_path(org: &TestOrg, user: &User) -> String {
    format!("{}/{}/remove", members_path(org), user.id)
}

fn role_of(app: &TestApp, org: &TestOrg, user: &User) -> Option<Role> {
    orgs::role_in(&mut app.conn(), &org.org.id, &user.id).expect("role query")
}

fn user_with_email(app: &TestApp, email: &str) -> Option<User> {
    orgs::find_user_by_email(&mut app.conn(), email).expect("user query")
}

fn member_entries(app: &TestApp) -> Vec<AuditEntry> {
    app.audit().into_iter().filter(|e| e.action.starts_with("member.")).collect()
}

fn details(entry: &AuditEntry) -> Value {
    serde_json::from_str(&entry.details).expect("details are JSON")
}

fn user_count(app: &TestApp) -> usize {
    orgs::all_users(&mut app.conn()).expect("users").len()
}

/// Text of the member row for `email` in a members page.
fn member_row(html: &str, email: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("tr[data-member]").unwrap();
    doc.select(&sel)
        .find(|e| e.value().attr("data-member") == Some(email))
        .map(|e| e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "))
}

async fn htmx_post(session: &Session, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = session.csrf().await;
    let mut all = vec![("csrf_token", token.as_str())];
    all.extend_from_slice(fields);
    session
        .client
        .post(format!("{}{path}", session.base))
        .header("HX-Request", "true")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(serde_html_form::to_string(&all).unwrap())
        .send()
        .await
        .expect("POST")
}

/// Mints a personal token through Account → Tokens, as a person would.
async fn personal_token(session: &Session, org: &TestOrg, name: &str) -> String {
    let response = session
        .post("/account/tokens", &[("name", name), ("org", org.org.slug.as_str()), ("expiry", "30")])
        .await;
    assert_eq!(response.status(), 200);
    let secret = texts(&response.text().await.unwrap(), "#new-secret").remove(0);
    assert!(secret.starts_with("tsr_pat_"), "{secret}");
    secret
}

#[tokio::test]
async fn an_owner_adds_changes_and_removes_a_member_each_audited() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;

    let added =
        alice.post(&members_path(&acme), &[("email", "  Frank@Example.COM "), ("role", "member")]).await;
    assert_eq!(added.status(), 303, "post/redirect/get");
    assert_eq!(added.headers()["location"], members_path(&acme).as_str());
    let frank = user_with_email(&app, "frank@example.com").expect("stored lower-cased and trimmed");
    assert_eq!((frank.oidc_issuer.as_deref(), frank.oidc_subject.as_deref()), (None, None), "linked later");
    assert!(!frank.is_operator);
    assert_eq!(role_of(&app, &acme, &frank), Some(Role::Member));

    let page = alice.get(&members_path(&acme)).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    let listed = member_row(&html, "frank@example.com").expect("listed");
    assert!(listed.contains("Not yet") && listed.contains("just now"), "{listed}");
    let alice_row = member_row(&html, &acme.owner.email).unwrap();
    assert!(alice_row.contains("you") && !alice_row.contains("Not yet"), "alice signed in: {alice_row}");
    assert_eq!(texts(&html, "#member-list-title"), ["5 members"]);

    let changed = alice.post(&role_path(&acme, &frank), &[("role", "auditor")]).await;
    assert_eq!(changed.status(), 303);
    assert_eq!(role_of(&app, &acme, &frank), Some(Role::Auditor));

    let removed = alice.post(&remove_path(&acme, &frank), &[]).await;
    assert_eq!(removed.status(), 303);
    assert_eq!(role_of(&app, &acme, &frank), None);
    assert!(user_with_email(&app, "frank@example.com").is_some(), "the user row stays");
    let html = alice.get(&members_path(&acme)).await.text().await.unwrap();
    assert!(member_row(&html, "frank@example.com").is_none());

    let entries = member_entries(&app);
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["member.add", "member.role_change", "member.remove"]);
    for entry in &entries {
        assert_eq!(entry.org_id.as_deref(), Some(acme.org.id.as_str()));
        assert_eq!(entry.actor_user_id.as_deref(), Some(acme.owner.id.as_str()));
        assert_eq!(entry.actor_label, acme.owner.email);
        assert_eq!(entry.target_type.as_deref(), Some("membership"));
        assert_eq!(entry.target_id.as_deref(), Some(frank.id.as_str()));
        assert_eq!(entry.target_label.as_deref(), Some("frank@example.com"));
        assert_eq!(entry.user_agent.as_deref(), Some("tessera-tests/1.0"));
        assert!(entry.ip.is_some());
    }
    assert_eq!(details(&entries[0]), json!({ "role": "member", "new_user": true }));
    assert_eq!(details(&entries[1]), json!({ "before": "member", "after": "auditor" }));
    assert_eq!(details(&entries[2]), json!({ "role": "auditor" }));
}

#[tokio::test]
async fn with_htmx_the_panel_comes_back_with_a_notice() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;

    let added =
        htmx_post(&alice, &members_path(&acme), &[("email", "frank@example.com"), ("role", "admin")]).await;
    assert_eq!(added.status(), 200);
    let html = added.text().await.unwrap();
    assert!(html.trim_start().starts_with("<section id=\"members-panel\""), "only the panel");
    assert_eq!(
        texts(&html, ".notice"),
        ["frank@example.com was added as Admin. They can sign in with that email address."]
    );
    assert!(member_row(&html, "frank@example.com").unwrap().contains("Not yet"));

    let frank = user_with_email(&app, "frank@example.com").unwrap();
    let changed = htmx_post(&alice, &role_path(&acme, &frank), &[("role", "member")]).await;
    assert_eq!(changed.status(), 200);
    assert_eq!(
        texts(&changed.text().await.unwrap(), ".notice"),
        ["frank@example.com is now Member (was Admin)."]
    );

    let same = htmx_post(&alice, &role_path(&acme, &frank), &[("role", "member")]).await;
    assert_eq!(same.status(), 200);
    assert_eq!(texts(&same.text().await.unwrap(), ".notice"), ["frank@example.com is already Member."]);
    assert_eq!(member_entries(&app).len(), 2, "no entry for a change that changed nothing");

    let removed = htmx_post(&alice, &remove_path(&acme, &frank), &[]).await;
    assert_eq!(removed.status(), 200);
    let html = removed.text().await.unwrap();
    assert!(texts(&html, ".notice")[0].starts_with("frank@example.com was removed from acme Inc."));
    assert!(member_row(&html, "frank@example.com").is_none());
}

#[tokio::test]
async fn adding_someone_who_already_has_an_account_reuses_it() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let users = user_count(&app);
    let alice = app.sign_in(&acme.owner).await;
    let shouted = globex.member.email.to_uppercase();
    let added = alice.post(&members_path(&acme), &[("email", shouted.as_str()), ("role", "admin")]).await;
    assert_eq!(added.status(), 303);
    assert_eq!(user_count(&app), users, "no second account");
    assert_eq!(role_of(&app, &acme, &globex.member), Some(Role::Admin));
    assert_eq!(role_of(&app, &globex, &globex.member), Some(Role::Member), "other orgs untouched");
    assert_eq!(details(&member_entries(&app)[0]), json!({ "role": "admin", "new_user": false }));

    // Someone added earlier with different case is found too, not duplicated.
    app.user("Grace.Hopper@Example.com");
    let users = user_count(&app);
    let added =
        alice.post(&members_path(&acme), &[("email", "grace.hopper@example.com"), ("role", "member")]).await;
    assert_eq!(added.status(), 303);
    assert_eq!(user_count(&app), users);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_removed_nor_demoted() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;

    for role in ["admin", "member", "auditor"] {
        let demoted = alice.post(&role_path(&acme, &acme.owner), &[("role", role)]).await;
        assert_eq!(demoted.status(), 422, "{role}");
        let html = demoted.text().await.unwrap();
        assert_eq!(
            texts(&html, ".form-error"),
            ["You are the only owner of acme Inc. Make someone else an owner before you change your own role."]
        );
        assert!(member_row(&html, &acme.owner.email).is_some(), "the whole page, with the list");
    }
    let left = alice.post(&remove_path(&acme, &acme.owner), &[]).await;
    assert_eq!(left.status(), 422);
    assert_eq!(
        texts(&left.text().await.unwrap(), ".form-error"),
        ["You are the only owner of acme Inc. Make someone else an owner before you leave."]
    );
    let htmx = htmx_post(&alice, &role_path(&acme, &acme.owner), &[("role", "member")]).await;
    assert_eq!(htmx.status(), 422, "htmx swaps 422 answers, so the message shows");
    assert!(htmx.text().await.unwrap().contains("You are the only owner of acme Inc."));
    assert_eq!(role_of(&app, &acme, &acme.owner), Some(Role::Owner));
    assert!(member_entries(&app).is_empty(), "nothing changed, nothing audited");

    // With a second owner, either may step down; then the other is the last one.
    assert_eq!(alice.post(&role_path(&acme, &acme.admin), &[("role", "owner")]).await.status(), 303);
    let bob = app.sign_in(&acme.admin).await;
    let refused = bob.post(&remove_path(&acme, &acme.owner), &[]).await;
    assert_eq!(refused.status(), 303, "bob, an owner now, may remove alice");
    assert_eq!(role_of(&app, &acme, &acme.owner), None);
    let alone = bob.post(&remove_path(&acme, &acme.admin), &[]).await;
    assert_eq!(alone.status(), 422);
    let by_other = alice.post(&role_path(&acme, &acme.admin), &[("role", "member")]).await;
    // Removed from her only org, alice's sessions ended with it.
    assert_eq!(by_other.status(), 303, "alice is signed out");
    assert_eq!(by_other.headers()["location"], "/sign-in");
    assert_eq!(role_of(&app, &acme, &acme.admin), Some(Role::Owner));
}

#[tokio::test]
async fn an_owner_who_steps_down_is_sent_to_a_page_they_may_see() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&role_path(&acme, &acme.admin), &[("role", "owner")]).await.status(), 303);

    let stepped = alice.post(&role_path(&acme, &acme.owner), &[("role", "admin")]).await;
    assert_eq!(stepped.status(), 303);
    assert_eq!(stepped.headers()["location"], tokens_path(&acme).as_str());
    assert_eq!(role_of(&app, &acme, &acme.owner), Some(Role::Admin));
    assert_eq!(alice.get(&members_path(&acme)).await.status(), 403, "no longer an owner");

    let bob = app.sign_in(&acme.admin).await;
    assert_eq!(bob.post(&role_path(&acme, &acme.owner), &[("role", "owner")]).await.status(), 303);
    let via_htmx = htmx_post(&bob, &remove_path(&acme, &acme.admin), &[]).await;
    assert_eq!(via_htmx.status(), 200);
    assert_eq!(via_htmx.headers()["hx-redirect"], "/", "bob left the org");
    assert_eq!(role_of(&app, &acme, &acme.admin), None);
}

#[tokio::test]
async fn concurrent_demotions_never_leave_an_org_without_an_owner() {
    let app = spawn_app().await;
    for round in 0..3 {
        let org = app.org(&format!("race{round}"), Plan::Growth);
        let owner = app.sign_in(&org.owner).await;
        assert_eq!(owner.post(&role_path(&org, &org.admin), &[("role", "owner")]).await.status(), 303);
        let second = app.sign_in(&org.admin).await;
        // Both step down at the same moment: each passes the role check, and under the org's
        // lock the second sees that it is now the last owner.
        let (first, second_path) = (role_path(&org, &org.owner), role_path(&org, &org.admin));
        let (a, b) = tokio::join!(
            owner.post(&first, &[("role", "member")]),
            second.post(&second_path, &[("role", "auditor")]),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [303, 422], "round {round}");
        let owners =
            [&org.owner, &org.admin].iter().filter(|u| role_of(&app, &org, u) == Some(Role::Owner)).count();
        assert_eq!(owners, 1, "round {round}");
    }
}

#[tokio::test]
async fn duplicates_are_refused_with_a_clear_message() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let users = user_count(&app);
    for email in ["member@acme.test", " MEMBER@Acme.Test "] {
        let again = alice.post(&members_path(&acme), &[("email", email), ("role", "admin")]).await;
        assert_eq!(again.status(), 422, "{email}");
        let html = again.text().await.unwrap();
        assert_eq!(
            texts(&html, ".field-error"),
            ["member@acme.test is already a member of acme Inc (Member)."]
        );
        assert!(html.contains("value=\"admin\" checked"), "the form keeps the choice");
    }
    assert_eq!(role_of(&app, &acme, &acme.member), Some(Role::Member), "role unchanged");
    assert_eq!(user_count(&app), users);
    assert!(member_entries(&app).is_empty());
}

#[tokio::test]
async fn a_bad_email_or_role_is_422_and_nothing_is_created() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let users = user_count(&app);
    let long = format!("{}@example.com", "x".repeat(250));
    let cases: [(&str, &str, &str); 6] = [
        ("frank", "member", "“frank” is not a valid email address."),
        ("frank@localhost", "member", "“frank@localhost” is not a valid email address."),
        ("frank@@example.com", "member", "“frank@@example.com” is not a valid email address."),
        ("", "member", "Enter an email address."),
        (&long, "member", "An email address has at most 254 characters."),
        ("frank@example.com", "root", "Choose a role: owner, admin, member or auditor."),
    ];
    for (email, role, message) in cases {
        let refused = alice.post(&members_path(&acme), &[("email", email), ("role", role)]).await;
        assert_eq!(refused.status(), 422, "{email:?} {role:?}");
        let html = refused.text().await.unwrap();
        assert_eq!(texts(&html, ".field-error"), [message], "{email:?} {role:?}");
        assert!(html.contains("<details class=\"card generate add-member\" open"), "the form stays open");
    }
    assert_eq!(user_count(&app), users);
    assert!(user_with_email(&app, "frank@example.com").is_none());
    assert!(member_entries(&app).is_empty());

    let bad_role = alice.post(&role_path(&acme, &acme.member), &[("role", "superuser")]).await;
    assert_eq!(bad_role.status(), 400);
    assert_eq!(role_of(&app, &acme, &acme.member), Some(Role::Member));
}

#[tokio::test]
async fn admins_members_and_auditors_get_403_on_every_members_route() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    for role in [Role::Admin, Role::Member, Role::Auditor] {
        let session = app.sign_in(acme.person(role)).await;
        let tabs = session.get(&tokens_path(&acme)).await.text().await.unwrap();
        assert!(!tabs.contains("/settings/members"), "{role:?} is not offered the tab");
        assert_eq!(session.get(&members_path(&acme)).await.status(), 403, "{role:?} GET");
        let add =
            session.post(&members_path(&acme), &[("email", "frank@example.com"), ("role", "owner")]).await;
        assert_eq!(add.status(), 403, "{role:?} add");
        let promote = session.post(&role_path(&acme, acme.person(role)), &[("role", "owner")]).await;
        assert_eq!(promote.status(), 403, "{role:?} promotes themselves");
        let demote = session.post(&role_path(&acme, &acme.owner), &[("role", "member")]).await;
        assert_eq!(demote.status(), 403, "{role:?} demotes the owner");
        assert_eq!(
            session.post(&remove_path(&acme, &acme.owner), &[]).await.status(),
            403,
            "{role:?} remove"
        );
        assert_eq!(session.post(&remove_path(&acme, acme.person(role)), &[]).await.status(), 403);
    }
    for role in Role::ALL {
        assert_eq!(role_of(&app, &acme, acme.person(role)), Some(role));
    }
    assert!(user_with_email(&app, "frank@example.com").is_none());
    assert!(member_entries(&app).is_empty());

    let alice = app.sign_in(&acme.owner).await;
    let tabs = alice.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(tabs.contains(&format!("href=\"{}\"", members_path(&acme))), "owners are offered the tab");
}

#[tokio::test]
async fn another_orgs_members_routes_are_404() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.get(&members_path(&globex)).await.status(), 404);
    assert_eq!(alice.get("/orgs/no-such-org/settings/members").await.status(), 404, "same as a real org");
    let add = alice.post(&members_path(&globex), &[("email", "frank@example.com"), ("role", "member")]).await;
    assert_eq!(add.status(), 404);
    assert_eq!(alice.post(&role_path(&globex, &globex.owner), &[("role", "member")]).await.status(), 404);
    assert_eq!(alice.post(&remove_path(&globex, &globex.owner), &[]).await.status(), 404);
    // Another org's person through one's own org: not a member here, so 404 too.
    let foreign_user = format!("{}/{}/role", members_path(&acme), globex.owner.id);
    assert_eq!(alice.post(&foreign_user, &[("role", "member")]).await.status(), 404);
    let foreign_remove = format!("{}/{}/remove", members_path(&acme), globex.owner.id);
    assert_eq!(alice.post(&foreign_remove, &[]).await.status(), 404);
    assert_eq!(role_of(&app, &globex, &globex.owner), Some(Role::Owner));
    assert!(user_with_email(&app, "frank@example.com").is_none());
    assert!(member_entries(&app).is_empty());
}

#[tokio::test]
async fn every_members_write_needs_the_csrf_token() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let add =
        alice.post_raw(&members_path(&acme), &[("email", "frank@example.com"), ("role", "member")]).await;
    assert_eq!(add.status(), 403);
    let forged = alice
        .post_raw(
            &members_path(&acme),
            &[("csrf_token", "forged"), ("email", "frank@example.com"), ("role", "member")],
        )
        .await;
    assert_eq!(forged.status(), 403);
    assert_eq!(alice.post_raw(&role_path(&acme, &acme.member), &[("role", "owner")]).await.status(), 403);
    assert_eq!(alice.post_raw(&remove_path(&acme, &acme.member), &[]).await.status(), 403);
    let cross_site = alice
        .client
        .post(format!("{}{}", alice.base, remove_path(&acme, &acme.member)))
        .header("Origin", "https://evil.example")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={}", alice.csrf().await))
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    assert!(user_with_email(&app, "frank@example.com").is_none());
    assert_eq!(role_of(&app, &acme, &acme.member), Some(Role::Member));
    assert!(member_entries(&app).is_empty());
}

#[tokio::test]
async fn a_platform_operator_outside_the_org_reads_the_list_and_changes_nothing() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let olga = app.user("olga@platform.test");
    {
        use tessera::db::schema::users::dsl as u;
        diesel::update(u::users.find(&olga.id))
            .set(u::is_operator.eq(true))
            .execute(&mut app.conn())
            .unwrap();
    }
    let session = app.sign_in(&olga).await;
    let page = session.get(&members_path(&acme)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(member_row(&html, &acme.owner.email).unwrap().contains("Owner"));
    assert!(
        !html.contains("Add member") && !html.contains("/remove") && !html.contains("/role"),
        "read-only"
    );
    let add = session.post(&members_path(&acme), &[("email", "frank@example.com"), ("role", "member")]).await;
    assert_eq!(add.status(), 403);
    assert_eq!(session.post(&role_path(&acme, &acme.owner), &[("role", "member")]).await.status(), 403);
    assert_eq!(session.post(&remove_path(&acme, &acme.owner), &[]).await.status(), 403);
    assert!(member_entries(&app).is_empty());
}

fn call(
    app: &TestApp,
    method: reqwest::Method,
    base: &str,
    path: &str,
    secret: &str,
) -> reqwest::RequestBuilder {
    app.api().request(method, format!("{base}{path}")).bearer_auth(secret)
}

async fn create_token(app: &TestApp, base: &str, secret: &str, name: &str) -> reqwest::Response {
    call(app, reqwest::Method::POST, base, "/api/v1/orgs/acme/tokens", secret)
        .json(&json!({ "name": name, "scopes": ["all"], "expiry": "30" }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_role_change_reaches_personal_tokens_on_the_next_request() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let pat = personal_token(&app.sign_in(&acme.admin).await, &acme, "bob cli").await;
    assert_eq!(create_token(&app, &app.address, &pat, "while admin").await.status(), 201, "now cached");

    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&role_path(&acme, &acme.admin), &[("role", "member")]).await.status(), 303);
    let refused = create_token(&app, &app.address, &pat, "after demotion").await;
    assert_eq!(refused.status(), 403, "the very next request acts as a member");
    assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));
    let me: Value = app.me(&pat).await.json().await.unwrap();
    assert_eq!(me["credential"]["kind"], "personal_token", "still valid for reading");

    assert_eq!(alice.post(&role_path(&acme, &acme.admin), &[("role", "admin")]).await.status(), 303);
    assert_eq!(create_token(&app, &app.address, &pat, "admin again").await.status(), 201);
}

#[tokio::test]
async fn a_removed_members_personal_tokens_fail_at_once() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let pat = personal_token(&app.sign_in(&acme.admin).await, &acme, "bob cli").await;
    assert_eq!(app.me(&pat).await.status(), 200, "now cached");

    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&remove_path(&acme, &acme.admin), &[]).await.status(), 303);
    let refused = app.me(&pat).await;
    assert_eq!(refused.status(), 401);
    assert!(refused.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "revoked");
    assert_eq!(create_token(&app, &app.address, &pat, "after removal").await.status(), 401);
    let token = app.credentials_of(&acme).into_iter().find(|c| c.name == "bob cli").unwrap();
    assert_eq!(token.revoked_at, Some(app.now()), "revoked with the removal");
}

#[tokio::test]
async fn another_instance_sees_a_role_change_and_a_removal_within_a_second() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let pat = personal_token(&app.sign_in(&acme.admin).await, &acme, "bob cli").await;
    let other = app.second_instance().await;
    let audit_at = |base: String| {
        let (client, secret) = (app.api(), pat.clone());
        async move {
            client
                .get(format!("{base}/api/v1/orgs/acme/audit"))
                .bearer_auth(secret)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        audit_at(other.clone()).await,
        200,
        "an admin reads the audit log; cached on the other instance"
    );

    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&role_path(&acme, &acme.admin), &[("role", "member")]).await.status(), 303);
    let started = std::time::Instant::now();
    while audit_at(other.clone()).await != 403 {
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the other instance still acts as admin after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert_eq!(alice.post(&remove_path(&acme, &acme.admin), &[]).await.status(), 303);
    let started = std::time::Instant::now();
    while audit_at(other.clone()).await != 401 {
        assert!(started.elapsed() < Duration::from_secs(1), "the other instance still accepts it after 1 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let me: Value = app
        .api()
        .get(format!("{other}/api/v1/me"))
        .bearer_auth(&pat)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["code"], "revoked", "revoked with the removal");
}
