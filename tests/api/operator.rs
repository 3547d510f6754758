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
