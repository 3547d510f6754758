use tessera::credentials::Plan;

use crate::helpers::*;

#[tokio::test]
async fn dev_sign_in_lists_people_and_sign_out_needs_a_post() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let page = app.anonymous().get("/sign-in").await.text().await.unwrap();
    assert!(page.contains(&format!("Sign in as {}", acme.owner.email)));

    let alice = app.sign_in(&acme.owner).await;
    let home = alice.get("/").await;
    assert_eq!(home.headers()["location"], tokens_path(&acme).as_str());
    let get = alice.get("/sign-out").await;
    assert_eq!(get.status(), 405, "sign-out is POST only");
    assert_eq!(get.headers()["allow"], "POST");

    let out = alice.post("/sign-out", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 303, "signed out");
    let actions: Vec<String> = app.audit().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["auth.sign_in", "auth.sign_out"]);
}

#[tokio::test]
async fn signing_in_renews_the_session_and_its_csrf_token() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let session = app.anonymous();
    let before = session.csrf().await;
    let response = session
        .post_raw("/auth/dev", &[("csrf_token", before.as_str()), ("user_id", acme.owner.id.as_str())])
        .await;
    assert_eq!(response.status(), 303);
    let after = session.csrf().await;
    assert_ne!(before, after, "a token from before sign-in is not valid after it");
}

#[tokio::test]
async fn dev_sign_in_of_an_unknown_user_is_404() {
    let app = spawn_app().await;
    app.org("acme", Plan::Growth);
    let session = app.anonymous();
    let csrf = session.csrf().await;
    let response =
        session.post_raw("/auth/dev", &[("csrf_token", csrf.as_str()), ("user_id", "nobody")]).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let session = app.anonymous();
    assert_eq!(session.get("/healthz").await.status(), 200);
    assert_eq!(session.get("/readyz").await.text().await.unwrap(), "ready");
}

#[tokio::test]
async fn a_session_ends_after_eight_idle_hours() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    app.clock.advance(chrono::TimeDelta::hours(8) - chrono::TimeDelta::minutes(1));
    assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 200, "used within the idle limit");
    app.clock.advance(chrono::TimeDelta::hours(8) - chrono::TimeDelta::minutes(1));
    assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 200, "each request restarts the idle limit");
    app.clock.advance(chrono::TimeDelta::hours(8) + chrono::TimeDelta::minutes(1));
    let idle = alice.get(&tokens_path(&acme)).await;
    assert_eq!(idle.status(), 303);
    assert_eq!(idle.headers()["location"], "/sign-in");
    app.clock.advance(chrono::TimeDelta::minutes(-30));
    assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 303, "an ended session stays ended");
}

#[tokio::test]
async fn a_session_ends_seven_days_after_sign_in_however_busy() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    for _ in 0..24 {
        app.clock.advance(chrono::TimeDelta::hours(7));
        assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 200);
    }
    app.clock.advance(chrono::TimeDelta::hours(7));
    assert_eq!(alice.get(&tokens_path(&acme)).await.status(), 303, "7 days and 7 hours after sign-in");
    let again = app.sign_in(&acme.owner).await;
    assert_eq!(again.get(&tokens_path(&acme)).await.status(), 200, "signing in again starts over");
}

#[tokio::test]
async fn an_operator_in_no_org_lands_on_the_list_of_orgs() {
    use diesel::prelude::*;
    use tessera::db::schema::users::dsl as u;
    let app = spawn_app().await;
    app.org("acme", Plan::Growth);
    let operator = app.user("ops@example.com");
    diesel::update(u::users.find(&operator.id))
        .set(u::is_operator.eq(true))
        .execute(&mut app.conn())
        .unwrap();
    let session = app.sign_in(&operator).await;
    assert_eq!(session.get("/").await.headers()["location"], "/operator/orgs");
    assert_eq!(session.get("/operator/orgs").await.status(), 200);
}
