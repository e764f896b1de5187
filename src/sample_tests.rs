use serde_json::{json, Value};

use super::*;

pub(crate) fn record() -> Value {
    json!({
        "version": 1, "id": "req-1", "time": "2026-12-02T05:30:00Z", "route": "chat", "api": "chat_completions",
        "customer": "acme", "tier": "cheap", "score": 0.42, "reason": "score", "json_requested": false,
        "prompt": "user: What is 2+2?", "prompt_truncated": false,
        "routed": {"model": "small", "text": "4", "text_truncated": false, "finish": "stop", "status": 200,
                   "input_tokens": 12, "output_tokens": 1, "cost_micro_usd": 20, "error": null},
        "reference": {"tier": "frontier", "model": "big", "text": "2+2 = 4.", "text_truncated": false,
                      "finish": "stop", "status": 200, "input_tokens": 12, "output_tokens": 6,
                      "cost_micro_usd": 300, "error": null}
    })
}

fn err_of(v: &Value) -> String {
    read_line(&v.to_string()).unwrap_err().to_string()
}

#[test]
fn reads_a_version_1_record_and_ignores_extra_members() {
    let mut v = record();
    v["future_member"] = json!({"x": 1});
    v["routed"]["latency_ms"] = json!(12);
    let (s, object) = read_line(&v.to_string()).unwrap();
    assert_eq!(s.id, "req-1");
    assert_eq!(s.api, Api::ChatCompletions);
    assert_eq!(s.score, Some(0.42));
    assert_eq!(s.time_unix_nanos, 1_796_189_400_000_000_000);
    assert_eq!(s.routed.finish, Some(Finish::Stop));
    assert_eq!(s.routed.cost_micro_usd, Some(20));
    assert_eq!(s.reference_tier, "frontier");
    assert_eq!(s.reference.model, "big");
    assert!(s.reference.succeeded());
    // The object keeps every member, for writers that copy it.
    assert_eq!(object["future_member"]["x"], 1);
}

#[test]
fn a_failed_reference_reads_as_failed() {
    let mut v = record();
    v["reference"] = json!({"tier": "frontier", "model": "big", "text": "", "text_truncated": false, "finish": null,
                            "status": 0, "input_tokens": null, "output_tokens": null, "cost_micro_usd": null,
                            "error": "timeout"});
    let (s, _) = read_line(&v.to_string()).unwrap();
    assert!(!s.reference.succeeded());
    assert_eq!(s.reference.failure().as_deref(), Some("timeout"));
    v["reference"]["error"] = Value::Null;
    v["reference"]["status"] = json!(503);
    let (s, _) = read_line(&v.to_string()).unwrap();
    assert_eq!(s.reference.failure().as_deref(), Some("status 503"));
}

#[test]
fn bad_records_say_what_is_wrong() {
    assert!(read_line("{\"version\": 1,").unwrap_err().to_string().starts_with("not json"));
    assert_eq!(read_line("[1]").unwrap_err(), SampleError::NotObject);
    let mut v = record();
    v["version"] = json!(2);
    assert_eq!(err_of(&v), "unsupported record version 2 (this reader knows version 1)");
    let mut v = record();
    v.as_object_mut().unwrap().remove("routed");
    assert!(err_of(&v).contains("missing field `routed`"), "{}", err_of(&v));
    let mut v = record();
    v["score"] = json!(1.5);
    assert_eq!(err_of(&v), "invalid `score`: 1.5 is outside 0..1");
    let mut v = record();
    v["routed"]["finish"] = json!("end_turn");
    assert!(err_of(&v).starts_with("invalid `routed.finish`: \"end_turn\""), "{}", err_of(&v));
    let mut v = record();
    v["reference"]["status"] = json!(70000);
    assert!(err_of(&v).starts_with("invalid `reference.status`"), "{}", err_of(&v));
    let mut v = record();
    v["api"] = json!("completions");
    assert!(err_of(&v).starts_with("invalid `api`"));
    let mut v = record();
    v["time"] = json!("yesterday");
    assert!(err_of(&v).starts_with("invalid `time`"));
    let mut v = record();
    v["id"] = json!(" ");
    assert_eq!(err_of(&v), "invalid `id`: empty");
    let mut v = record();
    v["routed"]["cost_micro_usd"] = json!(-5);
    assert!(err_of(&v).contains("invalid value"), "{}", err_of(&v));
}

#[test]
fn a_null_score_is_no_score() {
    let mut v = record();
    v["score"] = Value::Null;
    assert_eq!(read_line(&v.to_string()).unwrap().0.score, None);
}

#[test]
fn judged_records_round_trip_their_judgement() {
    let mut v = record();
    let (_, none) = read_judged(&v.to_string()).unwrap();
    assert_eq!(none, None);
    let j = Judgement {
        verdict: Some(Verdict::Loss),
        judge: "gpt-judge".into(),
        reason: "misses the point".into(),
        swapped: true,
        attempts: 2,
        error: None,
    };
    v["judgement"] = j.to_json();
    assert_eq!(read_judged(&v.to_string()).unwrap().1, Some(j));
    v["judgement"]["verdict"] = json!("better");
    assert!(read_judged(&v.to_string()).unwrap_err().to_string().starts_with("invalid `judgement.verdict`"));
    v["judgement"] = json!("win");
    assert!(read_judged(&v.to_string()).unwrap_err().to_string().starts_with("judgement:"));
}
