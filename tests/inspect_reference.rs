//! The inspect step (one pass, no JSON tree) against the tree-based reader it replaced
//! (`fuzz/fuzz_targets/dom_reference.rs`, also the `request_policy` fuzz target's oracle), on
//! every request body the repository holds and on each of them cut and mutated byte by byte;
//! likewise the OpenAI Responses reader against its tree-based oracle
//! (`fuzz/fuzz_targets/responses_reference.rs`) on the corpus's Responses bodies.
// Test code: clippy.toml's allow-*-in-tests covers the helpers.
#![cfg(test)]

#[path = "../fuzz/fuzz_targets/dom_reference.rs"]
mod dom_reference;
#[path = "../fuzz/fuzz_targets/responses_reference.rs"]
mod responses_reference;

use llm_router::inspect::inspect;
use llm_router::responses;
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

/// `body`, and it cut at and with a byte deleted at up to 64 places: truncations, broken
/// strings, missing commas and quotes, the errors a fuzzer starts from.
fn variants(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![body.to_vec()];
    let step = (body.len() / 64).max(1);
    for at in (0..body.len()).step_by(step) {
        out.push(body[..at].to_vec());
        let mut v = body.to_vec();
        v.remove(at);
        out.push(v);
    }
    out
}

#[test]
fn inspect_reads_what_the_tree_reader_read() {
    let mut checked = 0;
    for v in bodies().iter().flat_map(|b| variants(b)) {
        dom_reference::check(&v, &inspect(&v).map(|i| i.request));
        checked += 1;
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

fn responses_bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in include_str!("corpus/cases.jsonl").lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let req = &row["request"];
        if req["path"] != "/v1/responses" {
            continue;
        }
        if let Some(s) = req["body"].as_str() {
            out.push(s.as_bytes().to_vec());
        } else if !req["body_json"].is_null() {
            out.push(req["body_json"].to_string().into_bytes());
        }
    }
    assert!(out.len() >= 30, "{} Responses bodies in the corpus", out.len());
    out.extend(
        [
            r#"{"model":"a","input":"x","model":"b","stream":null,"instructions":null}"#,
            r#"{"model":"a","input":[{"content":[{"text":"t","type":"input_text"},{"type":"output_text","text":3},"s",[],{}]}]}"#,
            r#"{"model":"a","input":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"o"},{"type":"refusal","refusal":"r"}]}]}"#,
            r#"{"model":"a","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"42"}]}"#,
            r#"{"model":"a","input":[{"type":"function_call_output","output":[{"type":"input_text","text":"x"}]},{"type":"function_call_output"}]}"#,
            r#"{"model":"a","input":[{"type":"reasoning","content":7},{"type":"item_reference","id":"msg_1"},{"type":5,"content":"t"}]}"#,
            r#"{"model":"a","input":[{"role":"developer","content":"d"},{"role":7,"content":null},{"content":[{"type":"input_image"},{"type":"input_file"}]}]}"#,
            r#"{"model":"a","tools":[{},{}],"tools":{},"max_output_tokens":-1,"max_output_tokens":18446744073709551615}"#,
            r#"{"model":"a","previous_response_id":"resp_1","previous_response_id":null,"conversation":{"id":"c"}}"#,
            r#"{"model":"\u0061","input":"\ud83d\ude00\n","instructions":"\u0069"}"#,
            r#"{"model":"a","input":[1,{"content":2}]}"#,
            r#"{"model":"a","input":[{"content":2}],"stream":"x","instructions":3}"#,
            "  {\"model\":\"a\",\"input\":[]}\n\t ",
        ]
        .map(|s| s.as_bytes().to_vec()),
    );
    out
}

#[test]
fn the_responses_reader_reads_what_the_tree_reads() {
    let mut checked = 0;
    for v in responses_bodies().iter().flat_map(|b| variants(b)) {
        responses_reference::check(&v, &responses::inspect(&v).map(|i| i.request));
        checked += 1;
    }
    assert!(checked > 3_000, "{checked}");
    eprintln!("responses::inspect == tree reader on {checked} bodies");
}

#[test]
fn every_routable_responses_body_rewrites_to_the_same_request_with_the_new_model() {
    for body in responses_bodies() {
        let Ok(read) = responses::inspect(&body) else { continue };
        let out = rewrite(&body, &read.spans, Edit { model: Some("routed-model"), add_usage: false }).unwrap();
        let again = responses::inspect(&out.body).unwrap();
        let (mut want, stateful) = responses_reference::read(&body).unwrap();
        want.model = "routed-model".to_string();
        assert_eq!(dom_reference::Seen::from(&again.request), want);
        assert_eq!(again.request.stateful, stateful);
        assert_eq!(out.model, again.spans.model);
    }
}
