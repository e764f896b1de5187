//! Configuration parser: arbitrary bytes as the plugin configuration through
//! `Config::from_json` / `Router::from_json`. Whatever is accepted must satisfy the documented
//! validation guarantees, and a router built from it must decide and price without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_router::classifier::HeuristicClassifier;
use llm_router::config::{ClassifierKind, Config, RuleAction};
use llm_router::pricing::PriceTable;
use llm_router::request::parse;
use llm_router::router::{Router, CUSTOMER_OTHER};
use llm_router::usage::{Usage, MAX_TOKENS_PER_FIELD};

const REQUESTS: [&str; 3] = [
    r#"{"model":"auto","messages":[{"role":"user","content":"What is the capital of France?"}]}"#,
    r#"{"model":"auto","messages":[{"role":"user","content":"prove it"}],"tools":[{}],"response_format":{"type":"json_object"}}"#,
    r#"{"model":"gpt-4o","messages":[]}"#,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = PriceTable::from_json(s);
    }
    let routed = Router::from_json(data);
    let Ok(cfg) = Config::from_json(data) else {
        assert!(routed.is_err(), "router accepted a configuration the config parser rejects");
        return;
    };
    if cfg.classifier == ClassifierKind::Heuristic {
        assert!(routed.is_ok(), "heuristic configuration rejected by Router::from_json");
    }
    // The validation guarantees (README, Configuration).
    let n = cfg.tiers.len();
    assert!(n > 0);
    assert_eq!(cfg.thresholds.len(), n - 1);
    assert!(cfg.thresholds.iter().all(|t| t.is_finite() && *t > 0.0 && *t < 1.0));
    assert!(cfg.thresholds.windows(2).all(|w| w[0] < w[1]));
    assert!(cfg.max_request_bytes > 0 && cfg.max_response_bytes > 0 && cfg.max_inspect_chars > 0);
    assert!(cfg.prices.lookup(&cfg.baseline_model).is_some());
    for (i, t) in cfg.tiers.iter().enumerate() {
        assert!(cfg.prices.lookup(&t.model).is_some());
        assert!(!t.cluster.trim().is_empty());
        assert!(cfg.tier_for_model(&t.model).is_some_and(|j| j <= i));
        // Tier names are unique: the first tier with this name is this one.
        assert_eq!(cfg.tiers.iter().position(|x| x.name == t.name), Some(i));
    }
    for r in &cfg.rules {
        let (RuleAction::Tier(t) | RuleAction::MinTier(t) | RuleAction::MaxTier(t)) = r.action;
        assert!(t < n);
    }
    for p in &cfg.paths {
        assert!(cfg.inspects_path(p), "configured path {p:?} never matches");
        assert!(cfg.inspects_path(&format!("{p}?x=1")), "configured path {p:?} with a query");
    }
    if let Some(c) = &cfg.customer {
        assert!(c.max_distinct > 0);
    }
    let extreme = Usage { prompt_tokens: MAX_TOKENS_PER_FIELD, completion_tokens: MAX_TOKENS_PER_FIELD, cached_tokens: MAX_TOKENS_PER_FIELD / 2, ..Usage::ZERO };
    for t in &cfg.tiers {
        let _ = cfg.prices.cost_micro_usd(&t.model, &extreme);
    }
    let _ = cfg.prices.cost_micro_usd(&cfg.baseline_model, &extreme);

    let router = Router::new(cfg, Box::new(HeuristicClassifier::default()));
    let headers: Vec<(String, String)> = router.rule_headers().iter().map(|h| (h.clone(), "x".to_string())).collect();
    for body in REQUESTS {
        let req = parse(body.as_bytes()).unwrap();
        assert!(router.decide(&req, Vec::new()).tier < n);
        assert!(router.decide(&req, headers.clone()).tier < n);
    }
    let max = router.config.customer.as_ref().map_or(0, |c| c.max_distinct);
    for i in 0..4 {
        let (label, overflow) = router.customer_label(Some(&format!("c{i}")));
        assert_eq!(overflow, router.config.customer.is_some() && i >= max);
        assert_eq!(overflow, label == CUSTOMER_OTHER);
    }
});
