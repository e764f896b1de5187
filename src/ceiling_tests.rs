//! Tests of the cost ceiling's estimate and verdict.

use super::*;
use crate::config::DEFAULT_CONFIG_JSON;

fn config() -> Config {
    Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap()
}

fn ceiling(over: Over) -> CostCeiling {
    CostCeiling::try_from(RawCostCeiling { max_micro_usd: Some(1), over, ..RawCostCeiling::default() }).unwrap()
}

#[test]
fn estimate_uses_max_tokens_then_the_model_cap_then_the_default() {
    let cfg = config();
    let c = ceiling(Over::StepDown);
    // claude-sonnet-4.6: 1,000 in at $3 + 2,000 out at $15 per Mtok = 33,000 micro-USD.
    let e = estimate(&c, &cfg.prices, "claude-sonnet-4-6", 1_000, Some(2_000)).unwrap();
    assert_eq!(
        e,
        Estimate { model: "claude-sonnet-4.6".into(), input_tokens: 1_000, output_tokens: 2_000, micro_usd: 33_000 }
    );
    // Without max_tokens: the table's cap, 64,000 output tokens.
    assert_eq!(estimate(&c, &cfg.prices, "claude-sonnet-4.6", 1_000, None).unwrap().output_tokens, 64_000);
    // A table without caps: the configured default.
    let mut prices = cfg.prices.clone();
    prices.models.iter_mut().for_each(|m| m.max_output_tokens = None);
    assert_eq!(estimate(&c, &prices, "gpt-5", 10, None).unwrap().output_tokens, DEFAULT_OUTPUT_TOKENS);
    // No price, no estimate.
    assert_eq!(estimate(&c, &cfg.prices, "acme-llm", 10, None), None);
    // Long-context rates apply to the estimate as to an answer: 250K input on gemini-2.5-pro.
    let long = estimate(&c, &cfg.prices, "gemini-2.5-pro", 250_000, Some(0)).unwrap();
    assert_eq!(long.micro_usd, 625_000);
}

#[test]
fn a_routed_request_steps_down_to_the_strongest_tier_that_fits() {
    let cfg = config();
    let c = ceiling(Over::StepDown);
    // Shipped tiers: cheap gpt-5-nano, mid claude-haiku-4.5, frontier claude-sonnet-4.6.
    // 10,000 in + 4,000 out: sonnet 90,000, haiku 30,000, nano 2,100 micro-USD.
    let at = |limit: u64| check(&cfg, &c, limit, ("claude-sonnet-4.6", Some(2), true), 10_000, Some(4_000));
    assert_eq!(at(90_000), Verdict::Within);
    let over =
        Estimate { model: "claude-sonnet-4.6".into(), input_tokens: 10_000, output_tokens: 4_000, micro_usd: 90_000 };
    assert_eq!(at(89_999), Verdict::StepDown { tier: 1, over: over.clone() });
    assert_eq!(at(29_999), Verdict::StepDown { tier: 0, over });
    match at(2_099) {
        Verdict::Reject(e) => assert_eq!((e.model.as_str(), e.micro_usd), ("gpt-5-nano", 2_100)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn explicit_models_and_reject_mode_are_rejected_not_moved() {
    let cfg = config();
    let explicit =
        check(&cfg, &ceiling(Over::StepDown), 1_000, ("claude-sonnet-4.6", Some(2), false), 10_000, Some(4_000));
    assert!(matches!(explicit, Verdict::Reject(Estimate { micro_usd: 90_000, .. })));
    let reject = check(&cfg, &ceiling(Over::Reject), 1_000, ("claude-sonnet-4.6", Some(2), true), 10_000, Some(4_000));
    assert!(matches!(reject, Verdict::Reject(Estimate { micro_usd: 90_000, .. })));
    // An unpriced explicit model is never stopped.
    assert_eq!(check(&cfg, &ceiling(Over::Reject), 0, ("acme-llm", None, false), 10_000, None), Verdict::Within);
}

#[test]
fn the_header_beats_the_route_which_beats_the_global_ceiling() {
    let raw = RawCostCeiling {
        max_micro_usd: Some(100),
        per_route: [("chat".to_string(), 50)].into_iter().collect(),
        header: Some("x-cost-ceiling".into()),
        ..RawCostCeiling::default()
    };
    let c = CostCeiling::try_from(raw).unwrap();
    assert_eq!(c.limit(Some("7"), || panic!("no route lookup when the header decides")), Some(7));
    assert_eq!(c.limit(Some("lots"), || Some("chat".into())), Some(50));
    assert_eq!(c.limit(None, || Some("other".into())), Some(100));
    assert_eq!(c.limit(None, || None), Some(100));
    let only_header = CostCeiling::try_from(RawCostCeiling { header: Some("x-c".into()), ..RawCostCeiling::default() });
    assert_eq!(only_header.unwrap().limit(None, || None), None);
}

#[test]
fn invalid_sections_are_refused() {
    assert_eq!(CostCeiling::try_from(RawCostCeiling::default()), Err(CeilingError::Empty));
    let bad = RawCostCeiling { header: Some("X-Cost".into()), ..RawCostCeiling::default() };
    assert_eq!(CostCeiling::try_from(bad), Err(CeilingError::BadHeader("X-Cost".into())));
    let zero = RawCostCeiling { max_micro_usd: Some(1), default_output_tokens: Some(0), ..RawCostCeiling::default() };
    assert_eq!(CostCeiling::try_from(zero), Err(CeilingError::ZeroOutput));
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    v["cost_ceiling"] = serde_json::json!({"max_micro_usd": 5, "over": "explode"});
    assert!(Config::from_json(v.to_string().as_bytes()).is_err());
    v["cost_ceiling"] = serde_json::json!({});
    let e = Config::from_json(v.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.to_string(), "cost_ceiling: set max_micro_usd, per_route or header");
}
