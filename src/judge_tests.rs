use serde_json::json;

use super::*;
use crate::sample::read_line;

/// An edit of the test record.
type Edit = fn(&mut serde_json::Value);

fn sample_with(edit: impl FnOnce(&mut serde_json::Value)) -> Sample {
    let mut v = crate::sample::tests::record();
    edit(&mut v);
    read_line(&v.to_string()).unwrap().0
}

#[test]
fn the_swap_is_a_stable_hash_of_the_id_and_splits_about_half() {
    assert_eq!(swapped("req-1"), swapped("req-1"));
    let n = (0..1000).filter(|i| swapped(&format!("req-{i}"))).count();
    // Binomial(1000, 0.5): 4.4 standard deviations either side.
    assert!((430..=570).contains(&n), "{n}");
}

#[test]
fn the_request_puts_the_routed_answer_in_the_slot_the_swap_says() {
    let s = sample_with(|v| {
        v["routed"]["text"] = json!("ROUTED");
        v["reference"]["text"] = json!("REFERENCE");
        v["reference"]["text_truncated"] = json!(true);
        v["json_requested"] = json!(true);
    });
    let body = request_body("judge-m", &s, false, false);
    assert_eq!(body["model"], "judge-m");
    assert_eq!(body["messages"][0]["content"], RUBRIC);
    let user = body["messages"][1]["content"].as_str().unwrap();
    assert!(user.find("ROUTED").unwrap() < user.find("REFERENCE").unwrap());
    assert!(user.contains("[User request] (the request asked for JSON output)\nuser: What is 2+2?"));
    assert!(
        user.contains("[Answer B] (the router capped this text for storage; the user saw more; finish reason: stop)")
    );
    let swapped_body = request_body("judge-m", &s, true, false);
    let user = swapped_body["messages"][1]["content"].as_str().unwrap();
    assert!(user.find("REFERENCE").unwrap() < user.find("ROUTED").unwrap());
    // Sampling parameters: a plain judge is asked for a deterministic, short answer; a
    // reasoning judge gets neither parameter it refuses, and room for its reasoning.
    assert_eq!((body["temperature"].clone(), body["max_tokens"].clone()), (json!(0), json!(MAX_VERDICT_TOKENS)));
    assert!(body.get("max_completion_tokens").is_none());
    let reasoning = request_body("judge-m", &s, false, true);
    assert!(reasoning.get("temperature").is_none() && reasoning.get("max_tokens").is_none(), "{reasoning}");
    assert_eq!(reasoning["max_completion_tokens"], json!(MAX_REASONING_JUDGE_TOKENS));
    assert_eq!(reasoning["messages"], body["messages"]);
}

#[test]
fn verdicts_are_read_from_the_routed_answers_point_of_view() {
    let a = r#"{"verdict": "A", "reason": "A is right"}"#;
    assert_eq!(parse_verdict(a, false).unwrap(), (Verdict::Win, "A is right".into()));
    assert_eq!(parse_verdict(a, true).unwrap().0, Verdict::Loss);
    let b = "```json\n{\"verdict\": \"b\", \"reason\": \" B \"}\n```";
    assert_eq!(parse_verdict(b, false).unwrap(), (Verdict::Loss, "B".into()));
    assert_eq!(parse_verdict(b, true).unwrap().0, Verdict::Win);
    assert_eq!(parse_verdict(r#"{"verdict":"tie"}"#, true).unwrap(), (Verdict::Tie, String::new()));
    let long = format!(r#"{{"verdict":"tie","reason":"{}"}}"#, "x".repeat(1000));
    assert_eq!(parse_verdict(&long, false).unwrap().1.len(), MAX_REASON_CHARS);
}

#[test]
fn malformed_verdicts_are_errors_never_guesses() {
    assert!(matches!(parse_verdict("A is better", false), Err(JudgeError::NoJson(_))));
    assert!(matches!(parse_verdict("{\"verdict\": \"A\"", false), Err(JudgeError::NoJson(_))));
    assert!(matches!(parse_verdict("} {", false), Err(JudgeError::NoJson(_))));
    assert_eq!(parse_verdict(r#"{"verdict": "both"}"#, false), Err(JudgeError::BadVerdict("both".into())));
    assert_eq!(parse_verdict(r#"{"winner": "A"}"#, false), Err(JudgeError::BadVerdict("(missing)".into())));
    assert_eq!(parse_verdict(r#"{"verdict": 1}"#, false), Err(JudgeError::BadVerdict("1".into())));
}

#[test]
fn completion_text_reads_the_first_choice() {
    let body = json!({"choices": [{"message": {"role": "assistant", "content": "{\"verdict\":\"tie\"}"}}]});
    assert_eq!(completion_text(&body.to_string()).unwrap(), "{\"verdict\":\"tie\"}");
    assert!(matches!(completion_text("{\"error\": {}}"), Err(JudgeError::NotCompletion(_))));
    assert!(matches!(completion_text("<html>"), Err(JudgeError::NotCompletion(_))));
}

#[test]
fn the_heuristic_finds_defects_and_otherwise_ties() {
    let tie = sample_with(|_| {});
    assert_eq!(heuristic(&tie).0, Verdict::Tie);
    let cases: [(&str, Edit); 7] = [
        ("failed: status 500", |v| v["routed"]["status"] = json!(500)),
        ("empty", |v| v["routed"]["text"] = json!("  ")),
        ("token limit", |v| v["routed"]["finish"] = json!("length")),
        ("content filter", |v| v["routed"]["finish"] = json!("content_filter")),
        ("refuses", |v| v["routed"]["text"] = json!("Sorry, I CAN'T HELP with that.")),
        ("not valid JSON", |v| {
            v["json_requested"] = json!(true);
            v["routed"]["text"] = json!("{\"a\": 1");
            v["reference"]["text"] = json!("{\"a\": 1}");
        }),
        ("39 characters against the reference's 200", |v| {
            v["routed"]["text"] = json!("y".repeat(39));
            v["reference"]["text"] = json!("x".repeat(200));
        }),
    ];
    for (why, edit) in cases {
        let (verdict, reason) = heuristic(&sample_with(edit));
        assert_eq!(verdict, Verdict::Loss, "{why}");
        assert!(reason.contains(why), "{why}: {reason}");
    }
}

#[test]
fn the_heuristic_does_not_blame_what_the_reference_shares_or_the_cap_causes() {
    let both_cut = sample_with(|v| {
        v["routed"]["finish"] = json!("length");
        v["reference"]["finish"] = json!("length");
    });
    assert_eq!(heuristic(&both_cut).0, Verdict::Tie);
    let both_refuse = sample_with(|v| {
        v["routed"]["text"] = json!("I cannot help with that.");
        v["reference"]["text"] = json!("I'm unable to do that.");
    });
    assert_eq!(heuristic(&both_refuse).0, Verdict::Tie);
    let capped_json = sample_with(|v| {
        v["json_requested"] = json!(true);
        v["routed"]["text"] = json!("{\"a\": [1, 2");
        v["routed"]["text_truncated"] = json!(true);
        v["reference"]["text"] = json!("{}");
    });
    assert_eq!(heuristic(&capped_json).0, Verdict::Tie);
    // At the bound: 40 of 200 characters is a ratio of exactly 0.2, not below it.
    let at_bound = sample_with(|v| {
        v["routed"]["text"] = json!("y".repeat(40));
        v["reference"]["text"] = json!("x".repeat(200));
    });
    assert_eq!(heuristic(&at_bound).0, Verdict::Tie);
    // A short reference is not compared by length.
    let short_reference = sample_with(|v| {
        v["routed"]["text"] = json!("y");
        v["reference"]["text"] = json!("x".repeat(199));
    });
    assert_eq!(heuristic(&short_reference).0, Verdict::Tie);
    let j = heuristic_judgement(&both_cut);
    assert_eq!((j.judge.as_str(), j.swapped, j.attempts, j.error), ("heuristic", false, 0, None));
}
