//! The layers of `src/`, top to bottom: a module imports only modules of lower layers (the
//! bottom layer's plain types may use one another). A new upward import fails here with the
//! file and the import, so the import graph of the crate's modules stays without circles.

use std::collections::BTreeSet;
use std::path::Path;

const LAYERS: &[&[&str]] = &[
    // The process: the server.
    &["startup"],
    // Its middleware: Host and header checks, the path and query guard, counting answers.
    &["edge"],
    // Adapters: the JSON API, the console, the operator commands and the demo seed.
    &["api", "features", "operator", "seed"],
    // The console's page chrome.
    &["views"],
    // Who is asking: sessions, CSRF, extractors.
    &["auth"],
    // What the console and the API share: the credential lifecycle and its inputs.
    &["service"],
    // What every handler shares.
    &["state"],
    // The hot path's in-memory state: verification cache, rate limits, usage.
    &["verification"],
    // Clients and helpers with no HTTP routes.
    &["metrics", "oidc", "html"],
    // Repositories, the only place with SQL.
    &["db"],
    // Plain types and settings.
    &[
        "domain",
        "credentials",
        "catalog",
        "config",
        "text",
        "email",
        "telemetry",
        "clock",
        "error",
        "routing",
        "urls",
    ],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level modules a file names through `crate::`, outside its tests.
fn imports(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`: the first segment of each entry.
            let end = group.find('}').unwrap_or(group.len());
            for entry in group[..end].split(',') {
                let name: String =
                    entry.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            found.insert(name);
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut unplaced = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
        if matches!(top.as_str(), "lib" | "main") {
            continue;
        }
        let Some(own) = layer_of(&top) else {
            unplaced.insert(top);
            continue;
        };
        for target in imports(&std::fs::read_to_string(file).unwrap()) {
            if target == top {
                continue;
            }
            let Some(layer) = layer_of(&target) else {
                unplaced.insert(target);
                continue;
            };
            let bottom = layer == LAYERS.len() - 1 && own == layer;
            if layer < own || (layer == own && !bottom) {
                wrong.push(format!(
                    "{} imports crate::{target} ({})",
                    relative.display(),
                    LAYERS[layer].join(", ")
                ));
            }
        }
    }
    assert!(unplaced.is_empty(), "modules with no layer in tests/api/layers.rs: {unplaced:?}");
    assert!(wrong.is_empty(), "imports that go up or sideways:\n{}", wrong.join("\n"));
}

#[test]
fn the_import_reader_sees_grouped_and_nested_paths() {
    let seen = imports(
        "use crate::{edge, features::x};\nfn f() { crate::db::run(); }\n#[cfg(test)]\nuse crate::api;",
    );
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["db", "edge", "features"]);
}
