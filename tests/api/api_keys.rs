use chrono::TimeDelta;
use tessera::auth::Role;
use tessera::credentials::{secret, CredentialKind, Plan};

use crate::helpers::*;

fn key_form<'a>(
    name: &'a str,
    permissions: &[&'a str],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("name", name), ("expiry", "365"), ("active", "on")];
    fields.extend(permissions.iter().map(|p| ("permissions", *p)));
    fields.extend_from_slice(extra);
    fields
}

#[tokio::test]
async fn creating_a_key_reveals_it_once_with_description_permissions_and_default_expiry() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let blank = alice.get(&keys_path(&acme)).await.text().await.unwrap();
    assert!(blank.contains("<option value=\"365\" selected>"), "365 days is the default expiry");
    assert!(blank.contains("name=\"active\" value=\"on\" checked"), "new keys are active by default");

    let fields =
        key_form("billing sync", &["read", "deploy"], &[("description", "  Used by the billing job  ")]);
    let response = alice.post(&keys_path(&acme), &fields).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("Copy this key now. It will not be shown again."));
    let plain = texts(&html, "#new-secret").remove(0);
    assert_eq!(secret::parse(&plain, &app.catalog.prefixes).unwrap().0, CredentialKind::ApiKey);
    assert!(plain.starts_with("tsr_ak_"));

    let row = app.credentials_of(&acme).remove(0);
    assert_eq!(row.kind, "api_key");
    assert_eq!(row.grants, "read deploy");
    assert_eq!(row.description.as_deref(), Some("Used by the billing job"));
    assert!(row.active);
    assert_eq!(row.expires_at, Some(app.now() + TimeDelta::days(365)));

    let later = alice.get(&keys_path(&acme)).await.text().await.unwrap();
    assert!(!later.contains(&plain));
    let text = row_of(&later, "billing sync");
    assert!(
        text.contains("Used by the billing job") && text.contains("Active") && text.contains("deploy"),
        "{text}"
    );
}

fn row_of(html: &str, name: &str) -> String {
    row(html, name).unwrap_or_else(|| panic!("no row {name}"))
}

#[tokio::test]
async fn key_rules_refuse_with_422_and_create_nothing() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let long = "d".repeat(1001);
    let cases = [
        (
            key_form("too long", &["read"], &[("description", long.as_str())]),
            "Description must be at most 1000 characters.",
        ),
        (key_form("no perms", &[], &[]), "Select at least one permission."),
        (key_form("a scope", &["all"], &[]), "Unknown permission"),
        (key_form("ab", &["read"], &[]), "Name must be at least 3 characters."),
    ];
    for (fields, message) in cases {
        let response = alice.post(&keys_path(&acme), &fields).await;
        assert_eq!(response.status(), 422, "{message}");
        assert!(response.text().await.unwrap().contains(message), "{message}");
    }
    assert!(app.credentials_of(&acme).is_empty());
}

#[tokio::test]
async fn an_inactive_key_is_listed_as_inactive() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let fields = vec![("name", "dormant"), ("expiry", "30"), ("permissions", "read")];
    assert_eq!(alice.post(&keys_path(&acme), &fields).await.status(), 200);
    assert!(!app.credentials_of(&acme)[0].active, "an unchecked toggle creates an inactive key");
    let html = alice.get(&keys_path(&acme)).await.text().await.unwrap();
    assert!(row_of(&html, "dormant").contains("Inactive"));
}

#[tokio::test]
async fn editing_a_key_changes_metadata_not_the_secret_and_audits_before_and_after() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (key, plain) = app.token(
        &acme,
        TokenSpec {
            description: Some("old words"),
            expires_at: Some(app.now() + TimeDelta::days(100)),
            ..key_spec("editable")
        },
    );
    let bob = app.sign_in(&acme.admin).await;
    let edit_path = format!("{}/{}/edit", keys_path(&acme), key.id);
    let form = bob.get(&edit_path).await.text().await.unwrap();
    assert!(form.contains("value=\"editable\"") && form.contains("old words"));
    assert!(form.contains("<option value=\"keep\" selected>"), "the current expiry is kept unless changed");

    let fields = [
        ("name", "renamed"),
        ("description", "new words"),
        ("permissions", "read"),
        ("permissions", "view_logs"),
        ("expiry", "keep"),
    ];
    let response = bob.post(&edit_path, &fields).await;
    assert_eq!(response.status(), 303);
    let after = app.credential(&key.id);
    assert_eq!(
        (after.name.as_str(), after.description.as_deref(), after.grants.as_str()),
        ("renamed", Some("new words"), "read view_logs")
    );
    assert!(!after.active, "the toggle was left unchecked");
    assert_eq!(after.expires_at, key.expires_at);
    assert_eq!(after.display_prefix, key.display_prefix, "same secret");
    assert!(plain.hash().matches_hex(&stored_hash(&app, &key.id)), "the secret does not change");

    let entry = app.audit().into_iter().find(|e| e.action == "api_key.edit").expect("audited");
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details["before"]["name"], "editable");
    assert_eq!(details["after"]["name"], "renamed");
    assert_eq!(details["before"]["active"], true);
    assert_eq!(details["after"]["active"], false);
    assert_eq!(details["after"]["grants"], serde_json::json!(["read", "view_logs"]));
    assert_eq!(entry.actor_user_id.as_deref(), Some(acme.admin.id.as_str()));

    let new_expiry = [("name", "renamed"), ("permissions", "read"), ("expiry", "30"), ("active", "on")];
    assert_eq!(bob.post(&edit_path, &new_expiry).await.status(), 303);
    let after = app.credential(&key.id);
    assert!(after.active);
    assert_eq!(after.expires_at, Some(app.now() + TimeDelta::days(30)));
}

fn stored_hash(app: &TestApp, id: &str) -> String {
    use diesel::prelude::*;
    use tessera::db::schema::credentials::dsl as c;
    c::credentials.find(id).select(c::secret_hash).first(&mut app.conn()).unwrap()
}

#[tokio::test]
async fn edit_refusals() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (key, _) = app.token(&acme, key_spec("first"));
    app.token(&acme, key_spec("second"));
    let (token, _) = app.token(&acme, TokenSpec { name: "a token", ..Default::default() });
    let alice = app.sign_in(&acme.owner).await;
    let edit_path = format!("{}/{}/edit", keys_path(&acme), key.id);

    let taken =
        alice.post(&edit_path, &[("name", "second"), ("permissions", "read"), ("expiry", "keep")]).await;
    assert_eq!(taken.status(), 422);
    assert!(taken.text().await.unwrap().contains("An active key with this name already exists."));
    let past = alice
        .post(
            &edit_path,
            &[("name", "first"), ("permissions", "read"), ("expiry", "custom"), ("expires_on", "2020-01-01")],
        )
        .await;
    assert_eq!(past.status(), 422);
    assert_eq!(app.credential(&key.id).name, "first", "nothing changed");

    let token_edit = format!("{}/{}/edit", tokens_path(&acme), token.id);
    assert_eq!(alice.get(&token_edit).await.status(), 404, "token grants are immutable: no edit");
    assert_eq!(alice.post(&token_edit, &[("name", "x y z"), ("expiry", "keep")]).await.status(), 404);

    alice.post(&format!("{}/{}/revoke", keys_path(&acme), key.id), &[]).await;
    let revoked =
        alice.post(&edit_path, &[("name", "first"), ("permissions", "read"), ("expiry", "keep")]).await;
    assert_eq!(revoked.status(), 422);
    assert!(revoked.text().await.unwrap().contains("A revoked credential cannot be edited."));
}

#[tokio::test]
async fn the_api_access_gate_disables_creation_in_page_and_server() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (key, _) = app.token(&acme, key_spec("existing"));
    use diesel::prelude::*;
    use tessera::db::schema::organizations::dsl as o;
    app.set_org(&acme.org, |conn, id| {
        diesel::update(o::organizations.find(id)).set(o::api_access.eq(false)).execute(conn)
    });
    let alice = app.sign_in(&acme.owner).await;

    let html = alice.get(&keys_path(&acme)).await.text().await.unwrap();
    assert!(html.contains("API access is not enabled for this account."));
    let doc = scraper::Html::parse_document(&html);
    let disabled = scraper::Selector::parse("button[disabled]").unwrap();
    assert!(
        doc.select(&disabled).any(|b| b.text().collect::<String>() == "Create key"),
        "Create key is shown disabled"
    );
    assert!(!html.contains("name=\"permissions\""), "no create form");
    assert!(!html.contains("/rotate"), "rotation mints a key too");

    let refused = alice.post(&keys_path(&acme), &key_form("new key", &["read"], &[])).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("API access is not enabled for this account."));
    let rotate = alice.post(&format!("{}/{}/rotate", keys_path(&acme), key.id), &[("grace", "now")]).await;
    assert_eq!(rotate.status(), 403);
    assert_eq!(app.credentials_of(&acme).len(), 1, "nothing created");

    let tokens =
        alice.post(&tokens_path(&acme), &[("name", "still fine"), ("scopes", "all"), ("expiry", "30")]).await;
    assert_eq!(tokens.status(), 200, "the gate is about API keys only");
    let revoke = alice.post(&format!("{}/{}/revoke", keys_path(&acme), key.id), &[]).await;
    assert_eq!(revoke.status(), 303, "revoking is always possible");
}

#[tokio::test]
async fn plan_caps_count_each_kind_separately() {
    let app = spawn_app().await;
    let free = app.org("free", Plan::Free);
    let owner = app.sign_in(&free.owner).await;
    assert_eq!(
        owner
            .post(&tokens_path(&free), &[("name", "the token"), ("scopes", "all"), ("expiry", "30")])
            .await
            .status(),
        200
    );
    assert_eq!(owner.post(&keys_path(&free), &key_form("the key", &["read"], &[])).await.status(), 200);
    let over = owner.post(&keys_path(&free), &key_form("second key", &["read"], &[])).await;
    assert_eq!(over.status(), 422);
    assert!(over.text().await.unwrap().contains("The free plan allows 1 live API keys."));
}

/// (method, path, form fields)
type Route<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);

/// Every write route of both tabs, for every role and for outsiders.
#[tokio::test]
async fn every_credential_route_enforces_roles_and_org_boundaries() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Enterprise);
    let globex = app.org("globex", Plan::Enterprise);
    let (key, _) = app.token(&acme, key_spec("a key"));
    let (token, _) = app.token(&acme, TokenSpec { name: "a token", ..Default::default() });
    let routes: Vec<Route> = vec![
        ("POST", tokens_path(&acme), vec![("name", "new token"), ("scopes", "all"), ("expiry", "30")]),
        ("POST", keys_path(&acme), key_form("new key", &["read"], &[])),
        ("POST", format!("{}/{}/rotate", tokens_path(&acme), token.id), vec![("grace", "1h")]),
        ("POST", format!("{}/{}/rotate", keys_path(&acme), key.id), vec![("grace", "1h")]),
        ("GET", format!("{}/{}/edit", keys_path(&acme), key.id), vec![]),
        (
            "POST",
            format!("{}/{}/edit", keys_path(&acme), key.id),
            vec![("name", "edited"), ("permissions", "read"), ("expiry", "keep")],
        ),
        ("POST", format!("{}/{}/revoke", tokens_path(&acme), token.id), vec![]),
        ("POST", format!("{}/{}/revoke", keys_path(&acme), key.id), vec![]),
    ];
    let outsider = app.sign_in(&globex.owner).await;
    for role in [Role::Member, Role::Auditor] {
        let session = app.sign_in(acme.person(role)).await;
        for (method, path, fields) in &routes {
            let status = if *method == "GET" {
                session.get(path).await.status()
            } else {
                session.post(path, fields).await.status()
            };
            assert_eq!(status, 403, "{role:?} {method} {path}");
        }
    }
    for (method, path, fields) in &routes {
        let status = if *method == "GET" {
            outsider.get(path).await.status()
        } else {
            outsider.post(path, fields).await.status()
        };
        assert_eq!(status, 404, "outsider {method} {path}");
    }
    assert_eq!(app.credentials_of(&acme).len(), 2, "nothing created");
    assert!(
        app.credentials_of(&acme).iter().all(|r| r.revoked_at.is_none() && r.name.starts_with('a')),
        "nothing changed"
    );
    for role in [Role::Member, Role::Auditor] {
        let session = app.sign_in(acme.person(role)).await;
        assert_eq!(session.get(&keys_path(&acme)).await.status(), 200, "{role:?} reads API keys");
    }
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.get(&format!("/orgs/{}/settings/nonsense", acme.org.slug)).await.status(), 404);
    let globex_key = format!("/orgs/{}/settings/api-keys/{}/edit", globex.org.slug, key.id);
    assert_eq!(alice.get(&globex_key).await.status(), 404);
    let wrong_org_id = format!("{}/{}/edit", keys_path(&globex), key.id);
    assert_eq!(outsider.get(&wrong_org_id).await.status(), 404, "an acme key under globex's path");
}
