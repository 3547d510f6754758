use tessera::clock::ManualClock;
use tessera::credentials::Plan;
use tessera::seed;

use crate::helpers::*;

#[tokio::test]
async fn demo_seeds_once_and_keeps_what_is_there() {
    let app = spawn_app().await;
    let clock = ManualClock::starting_at(test_now());
    seed::demo(&app.pool, &app.catalog, &clock).expect("first seed");
    let org = org_row(&app, "acme").expect("acme");
    assert_eq!((org.plan.as_str(), org.api_access), (Plan::Growth.as_str(), true));
    let count = || {
        use diesel::prelude::*;
        use tessera::db::schema::credentials::dsl as c;
        c::credentials.count().get_result::<i64>(&mut app.conn()).unwrap()
    };
    let seeded = count();
    assert!(seeded >= 5, "a few credentials");

    let alice_user =
        tessera::db::orgs::find_user_by_email(&mut app.conn(), "alice@example.com").unwrap().unwrap();
    let alice = app.sign_in(&alice_user).await;
    let fields = [("name", "mine"), ("scopes", "all"), ("expiry", "30")];
    assert_eq!(alice.post("/orgs/acme/settings/tokens", &fields).await.status(), 200);

    seed::demo(&app.pool, &app.catalog, &clock).expect("second seed");
    assert_eq!(count(), seeded + 1, "nothing re-seeded, nothing lost");
    let html = alice.get("/orgs/acme/settings/api-keys").await.text().await.unwrap();
    assert!(row(&html, "Billing service").is_some_and(|r| r.contains("Active")));
    assert!(row(&html, "Log shipper").is_some_and(|r| r.contains("Inactive")));
    for (email, role) in
        [("bob@example.com", "admin"), ("carol@example.com", "member"), ("dave@example.com", "auditor")]
    {
        let user = tessera::db::orgs::find_user_by_email(&mut app.conn(), email).unwrap().expect(email);
        let role_now = tessera::db::orgs::role_in(&mut app.conn(), &org.id, &user.id).unwrap().unwrap();
        assert_eq!(role_now.as_str(), role);
    }
}
