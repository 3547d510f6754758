use chrono::TimeDelta;
use tessera::credentials::{secret, Passphrase, Plan};

use crate::helpers::*;

async fn rotate(session: &Session, base: &str, id: &str, grace: &str) -> reqwest::Response {
    session.post(&format!("{base}/{id}/rotate"), &[("grace", grace)]).await
}

#[tokio::test]
async fn rotating_now_replaces_the_secret_and_stops_the_old_one_at_once() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let created = alice
        .post(
            &tokens_path(&acme),
            &[
                ("name", "rotating"),
                ("scopes", "modify_env"),
                ("scopes", "run_scripts"),
                ("expiry", "30"),
                ("passphrase", "keep this phrase"),
            ],
        )
        .await
        .text()
        .await
        .unwrap();
    let first = texts(&created, "#new-secret").remove(0);
    let old = app.credentials_of(&acme).remove(0);
    app.clock.advance(TimeDelta::days(10));
    // Ten idle days end any console session: sign in again.
    let alice = app.sign_in(&acme.owner).await;

    let response = rotate(&alice, &tokens_path(&acme), &old.id, "now").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    let second = texts(&html, "#new-secret").remove(0);
    assert_ne!(first, second);
    assert!(secret::parse(&second, &app.catalog.prefixes).is_ok());
    assert!(html.contains("Copy this key now. It will not be shown again."));
    assert!(html.contains("The previous secret stopped working immediately."));
    assert!(!html.contains(&first), "the old secret is never shown again");

    let rows = app.credentials_of(&acme);
    assert_eq!(rows.len(), 2);
    let (old_now, new) = (app.credential(&old.id), rows.into_iter().find(|r| r.id != old.id).unwrap());
    assert_eq!(old_now.revoked_at, Some(app.now()));
    assert_eq!((new.name.as_str(), new.grants.as_str()), ("rotating", "modify_env run_scripts"));
    assert_eq!(new.rotated_from.as_deref(), Some(old.id.as_str()));
    assert_eq!(new.expires_at, Some(app.now() + TimeDelta::days(30)), "same lifetime from now");
    assert!(
        Passphrase::parse("keep this phrase").unwrap().verify(new.passphrase_hash.as_deref().unwrap()),
        "the passphrase carries over"
    );

    let list = alice.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(!list.contains(&second), "the new secret is shown once");
    let rows = texts(&list, "tr[data-credential]");
    assert!(
        rows.iter()
            .any(|r| r.contains("Revoked") && r.contains(&format!("Replaced by {}…", new.display_prefix))),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("Active") && r.contains(&format!("Rotated from {}…", old.display_prefix))),
        "{rows:?}"
    );

    let entry = app.audit().into_iter().find(|e| e.action == "access_token.rotate").expect("audited");
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(entry.target_id.as_deref(), Some(new.id.as_str()));
    assert_eq!(details["rotated_from"], old.id.as_str(), "old and new are linked in the audit log");
    for plain in [&first, &second] {
        assert!(!entry.details.contains(&plain[7..]), "no secret in the audit log");
    }
}

#[tokio::test]
async fn a_grace_period_keeps_the_old_secret_working_until_it_ends() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (old, _) = app.token(&acme, key_spec("graceful"));
    let bob = app.sign_in(&acme.admin).await;
    let html = rotate(&bob, &keys_path(&acme), &old.id, "1h").await.text().await.unwrap();
    assert!(html.contains("The previous secret keeps working for 1 hour."));
    assert_eq!(app.credential(&old.id).revoked_at, Some(app.now() + TimeDelta::hours(1)));

    let during = bob.get(&format!("{}?status=active", keys_path(&acme))).await.text().await.unwrap();
    let rows = texts(&during, "tr[data-credential]");
    assert_eq!(rows.len(), 2, "both work during the grace period, under one name: {rows:?}");
    assert!(rows.iter().any(|r| r.contains("Rotated; stops working in an hour")), "{rows:?}");

    app.clock.advance(TimeDelta::minutes(61));
    let after = bob.get(&format!("{}?status=revoked", keys_path(&acme))).await.text().await.unwrap();
    assert_eq!(texts(&after, "tr[data-credential]").len(), 1, "the old key is revoked once the grace ends");

    for (grace, hours) in [("24h", 24), ("7d", 24 * 7)] {
        let (key, _) = app.token(&acme, key_spec(if hours == 24 { "day" } else { "week" }));
        rotate(&bob, &keys_path(&acme), &key.id, grace).await;
        assert_eq!(app.credential(&key.id).revoked_at, Some(app.now() + TimeDelta::hours(hours)));
    }
}

#[tokio::test]
async fn a_rotated_key_keeps_description_permissions_and_state() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (old, _) = app.token(
        &acme,
        TokenSpec {
            description: Some("for billing"),
            active: false,
            scopes: "read deploy",
            ..key_spec("billing")
        },
    );
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(rotate(&alice, &keys_path(&acme), &old.id, "now").await.status(), 200);
    let new = app.credentials_of(&acme).into_iter().find(|r| r.id != old.id).unwrap();
    assert_eq!(
        (new.description.as_deref(), new.grants.as_str(), new.active, new.kind.as_str()),
        (Some("for billing"), "read deploy", false, "api_key")
    );
    assert_eq!(new.expires_at, None, "Never stays Never without a lifetime policy");
}

#[tokio::test]
async fn revoked_expired_and_already_rotated_credentials_cannot_be_rotated() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (revoked, _) = app.token(&acme, TokenSpec { name: "revoked", ..Default::default() });
    let (expired, _) = app.token(
        &acme,
        TokenSpec {
            name: "expired",
            expires_at: Some(app.now() + TimeDelta::minutes(1)),
            ..Default::default()
        },
    );
    let (rotated, _) = app.token(&acme, TokenSpec { name: "rotated", ..Default::default() });
    let alice = app.sign_in(&acme.owner).await;
    alice.post(&format!("{}/{}/revoke", tokens_path(&acme), revoked.id), &[]).await;
    rotate(&alice, &tokens_path(&acme), &rotated.id, "7d").await;
    app.clock.advance(TimeDelta::minutes(2));
    let before = app.credentials_of(&acme).len();
    for (id, message) in [
        (&revoked.id, "A revoked credential cannot be rotated."),
        (&expired.id, "An expired credential cannot be rotated."),
        (&rotated.id, "already rotated"),
    ] {
        let response = rotate(&alice, &tokens_path(&acme), id, "now").await;
        assert_eq!(response.status(), 409, "{message}");
        let html = response.text().await.unwrap();
        assert!(html.contains(message), "{message}");
        assert!(texts(&html, "#new-secret").is_empty());
    }
    assert_eq!(app.credentials_of(&acme).len(), before, "nothing created");
    assert_eq!(
        alice
            .post(&format!("{}/{}/rotate", tokens_path(&acme), rotated.id), &[("grace", "forever")])
            .await
            .status(),
        400
    );
}

#[tokio::test]
async fn rotation_is_allowed_at_the_plan_cap_and_honours_the_lifetime_policy() {
    let app = spawn_app().await;
    let free = app.org("free", Plan::Free);
    let (token, _) = app.token(&free, TokenSpec { name: "only one", ..Default::default() });
    use diesel::prelude::*;
    use tessera::db::schema::organizations::dsl as o;
    app.set_org(&free.org, |conn, id| {
        diesel::update(o::organizations.find(id)).set(o::max_lifetime_days.eq(Some(30))).execute(conn)
    });
    let owner = app.sign_in(&free.owner).await;
    assert_eq!(
        rotate(&owner, &tokens_path(&free), &token.id, "1h").await.status(),
        200,
        "a replacement is not a new credential"
    );
    let new = app.credentials_of(&free).into_iter().find(|r| r.id != token.id).unwrap();
    assert_eq!(new.expires_at, Some(app.now() + TimeDelta::days(30)), "Never becomes the policy's maximum");
}
