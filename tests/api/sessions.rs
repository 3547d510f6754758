//! Console sessions are server-side records: ending one ends every copy of its cookie at once.

use tessera::credentials::Plan;

use crate::helpers::{spawn_app, tessera_cli, texts, tokens_path};

const SESSIONS: &str = "/account/sessions";

fn session_rows(app: &crate::helpers::TestApp, user_id: &str) -> i64 {
    use diesel::prelude::*;
    use tessera::db::schema::sessions::dsl as s;
    s::sessions.filter(s::user_id.eq(user_id)).count().get_result(&mut app.conn()).unwrap()
}

#[tokio::test]
async fn a_cookie_copied_before_sign_out_opens_nothing_afterwards() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (alice, cookie) = app.sign_in_keeping_cookie(&acme.owner).await;
    let thief = app.replaying(&cookie);
    assert_eq!(thief.get(&tokens_path(&acme)).await.status(), 200, "the copy works while signed in");
    let csrf = crate::helpers::csrf_of(&thief.get(&tokens_path(&acme)).await.text().await.unwrap());

    assert_eq!(alice.post("/sign-out", &[]).await.status(), 303);
    assert_eq!(session_rows(&app, &acme.owner.id), 0, "the record is gone");

    let page = thief.get(&tokens_path(&acme)).await;
    assert_eq!(page.status(), 303, "a replayed cookie is sent to sign in");
    assert_eq!(page.headers()["location"], "/sign-in");
    let mint = thief
        .post_raw(
            &tokens_path(&acme),
            &[("csrf_token", csrf.as_str()), ("name", "stolen"), ("scopes", "all")],
        )
        .await;
    assert!(mint.status() == 303 || mint.status() == 403, "refused, got {}", mint.status());
    assert!(app.credentials_of(&acme).is_empty(), "nothing was minted");
    let body = thief.get(SESSIONS).await;
    assert_eq!(body.status(), 303);
}

#[tokio::test]
async fn the_cookie_carries_an_opaque_key_and_the_state_lives_in_the_database() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (_alice, cookie) = app.sign_in_keeping_cookie(&acme.owner).await;
    let value = cookie.split_once('=').unwrap().1;
    assert!(value.len() < 200, "a key, not a state: {} bytes", value.len());
    use diesel::prelude::*;
    use tessera::db::schema::sessions::dsl as s;
    let (id, state): (String, String) = s::sessions
        .filter(s::user_id.eq(&acme.owner.id))
        .select((s::id, s::state))
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(id.len(), 64, "rows are keyed by a SHA-256, not by the cookie's key");
    assert!(!cookie.contains(&id));
    assert!(state.contains(&acme.owner.id));
}

#[tokio::test]
async fn account_sessions_lists_each_browser_and_signs_out_one_or_all_others() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let laptop = app.sign_in(&acme.owner).await;
    let phone = app.sign_in(&acme.owner).await;
    let tablet = app.sign_in(&acme.owner).await;
    let bob = app.sign_in(&acme.admin).await;

    let page = laptop.get(SESSIONS).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let rows = texts(&html, "tr[data-session]");
    assert_eq!(rows.len(), 3, "alice's three sessions, not bob's: {rows:?}");
    assert_eq!(rows.iter().filter(|r| r.contains("This session")).count(), 1);
    assert!(rows.iter().all(|r| r.contains("127.0.0.1")), "{rows:?}");

    // Sign out the phone by its id, as its row's button does.
    let doc = scraper::Html::parse_document(&html);
    let sel = scraper::Selector::parse("tr[data-session]:not(.current)").unwrap();
    let phone_id = doc.select(&sel).next().unwrap().value().attr("data-session").unwrap().to_owned();
    let ended = laptop.post(&format!("/account/sessions/{phone_id}/end"), &[]).await;
    assert_eq!(ended.status(), 303);
    assert_eq!(session_rows(&app, &acme.owner.id), 2);
    let signed_in = |s: &crate::helpers::Session| {
        let path = tokens_path(&acme);
        let s = crate::helpers::Session { client: s.client.clone(), base: s.base.clone() };
        async move { s.get(&path).await.status() == 200 }
    };
    assert_eq!(
        [signed_in(&phone).await, signed_in(&tablet).await].iter().filter(|s| **s).count(),
        1,
        "exactly the chosen one of the other two ended"
    );

    // Bob cannot end alice's sessions: another person's id reads as absent.
    let current = texts(&html, "tr.current").len();
    assert_eq!(current, 1);
    let doc = scraper::Html::parse_document(&laptop.get(SESSIONS).await.text().await.unwrap());
    let any = scraper::Selector::parse("tr[data-session]").unwrap();
    let ids: Vec<String> =
        doc.select(&any).map(|e| e.value().attr("data-session").unwrap().to_owned()).collect();
    for id in &ids {
        assert_eq!(bob.post(&format!("/account/sessions/{id}/end"), &[]).await.status(), 404);
    }
    assert_eq!(session_rows(&app, &acme.owner.id), 2);

    let others = laptop.post("/account/sessions/end-others", &[]).await;
    assert_eq!(others.status(), 303);
    assert_eq!(laptop.get(&tokens_path(&acme)).await.status(), 200, "this session stays");
    for gone in [&phone, &tablet] {
        assert_eq!(gone.get(&tokens_path(&acme)).await.status(), 303, "ended on the server");
    }
    assert_eq!(bob.get(&tokens_path(&acme)).await.status(), 200, "other people are untouched");
    let actions: Vec<_> = app.audit().into_iter().map(|e| e.action).collect();
    assert_eq!(actions.iter().filter(|a| *a == "auth.sessions_ended").count(), 2, "{actions:?}");
}

#[tokio::test]
async fn the_operator_command_signs_a_person_out_everywhere() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let first = app.sign_in(&acme.member).await;
    let second = app.sign_in(&acme.member).await;
    let alice = app.sign_in(&acme.owner).await;

    let (ok, out) = tessera_cli(&app, &["user", "sign-out", &acme.member.email]);
    assert!(ok, "{out}");
    assert!(out.contains("2 session(s)"), "{out}");
    for ended in [&first, &second] {
        assert_eq!(ended.get(&tokens_path(&acme)).await.status(), 303);
    }
    assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 200);
    let (ok, out) = tessera_cli(&app, &["user", "sign-out", "nobody@nowhere.test"]);
    assert!(!ok && out.contains("no user"), "{out}");
    assert!(app
        .audit()
        .iter()
        .any(|e| e.action == "auth.sessions_ended" && e.actor_label.contains("operator")));
}

#[tokio::test]
async fn removal_from_the_last_org_ends_the_persons_sessions_at_once() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    // bob is in both orgs, carol only in acme.
    app.add_member(&globex, &acme.admin, tessera::auth::Role::Member);
    let alice = app.sign_in(&acme.owner).await;
    let (carol, carol_cookie) = app.sign_in_keeping_cookie(&acme.member).await;
    let bob = app.sign_in(&acme.admin).await;

    for person in [&acme.member, &acme.admin] {
        let removed = alice.post(&format!("/orgs/acme/settings/members/{}/remove", person.id), &[]).await;
        assert!(removed.status().is_success() || removed.status() == 303, "{}", removed.status());
    }
    assert_eq!(carol.get("/account/tokens").await.status(), 303, "carol belongs nowhere: signed out");
    assert_eq!(app.replaying(&carol_cookie).get("/account/tokens").await.status(), 303);
    assert_eq!(session_rows(&app, &acme.member.id), 0);
    assert_eq!(bob.get("/orgs/globex/settings/tokens").await.status(), 200, "bob still has globex");
}
