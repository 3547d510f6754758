use std::process::Command;

use tessera::credentials::Plan;

use crate::helpers::*;

#[tokio::test]
async fn without_a_new_key_the_card_shows_the_placeholder() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    for path in [tokens_path(&acme), keys_path(&acme)] {
        let html = app.sign_in(&acme.member).await.get(&path).await.text().await.unwrap();
        assert_eq!(texts(&html, ".setup .key-source"), ["Generate or rotate a key"], "{path}");
        assert!(texts(&html, ".setup .facts dd code").contains(&"http://api.example.test".to_owned()));
        let shell = texts_raw(&html, "#setup-shell");
        assert!(shell.contains("export TESSERA_API_KEY='<new-api-key>'"), "{shell}");
    }
}

#[tokio::test]
async fn the_minting_response_carries_the_key_in_valid_bash_and_json() {
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    let alice = app.sign_in(&acme.owner).await;
    let html = alice
        .post(
            &keys_path(&acme),
            &[("name", "setup test"), ("permissions", "read"), ("expiry", "30"), ("active", "on")],
        )
        .await
        .text()
        .await
        .unwrap();
    let plain = texts(&html, "#new-secret").remove(0);
    assert_eq!(texts(&html, ".setup .key-source"), ["New one-time key included"]);

    let shell = texts_raw(&html, "#setup-shell");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("setup.sh");
    std::fs::write(&script, &shell).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
    // Run it with curl replaced by a function that prints its arguments.
    let probe = format!(
        "curl() {{ printf 'CURL %s\\n' \"$@\"; }}; source {}; printf '%s|%s|%s|%s\\n' \"$TESSERA_API_URL\" \"$TESSERA_API_KEY\" \"$OPENAI_BASE_URL\" \"$OPENAI_API_KEY\"",
        script.display()
    );
    let run = Command::new("bash").arg("-c").arg(&probe).output().unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        out.contains(&format!("http://api.example.test|{plain}|http://api.example.test|{plain}")),
        "{out}"
    );
    assert!(out.contains(&format!("CURL Authorization: Bearer {plain}")), "{out}");
    assert!(out.contains("CURL http://api.example.test/api/v1/me"), "{out}");

    let json: serde_json::Value = serde_json::from_str(&texts_raw(&html, "#setup-json")).unwrap();
    assert_eq!(json, serde_json::json!({ "server": "http://api.example.test", "token": plain }));
    let ci = texts_raw(&html, "#setup-ci");
    assert!(ci.contains("${{ secrets.TESSERA_API_KEY }}") && !ci.contains(&plain), "{ci}");

    let later = alice.get(&keys_path(&acme)).await.text().await.unwrap();
    assert!(!later.contains(&plain), "only the minting response carries the key");
    assert_eq!(texts(&later, ".setup .key-source"), ["Generate or rotate a key"]);
}

/// Text of the first match, whitespace kept.
fn texts_raw(html: &str, selector: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse(selector).unwrap();
    doc.select(&sel).next().map(|e| e.text().collect()).unwrap_or_default()
}
