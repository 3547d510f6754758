//! Usage survives the database being away: what is counted while no write can happen is
//! written once it is back, in one transaction per flush.

use std::time::Duration;

use chrono::TimeDelta;
use tessera::credentials::Plan;
use tessera::db::usage::{daily, recent_addresses};

use crate::helpers::*;

/// Until dropped, every connection of the app's pool is held here: to the app the database
/// does not answer (a write waits for the pool's timeout, then fails).
fn hold_every_connection(app: &TestApp) -> Vec<impl Drop> {
    (0..app.pool.max_size()).map(|_| app.pool.get().expect("connection")).collect()
}

#[tokio::test]
async fn uses_during_a_database_outage_are_all_counted_afterwards() {
    // Long enough that the cache stays trusted through the outage: this test is about usage, not
    // about the change feed's staleness (tests/api/change_feed.rs covers that).
    let app = spawn_app_configured(tessera::catalog::Catalog::built_in(), |settings| {
        settings.cache_staleness = Duration::from_secs(120);
    })
    .await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    assert_eq!(app.me(plain.expose()).await.status(), 200, "now cached: served without the database");
    app.flush_usage().await;

    let outage = hold_every_connection(&app);
    for _ in 0..40 {
        assert_eq!(app.me(plain.expose()).await.status(), 200);
    }
    // A flush during the outage fails (after the pool's wait) and keeps what it took.
    let _ = app.state.usage.flush(&app.pool).await;
    for _ in 0..9 {
        assert_eq!(app.me(plain.expose()).await.status(), 200);
    }
    drop(outage);

    app.flush_usage().await;
    // The background flush may have held part of it; it too writes once the database is back.
    for _ in 0..100 {
        if app.state.usage.pending() == 0 && app.credential(&row.id).usage_count == 50 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.credential(&row.id).usage_count, 50, "1 before, 49 during the outage");
    assert_eq!(daily(&mut app.conn(), &row.id).unwrap(), [(app.now().date(), 50, 0)]);
}

#[tokio::test]
async fn a_flush_that_cannot_reach_the_database_keeps_its_batch_merged() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (a, _) = app.token(&acme, key_spec("a"));
    let (b, _) = app.token(&acme, key_spec("b"));
    let recorder = tessera::verification::usage::UsageRecorder::default();
    let (now, later) = (app.now(), app.now() + TimeDelta::minutes(1));
    for _ in 0..3 {
        recorder.accepted(&a.id, now, "192.0.2.1");
    }
    recorder.failed(&b.id, now);

    let outage = hold_every_connection(&app);
    assert!(recorder.flush(&app.pool).await.is_err());
    assert_eq!(recorder.pending(), 2, "nothing dropped");
    recorder.accepted(&a.id, later, "192.0.2.2");
    drop(outage);

    assert_eq!(recorder.flush(&app.pool).await.unwrap(), 2);
    assert_eq!(recorder.pending(), 0);
    let a_now = app.credential(&a.id);
    assert_eq!((a_now.usage_count, a_now.last_used_at), (4, Some(later)));
    assert_eq!(a_now.last_used_ip.as_deref(), Some("192.0.2.2"));
    assert_eq!(daily(&mut app.conn(), &a.id).unwrap(), [(now.date(), 4, 0)]);
    assert_eq!(daily(&mut app.conn(), &b.id).unwrap(), [(now.date(), 0, 1)]);
    assert_eq!(
        recent_addresses(&mut app.conn(), &a.id).unwrap(),
        [("192.0.2.2".to_owned(), later), ("192.0.2.1".to_owned(), now)]
    );
}

/// One flush of many credentials, days and addresses: multi-row statements in chunks, added
/// to what is there, and each credential's addresses trimmed to the newest five.
#[tokio::test]
async fn a_large_flush_adds_to_what_is_stored() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let ids: Vec<String> = (0..600).map(|n| app.token(&acme, key_spec(&format!("k{n}"))).0.id).collect();
    let (today, tomorrow) = (app.now(), app.now() + TimeDelta::days(1));
    for round in 0..2 {
        for id in &ids {
            app.state.usage.accepted(id, today, "192.0.2.1");
            app.state.usage.accepted(id, tomorrow, "192.0.2.1");
            app.state.usage.failed(id, tomorrow);
        }
        // One credential seen from many addresses, across flushes.
        for n in 0..4 {
            let at = today + TimeDelta::seconds(round * 10 + n);
            app.state.usage.accepted(&ids[0], at, &format!("198.51.100.{}", round * 10 + n));
        }
        app.flush_usage().await;
    }
    let last = &ids[599];
    assert_eq!(app.credential(last).usage_count, 4);
    assert_eq!(daily(&mut app.conn(), last).unwrap(), [(today.date(), 2, 0), (tomorrow.date(), 2, 2)]);
    assert_eq!(app.credential(&ids[0]).usage_count, 12);
    let addresses: Vec<String> =
        recent_addresses(&mut app.conn(), &ids[0]).unwrap().into_iter().map(|(ip, _)| ip).collect();
    assert_eq!(addresses, ["192.0.2.1", "198.51.100.13", "198.51.100.12", "198.51.100.11", "198.51.100.10"]);
    use diesel::prelude::*;
    use tessera::db::schema::credential_addresses::dsl as a;
    let stored: i64 = a::credential_addresses
        .filter(a::credential_id.eq(&ids[0]))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(stored, 5, "older addresses are trimmed");
}

/// On PostgreSQL, a real outage: the server ends every connection of the app and refuses new
/// ones for a while. (On SQLite there is no server to lose; the tests above cover it.)
#[tokio::test]
async fn uses_while_postgres_refuses_connections_are_counted_once_it_is_back() {
    if backend() != "postgres" {
        return;
    }
    // Long enough that the cache stays trusted while the change feed cannot be read either.
    let app = spawn_app_configured(tessera::catalog::Catalog::built_in(), |settings| {
        settings.cache_staleness = Duration::from_secs(120);
    })
    .await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    assert_eq!(app.me(plain.expose()).await.status(), 200);
    let database = url::Url::parse(&app.database_url).unwrap().path().trim_start_matches('/').to_owned();
    let admin = |sql: String| {
        use diesel::{Connection, PgConnection, RunQueryDsl};
        let url = std::env::var("TESSERA_TEST_POSTGRES_URL").unwrap();
        diesel::sql_query(sql).execute(&mut PgConnection::establish(&url).unwrap()).unwrap();
    };
    admin(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false"));
    admin(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    ));
    for _ in 0..30 {
        assert_eq!(app.me(plain.expose()).await.status(), 200, "cached: served without the database");
    }
    assert!(app.state.usage.flush(&app.pool).await.is_err() || app.state.usage.pending() > 0);
    for _ in 0..19 {
        assert_eq!(app.me(plain.expose()).await.status(), 200);
    }
    admin(format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true"));

    for _ in 0..150 {
        if app.state.usage.flush(&app.pool).await.is_ok()
            && app.state.usage.pending() == 0
            && app.credential(&row.id).usage_count == 50
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.credential(&row.id).usage_count, 50, "1 before, 49 during the outage");
}
