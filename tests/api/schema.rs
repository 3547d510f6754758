use std::collections::BTreeSet;
use std::path::Path;

fn migration_names(backend: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migration_names() {
    let sqlite = migration_names("sqlite");
    let postgres = migration_names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres, "migrations/sqlite and migrations/postgres must list the same migrations");
    for name in &sqlite {
        for backend in ["sqlite", "postgres"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend).join(name);
            assert!(dir.join("up.sql").is_file() && dir.join("down.sql").is_file(), "{backend}/{name}");
        }
    }
}
