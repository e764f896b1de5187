//! Unit tests of `explain`: the explanation agrees with the filter's decide and accounting steps.

use super::*;
use crate::accounting::{account, Headers};
use crate::classifier::HeuristicClassifier;
use crate::config::DEFAULT_CONFIG_JSON;

fn router() -> Router {
    Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap()
}

fn body(model: &str, text: &str) -> String {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": text}]}).to_string()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn an_alias_is_decided_as_the_router_decides_it() {
    let r = router();
    for text in ["hi", "Translate 'good morning' to French.", "Prove that the algorithm is O(n log n), step by step."] {
        let b = body("auto", text);
        let e = explain(&r, b.as_bytes(), &[]).unwrap();
        let d = r.decide_body(b.as_bytes()).unwrap();
        let tier = &r.config.tiers[d.tier];
        assert_eq!(
            (e.tier.as_str(), e.model.as_str(), e.score, e.reason.as_str()),
            (tier.name.as_str(), tier.model.as_str(), d.score, d.reason.as_str())
        );
        assert!(e.decided);
        assert_eq!(e.score_header, format!("{:.4}", d.score.unwrap()));
        assert_eq!(e.rules.len(), r.config.rules.len());
        assert!(e.rules.iter().all(|t| !t.matched), "{:?}", e.rules);
        let f = r.features(&crate::request::parse(b.as_bytes()).unwrap());
        assert_eq!(e.features.len() + e.hashed_total, f.as_slice().len());
        assert_eq!(e.features[0].value, f.as_slice()[0]);
    }
}

#[test]
fn only_the_headers_the_rules_read_count_and_their_name_case_does_not() {
    let r = router();
    let b = body("auto", "Prove that the algorithm is O(n log n), step by step.");
    let e = explain(&r, b.as_bytes(), &headers(&[("X-Feature", "summarization"), ("x-other", "1")])).unwrap();
    assert_eq!((e.tier.as_str(), e.reason.as_str(), e.score), ("cheap", "rule:summarization", None));
    assert_eq!(e.score_header, "-");
    assert_eq!(e.headers, headers(&[("x-feature", "summarization")]));
    let matched: Vec<&str> = e.rules.iter().filter(|t| t.matched).map(|t| t.name.as_str()).collect();
    assert_eq!(matched, ["summarization"]);
    assert_eq!(e.rules[0].action, "tier cheap");
    assert_eq!(e.rules[1].action, "min_tier mid");
}

#[test]
fn an_explicit_model_passes_through_without_rules_or_score() {
    let r = router();
    let e =
        explain(&r, body("claude-haiku-4.5", "hi").as_bytes(), &headers(&[("x-feature", "summarization")])).unwrap();
    assert!(!e.decided);
    assert_eq!(
        (e.tier.as_str(), e.model.as_str(), e.reason.as_str(), e.score),
        ("mid", "claude-haiku-4.5", "explicit", None)
    );
    assert!(e.rules.is_empty());
}

#[test]
fn a_body_the_filter_cannot_inspect_is_its_error() {
    let r = router();
    let err = explain(&r, b"{\"model\": \"auto\"}", &[]).unwrap_err();
    assert_eq!(err, r.decide_body(b"{\"model\": \"auto\"}").unwrap_err());
}

#[test]
fn the_heuristic_classifier_reads_no_hashed_bucket() {
    let cfg = Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    let r = Router::new(cfg, Box::new(HeuristicClassifier::default()));
    let e = explain(&r, body("auto", "hello there, how are you").as_bytes(), &[]).unwrap();
    assert_eq!((e.classifier, e.hashed_nonzero), ("heuristic", 0));
}

#[test]
fn prices_as_the_accounting_step_does() {
    let r = router();
    let cfg = &r.config;
    let b = body("auto", "hi");
    let req = crate::request::parse(b.as_bytes()).unwrap();
    for (model, p, c, cached) in
        [("gpt-5-nano", 1000, 500, 0), ("claude-haiku-4.5", 12_345, 678, 9_000), ("in-house", 10, 10, 0)]
    {
        let usage = Usage { prompt_tokens: p, completion_tokens: c, cached_tokens: cached, ..Usage::ZERO };
        let mut routing = route(&r, &req, Vec::new(), String::new(), 0.0).routing;
        routing.model = model.to_string();
        let record = account(cfg, "chat", &routing, Some(usage), None, Headers::All).record.unwrap();
        let costs = price(cfg, model, &usage);
        assert_eq!(
            (costs.cost_micro_usd, costs.baseline_cost_micro_usd),
            (record.cost_micro_usd, record.baseline_cost_micro_usd),
            "{model}"
        );
    }
    assert_eq!(price(cfg, "in-house", &Usage::default()).cost_micro_usd, None);
}
