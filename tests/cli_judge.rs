//! `llm-router judge` against a stand-in OpenAI-compatible judge (a std TcpListener in this
//! test: 429 with retry-after, 503, malformed verdicts, good verdicts), `judge --heuristic`, and
//! `report --quality` on the hand-checked fixture, run as processes.
// The whole crate is test code, helpers included, so clippy.toml's allow-*-in-tests covers it.
#![cfg(test)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::run;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llm-router-judge-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn record(id: &str, routed: &str, reference: &str) -> Value {
    json!({
        "version": 1, "id": id, "time": "2026-12-02T05:30:00Z", "route": "chat", "api": "chat_completions",
        "customer": "acme", "tier": "cheap", "score": 0.3, "reason": "score", "json_requested": false,
        "prompt": format!("user: question {id}"), "prompt_truncated": false,
        "routed": {"model": "small", "text": routed, "text_truncated": false, "finish": "stop", "status": 200,
                   "input_tokens": 10, "output_tokens": 5, "cost_micro_usd": 10, "error": null},
        "reference": {"tier": "frontier", "model": "big", "text": reference, "text_truncated": false,
                      "finish": "stop", "status": 200, "input_tokens": 10, "output_tokens": 9,
                      "cost_micro_usd": 100, "error": null}
    })
}

fn failed_reference(id: &str) -> Value {
    let mut r = record(id, "answer", "");
    r["reference"] = json!({"tier": "frontier", "model": "big", "text": "", "text_truncated": false, "finish": null,
                            "status": 0, "input_tokens": null, "output_tokens": null, "cost_micro_usd": null,
                            "error": "timeout"});
    r
}

fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| r.to_string() + "\n").collect()
}

/// Calls per record id, with the instant of each.
type Calls = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

fn respond(stream: &mut std::net::TcpStream, status: &str, extra: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

fn completion(content: &str) -> String {
    json!({"id": "x", "object": "chat.completion", "model": "judge-test",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]})
    .to_string()
}

/// The stand-in judge. By the record id in the prompt: `rate*` gets a 429 with `retry-after: 1`
/// first, `flaky*` a 503 first, `garbage*` never a JSON verdict, others answer "A" (or "tie"
/// for `tie*`; `slow*` after 200 ms). A request without the expected key gets a 401, one for
/// another model a 400.
fn judge_server() -> (String, Calls) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let calls: Calls = Arc::default();
    let seen = calls.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut length, mut authorized, mut request_line) = (0usize, false, String::new());
            reader.read_line(&mut request_line).unwrap();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                authorized |= lower.trim() == "authorization: bearer test-key";
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap();
            let user = body["messages"][1]["content"].as_str().unwrap_or("");
            let id = user.split("question ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("").to_string();
            if id.starts_with("slow") {
                std::thread::sleep(Duration::from_millis(200));
            }
            let n = {
                let mut calls = seen.lock().unwrap();
                let at = calls.entry(id.clone()).or_default();
                at.push(Instant::now());
                at.len()
            };
            if !authorized {
                respond(&mut stream, "401 Unauthorized", "", "{\"error\": {\"message\": \"bad key\"}}");
            } else if !request_line.starts_with("POST /v1/chat/completions ")
                || !(body["model"] == "judge-test" || body["model"] == "judge-reasoning")
            {
                respond(&mut stream, "400 Bad Request", "", "{\"error\": {\"message\": \"no such model\"}}");
            } else if body["model"] == "judge-reasoning"
                && (body.get("temperature").is_some() || body.get("max_tokens").is_some())
            {
                // What OpenAI's reasoning models answer to those parameters.
                let refusal = "{\"error\": {\"message\": \"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.\", \"type\": \"invalid_request_error\", \"param\": \"max_tokens\", \"code\": \"unsupported_parameter\"}}";
                respond(&mut stream, "400 Bad Request", "", refusal);
            } else if id.starts_with("rate") && n == 1 {
                respond(&mut stream, "429 Too Many Requests", "retry-after: 1\r\n", "{\"error\": {}}");
            } else if id.starts_with("flaky") && n == 1 {
                respond(&mut stream, "503 Service Unavailable", "", "{\"error\": {}}");
            } else if id.starts_with("garbage") {
                respond(&mut stream, "200 OK", "", &completion("I think answer A is better."));
            } else if id.starts_with("tie") {
                respond(&mut stream, "200 OK", "", &completion("{\"verdict\": \"tie\", \"reason\": \"same\"}"));
            } else {
                let fenced = "```json\n{\"verdict\": \"A\", \"reason\": \"A is right\"}\n```";
                respond(&mut stream, "200 OK", "", &completion(fenced));
            }
        }
    });
    (url, calls)
}

/// `llm-router judge ARGS` with the OpenAI variables of the environment removed.
fn judge(args: &[&str], stdin: &str) -> (String, String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .arg("judge")
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("LLM_ROUTER_JUDGE_BASE_URL")
        .env_remove("LLM_ROUTER_JUDGE_API_KEY")
        .env("LLM_ROUTER_JUDGE_MODEL", "judge-test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap(), out.status.success())
}

fn output_by_id(path: &PathBuf) -> HashMap<String, Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut by_id = HashMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(by_id.insert(v["id"].as_str().unwrap().to_string(), v).is_none(), "an id written twice");
    }
    by_id
}

/// A stand-in judge, and the output and input paths of a test in its own directory.
fn setup(name: &str) -> (String, Calls, PathBuf, PathBuf) {
    let (url, calls) = judge_server();
    let dir = temp_dir(name);
    (url, calls, dir.join("judged.jsonl"), dir.join("samples.jsonl"))
}

#[test]
fn judge_retries_gives_up_on_malformed_output_and_resumes() {
    let (url, calls, out, input) = setup("model");
    let records = [
        record("good-1", "Paris.", "Paris is the capital."),
        record("rate-1", "4", "2 + 2 = 4"),
        record("flaky-1", "yes", "Yes."),
        record("garbage-1", "x", "y"),
        record("tie-1", "a", "b"),
        failed_reference("failed-1"),
    ];
    let mut text = jsonl(&records);
    text += "not json\n";
    text += &record("good-1", "dup", "dup").to_string();
    text += "\n";
    std::fs::write(&input, &text).unwrap();
    let common = ["--output", out.to_str().unwrap(), "--base-url", &url, "--api-key", "test-key"];
    let mut args = vec![input.to_str().unwrap()];
    args.extend(common);
    args.extend(["--max-attempts", "3", "--backoff-ms", "20", "--concurrency", "3"]);
    let (_, err, ok) = judge(&args, "");
    assert!(ok, "{err}");
    assert!(err.contains("line 7: skipped: not json"), "{err}");
    assert!(err.contains("6 written"), "{err}");
    assert!(err.contains("1 duplicate id, 1 invalid line(s)"), "{err}");
    // Non-terminal stderr: plain progress lines, no carriage returns.
    assert!(err.contains("judged 6/6:") && !err.contains('\r'), "{err}");

    let by_id = output_by_id(&out);
    assert_eq!(by_id.len(), 6);
    for id in ["good-1", "rate-1", "flaky-1"] {
        let j = &by_id[id]["judgement"];
        // The judge said "A": a win when the routed answer was A, a loss when it was swapped to B.
        let expected = if j["swapped"] == true { "loss" } else { "win" };
        assert_eq!(j["verdict"], expected, "{id}: {j}");
        assert_eq!(j["judge"], "judge-test");
        assert_eq!(j["reason"], "A is right");
        // The input record is kept whole.
        assert_eq!(by_id[id]["routed"], records.iter().find(|r| r["id"] == id).unwrap()["routed"]);
    }
    assert_eq!(by_id["good-1"]["judgement"]["attempts"], 1);
    assert_eq!(by_id["rate-1"]["judgement"]["attempts"], 2);
    assert_eq!(by_id["flaky-1"]["judgement"]["attempts"], 2);
    assert_eq!(by_id["tie-1"]["judgement"]["verdict"], "tie");
    let garbage = &by_id["garbage-1"]["judgement"];
    assert_eq!(garbage["verdict"], Value::Null);
    assert_eq!(garbage["attempts"], 3);
    assert!(garbage["error"].as_str().unwrap().contains("no JSON object"), "{garbage}");
    let failed = &by_id["failed-1"]["judgement"];
    assert_eq!((failed["verdict"].clone(), failed["attempts"].clone()), (Value::Null, json!(0)));
    assert_eq!(failed["error"], "reference failed: timeout");
    {
        let calls = calls.lock().unwrap();
        let count = |id: &str| calls.get(id).map_or(0, Vec::len);
        assert_eq!(
            [count("good-1"), count("rate-1"), count("flaky-1"), count("garbage-1"), count("failed-1")],
            [1, 2, 2, 3, 0]
        );
        // retry-after: 1 was honoured.
        let rate = &calls["rate-1"];
        assert!(rate[1] - rate[0] >= Duration::from_millis(950), "{:?}", rate[1] - rate[0]);
    }

    // A run killed mid-write left half a line; the restart cuts it, judges that record and the
    // new one, and calls the judge for nothing else.
    let mut partial = std::fs::read_to_string(&out).unwrap();
    let half = record("good-2", "p", "q").to_string();
    partial += &half[..half.len() / 2];
    std::fs::write(&out, partial).unwrap();
    let more = jsonl(&[record("good-2", "p", "q"), record("good-3", "r", "s")]);
    let mut args = vec!["-"];
    args.extend(common);
    let (_, err, ok) = judge(&args, &(text + &more));
    assert!(ok, "{err}");
    assert!(err.contains("cutting off an unfinished last line"), "{err}");
    // The 6 records of the first run, and the duplicate good-1 line, are already in the output.
    assert!(err.contains("2 written") && err.contains("7 already in"), "{err}");
    let by_id = output_by_id(&out);
    assert_eq!(by_id.len(), 8);
    let calls = calls.lock().unwrap();
    assert_eq!(calls.values().map(Vec::len).sum::<usize>(), 9 + 2);
    assert_eq!((calls["good-1"].len(), calls["good-2"].len(), calls["good-3"].len()), (1, 1, 1));
}

#[test]
fn a_killed_run_resumes_without_losing_or_repeating_records() {
    let (url, calls, out, input) = setup("kill");
    let records: Vec<Value> = (0..8).map(|i| record(&format!("slow-{i}"), "a", "b")).collect();
    std::fs::write(&input, jsonl(&records)).unwrap();
    let args = [
        "judge",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--base-url",
        &url,
        "--api-key",
        "test-key",
        "--concurrency",
        "1",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .args(args)
        .env("LLM_ROUTER_JUDGE_MODEL", "judge-test")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let lines = || std::fs::read_to_string(&out).map_or(0, |t| t.lines().count());
    while lines() < 3 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = lines();
    assert!((3..8).contains(&written), "{written} records written before the kill");
    let (_, err, ok) = judge(&args[1..], "");
    assert!(ok, "{err}");
    assert!(err.contains(&format!("{} written", 8 - written)), "{err}");
    assert_eq!(output_by_id(&out).len(), 8);
    // Each record was judged once, except at most the one in flight when the run was killed.
    let total: usize = calls.lock().unwrap().values().map(Vec::len).sum();
    assert!((8..=9).contains(&total), "{total} judge calls");
}

#[test]
fn judge_stops_on_a_refused_key_and_records_other_failures() {
    let (url, _) = judge_server();
    let dir = temp_dir("fatal");
    let input = jsonl(&[record("good-1", "a", "b"), record("good-2", "c", "d")]);
    // 401: no record can be judged; the run stops with exit 1 and writes no verdict.
    let out = dir.join("judged.jsonl");
    let (_, err, ok) = judge(&["--output", out.to_str().unwrap(), "--base-url", &url, "--api-key", "wrong"], &input);
    assert!(!ok && err.contains("stopped: judge endpoint") && err.contains("answered 401"), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
    // 400 (another model): that record gets an error and no verdict; the run goes on.
    let out = dir.join("judged-400.jsonl");
    let (_, err, ok) = judge(
        &["--output", out.to_str().unwrap(), "--base-url", &url, "--api-key", "test-key", "--model", "other"],
        &input,
    );
    assert!(ok, "{err}");
    let by_id = output_by_id(&out);
    assert_eq!(by_id["good-2"]["judgement"]["verdict"], Value::Null);
    assert!(by_id["good-1"]["judgement"]["error"].as_str().unwrap().starts_with("judge status 400"));
    // An unreachable endpoint is retried, then recorded as an error, never a verdict.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/v1", closed.local_addr().unwrap());
    drop(closed);
    let out = dir.join("judged-dead.jsonl");
    let (_, err, ok) = judge(
        &["--output", out.to_str().unwrap(), "--base-url", &dead, "--max-attempts", "2", "--backoff-ms", "1"],
        &input,
    );
    assert!(ok, "{err}");
    let j = &output_by_id(&out)["good-1"]["judgement"];
    assert_eq!((j["verdict"].clone(), j["attempts"].clone()), (Value::Null, json!(2)));
}

#[test]
fn a_reasoning_judge_gets_max_completion_tokens_with_reasoning() {
    let (url, _) = judge_server();
    let dir = temp_dir("reasoning");
    let input = jsonl(&[record("good-1", "a", "b")]);
    let run = |out: &PathBuf, extra: &[&str]| {
        let mut args = vec!["--output", out.to_str().unwrap(), "--base-url", &url, "--api-key", "test-key"];
        args.extend_from_slice(&["--model", "judge-reasoning"]);
        args.extend_from_slice(extra);
        let (_, err, ok) = judge(&args, &input);
        assert!(ok, "{err}");
        output_by_id(out)["good-1"]["judgement"].clone()
    };
    // Without the flag the model refuses the parameters: an error per record, never a verdict.
    let plain = run(&dir.join("plain.jsonl"), &[]);
    assert_eq!(plain["verdict"], Value::Null);
    assert!(plain["error"].as_str().unwrap().contains("max_completion_tokens"), "{plain}");
    let judged = run(&dir.join("reasoning.jsonl"), &["--reasoning"]);
    assert!(judged["verdict"].is_string() && judged["error"].is_null(), "{judged}");
}

#[test]
fn judge_needs_a_model_unless_heuristic_and_has_help() {
    let (out, _, ok) = run(&["judge", "--help"], "");
    assert!(ok && out.contains("--heuristic") && out.contains("LLM_ROUTER_JUDGE_MODEL"), "{out}");
    let dir = temp_dir("usage");
    let path = dir.join("o.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .args(["judge", "--output", path.to_str().unwrap()])
        .env_remove("LLM_ROUTER_JUDGE_MODEL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("a judge model is needed"));
    let (_, err, ok) = run(&["judge", "--heuristic", "--model", "m", "--output", path.to_str().unwrap()], "");
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}

#[test]
fn heuristic_end_to_end() {
    let dir = temp_dir("heuristic");
    let out = dir.join("judged.jsonl");
    let mut refusal = record("refusal", "I'm sorry, but I can't help with that.", "Here is how: ...");
    refusal["score"] = json!(0.9);
    let mut cut = record("cut", "Once upon a", "Once upon a time there was a router.");
    cut["routed"]["finish"] = json!("length");
    let mut json_bad = record("json-bad", "{\"a\": ", "{\"a\": 1}");
    json_bad["json_requested"] = json!(true);
    let fine = record("fine", "Paris.", "The capital of France is Paris.");
    let input = jsonl(&[refusal, cut, json_bad, fine, failed_reference("failed")]);
    let (_, err, ok) = run(&["judge", "--heuristic", "--output", out.to_str().unwrap()], &input);
    assert!(ok, "{err}");
    assert!(
        err.contains("judge heuristic: 5 written (win 0 tie 1 loss 3 judge errors 0; reference failed 1)"),
        "{err}"
    );
    let by_id = output_by_id(&out);
    for (id, verdict) in [("refusal", "loss"), ("cut", "loss"), ("json-bad", "loss"), ("fine", "tie")] {
        assert_eq!(by_id[id]["judgement"]["verdict"], verdict, "{id}");
        assert_eq!(by_id[id]["judgement"]["judge"], "heuristic");
    }
    // The judged file feeds the quality report: 5 records, 4 judged, 3 losses.
    let (report, err, ok) = run(&["report", "--quality", out.to_str().unwrap(), "--format", "json"], "");
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&report).unwrap();
    assert_eq!((v["total"]["samples"].clone(), v["total"]["judged"].clone()), (json!(5), json!(4)));
    assert_eq!((v["total"]["loss"].clone(), v["total"]["reference_failed"].clone()), (json!(3), json!(1)));
}

#[test]
fn report_quality_on_the_fixture() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/quality_judged.jsonl");
    let (out, err, ok) = run(&["report", "--quality", fixture], "");
    assert!(ok, "{err}");
    assert!(err.contains("line 4: skipped: not json"), "{err}");
    assert!(out.starts_with("llm-router report --quality: 19 lines, 16 records; skipped: 2 invalid, 1 duplicate id"));
    // The numbers of src/report_quality_tests.rs, worked out by hand there.
    let row = out.lines().find(|l| l.starts_with("chat ") && l.contains(" cheap ")).unwrap();
    for cell in ["37.5%", "13.7-69.4%", "25.0%", "$0.0009", "$0.009", "$0.0081", "$0.024", "0.786", "0.143"] {
        assert!(row.contains(cell), "{cell} not in {row}");
    }
    let (json_out, _, ok) = run(&["report", "--quality", fixture, "--format", "json"], "");
    assert!(ok);
    let v: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v["total"]["saved_per_1k_requests_per_point_micro_usd"], 20_057);
    assert!((v["total"]["apgr"].as_f64().unwrap() - 7.375 / 12.0).abs() < 1e-9);
    let (_, err, ok) = run(&["report", "--quality", fixture, "--format", "csv"], "");
    assert!(!ok && err.contains("--quality renders as table or json"), "{err}");
    let (_, err, ok) = run(&["report", "--quality", fixture, "--budget", "x.json"], "");
    assert!(!ok && err.contains("cannot be used with"), "{err}");
}
