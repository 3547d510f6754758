//! `tessera serve` exactly as an operator starts it: the built binary as a process, configured
//! by environment variables only (OpenID settings, a session key as `openssl rand -base64 64`
//! prints it, no dev sign-in), against a real OpenID provider.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use tessera::config::DatabaseUrl;

use crate::helpers::{database_for_test, Session};
use crate::oidc_provider::OidcProvider;
use crate::sso::{start, through_provider};

struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn database_url(dir: &tempfile::TempDir) -> String {
    match database_for_test(dir) {
        DatabaseUrl::Sqlite(path) => format!("sqlite://{path}"),
        DatabaseUrl::Postgres(url) => url,
    }
}

/// 64 random bytes in base64, wrapped at 64 characters with a final newline, as openssl prints.
fn openssl_style_key() -> String {
    let bytes: Vec<u8> = (0..64).map(|_| rand::random::<u8>()).collect();
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("{}\n{}\n", &text[..64], &text[64..])
}

fn cli(database: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TESSERA_DATABASE_URL", database)
        .output()
        .expect("run tessera");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "tessera {args:?}: {text}");
    text
}

fn serve(database: &str, provider: &OidcProvider) -> Serve {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TESSERA_DATABASE_URL", database)
        .env("TESSERA_BIND", format!("127.0.0.1:{port}"))
        .env("TESSERA_PUBLIC_URL", &base)
        .env("TESSERA_OIDC_ISSUER", &provider.issuer)
        .env("TESSERA_OIDC_CLIENT_ID", &provider.client_id)
        .env("TESSERA_OIDC_CLIENT_SECRET", &provider.client_secret)
        .env("TESSERA_SESSION_KEY", openssl_style_key())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tessera serve");
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
            panic!("tessera serve exited ({status}) instead of serving: {stderr}");
        }
        match receiver.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.contains("Tessera is running at") => {
                assert!(line.contains(&base), "{line}");
                return Serve { child, base };
            }
            _ if Instant::now() > deadline => panic!("tessera serve did not start within 30 s"),
            _ => {}
        }
    }
}

fn browser(base: &str) -> (Session, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (Session { client, base: base.to_owned() }, jar)
}

#[tokio::test]
async fn serve_with_openid_settings_starts_and_signs_people_in_through_the_provider() {
    let provider = OidcProvider::start();
    let dir = tempfile::tempdir().unwrap();
    let database = database_url(&dir);
    cli(&database, &["migrate"]);
    cli(&database, &["org", "create", "acme", "Acme Corp", "--plan", "team", "--owner", "alice@example.com"]);
    let server = serve(&database, &provider);

    let (session, jar) = browser(&server.base);
    let sign_in = session.get("/sign-in").await.text().await.unwrap();
    assert!(sign_in.contains("Sign in with single sign-on"), "{sign_in}");
    assert!(!sign_in.contains("/auth/dev"), "no dev sign-in in production");
    let dev = session.post_raw("/auth/dev", &[("csrf_token", "x"), ("user_id", "x")]).await;
    assert!(dev.status() == 403 || dev.status() == 404, "dev sign-in is off, got {}", dev.status());

    let callback = through_provider(&session, start(&session).await, "alice@example.com").await;
    let landed = session.client.get(callback).send().await.unwrap();
    assert_eq!(landed.status(), 303, "{:?}", landed.text().await);
    let tokens = session.get("/orgs/acme/settings/tokens").await;
    assert_eq!(tokens.status(), 200);
    let html = tokens.text().await.unwrap();
    assert!(html.contains("alice@example.com"), "signed in as alice");

    // Sign out, then replay what the browser held: nothing opens.
    use reqwest::cookie::CookieStore;
    let cookie = jar.cookies(&server.base.parse().unwrap()).unwrap().to_str().unwrap().to_owned();
    let csrf = crate::helpers::csrf_of(&html);
    assert_eq!(session.post_raw("/sign-out", &[("csrf_token", csrf.as_str())]).await.status(), 303);
    let replay = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let after = replay
        .get(format!("{}/orgs/acme/settings/tokens", server.base))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 303, "a copied cookie is dead after sign-out");
}
