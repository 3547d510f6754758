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
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "5 migration(s) applied");
    assert_eq!(String::from_utf8_lossy(&run().stdout).trim(), "0 migration(s) applied");
}
