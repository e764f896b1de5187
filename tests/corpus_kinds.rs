//! The bad-input corpus (`tests/corpus/cases.jsonl`) read natively: every case whose body is in
//! the manifest as text or JSON (not generated, not base64) is inspected with its API's reader,
//! and the error kind the case expects from real Envoy must be the reader's, or the body must
//! read when the case expects it routed. This catches a wrong expectation in seconds; the real
//! Envoy run (`tests/integration/test_corpus.py`) checks everything else about each case.
// The whole crate is test code, helpers included, so clippy.toml's allow-*-in-tests covers it.
#![cfg(test)]

use llm_router::api::Api;
use serde_json::Value;

const CORPUS: &str = include_str!("corpus/cases.jsonl");

/// Error kinds the reader decides (the others come from the flow: sizes, empty bodies).
const READER_KINDS: [&str; 6] = ["invalid_json", "too_deep", "not_object", "bad_model", "bad_messages", "bad_stream"];

fn body_of(request: &Value) -> Option<Vec<u8>> {
    if let Some(text) = request.get("body").and_then(Value::as_str) {
        return Some(text.as_bytes().to_vec());
    }
    if let Some(json) = request.get("body_json") {
        return Some(serde_json::to_vec(json).unwrap());
    }
    let gen = request.get("body_gen")?;
    (gen["kind"] == "raw").then(|| gen["text"].as_str().unwrap().as_bytes().to_vec())
}

#[test]
fn corpus_error_kinds_are_the_readers() {
    let mut checked = std::collections::BTreeMap::<String, usize>::new();
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).unwrap();
        let name = case["name"].as_str().unwrap();
        let api = Api::from_label(case["api"].as_str().unwrap()).unwrap_or_else(|| panic!("{name}: unknown api"));
        let (request, expect) = (&case["request"], &case["expect"]);
        let path = request["path"].as_str().unwrap();
        if request["method"] != "POST" || !path.starts_with(api.default_path()) {
            continue;
        }
        let Some(body) = body_of(request) else { continue };
        let read = api.inspect(&body).map(|_| ()).map_err(|e| e.kind());
        match expect["error_kind"].as_str() {
            Some(kind) if READER_KINDS.contains(&kind) => assert_eq!(read, Err(kind), "{name}"),
            Some(_) => continue,
            None if expect["upstream_body"] == "rewritten" || expect["account"].is_string() => {
                assert_eq!(read, Ok(()), "{name}")
            }
            None => continue,
        }
        *checked.entry(api.label().to_string()).or_default() += 1;
    }
    // Most of each API's cases have their body in the manifest.
    for api in Api::ALL {
        assert!(checked.get(api.label()).copied().unwrap_or(0) >= 30, "{checked:?}");
    }
}
