//! The native CLI, run as a process.
// The whole crate is test code, helpers included, so clippy.toml's allow-*-in-tests covers it.
#![cfg(test)]

mod common;
use common::run;

fn body(text: &str) -> String {
    serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": text}]}).to_string()
}

#[test]
fn score_keeps_line_alignment_and_reports_errors() {
    let input =
        format!("{}\nnot json\n{}\n{{\"model\":\"auto\"}}\n", body("hi"), body("Prove the theorem rigorously."));
    let (out, err, ok) = run(&["score"], &input);
    assert!(ok);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0]["score"].as_f64().unwrap() >= 0.0);
    assert_eq!(lines[0]["tier"], "cheap");
    assert_eq!(lines[0]["model"], "gpt-5-nano");
    assert!(lines[1]["error"].as_str().unwrap().contains("not valid json"));
    assert!(lines[2]["tier"].is_string());
    assert_eq!(lines[3]["error"], "`messages` is missing");
    assert!(err.contains("line 2:") && err.contains("line 4:"), "{err}");
}

#[test]
fn score_handles_ten_thousand_lines() {
    let input: String = (0..10_000).map(|i| body(&format!("question number {i}: what is {i} + {i}?")) + "\n").collect();
    let (out, _, ok) = run(&["score"], &input);
    assert!(ok);
    assert_eq!(out.lines().count(), 10_000);
}

#[test]
fn calibrate_hits_the_requested_strong_share() {
    let words = ["hi", "prove", "theorem", "algorithm", "translate", "list", "derive", "explain", "why", "code"];
    let input: String = (0..200)
        .map(|i| body(&(0..(i % 17)).map(|j| words[(i * 7 + j) % words.len()]).collect::<Vec<_>>().join(" ")) + "\n")
        .collect();
    let (out, _, ok) = run(&["calibrate", "--strong-share", "0.3"], &input);
    assert!(ok, "{out}");
    let line = out.lines().find(|l| l.starts_with("\"thresholds\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&format!("{{{line}}}")).unwrap();
    let t: Vec<f64> = v["thresholds"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(t.len(), 2);
    assert!(t[0] < t[1] && t[0] > 0.0 && t[1] < 1.0);
    // Re-score and check the share that lands at or above the top threshold.
    let (scores, _, _) = run(&["score"], &input);
    let above = scores
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["score"].as_f64().unwrap())
        .filter(|s| *s >= t[1] - 1e-6)
        .count();
    let share = above as f64 / 200.0;
    assert!((share - 0.3).abs() < 0.1, "strong share {share}");
}

#[test]
fn bad_arguments_fail_clearly() {
    let (_, err, ok) = run(&["calibrate", "--strong-share", "1.5"], "");
    assert!(!ok);
    assert!(err.contains("strictly between 0 and 1"), "{err}");
    let (_, err, ok) = run(&["frobnicate"], "");
    assert!(!ok);
    assert!(err.contains("Usage: llm-router <COMMAND>"), "{err}");
}

/// Exit status and stderr of `llm-router ARGS` with empty stdin.
fn exit_code(args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_llm-router"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn help_exits_0_for_the_tool_and_every_subcommand() {
    let (code, out, _) = exit_code(&["--help"]);
    assert_eq!(code, Some(0));
    let subcommands = ["score", "features", "calibrate", "export-heuristic", "export-mlp", "report", "simulate"];
    for sub in subcommands {
        assert!(out.contains(sub), "--help does not list {sub}: {out}");
        let (code, out, err) = exit_code(&[sub, "--help"]);
        assert_eq!(code, Some(0), "{sub} --help: {err}");
        assert!(out.contains(&format!("Usage: llm-router {sub}")), "{sub} --help: {out}");
    }
    let (code, out, _) = exit_code(&["help", "simulate"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("--traffic"), "{out}");
}

#[test]
fn argument_errors_exit_2_with_a_usage_hint_and_run_failures_exit_1() {
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["score", "--bogus"],
        vec!["calibrate"],
        vec!["calibrate", "--strong-share", "1.5"],
        vec!["calibrate", "--strong-share", "0.6", "--cheap-share", "0.5"],
        vec!["export-mlp", "only-one.onnx"],
        vec!["report", "a.log", "b.log"],
        vec!["report", "--baseline-model", "gpt-4o"],
        vec!["simulate", "--requests", "10"],
    ] {
        let (code, _, err) = exit_code(&args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("--help"), "{args:?}: no usage hint: {err}");
    }
    let (code, _, err) = exit_code(&["score", "--config", "/no/such/config.json"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot read /no/such/config.json"), "{err}");
}

#[test]
fn features_have_the_documented_dimension() {
    let (names, _, ok) = run(&["features", "--names"], "");
    assert!(ok);
    let (out, _, ok) = run(&["features"], &(body("hello") + "\n"));
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["features"].as_array().unwrap().len(), names.lines().count());
}
