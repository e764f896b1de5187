//! Host tests of the bindings: each answer is the core's for the same input. The browser test
//! (`tests/browser/`) checks the built page against the CLI.

use super::*;
use llm_router::pricing::PriceTable;
use llm_router::usage::Usage;

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn the_defaults_are_the_shipped_bytes_and_valid() {
    assert_eq!(default_config(), DEFAULT_CONFIG_JSON);
    assert_eq!(default_prices(), DEFAULT_PRICES_JSON);
    let summary = parse(&check_config(&default_config()).unwrap());
    assert_eq!(summary["tiers"].as_array().unwrap().len(), 3);
    assert_eq!(summary["classifier"], Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap().classifier_name());
    assert_eq!(effective_config(&default_config(), &default_prices()).unwrap(), default_config());
    assert_eq!(effective_config(&default_config(), " ").unwrap(), default_config());
}

#[test]
fn a_prompt_is_decided_as_the_router_decides_its_request() {
    let r = Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    for prompt in ["hi", "Prove that the algorithm is O(n log n); derive the recurrence step by step."] {
        let out = parse(&decide(&default_config(), prompt, "").unwrap());
        let body = out["body"].as_str().unwrap();
        assert_eq!(parse(body)["messages"][0]["content"], prompt);
        assert_eq!(parse(body)["model"], "auto");
        let d = r.decide_body(body.as_bytes()).unwrap();
        let tier = &r.config.tiers[d.tier];
        assert_eq!(out["decision"]["tier"], tier.name.as_str());
        assert_eq!(out["decision"]["model"], tier.model.as_str());
        assert_eq!(out["decision"]["reason"], d.reason.as_str());
    }
    let out = parse(&decide(&default_config(), "hi", "X-Feature: summarization\nnonsense").unwrap());
    assert_eq!(out["decision"]["reason"], "rule:summarization");
    let whole = r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#;
    assert_eq!(parse(&decide(&default_config(), whole, "").unwrap())["body"], whole);
    let err = decide(&default_config(), "{\"model\": 1}", "").unwrap_err();
    assert_eq!(err, r.decide_body(b"{\"model\": 1}").unwrap_err().to_string());
}

#[test]
fn a_bad_configuration_is_refused_with_the_core_message() {
    let mut v = parse(DEFAULT_CONFIG_JSON);
    v["thresholds"] = json!([0.7, 0.3]);
    let bad = v.to_string();
    let expected = Router::from_json(bad.as_bytes()).unwrap_err().to_string();
    assert_eq!(check_config(&bad).unwrap_err(), expected);
    assert_eq!(decide(&bad, "hi", "").unwrap_err(), expected);
    assert!(expected.contains("ascending"), "{expected}");
    // An edited price table goes in as `prices`; its validation error is the core's too.
    let mut prices = parse(DEFAULT_PRICES_JSON);
    prices["models"][0]["input_per_mtok"] = json!(-1);
    let doc = effective_config(DEFAULT_CONFIG_JSON, &prices.to_string()).unwrap();
    assert_eq!(parse(&doc)["prices"], prices);
    assert_eq!(check_config(&doc).unwrap_err(), Router::from_json(doc.as_bytes()).unwrap_err().to_string());
    assert!(effective_config(DEFAULT_CONFIG_JSON, "{nope").unwrap_err().starts_with("invalid configuration json"));
}

#[test]
fn usage_is_priced_with_the_configuration_table() {
    let table = PriceTable::default_table().unwrap();
    let usage = r#"{"prompt_tokens": 1200, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 200}}"#;
    let out = parse(&price(&default_config(), "claude-haiku-4.5", usage).unwrap());
    let u = Usage { prompt_tokens: 1200, completion_tokens: 300, cached_tokens: 200, ..Usage::ZERO };
    let cost = table.cost_micro_usd("claude-haiku-4.5", &u).unwrap();
    let baseline = table.cost_micro_usd("claude-sonnet-4.6", &u).unwrap();
    assert_eq!(out["cost_micro_usd"], cost);
    assert_eq!(out["baseline_cost_micro_usd"], baseline);
    assert_eq!(out["cost_usd"], format_usd(cost));
    assert_eq!(out["savings"], format_tenths(savings_tenths(cost, baseline)));
    assert_eq!(parse(&price(&default_config(), "in-house", usage).unwrap())["cost_micro_usd"], Value::Null);
    assert!(price(&default_config(), "gpt-4o", r#"{"prompt_tokens": -1, "completion_tokens": 1}"#).is_err());
}

#[test]
fn a_batch_is_simulated_as_the_cli_simulates_its_lines() {
    let cfg = default_config();
    let batch = "hi\n\nProve that the algorithm is O(n log n), step by step.\n{broken\n";
    let out = parse(&simulate(&cfg, batch, "1000", "200").unwrap());
    assert_eq!(out["skipped"], json!([{"line": 4, "error": out["skipped"][0]["error"]}]));
    let r = Router::from_json(cfg.as_bytes()).unwrap();
    let mut sample = SampleReader::new(&r, Some(200));
    for line in ["hi", "Prove that the algorithm is O(n log n), step by step."] {
        sample.add_line(&input::request_body(line, Some("auto"))).unwrap();
    }
    let traffic = sample.into_traffic(Some(1000));
    let strategies = simulate::strategies(&r.config.prices, None, &[], true, &traffic).unwrap();
    let p = simulate::project(&traffic, &r.config.prices, &simulate::Baselines::of(&r), &strategies).unwrap();
    assert_eq!(out["table"], simulate::render_table(&traffic, &r.config.prices, &p));
    let routed: u64 = out["tiers"].as_array().unwrap().iter().map(|t| t["requests"].as_u64().unwrap()).sum();
    assert_eq!(routed, 2);
    assert!(simulate(&cfg, "", "", "200").unwrap_err().contains("no usable request"));
    assert!(simulate(&cfg, "hi", "-3", "200").unwrap_err().contains("non-negative integer"));
}
