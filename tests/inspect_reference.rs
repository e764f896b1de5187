//! The inspect step (one pass, no JSON tree) against the tree-based reader it replaced
//! (`fuzz/fuzz_targets/dom_reference.rs`, also the `request_policy` fuzz target's oracle), on
//! every request body the repository holds and on each of them cut and mutated byte by byte.
// Test code: clippy.toml's allow-*-in-tests covers the helpers.
#![cfg(test)]

#[path = "../fuzz/fuzz_targets/dom_reference.rs"]
mod dom_reference;

use llm_router::inspect::inspect;
use llm_router::splice::{rewrite, Edit};

fn bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for text in [
        include_str!("corpus/cases.jsonl"),
        include_str!("data/parity_sample.jsonl"),
        include_str!("data/routing_sanity.jsonl"),
    ] {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            let body = row.get("request").map(|r| r.get("body").unwrap_or(r)).unwrap();
            out.push(match body.as_str() {
                Some(s) => s.as_bytes().to_vec(),
                None => body.to_string().into_bytes(),
            });
        }
    }
    let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/request_policy");
    for entry in std::fs::read_dir(seeds).unwrap() {
        out.push(std::fs::read(entry.unwrap().path()).unwrap());
    }
    out.extend(
        [
            r#"{"model":"a","messages":[{"role":"user","content":"x"}],"model":"b","stream":null}"#,
            r#"{"model":"a","messages":[{"content":[{"text":"t","type":"text"},{"type":"text","text":3},"s",[],{}]}]}"#,
            r#"{"model":"a","messages":[],"stream_options":{"include_usage":true,"include_usage":false}}"#,
            r#"{"model":"a","messages":[],"response_format":[{"type":"json"}],"tools":{},"functions":[1,2]}"#,
            r#"{"model":"a","messages":[],"max_completion_tokens":-1,"max_tokens":18446744073709551615}"#,
            r#"{"model":"\u0061","messages":[{"role":"\u0075ser","content":"\ud83d\ude00\n"}]}"#,
            r#"{"model":"a","messages":[1,{"content":2}]}"#,
            r#"{"model":"a","messages":[{"content":[{"type":"input_text","text":"q"},{"type":"input_image"},{"type":"image"},{"type":"file"}],"tool_calls":[{},{}]}]}"#,
            r#"{"model":"a","messages":[{"role":"developer","content":"d"},{"role":"function","content":null},{"role":"tool"},{"role":"assistant"}]}"#,
            "  {\"model\":\"a\",\"messages\":[]}\n\t ",
        ]
        .map(|s| s.as_bytes().to_vec()),
    );
    out
}

#[test]
fn inspect_reads_what_the_tree_reader_read() {
    let mut checked = 0;
    for body in bodies() {
        let mut variants = vec![body.clone()];
        // Cut at and delete a byte from up to 64 places: truncations, broken strings, missing
        // commas and quotes, the errors a fuzzer starts from.
        let step = (body.len() / 64).max(1);
        for at in (0..body.len()).step_by(step) {
            variants.push(body[..at].to_vec());
            let mut v = body.clone();
            v.remove(at);
            variants.push(v);
        }
        for v in &variants {
            dom_reference::check(v, &inspect(v).map(|i| i.request));
            checked += 1;
        }
    }
    assert!(checked > 10_000, "{checked}");
    eprintln!("inspect == tree reader on {checked} bodies");
}

#[test]
fn every_routable_body_rewrites_to_the_same_request_with_the_new_model() {
    for body in bodies() {
        let Ok(read) = inspect(&body) else { continue };
        let stream = read.request.stream;
        let edit = Edit { model: Some("routed-model"), add_usage: stream && !read.request.include_usage };
        let out = rewrite(&body, &read.spans, edit).unwrap();
        let again = inspect(&out.body).unwrap();
        let mut want = dom_reference::Seen::from(&read.request);
        want.model = "routed-model".to_string();
        want.include_usage |= edit.add_usage;
        assert_eq!(dom_reference::Seen::from(&again.request), want);
        assert_eq!(out.model, again.spans.model);
    }
}
