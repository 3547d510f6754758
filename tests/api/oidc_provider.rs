//! A real OpenID provider for tests: `node tests/oidc/provider.mjs` (npm `oidc-provider`) as a
//! child process on a free loopback port. See that file for the client and the accounts.
//!
//! Nothing here skips: without Node.js or `npm ci` the test fails and says what to do.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const SCRIPT: &str = "tests/oidc/provider.mjs";
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STDERR_KEEP: usize = 20_000;

pub struct OidcProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    child: Child,
}

impl OidcProvider {
    /// Start the provider and wait until it reports its issuer.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// Same, with authorization codes that expire after `seconds` (for expired-code tests).
    pub fn start_with_code_ttl(seconds: u64) -> Self {
        Self::spawn(Some(seconds))
    }

    fn spawn(code_ttl: Option<u64>) -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert!(
            root.join("node_modules/oidc-provider/package.json").is_file(),
            "the npm package oidc-provider is not installed in {}: run npm ci (scripts/test does)",
            root.display()
        );

        let mut command = Command::new("node");
        command
            .arg(SCRIPT)
            .current_dir(root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match code_ttl {
            Some(seconds) => command.env("TESSERA_TEST_OIDC_CODE_TTL", seconds.to_string()),
            None => command.env_remove("TESSERA_TEST_OIDC_CODE_TTL"),
        };
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                panic!("cannot start the test OpenID provider: node is not on PATH (install Node.js 20 or newer, then run npm ci; scripts/test does)")
            }
            Err(error) => panic!("cannot start the test OpenID provider (node {SCRIPT}): {error}"),
        };

        // stderr: kept for the failure message and echoed (libtest shows it for failing tests).
        let stderr_log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::clone(&stderr_log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[oidc provider] {line}");
                let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                log.push_str(&line);
                log.push('\n');
                if log.len() > STDERR_KEEP {
                    let cut = log.len() - STDERR_KEEP;
                    let cut = (cut..log.len()).find(|&i| log.is_char_boundary(i)).unwrap_or(log.len());
                    log.drain(..cut);
                }
            }
        });

        // stdout: exactly one JSON line once the provider listens.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let result = reader.read_line(&mut line).map(|_| line);
            let _ = sender.send(result);
            // Keep draining so the child never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });

        let line = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) if !line.trim().is_empty() => line,
            outcome => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                // Give the stderr reader a moment to collect the last lines.
                thread::sleep(Duration::from_millis(200));
                let why = match outcome {
                    Err(_) => format!("no issuer line within {} s", START_TIMEOUT.as_secs()),
                    Ok(Err(error)) => format!("cannot read its stdout: {error}"),
                    Ok(Ok(_)) => format!("it exited ({status}) without printing its issuer"),
                };
                let log = stderr_log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                panic!(
                    "the test OpenID provider (node {SCRIPT}) did not start: {why}.\n\
                     If a package is missing, run npm ci (scripts/test does).\n--- its stderr:\n{log}"
                );
            }
        };

        let parsed: serde_json::Value = serde_json::from_str(line.trim()).unwrap_or_else(|error| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the test OpenID provider printed {line:?}, not JSON: {error}")
        });
        let field = |name: &str| -> String {
            parsed[name]
                .as_str()
                .unwrap_or_else(|| panic!("the test OpenID provider's line {line:?} has no string {name:?}"))
                .to_owned()
        };
        let (issuer, client_id, client_secret) =
            (field("issuer"), field("client_id"), field("client_secret"));

        OidcProvider { issuer, client_id, client_secret, child }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        // Closing stdin alone would also stop it; kill is immediate.
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
