//! The change feed keeps every instance's verification cache true: each write that changes
//! whether or how a credential verifies is refused at once on the instance that made it, and
//! within a second on the others, however long they were cut off from the database.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use serde_json::json;
use tessera::credentials::{CredentialKind, Plan};
use tessera::db::audit::{self, Actor, AuditEvent};
use tessera::db::changes;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::*;

/// GET /api/v1/me at `base` with `secret`.
async fn me_at(base: &str, secret: &str) -> reqwest::Response {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    client.get(format!("{base}/api/v1/me")).bearer_auth(secret).send().await.unwrap()
}

async fn cache_hits(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("tessera_verification_cache_hits_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Presents `secret` at `base` until an answer comes from the cache: the credential is cached
/// and the cache trusted. Without this a test of dropping would pass against no cache at all.
async fn cached_at(base: &str, secret: &str) {
    let started = Instant::now();
    loop {
        let before = cache_hits(base).await;
        assert_eq!(me_at(base, secret).await.status(), 200, "valid before the change");
        if cache_hits(base).await > before {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(3), "never answered from the cache");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every write that changes a credential's verification, each through the way people make it.
#[derive(Debug, Clone, Copy)]
enum Write {
    ConsoleRevoke,
    ApiRevoke,
    ConsoleRotateNow,
    ApiRotateThenGraceEnds,
    ApiEditDeactivates,
    ConsoleEditNarrowsPermissions,
    RoleChange,
    MemberRemoval,
    OrgPersonalTokenRevokeInConsole,
    OrgPersonalTokenRevokeByApi,
    OwnPersonalTokenRevokeInSettings,
    OwnPersonalTokenRevokeByApi,
}

const WRITES: [Write; 12] = [
    Write::ConsoleRevoke,
    Write::ApiRevoke,
    Write::ConsoleRotateNow,
    Write::ApiRotateThenGraceEnds,
    Write::ApiEditDeactivates,
    Write::ConsoleEditNarrowsPermissions,
    Write::RoleChange,
    Write::MemberRemoval,
    Write::OrgPersonalTokenRevokeInConsole,
    Write::OrgPersonalTokenRevokeByApi,
    Write::OwnPersonalTokenRevokeInSettings,
    Write::OwnPersonalTokenRevokeByApi,
];

impl Write {
    /// The credential the write changes: its id and secret.
    fn subject(self, app: &TestApp, org: &TestOrg) -> (String, String) {
        let (row, plain) = match self {
            Self::ConsoleRevoke | Self::ConsoleRotateNow => app.token(org, TokenSpec::default()),
            Self::ApiRevoke | Self::ApiRotateThenGraceEnds | Self::ApiEditDeactivates => {
                app.token(org, key_spec("subject"))
            }
            Self::ConsoleEditNarrowsPermissions => app.token(org, key_spec("subject")),
            _ => app.personal_token_of(org, &org.member, "subject"),
        };
        (row.id, plain.expose().to_owned())
    }

    /// Makes the change on `app`; `pat` is an admin's personal token of the org.
    async fn apply(self, app: &TestApp, org: &TestOrg, (id, secret): (&str, &str), pat: &str) {
        let slug = &org.org.slug;
        let api = |method: reqwest::Method, path: String| {
            app.api().request(method, app.url(&path)).bearer_auth(pat)
        };
        let status = match self {
            Self::ConsoleRevoke => {
                let admin = app.sign_in(&org.admin).await;
                admin.post(&format!("{}/{id}/revoke", tokens_path(org)), &[]).await.status()
            }
            Self::ApiRevoke => api(reqwest::Method::DELETE, format!("/api/v1/orgs/{slug}/api-keys/{id}"))
                .send()
                .await
                .unwrap()
                .status(),
            Self::ConsoleRotateNow => {
                let admin = app.sign_in(&org.admin).await;
                admin.post(&format!("{}/{id}/rotate", tokens_path(org)), &[("grace", "now")]).await.status()
            }
            Self::ApiRotateThenGraceEnds => {
                api(reqwest::Method::POST, format!("/api/v1/orgs/{slug}/api-keys/{id}/rotate"))
                    .json(&json!({ "grace": "1h" }))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
            Self::ApiEditDeactivates => {
                api(reqwest::Method::PATCH, format!("/api/v1/orgs/{slug}/api-keys/{id}"))
                    .json(&json!({ "active": false }))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
            Self::ConsoleEditNarrowsPermissions => {
                let admin = app.sign_in(&org.admin).await;
                let fields = [
                    ("name", "subject"),
                    ("description", ""),
                    ("permissions", "read"),
                    ("expiry", "keep"),
                    ("active", "on"),
                ];
                admin.post(&format!("{}/{id}/edit", keys_path(org)), &fields).await.status()
            }
            Self::RoleChange => {
                let owner = app.sign_in(&org.owner).await;
                let path = format!("/orgs/{slug}/settings/members/{}/role", org.member.id);
                owner.post(&path, &[("role", "admin")]).await.status()
            }
            Self::MemberRemoval => {
                let owner = app.sign_in(&org.owner).await;
                owner
                    .post(&format!("/orgs/{slug}/settings/members/{}/remove", org.member.id), &[])
                    .await
                    .status()
            }
            Self::OrgPersonalTokenRevokeInConsole => {
                let owner = app.sign_in(&org.owner).await;
                owner.post(&format!("/orgs/{slug}/settings/personal-tokens/{id}/revoke"), &[]).await.status()
            }
            Self::OrgPersonalTokenRevokeByApi => {
                api(reqwest::Method::DELETE, format!("/api/v1/orgs/{slug}/personal-tokens/{id}"))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
            Self::OwnPersonalTokenRevokeInSettings => {
                let member = app.sign_in(&org.member).await;
                member.post(&format!("/account/tokens/{id}/revoke"), &[]).await.status()
            }
            Self::OwnPersonalTokenRevokeByApi => {
                // Its person revokes it with the token itself.
                app.api()
                    .delete(app.url(&format!("/api/v1/me/tokens/{id}")))
                    .bearer_auth(secret)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert!(status.is_success() || status.is_redirection(), "{self:?}: the write answered {status}");
    }

    /// What the very next request with the credential must show; `None` when it does.
    async fn seen_at_once(self, app: &TestApp, secret: &str) -> Option<String> {
        let response = app.me(secret).await;
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let ok = match self {
            Self::ApiRotateThenGraceEnds => {
                if status != 200 {
                    return Some(format!("refused during the grace period: {status} {body}"));
                }
                app.clock.advance(TimeDelta::hours(2));
                let after = app.me(secret).await;
                let status = after.status().as_u16();
                let body: serde_json::Value = after.json().await.unwrap_or_default();
                app.clock.advance(TimeDelta::hours(-2));
                return (status != 401 || body["code"] != "revoked")
                    .then(|| format!("after the grace period: {status} {body}"));
            }
            Self::ApiEditDeactivates => status == 401 && body["code"] == "inactive",
            Self::ConsoleEditNarrowsPermissions => {
                status == 200 && body["credential"]["grants"] == json!(["read"])
            }
            Self::RoleChange => status == 200 && body["user"]["role"] == "admin",
            _ => status == 401 && body["code"] == "revoked",
        };
        (!ok).then(|| format!("{status} {body}"))
    }
}

#[tokio::test]
async fn every_write_drops_the_cached_credential_at_once_on_its_instance() {
    let app = spawn_app().await;
    let mut failures = Vec::new();
    for (i, write) in WRITES.into_iter().enumerate() {
        let org = app.org(&format!("w{i}"), Plan::Enterprise);
        let (id, secret) = write.subject(&app, &org);
        let (_, pat) = app.personal_token_of(&org, &org.admin, "admin pat");
        cached_at(&app.address, &secret).await;
        write.apply(&app, &org, (&id, &secret), pat.expose()).await;
        if let Some(seen) = write.seen_at_once(&app, &secret).await {
            failures.push(format!("{write:?}: {seen}"));
        }
    }
    assert!(failures.is_empty(), "still answered from the cache: {failures:#?}");
}

/// The operator's API-access gate is changed by another process: the serving instance learns of
/// it from the feed alone.
#[tokio::test]
async fn the_api_access_gate_set_from_the_command_line_reaches_a_running_instance() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (_, key) = app.token(&acme, key_spec("billing"));
    cached_at(&app.address, key.expose()).await;
    let (ok, out) = tessera_cli(&app, &["org", "api-access", "acme", "off"]);
    assert!(ok, "{out}");
    refused_within_a_second(&app.address, key.expose(), 403, false).await;
}

/// Polls `base` until `secret` is answered `expected`. With `never_accepted`, no answer may be
/// 200 meanwhile.
async fn refused_within_a_second(base: &str, secret: &str, expected: u16, never_accepted: bool) {
    let started = Instant::now();
    loop {
        let status = me_at(base, secret).await.status().as_u16();
        if status == expected {
            return;
        }
        assert!(!(never_accepted && status == 200), "accepted after the change");
        assert!(started.elapsed() < Duration::from_secs(1), "still {status}, not {expected}, after 1 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_revocation_on_one_instance_is_refused_by_another_within_a_second() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    let other = app.second_instance().await;
    cached_at(&other, plain.expose()).await;
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&format!("{}/{}/revoke", tokens_path(&acme), row.id), &[]).await.status(), 303);
    refused_within_a_second(&other, plain.expose(), 401, false).await;
}

#[tokio::test]
async fn concurrent_revocations_on_two_instances_are_all_seen_by_both() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Enterprise);
    let other = app.second_instance().await;
    let (_, pat) = app.personal_token_of(&acme, &acme.admin, "admin pat");
    let tokens: Vec<_> = (0..8)
        .map(|i| app.token(&acme, TokenSpec { name: &format!("t{i}"), ..Default::default() }))
        .collect();
    for (_, plain) in &tokens {
        cached_at(&app.address, plain.expose()).await;
        cached_at(&other, plain.expose()).await;
    }
    let revocations: Vec<_> = tokens
        .iter()
        .enumerate()
        .map(|(i, (row, _))| {
            let base = if i % 2 == 0 { app.address.clone() } else { other.clone() };
            let request = app
                .api()
                .delete(format!("{base}/api/v1/orgs/acme/tokens/{}", row.id))
                .bearer_auth(pat.expose().to_owned());
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    for revocation in revocations {
        assert_eq!(revocation.await.unwrap(), 200);
    }
    for (_, plain) in &tokens {
        refused_within_a_second(&app.address, plain.expose(), 401, false).await;
        refused_within_a_second(&other, plain.expose(), 401, false).await;
    }
}

/// Writers whose transactions stay open a while after their feed row: a reader following the
/// feed by number while they commit must end up having seen every row. Without commit-order
/// numbering on PostgreSQL a row numbered lower but committed later would be skipped.
#[tokio::test]
async fn a_reader_following_by_number_never_skips_a_row_committed_late() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let start = changes::latest(&mut app.conn()).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (pool, done) = (app.pool.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut last = start;
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let rows = changes::after(&mut pool.get().unwrap(), last, 1000).unwrap();
                if let Some((seq, _)) = rows.last() {
                    last = *seq;
                }
                seen.extend(rows.into_iter().map(|(seq, _)| seq));
                if finished {
                    return seen;
                }
            }
        })
    };
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (pool, org_id, now) = (app.pool.clone(), acme.org.id.clone(), app.now());
            std::thread::spawn(move || {
                for n in 0..10 {
                    let mut conn = pool.get().unwrap();
                    let id = format!("credential-{w}-{n}");
                    diesel::Connection::transaction(&mut *conn, |conn| {
                        audit::record(conn, &actor(), revoke_event(&org_id, &id), now)?;
                        // Open after the row has its number, for a varying while.
                        std::thread::sleep(Duration::from_millis(((w * 7 + n * 3) % 11) as u64));
                        Ok::<_, diesel::result::Error>(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.join().unwrap();
    let all: Vec<i64> =
        changes::after(&mut app.conn(), start, 1000).unwrap().into_iter().map(|(seq, _)| seq).collect();
    assert_eq!(all.len(), 60);
    assert_eq!(seen, all, "the reader skipped rows");
}

fn actor() -> Actor {
    Actor { user_id: None, credential_id: None, label: "test".into(), ip: None, user_agent: None }
}

fn revoke_event<'a>(org_id: &'a str, id: &'a str) -> AuditEvent<'a> {
    AuditEvent {
        org_id: Some(org_id),
        action: "access_token.revoke",
        target_type: Some(CredentialKind::AccessToken.as_str()),
        target_id: Some(id),
        target_label: Some("t"),
        details: json!({}),
    }
}

#[test]
fn feed_rows_follow_from_audit_entries() {
    use changes::{implied_by, Change};
    let event = |action: &'static str, target_type: &'static str, details| AuditEvent {
        org_id: Some("o"),
        action,
        target_type: Some(target_type),
        target_id: Some("x"),
        target_label: None,
        details,
    };
    let credential = || vec![Change::Credential("x".into())];
    assert_eq!(implied_by(&event("access_token.revoke", "access_token", json!({}))), credential());
    assert_eq!(implied_by(&event("api_key.edit", "api_key", json!({}))), credential());
    assert_eq!(implied_by(&event("personal_token.revoke", "personal_token", json!({}))), credential());
    assert_eq!(
        implied_by(&event("api_key.rotate", "api_key", json!({ "rotated_from": "old" }))),
        vec![Change::Credential("x".into()), Change::Credential("old".into())]
    );
    assert_eq!(
        implied_by(&event("member.role_change", "membership", json!({}))),
        vec![Change::User("x".into())]
    );
    assert_eq!(implied_by(&event("member.remove", "membership", json!({}))), vec![Change::User("x".into())]);
    assert_eq!(implied_by(&event("org.api_access", "org", json!({}))), vec![Change::Org("x".into())]);
    for nothing in [
        event("access_token.create", "access_token", json!({})),
        event("access_token.passphrase_lockout", "access_token", json!({})),
        event("org.set_plan", "org", json!({})),
        event("auth.sign_in", "user", json!({})),
    ] {
        assert_eq!(implied_by(&nothing), vec![], "{}", nothing.action);
    }
}

/// A TCP proxy between an instance and PostgreSQL that can cut every connection and refuse new
/// ones (accepted and closed at once), then let them through again.
struct Proxy {
    address: SocketAddr,
    open: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accepting: JoinHandle<()>,
}

impl Proxy {
    async fn to(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accepting = {
            let (open, links) = (open.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !open.load(std::sync::atomic::Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            })
        };
        Self { address, open, links, accepting }
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accepting.abort();
    }
}

/// Another instance cut off from PostgreSQL while a token is revoked: past its allowed staleness
/// it stops answering from its cache, and once it reaches the database again it refuses the
/// token within a second; at no moment after the revocation does it accept it.
// Several threads: the proxy must keep serving while the second instance opens its pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_cut_off_from_the_database_catches_up_when_it_reconnects() {
    if backend() != "postgres" {
        // The proxy stands between an instance and a database server; SQLite has none.
        // scripts/test runs the suite on PostgreSQL too, where this runs.
        assert_eq!(backend(), "sqlite");
        return;
    }
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let (row, plain) = app.token(&acme, TokenSpec::default());
    let mut url = url::Url::parse(&app.database_url).unwrap();
    let upstream: SocketAddr =
        format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432)).parse().unwrap();
    let proxy = Proxy::to(upstream).await;
    url.set_port(Some(proxy.address.port())).unwrap();
    let staleness = Duration::from_secs(2);
    let other = app.second_instance_at(url.as_str(), staleness).await;
    cached_at(&other, plain.expose()).await;

    proxy.cut();
    let alice = app.sign_in(&acme.owner).await;
    assert_eq!(alice.post(&format!("{}/{}/revoke", tokens_path(&acme), row.id), &[]).await.status(), 303);
    assert_eq!(app.me(plain.expose()).await.status(), 401, "refused where it was revoked");
    tokio::time::sleep(staleness + Duration::from_millis(500)).await;
    let cut_off = me_at(&other, plain.expose()).await.status().as_u16();
    assert!(cut_off != 200 && cut_off >= 500, "answered {cut_off} from a cache it cannot check");

    proxy.restore();
    let restored = Instant::now();
    // Reconnected: the instance reaches the database again (its pool retries with a back-off).
    while reqwest::get(format!("{other}/readyz")).await.unwrap().status() != 200 {
        let status = me_at(&other, plain.expose()).await.status().as_u16();
        assert_ne!(status, 200, "accepted a revoked token while reconnecting");
        assert!(restored.elapsed() < Duration::from_secs(10), "never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    refused_within_a_second(&other, plain.expose(), 401, true).await;
    drop(proxy);
}
