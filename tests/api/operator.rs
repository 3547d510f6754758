use tessera::credentials::Plan;

use crate::helpers::*;

#[tokio::test]
async fn org_create_set_plan_and_api_access_are_audited_and_seen_at_once() {
    let app = spawn_app().await;
    let (ok, out) = tessera_cli(&app, &["org", "create", "initech", "Initech LLC"]);
    assert!(ok, "{out}");
    assert!(out.contains("created org initech"), "{out}");
    let org = org_row(&app, "initech").expect("created");
    assert_eq!((org.name.as_str(), org.plan.as_str(), org.api_access), ("Initech LLC", "free", false));

    let (ok, out) = tessera_cli(&app, &["org", "create", "initech", "Again"]);
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = tessera_cli(&app, &["org", "create", "Bad Slug", "x"]);
    assert!(!ok && out.contains("org slug"), "{out}");
    let (ok, out) = tessera_cli(&app, &["org", "create", "evil", "Evil \u{202E}cni"]);
    assert!(!ok && out.contains("org name: Control characters"), "{out}");
    assert!(org_row(&app, "evil").is_none());

    let (ok, out) = tessera_cli(&app, &["org", "set-plan", "initech", "enterprise", "--cap", "3"]);
    assert!(ok, "{out}");
    let org = org_row(&app, "initech").unwrap();
    assert_eq!((org.plan.as_str(), org.credential_cap), ("enterprise", Some(3)));
    let (ok, out) = tessera_cli(&app, &["org", "set-plan", "initech", "platinum"]);
    assert!(!ok && out.contains("must be one of"), "{out}");
    let (ok, out) = tessera_cli(&app, &["org", "set-plan", "nobody", "team"]);
    assert!(!ok && out.contains("no org"), "{out}");

    let actions: Vec<String> = app.audit().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["org.create", "org.set_plan"]);
}

#[tokio::test]
async fn a_running_server_sees_the_gate_change_immediately() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let fields = [("name", "gated"), ("permissions", "read"), ("expiry", "30"), ("active", "on")];

    let (ok, out) = tessera_cli(&app, &["org", "api-access", "acme", "off"]);
    assert!(ok, "{out}");
    assert!(alice
        .get(&keys_path(&acme))
        .await
        .text()
        .await
        .unwrap()
        .contains("API access is not enabled for this account."));
    assert_eq!(alice.post(&keys_path(&acme), &fields).await.status(), 403);

    let (ok, out) = tessera_cli(&app, &["org", "api-access", "acme", "on"]);
    assert!(ok, "{out}");
    assert_eq!(alice.post(&keys_path(&acme), &fields).await.status(), 200);

    let entries: Vec<_> = app.audit().into_iter().filter(|e| e.action == "org.api_access").collect();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].actor_label, "operator (cli)");
    assert_eq!(entries[0].org_id.as_deref(), Some(acme.org.id.as_str()));
}

fn user_by_email(app: &TestApp, email: &str) -> Option<tessera::db::orgs::User> {
    tessera::db::orgs::find_user_by_email(&mut app.conn(), email).expect("user query")
}

fn user_count(app: &TestApp) -> usize {
    tessera::db::orgs::all_users(&mut app.conn()).expect("users").len()
}

fn make_operator(app: &TestApp, email: &str) {
    let (ok, out) = tessera_cli(app, &["user", "make-operator", email]);
    assert!(ok, "{out}");
}

const BANNER: &str = "as a platform operator. You are not a member: changes are disabled.";

#[tokio::test]
async fn make_operator_sets_the_flag_audits_and_remove_operator_takes_it_away() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Team);
    let investigator = app.sign_in(&globex.member).await;
    assert_eq!(investigator.get(&tokens_path(&acme)).await.status(), 404, "not yet an operator");

    let (ok, out) = tessera_cli(&app, &["user", "make-operator", "  Member@Globex.TEST "]);
    assert!(ok, "{out}");
    assert!(out.contains("member@globex.test is now a platform operator"), "{out}");
    assert!(user_by_email(&app, "member@globex.test").unwrap().is_operator);
    let entry = app.audit().into_iter().find(|e| e.action == "user.make_operator").expect("audited");
    assert_eq!(entry.actor_label, "operator (cli)");
    assert_eq!(entry.org_id, None);
    assert_eq!(
        (entry.target_type.as_deref(), entry.target_label.as_deref()),
        (Some("user"), Some("member@globex.test"))
    );
    assert_eq!(entry.target_id.as_deref(), Some(globex.member.id.as_str()));
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details, serde_json::json!({ "before": false, "after": true }));

    // The running server reads the flag on every request.
    assert_eq!(investigator.get(&tokens_path(&acme)).await.status(), 200, "an operator reads any org");

    let (ok, out) = tessera_cli(&app, &["user", "make-operator", "member@globex.test"]);
    assert!(ok && out.contains("already a platform operator"), "{out}");
    assert_eq!(
        app.audit().iter().filter(|e| e.action == "user.make_operator").count(),
        1,
        "no change, no entry"
    );

    let (ok, out) = tessera_cli(&app, &["user", "remove-operator", "member@globex.test"]);
    assert!(ok && out.contains("is now not a platform operator"), "{out}");
    assert!(!user_by_email(&app, "member@globex.test").unwrap().is_operator);
    let entry = app.audit().into_iter().find(|e| e.action == "user.remove_operator").expect("audited");
    let details: serde_json::Value = serde_json::from_str(&entry.details).unwrap();
    assert_eq!(details, serde_json::json!({ "before": true, "after": false }));
    assert_eq!(investigator.get(&tokens_path(&acme)).await.status(), 404, "taken away at once");
    assert_eq!(investigator.get(&tokens_path(&globex)).await.status(), 200, "membership stays");
}

#[tokio::test]
async fn an_unknown_or_malformed_email_fails_with_one_line_and_changes_nothing() {
    let app = spawn_app().await;
    app.org("acme", Plan::Growth);
    let users_before = user_count(&app);
    for command in ["make-operator", "remove-operator"] {
        let (ok, out) = tessera_cli(&app, &["user", command, "nobody@example.test"]);
        assert!(!ok, "{command}: {out}");
        assert_eq!(out.trim(), "tessera: no user with email nobody@example.test", "{command}");
        let (ok, out) = tessera_cli(&app, &["user", command, "not an email"]);
        assert!(
            !ok && out.trim().lines().count() == 1 && out.contains("is not a valid email address"),
            "{out}"
        );
    }
    assert_eq!(user_count(&app), users_before);
    assert!(tessera::db::orgs::all_users(&mut app.conn()).unwrap().iter().all(|u| !u.is_operator));
    assert!(app.audit().is_empty(), "nothing audited");
}

#[tokio::test]
async fn org_create_with_an_owner_makes_them_owner_whether_or_not_they_have_an_account() {
    let app = spawn_app().await;
    let existing = app.user("existing@example.test");

    let (ok, out) =
        tessera_cli(&app, &["org", "create", "initech", "Initech", "--owner", "Existing@Example.test"]);
    assert!(ok, "{out}");
    assert!(out.contains("owner existing@example.test") && !out.contains("new account"), "{out}");
    let initech = org_row(&app, "initech").unwrap();
    let role = tessera::db::orgs::role_in(&mut app.conn(), &initech.id, &existing.id).unwrap();
    assert_eq!(role, Some(tessera::auth::Role::Owner));
    assert_eq!(user_count(&app), 1, "no second account for the same email");

    let (ok, out) = tessera_cli(&app, &["org", "create", "hooli", "Hooli", "--owner", "gavin@hooli.test"]);
    assert!(ok, "{out}");
    assert!(out.contains("owner gavin@hooli.test (a new account"), "{out}");
    let gavin = user_by_email(&app, "gavin@hooli.test").expect("account made");
    assert_eq!(
        (gavin.oidc_issuer.as_deref(), gavin.oidc_subject.as_deref(), gavin.is_operator),
        (None, None, false)
    );
    let hooli = org_row(&app, "hooli").unwrap();
    let role = tessera::db::orgs::role_in(&mut app.conn(), &hooli.id, &gavin.id).unwrap();
    assert_eq!(role, Some(tessera::auth::Role::Owner));
    // The new owner can use the org at once (here through the dev sign-in).
    let session = app.sign_in(&gavin).await;
    let html = session.get("/orgs/hooli/settings/tokens").await.text().await.unwrap();
    assert!(html.contains("Generate token") && !html.contains(BANNER));

    let added: Vec<_> = app.audit().into_iter().filter(|e| e.action == "member.add").collect();
    assert_eq!(added.len(), 2);
    assert_eq!(added[1].org_id.as_deref(), Some(hooli.id.as_str()));
    assert_eq!(added[1].target_label.as_deref(), Some("gavin@hooli.test"));
    let details: serde_json::Value = serde_json::from_str(&added[1].details).unwrap();
    assert_eq!(details, serde_json::json!({ "role": "owner", "new_user": true }));

    // A refused creation leaves no account and no org behind.
    let users_before = user_count(&app);
    let (ok, out) = tessera_cli(&app, &["org", "create", "hooli", "Again", "--owner", "someone@else.test"]);
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = tessera_cli(&app, &["org", "create", "piedpiper", "Pied Piper", "--owner", "richard"]);
    assert!(!ok && out.contains("--owner") && out.trim().lines().count() == 1, "{out}");
    assert!(org_row(&app, "piedpiper").is_none());
    assert_eq!(user_count(&app), users_before);
}

#[tokio::test]
async fn an_operator_outside_the_org_reads_both_tabs_with_a_banner_and_no_controls() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    app.token(&acme, TokenSpec { name: "deploy bot", ..Default::default() });
    app.token(&acme, key_spec("billing sync"));
    let outsider = app.user("ops@platform.test");
    make_operator(&app, "ops@platform.test");
    let ops = app.sign_in(&outsider).await;

    for (path, name) in [(tokens_path(&acme), "deploy bot"), (keys_path(&acme), "billing sync")] {
        let page = ops.get(&path).await;
        assert_eq!(page.status(), 200, "{path}");
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!("You are viewing acme Inc {BANNER}")), "{path}: banner");
        assert!(row(&html, name).is_some(), "{path}: the list");
        for control in ["Generate token", "Create key", "/revoke", "/rotate", "/edit", "Save changes"] {
            assert!(!html.contains(control), "{path}: no {control:?}");
        }
        assert_eq!(texts(&html, ".role-badge"), ["Operator (read-only)"]);
        // The list as htmx fetches it (filters, search, pages) works too, still without controls.
        let list = ops.get_htmx(&format!("{path}?status=all"), "credential-list").await;
        assert_eq!(list.status(), 200);
        assert!(!list.text().await.unwrap().contains("/revoke"));
    }
    let orgs = ops.get("/operator/orgs").await.text().await.unwrap();
    assert!(orgs.contains("href=\"/orgs/acme/settings/tokens\""), "operators can find every org");
    assert_eq!(ops.get("/orgs/no-such-org/settings/tokens").await.status(), 404);
}

#[tokio::test]
async fn an_operator_outside_the_org_gets_403_on_every_write_and_nothing_changes() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (token, _) = app.token(&acme, TokenSpec { name: "deploy bot", ..Default::default() });
    let (key, _) = app.token(&acme, key_spec("billing sync"));
    let outsider = app.user("ops@platform.test");
    make_operator(&app, "ops@platform.test");
    let ops = app.sign_in(&outsider).await;
    let audit_before = app.audit().len();

    let (tokens, keys) = (tokens_path(&acme), keys_path(&acme));
    let writes: Vec<(String, Vec<(&str, &str)>)> = vec![
        (tokens.clone(), vec![("name", "sneaky"), ("scopes", "all"), ("expiry", "30")]),
        (format!("{tokens}/{}/revoke", token.id), vec![]),
        (format!("{tokens}/{}/rotate", token.id), vec![("grace", "now")]),
        (keys.clone(), vec![("name", "sneaky"), ("permissions", "read"), ("expiry", "30"), ("active", "on")]),
        (format!("{keys}/{}/revoke", key.id), vec![]),
        (format!("{keys}/{}/rotate", key.id), vec![("grace", "1h")]),
        (
            format!("{keys}/{}/edit", key.id),
            vec![("name", "renamed"), ("permissions", "read"), ("expiry", "keep")],
        ),
    ];
    for (path, fields) in &writes {
        let response = ops.post(path, fields).await;
        assert_eq!(response.status(), 403, "POST {path}");
        assert!(response.text().await.unwrap().contains("You are not a member: changes are disabled."));
    }
    assert_eq!(ops.get(&format!("{keys}/{}/edit", key.id)).await.status(), 403, "the edit form");

    let now = app.credentials_of(&acme);
    assert_eq!(now.len(), 2, "nothing created, nothing rotated");
    assert!(now.iter().all(|c| c.revoked_at.is_none()));
    assert_eq!(app.credential(&key.id).name, "billing sync");
    assert_eq!(app.audit().len(), audit_before, "nothing audited");

    // Account pages are personal: an operator cannot mint a personal token for an org they are not in.
    let response =
        ops.post("/account/tokens", &[("name", "sneaky"), ("org", "acme"), ("expiry", "30")]).await;
    assert_eq!(response.status(), 422);
    assert!(app.credentials_of(&acme).len() == 2);
}

#[tokio::test]
async fn an_operator_who_is_a_member_acts_with_their_role_and_sees_no_banner() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    make_operator(&app, &acme.admin.email);
    make_operator(&app, &acme.auditor.email);

    let bob = app.sign_in(&acme.admin).await;
    let html = bob.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(!html.contains(BANNER) && html.contains("Generate token"));
    assert_eq!(texts(&html, ".role-badge"), ["Admin"]);
    let created =
        bob.post(&tokens_path(&acme), &[("name", "by bob"), ("scopes", "all"), ("expiry", "30")]).await;
    assert_eq!(created.status(), 200);
    let fields = [("name", "key by bob"), ("permissions", "read"), ("expiry", "30"), ("active", "on")];
    assert_eq!(bob.post(&keys_path(&acme), &fields).await.status(), 200);
    assert_eq!(app.credentials_of(&acme).len(), 2);

    // The membership role decides, not the flag: an auditor who is an operator still only reads.
    let dave = app.sign_in(&acme.auditor).await;
    let html = dave.get(&tokens_path(&acme)).await.text().await.unwrap();
    assert!(!html.contains(BANNER) && !html.contains("Generate token"));
    let refused =
        dave.post(&tokens_path(&acme), &[("name", "by dave"), ("scopes", "all"), ("expiry", "30")]).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(app.credentials_of(&acme).len(), 2);
}

#[tokio::test]
async fn a_non_operator_outside_the_org_still_gets_404_and_no_org_list() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (token, _) = app.token(&acme, TokenSpec { name: "deploy bot", ..Default::default() });
    let globex = app.org("globex", Plan::Growth);
    let stranger = app.sign_in(&globex.owner).await;
    assert_eq!(stranger.get(&tokens_path(&acme)).await.status(), 404);
    assert_eq!(stranger.get(&keys_path(&acme)).await.status(), 404);
    let revoke = stranger.post(&format!("{}/{}/revoke", tokens_path(&acme), token.id), &[]).await;
    assert_eq!(revoke.status(), 404);
    assert_eq!(stranger.get("/operator/orgs").await.status(), 404);
    let html = stranger.get(&tokens_path(&globex)).await.text().await.unwrap();
    assert!(!html.contains("All organizations"), "the operator link is for operators");
    assert_eq!(app.credential(&token.id).revoked_at, None);
}
