//! Control characters and bidi overrides are refused in every text input and path id with a
//! clear 400 or 422 and no change, on both databases (PostgreSQL used to answer 500 on a NUL).

use serde_json::json;
use tessera::credentials::Plan;

use crate::helpers::*;

/// What each hostile character looks like typed into a field and percent-encoded in an address.
const HOSTILE: [(&str, &str); 2] = [("\u{0}", "%00"), ("\u{202E}", "%E2%80%AE")];

/// What must not move: the org's credentials as stored, the audit log, the people.
fn snapshot(app: &TestApp, org: &TestOrg) -> String {
    let credentials: Vec<String> = app
        .credentials_of(org)
        .into_iter()
        .map(|c| {
            format!(
                "{} {} {:?} {} {:?} {:?}",
                c.id, c.name, c.description, c.active, c.expires_at, c.revoked_at
            )
        })
        .collect();
    let audit = app.audit().len();
    let people = tessera::db::orgs::all_users(&mut app.conn()).unwrap().len();
    let roles: Vec<_> = tessera::db::orgs::members_of(&mut app.conn(), &org.org.id)
        .unwrap()
        .into_iter()
        .map(|m| format!("{m:?}"))
        .collect();
    format!("{credentials:?} audit={audit} people={people} roles={roles:?}")
}

/// A console form: its path, its fields and the status it must get.
type FormCase<'a> = (String, Vec<(&'a str, String)>, u16);

#[tokio::test]
async fn control_and_bidi_characters_are_refused_everywhere_and_change_nothing() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Enterprise);
    let (key, _) = app.token(&acme, key_spec("billing"));
    let (token, _) = app.token(&acme, TokenSpec::default());
    let alice = app.sign_in(&acme.owner).await;
    let anonymous = app.anonymous();
    let response =
        alice.post("/account/tokens", &[("name", "laptop"), ("org", "acme"), ("expiry", "30")]).await;
    let pat = texts(&response.text().await.unwrap(), "#new-secret").remove(0);
    let personal = app.credentials_of(&acme).into_iter().find(|c| c.name == "laptop").unwrap();
    let before = snapshot(&app, &acme);
    let member_id = acme.member.id.as_str();

    for (typed, encoded) in HOSTILE {
        let bad = |s: &str| s.replace('~', typed);
        // Console forms: each field a person can type into.
        let forms: Vec<FormCase> = vec![
            (
                tokens_path(&acme),
                vec![("name", bad("bad~name")), ("scopes", "all".into()), ("expiry", "30".into())],
                422,
            ),
            (
                tokens_path(&acme),
                vec![
                    ("name", "fine name".into()),
                    ("scopes", "all".into()),
                    ("expiry", "30".into()),
                    ("passphrase", bad("pass~phrase")),
                ],
                422,
            ),
            (
                keys_path(&acme),
                vec![
                    ("name", "fine key".into()),
                    ("description", bad("used ~by CI")),
                    ("permissions", "read".into()),
                    ("expiry", "30".into()),
                ],
                422,
            ),
            (
                format!("{}/{}/edit", keys_path(&acme), key.id),
                vec![
                    ("name", "billing".into()),
                    ("description", bad("edited ~")),
                    ("permissions", "read".into()),
                    ("expiry", "keep".into()),
                    ("active", "on".into()),
                ],
                422,
            ),
            (
                "/account/tokens".into(),
                vec![("name", bad("lap~top 2")), ("org", "acme".into()), ("expiry", "30".into())],
                422,
            ),
            (
                "/orgs/acme/settings/members".into(),
                vec![("email", bad("new~@acme.test")), ("role", "member".into())],
                422,
            ),
            (format!("/orgs/acme/settings/members/{member_id}/role"), vec![("role", bad("admin~"))], 400),
        ];
        for (path, fields, expected) in forms {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = alice.post(&path, &fields).await;
            assert_eq!(response.status(), expected, "console POST {path} {fields:?}");
        }
        let dev = anonymous.post("/auth/dev", &[("user_id", &bad("x~y"))]).await;
        assert_eq!(dev.status(), 400, "dev sign-in user_id {typed:?}");

        // Query strings: search, audit filters, the export.
        for path in [
            format!("{}?q=a{encoded}", tokens_path(&acme)),
            format!("{}?q=a{encoded}", keys_path(&acme)),
            format!("/orgs/acme/settings/audit?actor=a{encoded}"),
            format!("/orgs/acme/settings/audit?credential=a{encoded}"),
            format!("/orgs/acme/settings/audit/export?actor=a{encoded}"),
            format!("/orgs/acme/settings/audit?a{encoded}=1"),
        ] {
            let response = alice.get(&path).await;
            assert_eq!(response.status(), 400, "GET {path}");
            assert!(response.text().await.unwrap().contains("not allowed"), "a clear message: {path}");
        }

        // Path ids of every console route that has one.
        let x = encoded;
        let mut console_paths = vec![
            ("GET", format!("/orgs/{x}/settings/tokens")),
            ("GET", format!("/orgs/acme/settings/{x}")),
            ("POST", format!("/orgs/acme/settings/members/{x}/role")),
            ("POST", format!("/orgs/acme/settings/members/{x}/remove")),
            ("POST", format!("/account/tokens/{x}/revoke")),
            ("GET", format!("/static/{x}")),
        ];
        for tab in ["tokens", "api-keys"] {
            for (method, action) in
                [("POST", "revoke"), ("POST", "rotate"), ("GET", "edit"), ("POST", "edit"), ("GET", "usage")]
            {
                console_paths.push((method, format!("/orgs/acme/settings/{tab}/{x}/{action}")));
            }
        }
        for (method, path) in console_paths {
            let response = if method == "GET" {
                alice.get(&path).await
            } else {
                alice.post(&path, &[("role", "admin")]).await
            };
            assert_eq!(response.status(), 400, "{method} {path}");
        }

        // The management API: JSON bodies, path ids and query strings.
        let api = |method: reqwest::Method, path: String| {
            app.api().request(method, app.url(&path)).bearer_auth(&pat)
        };
        let bodies = [
            (
                reqwest::Method::POST,
                "/api/v1/orgs/acme/api-keys".to_owned(),
                json!({ "name": "json key", "description": bad("d~"), "permissions": ["read"] }),
            ),
            (
                reqwest::Method::POST,
                "/api/v1/orgs/acme/api-keys".to_owned(),
                json!({ "name": bad("json ~key"), "permissions": ["read"] }),
            ),
            (
                reqwest::Method::POST,
                "/api/v1/orgs/acme/tokens".to_owned(),
                json!({ "name": bad("json ~token"), "scopes": ["all"] }),
            ),
            (
                reqwest::Method::POST,
                "/api/v1/orgs/acme/tokens".to_owned(),
                json!({ "name": "json token", "scopes": ["all"], "passphrase": bad("pass~phrase") }),
            ),
            (
                reqwest::Method::PATCH,
                format!("/api/v1/orgs/acme/api-keys/{}", key.id),
                json!({ "description": bad("d~") }),
            ),
            (
                reqwest::Method::PATCH,
                format!("/api/v1/orgs/acme/api-keys/{}", key.id),
                json!({ "name": bad("bil~ling") }),
            ),
        ];
        for (method, path, body) in bodies {
            let response = api(method.clone(), path.clone()).json(&body).send().await.unwrap();
            assert_eq!(response.status(), 422, "{method} {path} {body}");
            let error: serde_json::Value = response.json().await.unwrap();
            assert!(error["error"].as_str().unwrap().contains("not allowed"), "{error}");
        }
        let api_paths = [
            (reqwest::Method::GET, format!("/api/v1/orgs/{x}/tokens")),
            (reqwest::Method::GET, format!("/api/v1/orgs/acme/{x}")),
            (reqwest::Method::DELETE, format!("/api/v1/me/tokens/{x}")),
            (reqwest::Method::PATCH, format!("/api/v1/orgs/acme/api-keys/{x}")),
            (reqwest::Method::DELETE, format!("/api/v1/orgs/acme/api-keys/{x}")),
            (reqwest::Method::DELETE, format!("/api/v1/orgs/acme/tokens/{x}")),
            (reqwest::Method::POST, format!("/api/v1/orgs/acme/api-keys/{x}/rotate")),
            (reqwest::Method::POST, format!("/api/v1/orgs/acme/tokens/{x}/rotate")),
            (reqwest::Method::GET, format!("/api/v1/orgs/acme/audit?actor=a{x}")),
            (reqwest::Method::GET, format!("/api/v1/orgs/acme/audit?credential=a{x}")),
            (reqwest::Method::GET, format!("/api/v1/orgs/acme/tokens?q=a{x}")),
        ];
        for (method, path) in api_paths {
            let response = api(method.clone(), path.clone()).json(&json!({})).send().await.unwrap();
            assert_eq!(response.status(), 400, "{method} {path}");
            let error: serde_json::Value = response.json().await.unwrap();
            assert_eq!(error["code"], "bad_request", "{method} {path}");
        }
    }

    assert_eq!(snapshot(&app, &acme), before, "nothing changed");
    assert_eq!(app.credential(&token.id).revoked_at, None);
    assert_eq!(app.credential(&personal.id).revoked_at, None);
    // Ordinary text still passes: tab, CR and LF in a multi-line description, letters of any script.
    let fine = alice
        .post(
            &format!("{}/{}/edit", keys_path(&acme), key.id),
            &[
                ("name", "billing – Zürich 東京"),
                ("description", "line one\r\n\tline two"),
                ("permissions", "read"),
                ("expiry", "keep"),
                ("active", "on"),
            ],
        )
        .await;
    assert!(fine.status().is_success() || fine.status().is_redirection(), "{}", fine.status());
    let edited = app.credential(&key.id);
    assert_eq!(
        (edited.name.as_str(), edited.description.as_deref()),
        ("billing – Zürich 東京", Some("line one\r\n\tline two"))
    );
}
