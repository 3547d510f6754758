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
    app.add_member(&globex, &acme.owner, tessera::auth::Role::Owner);
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
    assert_eq!(
        actions,
        ["personal_token.create", "auth.sign_in", "personal_token.create", "auth.sign_in"],
        "newest first"
    );
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

/// A mint through Account → Tokens that may be refused: the status and the page's messages.
async fn try_mint(session: &Session, org: &TestOrg, name: &str) -> (u16, String) {
    let response = session
        .post("/account/tokens", &[("name", name), ("org", org.org.slug.as_str()), ("expiry", "30")])
        .await;
    let status = response.status().as_u16();
    let html = response.text().await.unwrap();
    (status, texts(&html, ".field-error, .form-error").join(" "))
}

fn personal_tokens_path(org: &TestOrg) -> String {
    format!("/orgs/{}/settings/personal-tokens", org.org.slug)
}

fn personal_token_id(app: &TestApp, org: &TestOrg, name: &str) -> String {
    app.credentials_of(org).into_iter().find(|c| c.name == name).map(|c| c.id).expect("personal token")
}

#[tokio::test]
async fn personal_tokens_are_capped_per_person_so_one_member_cannot_use_up_the_org() {
    let app = spawn_app().await;
    // Growth allows 20 of each kind: the plan's cap is not what stops carol.
    let acme = app.org("acme", Plan::Growth);
    let carol = app.sign_in(&acme.member).await;
    for i in 1..=10 {
        personal_token(&app, &carol, &acme, &format!("carol {i}")).await;
    }
    let (status, message) = try_mint(&carol, &acme, "carol 11").await;
    assert_eq!(status, 422, "the 11th of carol's");
    assert!(
        message.contains("You already have 10 live personal access tokens, the most one person may have."),
        "{message}"
    );
    let alice = app.sign_in(&acme.owner).await;
    personal_token(&app, &alice, &acme, "alice cli").await;

    let first = personal_token_id(&app, &acme, "carol 1");
    assert_eq!(carol.post(&format!("/account/tokens/{first}/revoke"), &[]).await.status(), 303);
    app.clock.advance(TimeDelta::seconds(1));
    personal_token(&app, &carol, &acme, "carol 11").await;
}

#[tokio::test]
async fn the_personal_token_cap_comes_from_the_catalog() {
    let mut catalog = tessera::catalog::Catalog::built_in();
    catalog.personal_tokens_per_person = 2;
    let app = spawn_app_with(catalog).await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    app.add_member(&globex, &acme.member, tessera::auth::Role::Member);
    let carol = app.sign_in(&acme.member).await;
    personal_token(&app, &carol, &acme, "acme cli").await;
    personal_token(&app, &carol, &globex, "globex cli").await;
    let (status, message) = try_mint(&carol, &acme, "third").await;
    assert_eq!(status, 422, "counted over all of carol's tokens: {message}");
    assert!(message.contains("You already have 2 live personal access tokens"), "{message}");
}

#[tokio::test]
async fn personal_token_names_are_unique_per_person_and_never_leak() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let carol = app.sign_in(&acme.member).await;
    let alice = app.sign_in(&acme.owner).await;
    personal_token(&app, &carol, &acme, "ci bot").await;
    let (status, message) = try_mint(&alice, &acme, "ci bot").await;
    assert_eq!(status, 200, "alice has no token named “ci bot”: {message}");
    let (status, message) = try_mint(&carol, &acme, "ci bot").await;
    assert_eq!(status, 422);
    assert_eq!(message, "You already have an active personal token with this name.");
    // Another kind's names are another matter: an access token may be called "ci bot" too.
    let (_, _) = app.token(&acme, TokenSpec { name: "ci bot", ..Default::default() });
    let (status, _) = try_mint(&app.sign_in(&acme.admin).await, &acme, "ci bot").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn owners_and_admins_list_and_revoke_the_orgs_personal_tokens_in_the_console() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let carol_cli = personal_token(&app, &app.sign_in(&acme.member).await, &acme, "carol cli").await;
    let carol_ci = personal_token(&app, &app.sign_in(&acme.member).await, &acme, "carol ci").await;
    personal_token(&app, &app.sign_in(&globex.member).await, &globex, "globex cli").await;
    let path = personal_tokens_path(&acme);

    let alice = app.sign_in(&acme.owner).await;
    let html = alice.get(&path).await.text().await.unwrap();
    let listed = row(&html, "carol cli").expect("listed for the owner");
    let prefix =
        &app.credentials_of(&acme).into_iter().find(|c| c.name == "carol cli").unwrap().display_prefix;
    assert!(listed.contains("member@acme.test") && listed.contains(prefix.as_str()), "{listed}");
    assert!(listed.contains("Active") && listed.contains("Revoke"), "{listed}");
    assert!(row(&html, "globex cli").is_none(), "another org's tokens are not here");
    assert!(html.contains(&format!("href=\"{path}\"")), "a settings tab");

    let id = personal_token_id(&app, &acme, "carol cli");
    let forged = alice.post_raw(&format!("{path}/{id}/revoke"), &[]).await;
    assert_eq!(forged.status(), 403, "no CSRF token, no revocation");
    assert_eq!(app.me(&carol_cli).await.status(), 200);
    let revoked = alice.post(&format!("{path}/{id}/revoke"), &[]).await;
    assert_eq!(revoked.status(), 303, "works without JavaScript");
    assert_eq!(revoked.headers()["location"], path.as_str());
    assert_eq!(app.me(&carol_cli).await.status(), 401, "at once");
    let entry = app.audit().into_iter().find(|e| e.action == "personal_token.revoke").expect("audited");
    assert_eq!(entry.actor_user_id.as_deref(), Some(acme.owner.id.as_str()));
    assert_eq!(entry.target_id.as_deref(), Some(id.as_str()));

    let bob = app.sign_in(&acme.admin).await;
    let ci = personal_token_id(&app, &acme, "carol ci");
    let token = bob.csrf().await;
    let panel = bob
        .client
        .post(app.url(&format!("{path}/{ci}/revoke")))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(panel.status(), 200, "htmx gets the panel");
    let panel = panel.text().await.unwrap();
    assert!(panel.contains("Personal token “carol ci” revoked.") && !panel.contains("<html"), "{panel}");
    assert_eq!(app.me(&carol_ci).await.status(), 401);

    for reader in [&acme.member, &acme.auditor] {
        let session = app.sign_in(reader).await;
        assert_eq!(session.get(&path).await.status(), 403, "{}", reader.email);
        assert_eq!(session.post(&format!("{path}/{id}/revoke"), &[]).await.status(), 403);
    }
    let outsider = app.sign_in(&globex.owner).await;
    assert_eq!(outsider.get(&path).await.status(), 404);
    assert_eq!(outsider.post(&format!("{path}/{id}/revoke"), &[]).await.status(), 404);
    let globex_id = personal_token_id(&app, &globex, "globex cli");
    assert_eq!(alice.post(&format!("{path}/{globex_id}/revoke"), &[]).await.status(), 404, "not acme's");

    let olga = app.user("olga@platform.test");
    tessera::db::orgs::set_operator(&mut app.conn(), &olga.id, true).unwrap();
    let operator = app.sign_in(&olga).await;
    let html = operator.get(&path).await.text().await.unwrap();
    let listed = row(&html, "carol cli").expect("an operator reads it");
    assert!(!html.contains("Revoke personal token"), "without controls: {listed}");
    let anyone = personal_token_id(&app, &globex, "globex cli");
    assert_eq!(
        operator.post(&format!("/orgs/globex/settings/personal-tokens/{anyone}/revoke"), &[]).await.status(),
        403
    );
}

#[tokio::test]
async fn owners_and_admins_list_and_revoke_the_orgs_personal_tokens_by_api() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let carol_pat = personal_token(&app, &app.sign_in(&acme.member).await, &acme, "carol cli").await;
    let auditor_pat = personal_token(&app, &app.sign_in(&acme.auditor).await, &acme, "dave cli").await;
    let bob_pat = personal_token(&app, &app.sign_in(&acme.admin).await, &acme, "bob cli").await;
    let globex_pat = personal_token(&app, &app.sign_in(&globex.owner).await, &globex, "globex cli").await;
    let list = "/api/v1/orgs/acme/personal-tokens";

    let listed = call(&app, reqwest::Method::GET, list, &bob_pat).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    let listed = json_of(listed).await;
    assert_eq!(listed["total"], 3);
    let carol = listed["items"].as_array().unwrap().iter().find(|t| t["name"] == "carol cli").unwrap();
    assert_eq!(carol["owner"]["email"], "member@acme.test");
    assert_eq!(carol["owner"]["id"], acme.member.id.as_str());
    assert_eq!(carol["kind"], "personal_token");
    assert!(carol.get("secret").is_none() && carol.get("secret_hash").is_none());
    let id = carol["id"].as_str().unwrap().to_owned();

    for (secret, code) in [(&carol_pat, "forbidden"), (&auditor_pat, "forbidden"), (&globex_pat, "wrong_org")]
    {
        for request in [
            call(&app, reqwest::Method::GET, list, secret),
            call(&app, reqwest::Method::DELETE, &format!("{list}/{id}"), secret),
        ] {
            let refused = request.send().await.unwrap();
            assert_eq!(refused.status(), 403);
            assert_eq!(json_of(refused).await["code"], code);
        }
    }
    assert_eq!(app.me(&carol_pat).await.status(), 200, "nothing revoked by the refusals");

    let globex_id = personal_token_id(&app, &globex, "globex cli");
    let (access_token, _) = app.token(&acme, TokenSpec::default());
    for other in [globex_id.as_str(), access_token.id.as_str(), "nope"] {
        let missing =
            call(&app, reqwest::Method::DELETE, &format!("{list}/{other}"), &bob_pat).send().await.unwrap();
        assert_eq!(missing.status(), 404, "{other}");
    }

    let revoked =
        call(&app, reqwest::Method::DELETE, &format!("{list}/{id}"), &bob_pat).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(json_of(revoked).await["already_revoked"], false);
    assert_eq!(app.me(&carol_pat).await.status(), 401);
    assert_eq!(app.me(&globex_pat).await.status(), 200);
    let entry = app.audit().into_iter().find(|e| e.action == "personal_token.revoke").expect("audited");
    assert_eq!(entry.actor_user_id.as_deref(), Some(acme.admin.id.as_str()));
    assert!(entry.actor_credential_id.is_some());
}

#[tokio::test]
async fn removing_a_member_revokes_their_personal_tokens_of_that_org_only() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    app.add_member(&globex, &acme.member, tessera::auth::Role::Member);
    let carol = app.sign_in(&acme.member).await;
    let acme_one = personal_token(&app, &carol, &acme, "acme one").await;
    let acme_two = personal_token(&app, &carol, &acme, "acme two").await;
    let globex_pat = personal_token(&app, &carol, &globex, "globex one").await;
    assert_eq!(app.me(&acme_one).await.status(), 200, "now cached");

    let alice = app.sign_in(&acme.owner).await;
    let remove = format!("/orgs/acme/settings/members/{}/remove", acme.member.id);
    assert_eq!(alice.post(&remove, &[]).await.status(), 303);
    for secret in [&acme_one, &acme_two] {
        let refused = app.me(secret).await;
        assert_eq!(refused.status(), 401);
        assert_eq!(json_of(refused).await["code"], "revoked");
    }
    assert_eq!(app.me(&globex_pat).await.status(), 200, "her tokens of other orgs stay");

    let entries: Vec<_> = app.audit().into_iter().filter(|e| e.action == "personal_token.revoke").collect();
    assert_eq!(entries.len(), 2);
    for entry in &entries {
        assert_eq!(entry.org_id.as_deref(), Some(acme.org.id.as_str()));
        assert_eq!(entry.actor_user_id.as_deref(), Some(acme.owner.id.as_str()));
        let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
        assert_eq!(details["reason"], "member_removed");
    }
    let listed = app.sign_in(&acme.owner).await.get(&personal_tokens_path(&acme)).await.text().await.unwrap();
    assert!(row(&listed, "acme one").unwrap().contains("Revoked"));
    // Back in the org, she starts afresh: the old tokens stay revoked and no longer count.
    app.add_member(&acme, &acme.member, tessera::auth::Role::Member);
    // Written past the audited path: the cache is told by hand, as the feed would tell it.
    tessera::db::changes::Cache::forget(
        &*app.state.verifier,
        &[tessera::db::changes::Change::User(acme.member.id.clone())],
    );
    assert_eq!(app.me(&acme_one).await.status(), 401);
    personal_token(&app, &carol, &acme, "acme one").await;
}

#[tokio::test]
async fn me_with_a_personal_token_names_the_person_and_their_role_now() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let pat = personal_token(&app, &app.sign_in(&acme.member).await, &acme, "carol cli").await;
    let me = json_of(app.me(&pat).await).await;
    assert_eq!(
        me["user"],
        json!({ "id": acme.member.id, "email": "member@acme.test", "name": "member", "role": "member" })
    );
    assert_eq!(me["is_api_token"], true);
    let alice = app.sign_in(&acme.owner).await;
    let role = format!("/orgs/acme/settings/members/{}/role", acme.member.id);
    assert_eq!(alice.post(&role, &[("role", "admin")]).await.status(), 303);
    assert_eq!(json_of(app.me(&pat).await).await["user"]["role"], "admin");

    let (_, token) = app.token(&acme, TokenSpec::default());
    assert_eq!(json_of(app.me(token.expose()).await).await["user"], serde_json::Value::Null);

    let doc: serde_json::Value =
        reqwest::get(app.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    let schema = &doc["components"]["schemas"]["UserInfo"];
    let fields: Vec<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    for field in ["id", "email", "name", "role"] {
        assert!(fields.contains(&field), "{field} in {schema}");
    }
}

/// The owner's own revoke is one query scoped to them, not a search of a first page of their
/// tokens: the oldest of more than 500 is revoked like any other, and still by nobody else.
#[tokio::test]
async fn an_owner_revokes_their_oldest_token_among_more_than_500() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let carol = &acme.member;
    let mut ids = Vec::new();
    let mut secrets = Vec::new();
    for i in 0..502 {
        let spec = TokenSpec {
            kind: tessera::credentials::CredentialKind::PersonalToken,
            name: &format!("pat {i}"),
            scopes: "",
            created_at: Some(app.now() - TimeDelta::minutes(1000 - i)),
            ..Default::default()
        };
        let (row, plain) = app.token(&acme, spec);
        ids.push(row.id);
        secrets.push(plain.expose().to_owned());
    }
    {
        use tessera::db::schema::credentials::dsl as c;
        diesel::update(c::credentials.filter(c::id.eq_any(&ids)))
            .set((c::owner_user_id.eq(&carol.id), c::created_by.eq(&carol.id)))
            .execute(&mut app.conn())
            .unwrap();
    }
    let (oldest, second_oldest, newest) = (&ids[0], &ids[1], &secrets[501]);
    let listed =
        json_of(call(&app, reqwest::Method::GET, "/api/v1/me/tokens", newest).send().await.unwrap()).await;
    assert!(
        listed["items"].as_array().unwrap().iter().all(|t| t["id"] != oldest.as_str()),
        "the oldest is beyond the listed page"
    );

    // Another person knows the id: theirs is not, in the API nor in the console.
    let bob_pat = personal_token(&app, &app.sign_in(&acme.admin).await, &acme, "bob's").await;
    let path = format!("/api/v1/me/tokens/{oldest}");
    assert_eq!(call(&app, reqwest::Method::DELETE, &path, &bob_pat).send().await.unwrap().status(), 404);
    let bob = app.sign_in(&acme.admin).await;
    assert_eq!(bob.post(&format!("/account/tokens/{oldest}/revoke"), &[]).await.status(), 404);
    assert_eq!(app.me(&secrets[0]).await.status(), 200);

    let revoked = call(&app, reqwest::Method::DELETE, &path, newest).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(app.me(&secrets[0]).await.status(), 401);
    assert!(app.credential(oldest).revoked_at.is_some());

    let console = app.sign_in(carol).await;
    assert_eq!(console.post(&format!("/account/tokens/{second_oldest}/revoke"), &[]).await.status(), 303);
    assert_eq!(app.me(&secrets[1]).await.status(), 401);
    assert_eq!(app.me(newest).await.status(), 200, "only the one named");
}
