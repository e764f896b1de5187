//! "No panics by construction", checked: the clippy lints that forbid panicking constructs are
//! denied workspace-wide, every crate (core and filter) inherits them, the core forbids
//! `unsafe`, and the only places that allow the lints are test code.
//!
//! `scripts/test.sh` runs `cargo clippy --workspace --all-targets -- -D warnings`, which then
//! fails on any `unwrap`, `expect`, `panic!` or indexing/slicing outside tests. Tests get the
//! exception from `clippy.toml` (`allow-*-in-tests`), not from attributes.
// The whole crate is test code, helpers included, so clippy.toml's allow-*-in-tests covers it.
#![cfg(test)]

use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const DENIED: [&str; 4] = ["unwrap_used", "expect_used", "panic", "indexing_slicing"];

fn read(rel: &str) -> String {
    fs::read_to_string(Path::new(ROOT).join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The lines of a TOML `[section]` (up to the next section header).
fn section<'a>(toml: &'a str, name: &str) -> Vec<&'a str> {
    let header = format!("[{name}]");
    let mut lines = toml.lines().map(str::trim).skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "no {header} section");
    lines.take_while(|l| !l.starts_with('[')).filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

#[test]
fn panicking_constructs_are_denied_for_the_whole_workspace() {
    let root = read("Cargo.toml");
    let lints = section(&root, "workspace.lints.clippy");
    for lint in DENIED {
        assert!(
            lints.contains(&format!("{lint} = \"deny\"").as_str()),
            "[workspace.lints.clippy] must deny {lint}: {lints:?}"
        );
    }
    for manifest in ["Cargo.toml", "filters/llm-router/Cargo.toml", "web/Cargo.toml"] {
        let text = read(manifest);
        assert_eq!(section(&text, "lints"), vec!["workspace = true"], "{manifest} must inherit the workspace lints");
    }
    let members = section(&root, "workspace");
    assert!(members.iter().any(|l| l.starts_with("members") && l.contains("filters/llm-router")), "{members:?}");
}

#[test]
fn clippy_toml_allows_the_lints_in_tests_only() {
    let toml = read("clippy.toml");
    let settings: Vec<&str> = toml.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    for lint in DENIED {
        let key = format!("allow-{}-in-tests = true", lint.trim_end_matches("_used").replace('_', "-"));
        assert!(settings.contains(&key.as_str()), "clippy.toml must have `{key}`: {settings:?}");
    }
}

#[test]
fn the_core_forbids_unsafe_code() {
    for root in ["src/lib.rs", "src/bin/llm-router.rs", "web/src/lib.rs"] {
        assert!(
            read(root).lines().any(|l| l.trim() == "#![forbid(unsafe_code)]"),
            "{root} must have #![forbid(unsafe_code)]"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Modules that `src/lib.rs` declares only under `#[cfg(test)]`.
fn test_only_modules() -> Vec<String> {
    let lib = read("src/lib.rs");
    let lines: Vec<&str> = lib.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0] == "#[cfg(test)]")
        .filter_map(|w| w[1].strip_prefix("mod ").or_else(|| w[1].strip_prefix("pub mod ")))
        .map(|m| format!("{}.rs", m.trim_end_matches(';')))
        .collect()
}

#[test]
fn the_lints_are_only_allowed_in_test_code() {
    let test_modules = test_only_modules();
    assert!(test_modules.contains(&"fake_host.rs".to_string()), "{test_modules:?}");
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    rust_files(&Path::new(ROOT).join("filters/llm-router/src"), &mut files);
    rust_files(&Path::new(ROOT).join("web/src"), &mut files);
    assert!(files.len() > 10, "{files:?}");
    let mut offenders = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if file.parent().is_some_and(|p| p.ends_with("src")) && test_modules.contains(&name) {
            continue;
        }
        let text = fs::read_to_string(file).unwrap();
        for (line, attr) in lint_attributes(&text) {
            // As before: code after the file's first `#[cfg(test)]` counts as test code.
            let in_tests = text.lines().take(line).any(|l| l.trim() == "#[cfg(test)]");
            let relaxes = DENIED.iter().any(|lint| attr.contains(&format!("clippy::{lint}")));
            if relaxes && !in_tests {
                offenders.push(format!("{}:{line}: {attr}", file.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "panicking lints allowed outside #[cfg(test)] code:\n{}", offenders.join("\n"));
}

/// Every `allow`/`expect` lint attribute in `text` with the (1-based) line it starts on, joined
/// into one line however it is wrapped: `#![allow(` alone on a line, its lints on the next.
fn lint_attributes(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some((start, mut attr)) = open.take() {
            attr.push_str(l);
            if attr.contains(")]") {
                found.push((start, attr));
            } else {
                open = Some((start, attr));
            }
            continue;
        }
        let compact: String = l.chars().filter(|c| !c.is_whitespace()).collect();
        if ["#![allow(", "#[allow(", "#![expect(", "#[expect("].iter().any(|p| compact.starts_with(p)) {
            if compact.contains(")]") {
                found.push((i + 1, l.to_string()));
            } else {
                open = Some((i + 1, l.to_string()));
            }
        }
    }
    found.extend(open);
    found
}

#[test]
fn multi_line_lint_attributes_are_seen_whole() {
    let text = "fn a() {}\n#![allow(\n    clippy::unwrap_used,\n    clippy::panic\n)]\n#[allow(dead_code)]\n# ! [ expect ( clippy::indexing_slicing ) ]\n";
    let found = lint_attributes(text);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].0, 2);
    assert!(found[0].1.contains("clippy::unwrap_used") && found[0].1.contains("clippy::panic"), "{found:?}");
    assert_eq!(found[1], (6, "#[allow(dead_code)]".to_string()));
    assert!(found[2].1.contains("clippy::indexing_slicing"), "{found:?}");
}
