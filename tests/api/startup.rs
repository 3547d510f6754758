//! The binary's start-up: bad configuration ends it with one clear line, never a panic.

use std::process::Command;

fn tessera(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .current_dir(dir.path())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run tessera");
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn assert_one_clear_line(args: &[&str], env: &[(&str, &str)], expected: &str) {
    let (ok, stderr) = tessera(args, env);
    assert!(!ok, "{args:?} should fail");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(lines[0].starts_with("tessera: ") && lines[0].contains(expected), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_configuration_ends_start_up_with_one_clear_line() {
    assert_one_clear_line(&["serve"], &[], "no sign-in configured");
    assert_one_clear_line(&["serve", "--dev-login"], &[], "TESSERA_SESSION_KEY is required");
    assert_one_clear_line(&["demo", "--bind", "0.0.0.0:0"], &[], "loopback only");
    assert_one_clear_line(
        &["serve"],
        &[("TESSERA_DEV_LOGIN", "true"), ("TESSERA_BIND", "0.0.0.0:0")],
        "loopback only",
    );
    assert_one_clear_line(&["serve", "--oidc-issuer", "https://id.example"], &[], "all three");
    assert_one_clear_line(&["demo"], &[("TESSERA_BIND", "nonsense")], "TESSERA_BIND");
    assert_one_clear_line(&["demo"], &[("TESSERA_DATABASE_URL", "mysql://x")], "TESSERA_DATABASE_URL");
    assert_one_clear_line(
        &["demo", "--bind", "127.0.0.1:0"],
        &[("TESSERA_CATALOG", "/nonexistent/catalog.toml")],
        "cannot read catalog",
    );
    assert_one_clear_line(&["serve", "--dev-login", "--session-key", "c2hvcnQ="], &[], "at least 64 bytes");
    assert_one_clear_line(
        &["migrate"],
        &[("TESSERA_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
        "cannot open the database",
    );
    assert_one_clear_line(
        &["migrate"],
        &[("TESSERA_DATABASE_URL", "sqlite:///nonexistent-dir/x.db")],
        "cannot open the database",
    );
}

#[test]
fn migrate_applies_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "7 migration(s) applied");
    assert_eq!(String::from_utf8_lossy(&run().stdout).trim(), "0 migration(s) applied");
}

#[test]
fn an_address_in_use_is_reported_before_the_demo_writes_anything() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(dir.path())
        .args(["demo", "--bind", &address])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains(&format!("cannot listen on {address}")), "{stderr}");
    assert!(!dir.path().join("tessera.db").exists(), "nothing was created or seeded");
}

#[test]
fn a_database_that_cannot_be_opened_is_named_with_its_cause() {
    assert_one_clear_line(
        &["migrate"],
        &[("TESSERA_DATABASE_URL", "sqlite:///nonexistent-dir/x.db")],
        "the folder /nonexistent-dir does not exist",
    );
    let (_, stderr) =
        tessera(&["migrate"], &[("TESSERA_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")]);
    assert!(stderr.contains("Connection refused") || stderr.contains("connection refused"), "{stderr}");
    assert!(!stderr.contains("timed out"), "{stderr}");
}

#[test]
fn every_flag_and_argument_says_what_it_is() {
    let help = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(help(&["--help"]).contains("tessera serve --help"), "the top level points at the server flags");
    for command in [
        &["serve", "--help"][..],
        &["demo", "--help"],
        &["org", "create", "--help"],
        &["org", "set-plan", "--help"],
        &["org", "api-access", "--help"],
        &["user", "make-operator", "--help"],
        &["user", "sign-out", "--help"],
        &["resource-server", "create", "--help"],
    ] {
        let text = help(command);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.trim_start();
            let is_item = line.starts_with("  ") && (trimmed.starts_with("--") || trimmed.starts_with('<'));
            if !is_item || trimmed.starts_with("--help") || trimmed.starts_with("--version") {
                continue;
            }
            // Clap puts a description after the name, or (long form) on the next, deeper line;
            // an undocumented item shows only its bracketed env and default notes.
            let same_line = trimmed.split("  ").map(str::trim).filter(|part| !part.is_empty()).nth(1);
            let indent = line.len() - trimmed.len();
            let next_line = lines.get(i + 1).map(|next| (next.len() - next.trim_start().len(), next.trim()));
            let description = match (same_line, next_line) {
                (Some(text), _) => text,
                (None, Some((deeper, text))) if deeper > indent => text,
                _ => "",
            };
            assert!(
                !description.is_empty() && !description.starts_with('['),
                "{command:?}: undocumented: {line}\n{text}"
            );
        }
    }
}
