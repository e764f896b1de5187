//! `llm-router report` and `llm-router simulate`, run as processes.
// The whole crate is test code, helpers included, so clippy.toml's allow-*-in-tests covers it.
#![cfg(test)]

use std::path::PathBuf;

use serde_json::{json, Value};

mod common;
use common::run;

fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llm-router-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// USD per Mtok as written in the table -> integer micro-USD per Mtok, digit by digit.
fn micro_per_mtok(v: &Value) -> u128 {
    let s = v.to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let frac = format!("{frac:0<6}");
    int.parse::<u128>().unwrap() * 1_000_000 + frac[..6].parse::<u128>().unwrap()
}

/// Per-request cost of `input`/`output` tokens on `model`, from src/default_prices.json.
fn per_request_micro_usd(model: &str, input: u128, output: u128) -> u128 {
    let table: Value = serde_json::from_str(include_str!("../src/default_prices.json")).unwrap();
    let m = table["models"].as_array().unwrap().iter().find(|m| m["id"] == model).unwrap();
    let exact = input * micro_per_mtok(&m["input_per_mtok"]) + output * micro_per_mtok(&m["output_per_mtok"]);
    (exact + 500_000) / 1_000_000
}

/// `$1,234.50` from integer micro-USD (two decimals when whole cents).
fn usd(micro: u128) -> String {
    let whole = (micro / 1_000_000).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let frac = micro % 1_000_000;
    if frac.is_multiple_of(10_000) {
        format!("${grouped}.{:02}", frac / 10_000)
    } else {
        format!("${grouped}.{frac:06}")
    }
}

#[test]
fn simulate_reproduces_the_worked_example() {
    let (out, err, ok) = run(
        &[
            "simulate",
            "--requests",
            "1000000",
            "--input-tokens",
            "500",
            "--output-tokens",
            "200",
            "--models",
            "claude-sonnet-4.6",
            "--split",
            "claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3",
            "--split",
            "deepseek-v3.2=0.7,claude-sonnet-4.6=0.3",
        ],
        "",
    );
    assert!(ok, "{err}");
    println!("{out}");
    let row = |prefix: &str| {
        out.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no row {prefix}:\n{out}")).to_string()
    };
    let sonnet = row("all on claude-sonnet-4.6 (baseline)");
    assert!(sonnet.contains(" 1,000,000 ") && sonnet.contains("$4,500.00") && sonnet.ends_with("0.0%"), "{sonnet}");
    let haiku = row("split claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3");
    assert!(haiku.contains("$2,400.00") && haiku.ends_with("46.7%"), "{haiku}"); // 46.67%: "47% saved"

    // 70% DeepSeek V3.2 / 30% Sonnet, computed here from the table in integer micro-USD.
    let deepseek_micro = 700_000 * per_request_micro_usd("deepseek-v3.2", 500, 200)
        + 300_000 * per_request_micro_usd("claude-sonnet-4.6", 500, 200);
    let deepseek = row("split deepseek-v3.2=0.7,claude-sonnet-4.6=0.3");
    assert!(deepseek.contains(&usd(deepseek_micro)), "expected {} in {deepseek}", usd(deepseek_micro));
    let baseline_micro = 1_000_000 * per_request_micro_usd("claude-sonnet-4.6", 500, 200);
    assert_eq!(baseline_micro, 4_500_000_000);
    let saved_tenths = (2 * (baseline_micro - deepseek_micro) * 1000 + baseline_micro) / (2 * baseline_micro);
    assert!(deepseek.ends_with(&format!("{}.{}%", saved_tenths / 10, saved_tenths % 10)), "{deepseek}");

    let (json_out, _, ok) = run(
        &[
            "simulate",
            "--requests",
            "1000000",
            "--input-tokens",
            "500",
            "--output-tokens",
            "200",
            "--models",
            "claude-sonnet-4.6",
            "--split",
            "deepseek-v3.2=0.7,claude-sonnet-4.6=0.3",
            "--format",
            "json",
        ],
        "",
    );
    assert!(ok);
    let j: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(j["strategies"][0]["monthly_cost_micro_usd"], json!(4_500_000_000u64));
    assert_eq!(j["strategies"][1]["monthly_cost_micro_usd"].as_u64().unwrap() as u128, deepseek_micro);
}

#[test]
fn simulate_lists_every_priced_model_by_default() {
    let (out, _, ok) =
        run(&["simulate", "--requests", "10", "--input-tokens", "1", "--output-tokens", "1", "--format", "csv"], "");
    assert!(ok);
    let table: Value = serde_json::from_str(include_str!("../src/default_prices.json")).unwrap();
    let models = table["models"].as_array().unwrap();
    assert_eq!(out.lines().count(), 1 + models.len(), "{out}");
    for m in models {
        assert!(out.contains(&format!("all on {}", m["id"].as_str().unwrap())), "{out}");
    }
}

#[test]
fn simulate_routes_a_jsonl_sample() {
    let body = |text: &str, out: Option<u64>| {
        let mut v = json!({"model": "auto", "messages": [{"role": "user", "content": text}]});
        if let Some(o) = out {
            v["expected_output_tokens"] = json!(o);
        }
        v.to_string()
    };
    let sample = [
        body("What is the capital of France?", Some(20)),
        "not json".to_string(),
        body("Prove that there are infinitely many primes, rigorously, then implement a sieve in Rust.", None),
        json!({"model": "acme-in-house", "messages": [{"role": "user", "content": "hi"}]}).to_string(),
    ]
    .join("\n");
    let (out, err, ok) = run(
        &[
            "simulate",
            "--traffic",
            "-",
            "--output-tokens",
            "300",
            "--models",
            "gpt-5-nano",
            "--requests",
            "3000",
            "--format",
            "json",
        ],
        &sample,
    );
    assert!(ok, "{err}");
    assert!(err.contains("line 2: skipped"), "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    let labels: Vec<&str> =
        j["strategies"].as_array().unwrap().iter().map(|s| s["strategy"].as_str().unwrap()).collect();
    assert_eq!(labels, ["all on claude-sonnet-4.6", "all on gpt-5-nano", "router (configured policy)"]);
    let router = &j["strategies"][2];
    assert_eq!(router["unpriced_requests"], 1, "the explicit unpriced model is left out, not priced as zero");
    assert_eq!(router["monthly_requests"], 3000);
    // 3 sample requests scaled to 3000: every strategy is 1000x the sample sum.
    let first = &j["strategies"][0]["monthly_cost_micro_usd"];
    assert_eq!(first.as_u64().unwrap() % 1000, 0);
    let (_, err, ok) = run(&["simulate", "--traffic", "-"], &body("hi", None));
    assert!(
        !ok && err.contains("line 1: skipped: no `expected_output_tokens` field") && err.contains("no usable request"),
        "{err}"
    );
}

#[test]
fn simulate_rejects_bad_input() {
    for (args, needle) in [
        (
            vec![
                "simulate",
                "--requests",
                "10",
                "--input-tokens",
                "1",
                "--output-tokens",
                "1",
                "--split",
                "gpt-5-nano=0.5,gpt-4o=0.4",
            ],
            "not 1",
        ),
        (
            vec!["simulate", "--requests", "10", "--input-tokens", "1", "--output-tokens", "1", "--split", "nope=1"],
            "not in the price table",
        ),
        (vec!["simulate", "--requests", "10", "--output-tokens", "1"], "--input-tokens"),
        (vec!["simulate", "--requests", "-1", "--input-tokens", "1", "--output-tokens", "1"], "non-negative integer"),
        (
            vec!["simulate", "--requests", "1", "--input-tokens", "1", "--output-tokens", "1", "--cached-tokens", "2"],
            "cannot exceed",
        ),
        (vec!["simulate", "--traffic", "-", "--output-tokens", "1"], "no usable request"),
    ] {
        let (_, err, ok) = run(&args, "");
        assert!(!ok && err.contains(needle), "{args:?}: {err}");
    }
}

fn log_line(
    customer: &str,
    model: &str,
    status: &str,
    tokens: (u64, u64),
    cost: Option<u64>,
    baseline: Option<u64>,
    time: &str,
) -> String {
    json!({
        "start_time": time, "route_name": "chat", "requested_model": "auto", "model": model, "tier": "cheap", "mode": "route",
        "customer": customer, "input_tokens": tokens.0.to_string(), "output_tokens": tokens.1.to_string(), "cached_tokens": "0",
        "cost_micro_usd": cost.map(|c| c.to_string()), "baseline_cost_micro_usd": baseline.map(|c| c.to_string()),
        "price_version": "2026-04", "router_status": status, "retry": null,
    })
    .to_string()
}

fn access_log() -> String {
    [
        log_line("acme", "gpt-5-nano", "priced", (1000, 500), Some(250), Some(10500), "2026-04-01T10:00:00.000Z"),
        log_line(
            "globex",
            "claude-haiku-4.5",
            "priced",
            (2000, 300),
            Some(3500),
            Some(10500),
            "2026-04-02T10:00:00.000Z",
        ),
        log_line("globex", "acme-llm", "unpriced", (10, 10), None, Some(180), "2026-04-02T11:00:00.000Z"),
        r#"{"method":"GET","path":"/v1/models","router_status":null}"#.to_string(),
        "garbage".to_string(),
    ]
    .join("\n")
}

#[test]
fn report_reads_stdin_and_prints_every_format() {
    let (table, err, ok) = run(&["report"], &access_log());
    assert!(ok, "{err}");
    assert!(table.contains("3 router requests (priced 2, unpriced 1, usage missing 0)"), "{table}");
    assert!(table.contains("1 not json, 1 not router"), "{table}");
    assert!(table.contains("cost $0.003750 vs baseline $0.021000: 82.1% saved"), "{table}");
    let (csv, _, ok) = run(&["report", "-", "--format", "csv"], &access_log());
    assert!(ok);
    assert!(csv.lines().nth(1).unwrap().starts_with("total,,3,100.0,2,1,0,3010,810,0,3750,21000,82.1,"), "{csv}");
    let (j, _, ok) = run(
        &["report", "--format", "json", "--since", "2026-04-02", "--until", "2026-04-02T10:30:00+00:00"],
        &access_log(),
    );
    assert!(ok);
    let j: Value = serde_json::from_str(&j).unwrap();
    assert_eq!(j["total"]["requests"], 1);
    assert_eq!(j["total"]["cost_micro_usd"], 3500);
    assert_eq!(j["skipped"]["outside_window"], 2);
}

#[test]
fn report_reprices_and_adds_margin_from_files() {
    let mut table: Value = serde_json::from_str(include_str!("../src/default_prices.json")).unwrap();
    table["version"] = json!("2026-07");
    table["models"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "acme-llm", "input_per_mtok": 1.0, "output_per_mtok": 2.0}));
    let prices = temp_file("prices.json", &table.to_string());
    let revenue = temp_file("revenue.csv", "customer,revenue_usd\nacme,0.0002\nglobex,1.00\n");
    let log = temp_file("access.log", &access_log());
    let (out, err, ok) = run(
        &[
            "report",
            log.to_str().unwrap(),
            "--prices",
            prices.to_str().unwrap(),
            "--revenue",
            revenue.to_str().unwrap(),
            "--format",
            "json",
        ],
        "",
    );
    assert!(ok, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["pricing"], "re-priced with price table 2026-07 (baseline claude-sonnet-4.6)");
    assert_eq!(j["total"]["cost_micro_usd"], 250 + 3500 + 30); // acme-llm now priced: 10*1 + 10*2
    assert_eq!(j["total"]["unpriced"], 0);
    assert_eq!(j["negative_margin_customers"], json!(["acme"]));
    let (text, _, ok) = run(&["report", log.to_str().unwrap(), "--revenue", revenue.to_str().unwrap()], "");
    assert!(ok);
    let acme = text.lines().rev().find(|l| l.starts_with("acme ")).unwrap();
    assert!(acme.contains("-$0.000050") && acme.ends_with("NEGATIVE MARGIN"), "{acme}");
}

#[test]
fn report_rejects_bad_arguments() {
    for (args, needle) in [
        (vec!["report", "--since", "yesterday"], "rfc 3339"),
        (vec!["report", "--format", "xml"], "unknown format"),
        (vec!["report", "/no/such/file"], "cannot read"),
        (vec!["report", "--baseline-model", "gpt-4o"], "only applies with --prices"),
        (vec!["report", "--bogus"], "unexpected argument"),
    ] {
        let (_, err, ok) = run(&args, "");
        assert!(!ok && err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn report_shows_budget_use_against_a_configuration() {
    let mut config: Value = serde_json::from_str(include_str!("../src/default_config.json")).unwrap();
    config["customer"] = json!({"header": "x-customer-id"});
    config["budget"] = json!({"customers": {"globex": 5000}, "default_micro_usd": 100});
    let with_budget = temp_file("budget-config.json", &config.to_string());
    let (out, err, ok) = run(&["report", "--budget", with_budget.to_str().unwrap(), "--format", "json"], &access_log());
    assert!(ok, "{err}");
    let j: Value = serde_json::from_str(&out).unwrap();
    // The latest request is on 2026-04-02: globex spent 3500 of 5000 that day (its unpriced
    // request costs nothing known); acme's 250 was the day before.
    assert_eq!(
        j["budget_use"]["customers"],
        json!([{"customer": "globex", "budget_micro_usd": 5000, "spent_micro_usd": 3500, "remaining_micro_usd": 1500, "used_pct": 70.0}])
    );
    config.as_object_mut().unwrap().remove("budget");
    let without = temp_file("no-budget-config.json", &config.to_string());
    let (_, err, ok) = run(&["report", "--budget", without.to_str().unwrap()], &access_log());
    assert!(!ok && err.contains("no `budget` section"), "{err}");
}
