//! `spawn_app`: a real server on a free port with its own database (a SQLite file, or a new
//! PostgreSQL database when TESSERA_TEST_BACKEND=postgres), a clock the test controls, and a
//! builder for orgs with one person of each role.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use reqwest::redirect::Policy;
use tessera::auth::Role;
use tessera::catalog::Catalog;
use tessera::clock::{Clock, ManualClock};
use tessera::config::{DatabaseUrl, SessionKey, Settings};
use tessera::credentials::{secret, CredentialKind, PlainSecret, Plan};
use tessera::db::audit::{Actor, AuditEntry};
use tessera::db::credentials::{self as repo, CredentialRow, NewCredential};
use tessera::db::orgs::{self, Org, User};
use tessera::db::{self, new_id, DbConnection, DbPool};
use tessera::startup::Application;

pub struct TestApp {
    pub address: String,
    pub state: actix_web::web::Data<tessera::startup::AppState>,
    pub server: actix_web::dev::ServerHandle,
    pub running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub database_url: String,
    pub pool: DbPool,
    pub clock: Arc<ManualClock>,
    pub catalog: Arc<Catalog>,
    _dir: tempfile::TempDir,
}

pub fn backend() -> String {
    std::env::var("TESSERA_TEST_BACKEND").unwrap_or_else(|_| "sqlite".into())
}

pub fn database_for_test(dir: &tempfile::TempDir) -> DatabaseUrl {
    match backend().as_str() {
        "sqlite" => DatabaseUrl::Sqlite(dir.path().join("test.db").display().to_string()),
        "postgres" => {
            let admin = std::env::var("TESSERA_TEST_POSTGRES_URL")
                .expect("TESSERA_TEST_BACKEND=postgres needs TESSERA_TEST_POSTGRES_URL (an admin URL of a running server)");
            let mut conn = PgConnection::establish(&admin)
                .unwrap_or_else(|e| panic!("PostgreSQL at TESSERA_TEST_POSTGRES_URL is unreachable: {e}"));
            let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut conn)
                .expect("create test database");
            let mut url = url::Url::parse(&admin).expect("admin URL");
            url.set_path(&name);
            DatabaseUrl::Postgres(url.to_string())
        }
        other => panic!("TESSERA_TEST_BACKEND must be sqlite or postgres, not {other:?}"),
    }
}

pub fn test_now() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap().and_hms_opt(9, 30, 0).unwrap()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Catalog::built_in()).await
}

pub async fn spawn_app_with(catalog: Catalog) -> TestApp {
    spawn_app_configured(catalog, |_| {}).await
}

/// An app whose settings the test adjusts before it starts.
pub async fn spawn_app_configured(catalog: Catalog, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let catalog = Arc::new(catalog);
    let mut settings = Settings {
        database: database_for_test(&dir),
        bind: "127.0.0.1:0".parse().unwrap(),
        public_url: "http://127.0.0.1".parse().unwrap(),
        api_url: "http://api.example.test".parse().unwrap(),
        oidc: None,
        session_key: SessionKey::generate(),
        catalog: catalog.clone(),
        dev_login: true,
        rate_limit_per_minute: 600,
        bench_baseline: true,
        metrics_token: None,
        cache_staleness: std::time::Duration::from_secs(5),
        session_limits: tessera::auth::session::SessionLimits {
            idle_seconds: 8 * 3600,
            absolute_seconds: 7 * 24 * 3600,
        },
    };
    adjust(&mut settings);
    let clock = Arc::new(ManualClock::starting_at(test_now()));
    let database_url = match &settings.database {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
        DatabaseUrl::Postgres(url) => url.clone(),
    };
    let pool = db::connect(&settings.database).expect("database");
    db::migrate(&pool).expect("migrations");
    let app = Application::build_with_pool(settings, clock.clone(), pool.clone()).expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    let (state, server) = (app.state(), app.handle());
    let running = Some(tokio::spawn(app.run_until_stopped()));
    TestApp { address, state, server, running, database_url, pool, clock, catalog, _dir: dir }
}

/// An org with one person of each role.
pub struct TestOrg {
    pub org: Org,
    pub owner: User,
    pub admin: User,
    pub member: User,
    pub auditor: User,
}

impl TestOrg {
    pub fn person(&self, role: Role) -> &User {
        match role {
            Role::Owner => &self.owner,
            Role::Admin => &self.admin,
            Role::Member => &self.member,
            Role::Auditor => &self.auditor,
        }
    }
}

/// Options for a credential made directly in the database.
pub struct TokenSpec<'a> {
    pub kind: CredentialKind,
    pub name: &'a str,
    pub scopes: &'a str,
    pub description: Option<&'a str>,
    pub active: bool,
    pub expires_at: Option<NaiveDateTime>,
    pub created_at: Option<NaiveDateTime>,
}

impl Default for TokenSpec<'_> {
    fn default() -> Self {
        Self {
            kind: CredentialKind::AccessToken,
            name: "seeded token",
            scopes: "all",
            description: None,
            active: true,
            expires_at: None,
            created_at: None,
        }
    }
}

/// An API key spec with sensible defaults.
pub fn key_spec(name: &str) -> TokenSpec<'_> {
    TokenSpec { kind: CredentialKind::ApiKey, name, scopes: "read write", ..Default::default() }
}

impl TestApp {
    pub fn conn(&self) -> diesel::r2d2::PooledConnection<db::ConnectionManager> {
        self.pool.get().expect("connection")
    }

    pub fn now(&self) -> NaiveDateTime {
        self.clock.now()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn user(&self, email: &str) -> User {
        let user = User {
            id: new_id(),
            email: email.into(),
            display_name: email.split('@').next().unwrap_or(email).into(),
            oidc_issuer: None,
            oidc_subject: None,
            is_operator: false,
            created_at: self.now(),
        };
        orgs::insert_user(&mut self.conn(), &user).expect("insert user");
        user
    }

    /// Makes `user` a member of `org` with `role` (someone of another org, usually).
    pub fn add_member(&self, org: &TestOrg, user: &User, role: Role) {
        orgs::add_member(&mut self.conn(), &org.org.id, &user.id, role, self.now()).expect("membership");
    }

    pub fn org(&self, slug: &str, plan: Plan) -> TestOrg {
        let org = Org {
            id: new_id(),
            slug: slug.into(),
            name: format!("{slug} Inc"),
            plan: plan.as_str().into(),
            credential_cap: None,
            api_access: true,
            max_lifetime_days: None,
            created_at: self.now(),
        };
        orgs::insert_org(&mut self.conn(), &org).expect("insert org");
        let people = Role::ALL.map(|role| {
            let user = self.user(&format!("{}@{slug}.test", role.as_str()));
            orgs::add_member(&mut self.conn(), &org.id, &user.id, role, self.now()).expect("membership");
            user
        });
        let [owner, admin, member, auditor] = people;
        TestOrg { org, owner, admin, member, auditor }
    }

    pub fn set_org(&self, org: &Org, apply: impl FnOnce(&mut DbConnection, &str) -> QueryResult<usize>) {
        apply(&mut self.conn(), &org.id).expect("update org");
    }

    /// A token made straight in the database, as if created earlier.
    pub fn token(&self, org: &TestOrg, spec: TokenSpec<'_>) -> (CredentialRow, PlainSecret) {
        let kind = spec.kind;
        let plain = secret::generate(kind, &self.catalog.prefixes);
        let new = NewCredential {
            id: new_id(),
            org_id: org.org.id.clone(),
            kind: kind.as_str().into(),
            name: spec.name.into(),
            description: spec.description.map(str::to_owned),
            secret_hash: plain.hash().to_hex(),
            display_prefix: plain.display_prefix(self.catalog.prefixes.get(kind).len()),
            grants: spec.scopes.into(),
            passphrase_hash: None,
            active: spec.active,
            rate_limit_per_minute: None,
            expires_at: spec.expires_at,
            created_at: spec.created_at.unwrap_or_else(|| self.now()),
            created_by: org.owner.id.clone(),
            owner_user_id: None,
            rotated_from: None,
        };
        let actor = Actor {
            user_id: Some(org.owner.id.clone()),
            credential_id: None,
            label: org.owner.email.clone(),
            ip: None,
            user_agent: None,
        };
        repo::create(&mut self.conn(), &new, u32::MAX, &actor, serde_json::json!({}), self.now())
            .expect("insert token")
            .expect("token accepted");
        (self.credential(&new.id), plain)
    }

    /// A personal token of `user`, bound to `org`, made straight in the database.
    pub fn personal_token_of(&self, org: &TestOrg, user: &User, name: &str) -> (CredentialRow, PlainSecret) {
        let (row, plain) = self.token(
            org,
            TokenSpec { kind: CredentialKind::PersonalToken, name, scopes: "", ..Default::default() },
        );
        use tessera::db::schema::credentials::dsl as c;
        diesel::update(c::credentials.find(&row.id))
            .set((c::owner_user_id.eq(&user.id), c::created_by.eq(&user.id)))
            .execute(&mut self.conn())
            .expect("personal token owner");
        (self.credential(&row.id), plain)
    }

    pub fn credential(&self, id: &str) -> CredentialRow {
        use tessera::db::schema::credentials::dsl as c;
        c::credentials
            .find(id)
            .select(CredentialRow::as_select())
            .first(&mut self.conn())
            .expect("credential")
    }

    pub fn credentials_of(&self, org: &TestOrg) -> Vec<CredentialRow> {
        use tessera::db::schema::credentials::dsl as c;
        c::credentials
            .filter(c::org_id.eq(&org.org.id))
            .order(c::created_at.asc())
            .select(CredentialRow::as_select())
            .load(&mut self.conn())
            .expect("credentials")
    }

    pub fn audit(&self) -> Vec<AuditEntry> {
        use tessera::db::schema::audit_log::dsl as a;
        a::audit_log.order(a::id.asc()).select(AuditEntry::as_select()).load(&mut self.conn()).expect("audit")
    }

    /// A browser-like client signed in as `user` through the dev sign-in.
    pub async fn sign_in(&self, user: &User) -> Session {
        self.sign_in_keeping_cookie(user).await.0
    }

    pub fn anonymous(&self) -> Session {
        self.anonymous_with_jar().0
    }

    /// An anonymous client and its cookie jar, for a test that copies what a browser holds.
    pub fn anonymous_with_jar(&self) -> (Session, Arc<reqwest::cookie::Jar>) {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .redirect(Policy::none())
            .cookie_provider(jar.clone())
            .user_agent("tessera-tests/1.0")
            .build()
            .unwrap();
        (Session { client, base: self.address.clone() }, jar)
    }

    /// Signs `user` in and returns the client with the `Cookie` header its browser would send.
    pub async fn sign_in_keeping_cookie(&self, user: &User) -> (Session, String) {
        use reqwest::cookie::CookieStore;
        let (session, jar) = self.anonymous_with_jar();
        let csrf = csrf_of(&session.get("/sign-in").await.text().await.unwrap());
        let response = session
            .post_raw("/auth/dev", &[("csrf_token", csrf.as_str()), ("user_id", user.id.as_str())])
            .await;
        assert_eq!(response.status(), 303, "dev sign-in as {}", user.email);
        let url = self.address.parse().unwrap();
        let cookie = jar.cookies(&url).expect("a session cookie").to_str().unwrap().to_owned();
        (session, cookie)
    }

    /// A client with no cookie jar that sends exactly this `Cookie` header: a stolen copy.
    pub fn replaying(&self, cookie: &str) -> Session {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::COOKIE, cookie.parse().unwrap());
        let client =
            reqwest::Client::builder().redirect(Policy::none()).default_headers(headers).build().unwrap();
        Session { client, base: self.address.clone() }
    }
}

pub struct Session {
    pub client: reqwest::Client,
    pub base: String,
}

impl Session {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("GET")
    }

    pub async fn get_htmx(&self, path: &str, target: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("HX-Request", "true")
            .header("HX-Target", target)
            .send()
            .await
            .expect("GET")
    }

    /// The session's CSRF token, read from a page that shows it.
    pub async fn csrf(&self) -> String {
        csrf_of(&self.get("/sign-in").await.text().await.unwrap())
    }

    /// A form POST carrying the session's CSRF token, as the console's forms do.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf().await;
        let mut all = vec![("csrf_token", token.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let body = serde_html_form::to_string(fields).unwrap();
        self.client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("POST")
    }
}

pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html.find(marker).expect("page has a CSRF field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn tokens_path(org: &TestOrg) -> String {
    format!("/orgs/{}/settings/tokens", org.org.slug)
}

/// Text of the elements matching `selector`.
pub fn texts(html: &str, selector: &str) -> Vec<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The row of the named credential in a list page.
pub fn row(html: &str, name: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("tr[data-credential]").unwrap();
    doc.select(&sel)
        .find(|e| e.value().attr("data-credential") == Some(name))
        .map(|e| e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "))
}

pub fn keys_path(org: &TestOrg) -> String {
    format!("/orgs/{}/settings/api-keys", org.org.slug)
}

/// Runs the real binary against this test's database.
pub fn tessera_cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env("TESSERA_DATABASE_URL", &app.database_url)
        .output()
        .expect("run tessera");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

pub fn org_row(app: &TestApp, slug: &str) -> Option<Org> {
    orgs::find_org_by_slug(&mut app.conn(), slug).expect("org query")
}

impl TestApp {
    /// A bearer client: no cookies, so nothing but the credential authenticates it.
    pub fn api(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(Policy::none()).build().unwrap()
    }

    pub async fn me(&self, secret: &str) -> reqwest::Response {
        self.api().get(self.url("/api/v1/me")).bearer_auth(secret).send().await.unwrap()
    }

    pub async fn flush_usage(&self) {
        self.state.usage.flush(&self.pool).await.expect("usage flush");
    }

    /// A graceful stop, as SIGTERM gives a real server.
    pub async fn stop(&mut self) {
        self.server.stop(true).await;
        if let Some(running) = self.running.take() {
            running.await.expect("server task").expect("server");
        }
    }

    /// A second server on the same database, as another instance would be.
    pub async fn second_instance(&self) -> String {
        self.second_instance_at(&self.database_url, std::time::Duration::from_secs(5)).await
    }

    /// A second server reaching the database at `database_url` (through a proxy, say), whose
    /// cache may go `staleness` without reading the change feed.
    pub async fn second_instance_at(&self, database_url: &str, staleness: std::time::Duration) -> String {
        let settings = Settings {
            database: DatabaseUrl::parse(database_url).unwrap(),
            bind: "127.0.0.1:0".parse().unwrap(),
            public_url: "http://127.0.0.1".parse().unwrap(),
            api_url: "http://api.example.test".parse().unwrap(),
            oidc: None,
            session_key: SessionKey::generate(),
            catalog: self.catalog.clone(),
            dev_login: true,
            rate_limit_per_minute: 600,
            bench_baseline: true,
            metrics_token: None,
            cache_staleness: std::time::Duration::from_secs(5),
            session_limits: tessera::auth::session::SessionLimits {
                idle_seconds: 8 * 3600,
                absolute_seconds: 7 * 24 * 3600,
            },
        };
        let settings = Settings { cache_staleness: staleness, ..settings };
        let app = Application::build_with_pool(
            settings,
            self.clock.clone(),
            db::connect(&DatabaseUrl::parse(database_url).unwrap()).unwrap(),
        )
        .unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        address
    }
}
