//! Demo data: org `acme` with one person of each role and a few tokens with usage history.
//! Run on an existing database, it adds only what is missing.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::Connection;

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::credentials::{secret, CredentialKind, Grants, Plan};
use crate::db::audit::Actor;
use crate::db::credentials::{self as repo, NewCredential};
use crate::db::orgs::{self, Org, User};
use crate::db::usage::{self, PendingUsage};
use crate::db::{new_id, DbConnection, DbPool};
use crate::domain::Role;

pub const DEMO_ORG: &str = "acme";

pub const DEMO_PEOPLE: [(&str, &str, Role); 4] = [
    ("alice@example.com", "Alice Owner", Role::Owner),
    ("bob@example.com", "Bob Admin", Role::Admin),
    ("carol@example.com", "Carol Member", Role::Member),
    ("dave@example.com", "Dave Auditor", Role::Auditor),
];

struct DemoToken {
    kind: CredentialKind,
    name: &'static str,
    description: Option<&'static str>,
    active: bool,
    scopes: &'static [&'static str],
    created_days_ago: i64,
    expires_in_days: Option<i64>,
    daily_requests: i64,
    last_used_minutes_ago: Option<i64>,
    revoked_days_ago: Option<i64>,
}

const fn demo_credential(
    kind: CredentialKind,
    name: &'static str,
    scopes: &'static [&'static str],
    (created_days_ago, expires_in_days): (i64, Option<i64>),
    (daily_requests, last_used_minutes_ago): (i64, Option<i64>),
) -> DemoToken {
    DemoToken {
        kind,
        name,
        description: None,
        active: true,
        scopes,
        created_days_ago,
        expires_in_days,
        daily_requests,
        last_used_minutes_ago,
        revoked_days_ago: None,
    }
}

const AT: CredentialKind = CredentialKind::AccessToken;
const AK: CredentialKind = CredentialKind::ApiKey;

/// Where the demo credentials were used from, the most recent first.
const DEMO_ADDRESSES: [&str; 4] = ["203.0.113.24", "198.51.100.7", "192.0.2.55", "203.0.113.80"];

const DEMO_TOKENS: [DemoToken; 9] = [
    demo_credential(
        AT,
        "CI deploy",
        &["basic_deployment", "advanced_deployment"],
        (40, Some(50)),
        (42, Some(3)),
    ),
    demo_credential(AT, "Error tracker sync", &["error_tracker"], (120, None), (7, Some(60 * 49))),
    demo_credential(AT, "Staging env editor", &["modify_env"], (23, Some(7)), (0, None)),
    demo_credential(
        AT,
        "Analytics export",
        &["activity_tracker", "activity_tracker_analytics"],
        (95, Some(-5)),
        (3, Some(60 * 24 * 6)),
    ),
    DemoToken {
        revoked_days_ago: Some(10),
        ..demo_credential(AT, "Legacy script runner", &["run_scripts"], (200, None), (11, Some(60 * 24 * 12)))
    },
    DemoToken {
        description: Some("Billing service: reads invoices and deploys the billing worker."),
        ..demo_credential(AK, "Billing service", &["read", "deploy"], (60, Some(305)), (130, Some(1)))
    },
    DemoToken {
        description: Some("Paused while the vendor migrates."),
        active: false,
        ..demo_credential(AK, "Log shipper", &["view_logs"], (30, Some(335)), (20, Some(60 * 24 * 4)))
    },
    DemoToken {
        description: Some("Checks credentials for the platform's API gateway."),
        ..demo_credential(AK, "Gateway introspection", &["introspect"], (14, None), (900, Some(0)))
    },
    DemoToken {
        description: Some("Nightly database backups; the job moved to another system."),
        ..demo_credential(AK, "Nightly backup", &["manage_backups"], (150, None), (5, Some(60 * 24 * 45)))
    },
];

pub fn demo(pool: &DbPool, catalog: &Catalog, clock: &dyn Clock) -> Result<String, String> {
    let mut conn = pool.get().map_err(|e| format!("cannot open the database: {e}"))?;
    let now = clock.now();
    conn.transaction(|conn| seed(conn, catalog, now)).map_err(|e| format!("seeding the demo failed: {e}"))
}

fn seed(conn: &mut DbConnection, catalog: &Catalog, now: NaiveDateTime) -> diesel::QueryResult<String> {
    let (org, org_created) = match orgs::find_org_by_slug(conn, DEMO_ORG)? {
        Some(org) => (org, false),
        None => {
            let org = Org {
                id: new_id(),
                slug: DEMO_ORG.into(),
                name: "Acme Corp".into(),
                plan: Plan::Growth.as_str().into(),
                credential_cap: None,
                api_access: true,
                max_lifetime_days: None,
                created_at: now,
            };
            orgs::insert_org(conn, &org)?;
            (org, true)
        }
    };
    let mut people = Vec::new();
    for (email, name, role) in DEMO_PEOPLE {
        let user = match orgs::find_user_by_email(conn, email)? {
            Some(user) => user,
            None => {
                let user = User {
                    id: new_id(),
                    email: email.into(),
                    display_name: name.into(),
                    oidc_issuer: None,
                    oidc_subject: None,
                    is_operator: false,
                    created_at: now,
                };
                orgs::insert_user(conn, &user)?;
                user
            }
        };
        if orgs::role_in(conn, &org.id, &user.id)?.is_none() {
            orgs::add_member(conn, &org.id, &user.id, role, now)?;
        }
        people.push(user);
    }
    if org_created {
        for token in &DEMO_TOKENS {
            seed_token(conn, catalog, &org, &people[0], &people[1], token, now)?;
        }
    }
    Ok(format!("org {DEMO_ORG} with {} people", people.len()))
}

fn seed_token(
    conn: &mut DbConnection,
    catalog: &Catalog,
    org: &Org,
    creator: &User,
    revoker: &User,
    token: &DemoToken,
    now: NaiveDateTime,
) -> diesel::QueryResult<()> {
    let kind = token.kind;
    let plain = secret::generate(kind, &catalog.prefixes);
    let created_at = now - TimeDelta::days(token.created_days_ago);
    let actor = |user: &User| Actor {
        user_id: Some(user.id.clone()),
        credential_id: None,
        label: user.email.clone(),
        ip: Some("127.0.0.1".into()),
        user_agent: Some("tessera demo seed".into()),
    };
    let scopes: Vec<String> = token.scopes.iter().map(|s| (*s).to_owned()).collect();
    let new = NewCredential {
        id: new_id(),
        org_id: org.id.clone(),
        kind: kind.as_str().into(),
        name: token.name.into(),
        description: token.description.map(str::to_owned),
        secret_hash: plain.hash().to_hex(),
        display_prefix: plain.display_prefix(catalog.prefixes.get(kind).len()),
        grants: Grants::from_stored(&scopes.join(" ")).to_stored(),
        passphrase_hash: None,
        active: token.active,
        rate_limit_per_minute: None,
        expires_at: token.expires_in_days.map(|d| now + TimeDelta::days(d)),
        created_at,
        created_by: creator.id.clone(),
        owner_user_id: None,
        rotated_from: None,
    };
    let details = serde_json::json!({ "scopes": scopes, "seeded": true });
    if repo::create(conn, &new, u32::MAX, &actor(creator), details, created_at)?.is_err() {
        return Ok(());
    }
    if let Some(minutes) = token.last_used_minutes_ago {
        let last_used = now - TimeDelta::minutes(minutes);
        let mut total = 0;
        for days_ago in 0..30_i64 {
            let day = (now - TimeDelta::days(days_ago)).date();
            let used = day <= last_used.date() && now - TimeDelta::days(days_ago) >= created_at;
            if used && token.daily_requests > 0 {
                let requests = token.daily_requests + (days_ago * 7) % 13;
                repo::set_daily_usage(conn, &new.id, day, requests)?;
                total += requests;
            }
        }
        if total == 0 {
            // Used only before the last 30 days: its count is all older than the chart.
            total = token.daily_requests * 20;
        }
        repo::add_usage(conn, &new.id, total, last_used, DEMO_ADDRESSES[0])?;
        usage::apply(conn, &new.id, &demo_addresses_and_failures(token, created_at, last_used, now))?;
    }
    if let Some(days) = token.revoked_days_ago {
        repo::revoke(conn, &org.id, kind, &new.id, &actor(revoker), now - TimeDelta::days(days))?;
    }
    Ok(())
}

/// The addresses a used demo credential was seen at (never before it existed), and a refused
/// attempt now and then, for its usage page.
fn demo_addresses_and_failures(
    token: &DemoToken,
    created_at: NaiveDateTime,
    last_used: NaiveDateTime,
    now: NaiveDateTime,
) -> PendingUsage {
    let addresses = DEMO_ADDRESSES
        .iter()
        .zip([0, 1, 3, 8])
        .map(|(ip, days_earlier)| ((*ip).to_owned(), last_used - TimeDelta::days(days_earlier)))
        .filter(|(_, seen)| *seen >= created_at)
        .collect();
    let per_day: Vec<_> = (0..30_i64)
        .filter(|days_ago| token.daily_requests > 0 && days_ago % 9 == 4)
        .map(|days_ago| (now - TimeDelta::days(days_ago), 1 + days_ago / 9))
        .filter(|(at, _)| *at >= created_at && at.date() <= last_used.date())
        .map(|(at, failed)| (at.date(), 0, failed))
        .collect();
    PendingUsage {
        failed: per_day.iter().map(|(_, _, failed)| failed).sum(),
        per_day,
        addresses,
        ..PendingUsage::default()
    }
}
