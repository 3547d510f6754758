//! The audit log is append-only: the database refuses to change or delete an entry, and no code
//! path tries to.

use diesel::prelude::*;
use tessera::credentials::Plan;

use crate::helpers::*;

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_audit_entries() {
    use tessera::db::schema::audit_log::dsl as a;
    let app = spawn_app().await;
    let acme = app.org("acme", Plan::Growth);
    app.token(&acme, TokenSpec::default());
    let before = app.audit();
    assert_eq!(before.len(), 1);
    let mut conn = app.conn();
    let update = diesel::update(a::audit_log).set(a::action.eq("nothing.happened")).execute(&mut conn);
    let delete = diesel::delete(a::audit_log.filter(a::id.eq(&before[0].id))).execute(&mut conn);
    let mut refusals = vec![("UPDATE", update), ("DELETE", delete)];
    if backend() == "postgres" {
        refusals.push(("TRUNCATE", diesel::sql_query("TRUNCATE audit_log").execute(&mut conn)));
    }
    for (what, outcome) in refusals {
        let error = outcome.expect_err(what).to_string();
        assert!(error.contains("audit_log is append-only"), "{what}: {error}");
    }
    drop(conn);
    let after = app.audit();
    assert_eq!(after.len(), 1);
    assert_eq!((&after[0].id, &after[0].action), (&before[0].id, &before[0].action));
    // Appending still works.
    app.token(&acme, TokenSpec { name: "second", ..Default::default() });
    assert_eq!(app.audit().len(), 2);
}

/// Every `diesel::update(…)` and `diesel::delete(…)` of the server's code, and what it names.
#[test]
fn no_code_path_updates_or_deletes_audit_entries() {
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    let mut files = Vec::new();
    sources(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut files);
    let mut writes = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Names the audit table goes by in this file: itself and any `audit_log as x` alias.
        let mut names = vec!["audit_log".to_owned()];
        for part in text.split("audit_log as ").skip(1) {
            names.push(part.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
        for call in ["diesel::update(", "diesel::delete(", "update(", "delete("] {
            for (at, _) in text.match_indices(call) {
                let argument: String = text[at + call.len()..].chars().take_while(|c| *c != ')').collect();
                let table = argument.trim().split([':', '.', ' ']).next().unwrap_or_default().to_owned();
                if call.starts_with("diesel::") {
                    writes += 1;
                }
                assert!(
                    !names.contains(&table) && !argument.contains("audit_log"),
                    "{} changes the audit log: {call}{argument})",
                    file.display()
                );
            }
        }
        assert!(
            !text.contains("DELETE FROM audit_log") && !text.contains("UPDATE audit_log"),
            "{}",
            file.display()
        );
    }
    assert!(writes > 5, "the scan found the code's other updates and deletes ({writes})");
}
