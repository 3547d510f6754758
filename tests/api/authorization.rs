//! The authorization matrix: every route the router serves (its own tables, `features::ROUTES` and
//! `api::ROUTES`), for every kind of caller, answers as the rules of SPEC §1 say. A route with no
//! entry here fails the test, so a new route cannot ship without deciding who may use it.

use diesel::prelude::*;
use tessera::credentials::Plan;

use crate::helpers::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    NonMember,
    Operator,
    Member,
    Auditor,
    Admin,
    Owner,
}

const CALLERS: [Caller; 7] = [
    Caller::Anonymous,
    Caller::NonMember,
    Caller::Operator,
    Caller::Member,
    Caller::Auditor,
    Caller::Admin,
    Caller::Owner,
];

/// What an answer means for authorization; any 5xx fails outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Served or refused for a reason other than who is asking (a redirect after a write, 400, 409, 422).
    Allowed,
    SignIn,
    Unauthorized,
    Forbidden,
    NotFound,
}

#[derive(Debug, Clone, Copy)]
enum Policy {
    Public,
    SignOut,
    NotConfigured,
    SignedIn,
    SignedInUnknownId,
    OperatorOnly,
    OrgRead,
    OrgWrite,
    OwnerRead,
    OwnerWrite,
    /// The audit log: owners, admins, auditors and operators read; members do not.
    AuditRead,
    /// Those who manage credentials, and operators, read; members and auditors do not.
    AdminRead,
    ApiPublic,
    ApiAnyCredential,
    ApiIntrospect,
    ApiOwnUnknownToken,
    ApiOrgRead,
    ApiAuditRead,
    ApiOrgWrite,
    ApiTokenEdit,
}

impl Policy {
    fn expect(self, caller: Caller) -> Class {
        use Caller::*;
        use Class::*;
        match (self, caller) {
            (Policy::Public | Policy::ApiPublic, _) => Allowed,
            (Policy::NotConfigured, _) => NotFound,
            (Policy::SignOut, _) => SignIn,
            (Policy::SignedIn, Anonymous) => SignIn,
            (Policy::SignedIn, _) => Allowed,
            (Policy::SignedInUnknownId, Anonymous) => SignIn,
            (Policy::SignedInUnknownId, _) => NotFound,
            (Policy::OperatorOnly, Anonymous) => SignIn,
            (Policy::OperatorOnly, Operator) => Allowed,
            (Policy::OperatorOnly, _) => NotFound,
            (
                Policy::OrgRead
                | Policy::OrgWrite
                | Policy::OwnerRead
                | Policy::OwnerWrite
                | Policy::AuditRead
                | Policy::AdminRead,
                Anonymous,
            ) => SignIn,
            (
                Policy::OrgRead
                | Policy::OrgWrite
                | Policy::OwnerRead
                | Policy::OwnerWrite
                | Policy::AuditRead
                | Policy::AdminRead,
                NonMember,
            ) => NotFound,
            (Policy::OrgRead, _) => Allowed,
            (Policy::OrgWrite, Admin | Owner) => Allowed,
            (Policy::OrgWrite, _) => Forbidden,
            (Policy::OwnerRead, Owner | Operator) => Allowed,
            (Policy::OwnerRead, _) => Forbidden,
            (Policy::OwnerWrite, Owner) => Allowed,
            (Policy::OwnerWrite, _) => Forbidden,
            (Policy::AuditRead, Member) => Forbidden,
            (Policy::AuditRead, _) => Allowed,
            (Policy::AdminRead, Admin | Owner | Operator) => Allowed,
            (Policy::AdminRead, _) => Forbidden,
            (_, Anonymous) => Unauthorized,
            (Policy::ApiAnyCredential, _) => Allowed,
            (Policy::ApiIntrospect, _) => Forbidden,
            (Policy::ApiOwnUnknownToken | Policy::ApiTokenEdit, _) => NotFound,
            // Operators have no API powers: their token belongs to another org.
            (Policy::ApiOrgRead | Policy::ApiAuditRead | Policy::ApiOrgWrite, NonMember | Operator) => {
                Forbidden
            }
            (Policy::ApiOrgRead, _) => Allowed,
            (Policy::ApiAuditRead, Member) => Forbidden,
            (Policy::ApiAuditRead, _) => Allowed,
            (Policy::ApiOrgWrite, Admin | Owner) => Allowed,
            (Policy::ApiOrgWrite, _) => Forbidden,
        }
    }
}

/// Who may use each route. `None` is a route nobody has decided about yet: the test fails.
fn policy(method: &str, path: &str, collection: &str) -> Option<Policy> {
    use Policy::*;
    Some(match (method, path) {
        ("get", "/healthz" | "/readyz" | "/metrics" | "/static/{file}" | "/sign-in") => Public,
        ("post", "/auth/dev") => Public,
        // The test server has no OpenID provider: single sign-on is not there at all.
        ("get", "/auth/login" | "/auth/callback") => NotConfigured,
        ("get", "/") | ("get" | "post", "/account/tokens") => SignedIn,
        ("get", "/account/sessions") | ("post", "/account/sessions/end-others") => SignedIn,
        ("post", "/account/sessions/{id}/end") => SignedInUnknownId,
        // Signed in or not, signing out ends on the sign-in page.
        ("post", "/sign-out") => SignOut,
        ("post", "/account/tokens/{id}/revoke") => SignedInUnknownId,
        ("get", "/operator/orgs" | "/operator/audit" | "/operator/audit/export") => OperatorOnly,
        ("get", "/orgs/{slug}/settings/members") => OwnerRead,
        ("post", "/orgs/{slug}/settings/members")
        | ("post", "/orgs/{slug}/settings/members/{user_id}/role")
        | ("post", "/orgs/{slug}/settings/members/{user_id}/remove") => OwnerWrite,
        ("get", "/orgs/{slug}/settings/audit" | "/orgs/{slug}/settings/audit/export") => AuditRead,
        ("get", "/orgs/{slug}/settings/personal-tokens") => AdminRead,
        ("post", "/orgs/{slug}/settings/personal-tokens/{id}/revoke") => OrgWrite,
        // Usage pages and reports: read by the audit log's readers too.
        ("get", "/orgs/{slug}/settings/reports" | "/orgs/{slug}/settings/{tab}/{id}/usage") => AuditRead,
        ("get", "/orgs/{slug}/settings/{tab}") => OrgRead,
        ("post", "/orgs/{slug}/settings/{tab}")
        | ("post", "/orgs/{slug}/settings/{tab}/{id}/revoke")
        | ("post", "/orgs/{slug}/settings/{tab}/{id}/rotate")
        | ("get" | "post", "/orgs/{slug}/settings/{tab}/{id}/edit") => OrgWrite,
        ("get", "/api/v1/openapi.json" | "/api/v1/bench/baseline") => ApiPublic,
        ("get", "/api/v1/me" | "/api/v1/me/tokens") => ApiAnyCredential,
        ("post", "/api/v1/introspect") => ApiIntrospect,
        ("delete", "/api/v1/me/tokens/{id}") => ApiOwnUnknownToken,
        ("get", "/api/v1/orgs/{slug}/audit") => ApiAuditRead,
        // Listing the org's personal tokens is for those who may revoke them.
        ("get", "/api/v1/orgs/{slug}/personal-tokens")
        | ("delete", "/api/v1/orgs/{slug}/personal-tokens/{id}") => ApiOrgWrite,
        ("get", "/api/v1/orgs/{slug}/{collection}") => ApiOrgRead,
        // A token's grants are fixed at creation: only API keys are edited.
        ("patch", "/api/v1/orgs/{slug}/{collection}/{id}") if collection == "tokens" => ApiTokenEdit,
        ("post", "/api/v1/orgs/{slug}/{collection}")
        | ("patch" | "delete", "/api/v1/orgs/{slug}/{collection}/{id}")
        | ("post", "/api/v1/orgs/{slug}/{collection}/{id}/rotate") => ApiOrgWrite,
        _ => return None,
    })
}

struct World {
    app: TestApp,
    acme: TestOrg,
    token_id: String,
    key_id: String,
    /// A personal token of the target member.
    personal_id: String,
    target_member_id: String,
    nonmember: tessera::db::orgs::User,
    operator: tessera::db::orgs::User,
}

async fn world() -> World {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let globex = app.org("globex", Plan::Growth);
    let (token, _) = app.token(&acme, TokenSpec::default());
    let (key, _) = app.token(&acme, key_spec("matrix key"));
    let target = app.user("target@acme.test");
    app.add_member(&acme, &target, tessera::auth::Role::Member);
    let (personal, _) = app.personal_token_of(&acme, &target, "target cli");
    let operator = app.user("ops@platform.test");
    app.add_member(&globex, &operator, tessera::auth::Role::Member);
    use tessera::db::schema::users::dsl as u;
    diesel::update(u::users.find(&operator.id))
        .set(u::is_operator.eq(true))
        .execute(&mut app.conn())
        .unwrap();
    World {
        token_id: token.id,
        key_id: key.id,
        personal_id: personal.id,
        target_member_id: target.id,
        nonmember: globex.member.clone(),
        operator,
        app,
        acme,
    }
}

impl World {
    fn person(&self, caller: Caller) -> Option<&tessera::db::orgs::User> {
        match caller {
            Caller::Anonymous => None,
            Caller::NonMember => Some(&self.nonmember),
            Caller::Operator => Some(&self.operator),
            Caller::Member => Some(&self.acme.member),
            Caller::Auditor => Some(&self.acme.auditor),
            Caller::Admin => Some(&self.acme.admin),
            Caller::Owner => Some(&self.acme.owner),
        }
    }

    async fn session(&self, caller: Caller) -> Session {
        match self.person(caller) {
            Some(user) => self.app.sign_in(user).await,
            None => self.app.anonymous(),
        }
    }

    /// Concrete paths for a pattern: both credential tabs where the pattern has one.
    fn concretize(&self, pattern: &str) -> Vec<(String, String)> {
        let collections: &[&str] = if pattern.contains("{tab}/{id}/edit") {
            &["api-keys"]
        } else if pattern.contains("{tab}") || pattern.contains("{collection}") {
            &["tokens", "api-keys"]
        } else {
            &[""]
        };
        collections
            .iter()
            .map(|collection| {
                let id =
                    match (*collection, pattern.starts_with("/account") || pattern.starts_with("/api/v1/me"))
                    {
                        (_, true) => "no-such-id",
                        _ if pattern.contains("/personal-tokens/") => self.personal_id.as_str(),
                        ("api-keys", _) => self.key_id.as_str(),
                        _ => self.token_id.as_str(),
                    };
                let path = pattern
                    .replace("{slug}", &self.acme.org.slug)
                    .replace("{tab}", collection)
                    .replace("{collection}", collection)
                    .replace("{id}", id)
                    .replace("{user_id}", &self.target_member_id)
                    .replace("{file}", "app.css");
                (collection.to_string(), path)
            })
            .collect()
    }
}

fn console_class(response: &reqwest::Response) -> Class {
    let status = response.status().as_u16();
    assert!(status < 500, "{} answered {status}", response.url());
    // The security floor (SPEC §7) on every answer of every route, whoever asks.
    for header in ["content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options"]
    {
        assert!(response.headers().contains_key(header), "{header} missing on {}", response.url());
    }
    let to_sign_in = response.headers().get("location").is_some_and(|l| l == "/sign-in");
    match status {
        303 if to_sign_in => Class::SignIn,
        401 => Class::Unauthorized,
        403 => Class::Forbidden,
        404 => Class::NotFound,
        405 => panic!("{} is routed but not for this method", response.url()),
        _ => Class::Allowed,
    }
}

async fn console_call(session: &Session, method: &str, path: &str) -> Class {
    let response = match method {
        "get" => session.get(path).await,
        "post" => session.post(path, &[]).await,
        other => panic!("console method {other}"),
    };
    console_class(&response)
}

/// A well-formed body, so that what is checked is who asks, not what they send.
fn api_body(caller: Caller, path: &str) -> serde_json::Value {
    let name = format!("matrix {caller:?}");
    if path.ends_with("/rotate") {
        serde_json::json!({ "grace": "now" })
    } else if path.ends_with("/tokens") {
        serde_json::json!({ "name": name, "scopes": ["all"], "expiry": "30" })
    } else if path.ends_with("/api-keys") {
        serde_json::json!({ "name": name, "permissions": ["read"] })
    } else {
        serde_json::json!({ "description": name })
    }
}

async fn api_call(world: &World, caller: Caller, token: Option<&str>, method: &str, path: &str) -> Class {
    let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let mut request = world.app.api().request(method.clone(), world.app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method == reqwest::Method::POST && path.ends_with("/introspect") {
        request = request.form(&[("token", "tsr_at_nothing")]);
    } else if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
        request = request.json(&api_body(caller, path));
    }
    console_class(&request.send().await.unwrap())
}

/// A personal token for `caller`, bound to the org they belong to.
async fn personal_token(world: &World, caller: Caller) -> Option<String> {
    let user = world.person(caller)?;
    let session = world.app.sign_in(user).await;
    let org = if matches!(caller, Caller::NonMember | Caller::Operator) { "globex" } else { "acme" };
    let name = format!("matrix {caller:?}");
    let response =
        session.post("/account/tokens", &[("name", name.as_str()), ("org", org), ("expiry", "30")]).await;
    if response.status() != 200 {
        let html = response.text().await.unwrap();
        panic!("{caller:?} cannot mint a personal token: {:?}", texts(&html, ".field-error, .form-error"));
    }
    Some(texts(&response.text().await.unwrap(), "#new-secret").remove(0))
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_rules_say() {
    let world = world().await;
    let mut undecided = Vec::new();
    let mut wrong = Vec::new();
    let mut checked = 0;
    for caller in CALLERS {
        let session = world.session(caller).await;
        let token = personal_token(&world, caller).await;
        let routes = tessera::features::ROUTES
            .iter()
            .map(|r| (false, r))
            .chain(tessera::api::ROUTES.iter().map(|r| (true, r)));
        for (is_api, (method, pattern)) in routes {
            for (collection, path) in world.concretize(pattern) {
                let Some(policy) = policy(method, pattern, &collection) else {
                    undecided.push(format!("{} {pattern}", method.to_uppercase()));
                    continue;
                };
                let actual = if is_api {
                    api_call(&world, caller, token.as_deref(), method, &path).await
                } else if *pattern == "/sign-out" {
                    // Signing out would end the session the next routes use: a session of its own.
                    console_call(&world.session(caller).await, method, &path).await
                } else {
                    console_call(&session, method, &path).await
                };
                checked += 1;
                let expected = policy.expect(caller);
                if actual != expected {
                    wrong.push(format!(
                        "{caller:?} {} {path}: expected {expected:?}, got {actual:?}",
                        method.to_uppercase()
                    ));
                }
            }
        }
    }
    undecided.dedup();
    assert!(undecided.is_empty(), "routes with no entry in the matrix: {undecided:#?}");
    assert!(wrong.is_empty(), "{} of {checked} answers are wrong:\n{}", wrong.len(), wrong.join("\n"));
    assert!(checked > 200, "{checked}");
}

#[test]
fn every_router_route_has_a_policy() {
    for (method, pattern) in tessera::features::ROUTES.iter().chain(tessera::api::ROUTES) {
        let collections: &[&str] =
            if pattern.contains("{collection}") { &["tokens", "api-keys"] } else { &[""] };
        for collection in collections {
            assert!(policy(method, pattern, collection).is_some(), "{method} {pattern} has no entry");
        }
    }
}
