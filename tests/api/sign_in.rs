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
