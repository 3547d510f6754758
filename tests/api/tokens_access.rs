use tessera::auth::Role;
use tessera::credentials::Plan;

use crate::helpers::*;

const CREATE: [(&str, &str); 3] = [("name", "sneaky"), ("scopes", "all"), ("expiry", "30")];

#[tokio::test]
async fn owners_and_admins_manage_members_and_auditors_only_read() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (token, _) = app.token(&acme, TokenSpec { name: "listed", ..Default::default() });
    for role in Role::ALL {
        let session = app.sign_in(acme.person(role)).await;
        let page = session.get(&tokens_path(&acme)).await;
        assert_eq!(page.status(), 200, "{role:?} reads the list");
        let html = page.text().await.unwrap();
        assert!(row(&html, "listed").is_some(), "{role:?} sees the token");
        let has_controls = html.contains("Generate token") || html.contains("/revoke");
        assert_eq!(has_controls, role.can_manage_credentials(), "{role:?} controls");
    }
    for role in [Role::Member, Role::Auditor] {
        let session = app.sign_in(acme.person(role)).await;
        let create = session.post(&tokens_path(&acme), &CREATE).await;
        assert_eq!(create.status(), 403, "{role:?} may not create");
        let revoke = session.post(&format!("{}/{}/revoke", tokens_path(&acme), token.id), &[]).await;
        assert_eq!(revoke.status(), 403, "{role:?} may not revoke");
    }
    assert_eq!(app.credentials_of(&acme).len(), 1);
    assert_eq!(app.credential(&token.id).revoked_at, None);
    for role in [Role::Owner, Role::Admin] {
        let session = app.sign_in(acme.person(role)).await;
        let fields = [("name", role.as_str()), ("scopes", "all"), ("expiry", "30")];
        assert_eq!(session.post(&tokens_path(&acme), &fields).await.status(), 200, "{role:?} may create");
    }
}

#[tokio::test]
async fn another_orgs_tokens_are_404_for_every_route() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let (theirs, _) = app.token(&globex, TokenSpec { name: "theirs", ..Default::default() });
    let (ours, _) = app.token(&acme, TokenSpec { name: "ours", ..Default::default() });
    let alice = app.sign_in(&acme.owner).await;

    assert_eq!(alice.get(&tokens_path(&globex)).await.status(), 404);
    assert_eq!(
        alice.get("/orgs/no-such-org/settings/tokens").await.status(),
        404,
        "same answer as a real org"
    );
    assert_eq!(alice.post(&tokens_path(&globex), &CREATE).await.status(), 404);
    assert_eq!(
        alice.post(&format!("{}/{}/revoke", tokens_path(&globex), theirs.id), &[]).await.status(),
        404
    );
    assert_eq!(
        alice.post(&format!("{}/{}/revoke", tokens_path(&acme), theirs.id), &[]).await.status(),
        404,
        "another org's token id under our own org"
    );
    assert_eq!(app.credential(&theirs.id).revoked_at, None);
    assert_eq!(app.credentials_of(&globex).len(), 1);

    let globex_owner = app.sign_in(&globex.owner).await;
    let html = globex_owner.get(&tokens_path(&globex)).await.text().await.unwrap();
    assert!(row(&html, "ours").is_none() && !html.contains(&ours.display_prefix));
}

#[tokio::test]
async fn a_person_in_no_org_gets_404_and_anonymous_is_sent_to_sign_in() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let loner = app.user("loner@example.test");
    let session = app.sign_in(&loner).await;
    assert_eq!(session.get(&tokens_path(&acme)).await.status(), 404);
    assert_eq!(session.post(&tokens_path(&acme), &CREATE).await.status(), 404);

    let anonymous = app.anonymous();
    let page = anonymous.get(&tokens_path(&acme)).await;
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], "/sign-in");
    let csrf = anonymous.csrf().await;
    let post = anonymous
        .post_raw(&tokens_path(&acme), &[("csrf_token", &csrf), ("name", "x"), ("expiry", "30")])
        .await;
    assert_eq!(post.status(), 303);
    assert!(app.credentials_of(&acme).is_empty());
}
