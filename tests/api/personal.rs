use chrono::TimeDelta;
use diesel::prelude::*;
use serde_json::json;
use tessera::credentials::Plan;

use crate::helpers::*;

/// Mints a personal token through Account → Tokens, as a person would.
async fn personal_token(app: &TestApp, session: &Session, org: &TestOrg, name: &str) -> String {
    let response = session
        .post("/account/tokens", &[("name", name), ("org", org.org.slug.as_str()), ("expiry", "30")])
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let secret = texts(&response.text().await.unwrap(), "#new-secret").remove(0);
    assert!(secret.starts_with("tsr_pat_"), "{secret}");
    assert!(tessera::credentials::secret::parse(&secret, &app.catalog.prefixes).is_ok());
    secret
}

fn call(app: &TestApp, method: reqwest::Method, path: &str, secret: &str) -> reqwest::RequestBuilder {
    app.api().request(method, app.url(path)).bearer_auth(secret)
}

async fn json_of(response: reqwest::Response) -> serde_json::Value {
    response.json().await.unwrap()
}

#[tokio::test]
async fn any_member_mints_a_personal_token_bound_to_one_org() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let carol = app.sign_in(&acme.member).await;
    let secret = personal_token(&app, &carol, &acme, "carol cli").await;
    let me = json_of(app.me(&secret).await).await;
    assert_eq!(me["credential"]["kind"], "personal_token");
    assert_eq!(me["org"]["slug"], "acme");
    assert_eq!(me["user"]["id"], acme.member.id.as_str());

    let page = carol.get("/account/tokens").await.text().await.unwrap();
    assert!(!page.contains(&secret), "shown once");
    let listed = row(&page, "carol cli").expect("listed");
    assert!(listed.contains("acts as Member") && listed.contains("Active"), "{listed}");

    let bad = carol.post("/account/tokens", &[("name", "x"), ("org", "acme"), ("expiry", "30")]).await;
    assert_eq!(bad.status(), 422);
    let foreign = app.org("globex", Plan::Growth);
    let other = carol
        .post("/account/tokens", &[("name", "sneaky"), ("org", foreign.org.slug.as_str()), ("expiry", "30")])
        .await;
    assert_eq!(other.status(), 422, "only one's own orgs");
    assert!(other.text().await.unwrap().contains("Choose one of your organizations."));
}

#[tokio::test]
async fn a_personal_token_acts_with_its_users_current_role() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let member_pat = personal_token(&app, &app.sign_in(&acme.member).await, &acme, "member pat").await;
    let admin_pat = personal_token(&app, &app.sign_in(&acme.admin).await, &acme, "admin pat").await;
    app.token(&acme, TokenSpec { name: "existing", ..Default::default() });

    let listed = json_of(
        call(&app, reqwest::Method::GET, "/api/v1/orgs/acme/tokens", &member_pat).send().await.unwrap(),
    )
    .await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["name"], "existing");
    assert!(listed["items"][0].get("secret_hash").is_none(), "no hash in the API");
    assert_eq!(listed["items"][0]["display_prefix"].as_str().unwrap().len(), "tsr_at_".len() + 6);

    let body = json!({ "name": "from api", "scopes": ["basic_deployment"], "expiry": "30" });
    let denied = call(&app, reqwest::Method::POST, "/api/v1/orgs/acme/tokens", &member_pat)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    assert!(denied.headers()["www-authenticate"].to_str().unwrap().contains("insufficient_scope"));

    let created = call(&app, reqwest::Method::POST, "/api/v1/orgs/acme/tokens", &admin_pat)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created = json_of(created).await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.me(&secret).await.status(), 200, "the minted token works");

    let entry = app
        .audit()
        .into_iter()
        .find(|e| e.action == "access_token.create" && e.target_label.as_deref() == Some("from api"))
        .unwrap();
    assert_eq!(entry.actor_user_id.as_deref(), Some(acme.admin.id.as_str()));
    assert!(entry.actor_credential_id.is_some(), "the personal token is named as the means");
    assert!(entry.actor_label.contains("personal token"), "{}", entry.actor_label);
    assert!(!entry.details.contains(&secret[8..]));

    let console = app.sign_in(&acme.owner).await.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(row(&console, "from api").is_some(), "the console sees what the API made");
}

#[tokio::test]
async fn the_api_applies_the_same_rules_as_the_console() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Free);
    let pat = personal_token(&app, &app.sign_in(&acme.owner).await, &acme, "owner pat").await;
    let post = |path: &'static str, body: serde_json::Value| {
        call(&app, reqwest::Method::POST, path, &pat).json(&body).send()
    };

    let invalid = post("/api/v1/orgs/acme/tokens", json!({ "name": "ab", "scopes": [] })).await.unwrap();
    assert_eq!(invalid.status(), 422);
    let message = json_of(invalid).await["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("Name must be at least 3 characters.")
            && message.contains("Select at least one scope."),
        "{message}"
    );

    assert_eq!(
        post("/api/v1/orgs/acme/tokens", json!({ "name": "one", "scopes": ["all"] })).await.unwrap().status(),
        201
    );
    let capped = post("/api/v1/orgs/acme/tokens", json!({ "name": "two", "scopes": ["all"] })).await.unwrap();
    assert_eq!(capped.status(), 422);
    let capped = json_of(capped).await;
    assert_eq!(capped["code"], "cap_reached");
    assert!(capped["error"].as_str().unwrap().contains("The free plan allows 1 live access tokens."));

    let unknown_field =
        post("/api/v1/orgs/acme/tokens", json!({ "name": "odd", "scopes": ["all"], "admin": true }))
            .await
            .unwrap();
    assert_eq!(unknown_field.status(), 400);
    assert_eq!(json_of(unknown_field).await["code"], "bad_request");

    diesel::update(tessera::db::schema::organizations::table.find(&acme.org.id))
        .set(tessera::db::schema::organizations::api_access.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    let gated = post("/api/v1/orgs/acme/api-keys", json!({ "name": "gated", "permissions": ["read"] }))
        .await
        .unwrap();
    assert_eq!(gated.status(), 403);
    assert!(json_of(gated).await["error"]
        .as_str()
        .unwrap()
        .contains("API access is not enabled for this account."));
}

#[tokio::test]
async fn rotate_revoke_and_edit_through_the_api() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let pat = personal_token(&app, &app.sign_in(&acme.admin).await, &acme, "admin pat").await;
    let (token, token_secret) = app.token(&acme, TokenSpec { name: "rotate me", ..Default::default() });
    let (key, key_secret) = app.token(&acme, key_spec("edit me"));

    let rotated =
        call(&app, reqwest::Method::POST, &format!("/api/v1/orgs/acme/tokens/{}/rotate", token.id), &pat)
            .json(&json!({ "grace": "now" }))
            .send()
            .await
            .unwrap();
    assert_eq!(rotated.status(), 201);
    let new_secret = json_of(rotated).await["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.me(token_secret.expose()).await.status(), 401);
    assert_eq!(app.me(&new_secret).await.status(), 200);
    let again =
        call(&app, reqwest::Method::POST, &format!("/api/v1/orgs/acme/tokens/{}/rotate", token.id), &pat)
            .json(&json!({ "grace": "now" }))
            .send()
            .await
            .unwrap();
    assert_eq!(again.status(), 409);
    let bad_grace =
        call(&app, reqwest::Method::POST, &format!("/api/v1/orgs/acme/api-keys/{}/rotate", key.id), &pat)
            .json(&json!({ "grace": "1y" }))
            .send()
            .await
            .unwrap();
    assert_eq!(bad_grace.status(), 400);

    let edited = call(&app, reqwest::Method::PATCH, &format!("/api/v1/orgs/acme/api-keys/{}", key.id), &pat)
        .json(&json!({ "description": "via api", "active": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let edited = json_of(edited).await;
    assert_eq!(
        (edited["description"].as_str(), edited["active"].as_bool(), edited["name"].as_str()),
        (Some("via api"), Some(false), Some("edit me"))
    );
    assert_eq!(json_of(app.me(key_secret.expose()).await).await["code"], "inactive", "at once");

    let revoked =
        call(&app, reqwest::Method::DELETE, &format!("/api/v1/orgs/acme/api-keys/{}", key.id), &pat)
            .send()
            .await
            .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(json_of(revoked).await["already_revoked"], false);
    assert_eq!(json_of(app.me(key_secret.expose()).await).await["code"], "revoked");
    let missing =
        call(&app, reqwest::Method::DELETE, "/api/v1/orgs/acme/api-keys/nope", &pat).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn wrong_org_and_wrong_kind_are_403() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    // The same person belongs to both orgs; the token is still bound to one.
    tessera::db::orgs::add_member(
        &mut app.conn(),
        &globex.org.id,
        &acme.owner.id,
        tessera::auth::Role::Owner,
        app.now(),
    )
    .unwrap();
    let pat = personal_token(&app, &app.sign_in(&acme.owner).await, &acme, "acme pat").await;
    let wrong = call(&app, reqwest::Method::GET, "/api/v1/orgs/globex/tokens", &pat).send().await.unwrap();
    assert_eq!(wrong.status(), 403);
    assert_eq!(json_of(wrong).await["code"], "wrong_org");

    let (_, token) = app.token(&acme, TokenSpec::default());
    let not_personal =
        call(&app, reqwest::Method::GET, "/api/v1/orgs/acme/tokens", token.expose()).send().await.unwrap();
    assert_eq!(not_personal.status(), 403);
    assert_eq!(json_of(not_personal).await["code"], "personal_token_required");
}

#[tokio::test]
async fn a_personal_token_stops_when_its_user_leaves_the_org() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let pat = personal_token(&app, &app.sign_in(&acme.admin).await, &acme, "leaver").await;
    use tessera::db::schema::memberships::dsl as m;
    diesel::delete(m::memberships.filter(m::user_id.eq(&acme.admin.id))).execute(&mut app.conn()).unwrap();
    let response = app.me(&pat).await;
    assert_eq!(response.status(), 401);
    assert_eq!(json_of(response).await["code"], "not_a_member");
}

#[tokio::test]
async fn audit_log_over_the_api_for_owner_admin_and_auditor_only() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let auditor = personal_token(&app, &app.sign_in(&acme.auditor).await, &acme, "auditor pat").await;
    let member = personal_token(&app, &app.sign_in(&acme.member).await, &acme, "member pat").await;
    let entries =
        json_of(call(&app, reqwest::Method::GET, "/api/v1/orgs/acme/audit", &auditor).send().await.unwrap())
            .await;
    let actions: Vec<&str> =
        entries["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["personal_token.create", "personal_token.create"], "newest first");
    let denied = call(&app, reqwest::Method::GET, "/api/v1/orgs/acme/audit", &member).send().await.unwrap();
    assert_eq!(denied.status(), 403);
}

#[tokio::test]
async fn own_personal_tokens_are_listed_and_revoked_by_their_user_only() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let carol = app.sign_in(&acme.member).await;
    let first = personal_token(&app, &carol, &acme, "first").await;
    let second = personal_token(&app, &carol, &acme, "second").await;
    let bob_pat = personal_token(&app, &app.sign_in(&acme.admin).await, &acme, "bob's").await;

    let mine =
        json_of(call(&app, reqwest::Method::GET, "/api/v1/me/tokens", &first).send().await.unwrap()).await;
    let names: Vec<&str> =
        mine["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["second", "first"]);
    let second_id = mine["items"][0]["id"].as_str().unwrap().to_owned();

    let bobs =
        json_of(call(&app, reqwest::Method::GET, "/api/v1/me/tokens", &bob_pat).send().await.unwrap()).await;
    let bob_id = bobs["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&app, reqwest::Method::DELETE, &format!("/api/v1/me/tokens/{bob_id}"), &first)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        carol.post(&format!("/account/tokens/{bob_id}/revoke"), &[]).await.status(),
        404,
        "nor in the console"
    );
    assert_eq!(app.me(&bob_pat).await.status(), 200);

    assert_eq!(
        call(&app, reqwest::Method::DELETE, &format!("/api/v1/me/tokens/{second_id}"), &first)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(app.me(&second).await.status(), 401);
    let first_id = mine["items"][1]["id"].as_str().unwrap().to_owned();
    assert_eq!(carol.post(&format!("/account/tokens/{first_id}/revoke"), &[]).await.status(), 303);
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(app.me(&first).await.status(), 401);
}
