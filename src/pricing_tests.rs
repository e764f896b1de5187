//! Tests of [`crate::pricing`] and its raw table validation.

use std::collections::BTreeMap;

use super::*;
use crate::service_tier::ServiceTier;

fn usage(prompt: u64, cached: u64, completion: u64) -> Usage {
    Usage { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: cached, ..Usage::ZERO }
}

fn model(input: u64, cached_input: Option<u64>, output: u64) -> ModelPrice {
    ModelPrice {
        id: "m".into(),
        aliases: vec![],
        base: rates(input, cached_input, output),
        long_context: None,
        service_tiers: BTreeMap::new(),
        max_output_tokens: None,
    }
}

fn rates(input: u64, cached_input: Option<u64>, output: u64) -> Rates {
    Rates { input, cached_input, output, cache_write_5m: None, cache_write_1h: None }
}

fn raw_model(id: &str, input: f64, output: f64) -> RawModelPrice {
    RawModelPrice {
        id: id.into(),
        input_per_mtok: input,
        cached_input_per_mtok: None,
        output_per_mtok: output,
        cache_write_5m_per_mtok: None,
        cache_write_1h_per_mtok: None,
        long_context: None,
        service_tiers: BTreeMap::new(),
        max_output_tokens: None,
        source: None,
        aliases: vec![],
    }
}

fn raw(models: Vec<RawModelPrice>) -> RawPriceTable {
    RawPriceTable { version: "v1".into(), effective: "2026-04-01".into(), models }
}

#[test]
fn default_table_loads() {
    let t = PriceTable::default_table().unwrap();
    assert_eq!(t.version(), "2026-12");
    assert_eq!(t.effective(), "2026-12-02");
    assert_eq!(t.models().count(), 11);
    let expect = [
        ("gpt-5-nano", 50_000, 5_000, 400_000),
        ("gpt-5-mini", 250_000, 25_000, 2_000_000),
        ("gpt-5", 1_250_000, 125_000, 10_000_000),
        ("gemini-2.5-flash-lite", 100_000, 25_000, 400_000),
        ("deepseek-v3.2", 280_000, 28_000, 420_000),
        ("gpt-4o", 2_500_000, 1_250_000, 10_000_000),
        ("gemini-2.5-pro", 1_250_000, 125_000, 10_000_000),
        ("claude-sonnet-4.6", 3_000_000, 300_000, 15_000_000),
        ("claude-opus-4.6", 5_000_000, 500_000, 25_000_000),
        ("claude-haiku-4.5", 1_000_000, 100_000, 5_000_000),
    ];
    for (id, input, cached, output) in expect {
        let m = t.lookup(id).unwrap();
        assert_eq!(m.id, id);
        assert_eq!((m.base.input, m.base.cached_input, m.base.output), (input, Some(cached), output), "{id}");
    }
    for (alias, id) in [
        ("claude-sonnet-4-6", "claude-sonnet-4.6"),
        ("claude-haiku-4-5", "claude-haiku-4.5"),
        ("claude-opus-4-6", "claude-opus-4.6"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("deepseek-chat", "deepseek-v3.2"),
    ] {
        assert_eq!(t.lookup(alias).unwrap().id, id);
    }
}

#[test]
fn sonnet_one_million_requests() {
    let t = PriceTable::default_table().unwrap();
    let per_request = t.cost_micro_usd("claude-sonnet-4.6", &usage(500, 0, 200)).unwrap();
    assert_eq!(per_request, 4_500);
    assert_eq!(per_request * 1_000_000, 4_500_000_000); // $4,500

    // Same through the alias.
    assert_eq!(t.cost_micro_usd("claude-sonnet-4-6", &usage(500, 0, 200)).unwrap(), 4_500);
}

#[test]
fn haiku_per_request() {
    let t = PriceTable::default_table().unwrap();
    assert_eq!(t.cost_micro_usd("claude-haiku-4.5", &usage(500, 0, 200)).unwrap(), 1_500);
}

#[test]
fn cached_tokens_priced_at_cached_rate() {
    let t = PriceTable::default_table().unwrap();
    // gpt-4o: 1000 uncached * 2.50 + 1000 cached * 1.25 + 100 * 10.00 (per 1M)
    // = 2500 + 1250 + 1000 micro-USD.
    assert_eq!(t.cost_micro_usd("gpt-4o", &usage(2_000, 1_000, 100)).unwrap(), 4_750);
    // Sonnet: 1M prompt fully cached at $0.30/M -> $0.30.
    assert_eq!(t.cost_micro_usd("claude-sonnet-4.6", &usage(1_000_000, 1_000_000, 0)).unwrap(), 300_000);
}

#[test]
fn cached_without_cached_rate_uses_input_rate() {
    let m = model(2_000_000, None, 0);
    assert_eq!(m.cost_micro_usd(&usage(1_000, 600, 0)).unwrap(), 2_000);
    assert_eq!(m.cost_micro_usd(&usage(1_000, 0, 0)).unwrap(), 2_000);
}

#[test]
fn rounds_half_up_once_on_total() {
    // $0.50/Mtok, 1 token = 0.5 micro-USD exactly -> 1.
    assert_eq!(model(500_000, None, 0).cost_micro_usd(&usage(1, 0, 0)).unwrap(), 1);
    // 2.5 -> 3 (half-up, not half-even).
    assert_eq!(model(500_000, None, 0).cost_micro_usd(&usage(5, 0, 0)).unwrap(), 3);
    // 0.499999 -> 0.
    assert_eq!(model(499_999, None, 0).cost_micro_usd(&usage(1, 0, 0)).unwrap(), 0);
    // Total rounding: input 0.4 + output 0.4 = 0.8 -> 1
    // (rounding each component first would give 0).
    assert_eq!(model(400_000, None, 400_000).cost_micro_usd(&usage(1, 0, 1)).unwrap(), 1);
    // Three components summing to exactly 1.5 -> 2.
    let m = model(300_000, Some(200_000), 1_000_000);
    assert_eq!(m.cost_micro_usd(&usage(2, 1, 1)).unwrap(), 2); // 0.3 + 0.2 + 1.0 = 1.5
}

#[test]
fn zero_usage_costs_zero() {
    let t = PriceTable::default_table().unwrap();
    assert_eq!(t.cost_micro_usd("gpt-4o", &Usage::default()).unwrap(), 0);
}

#[test]
fn unknown_model_is_error_not_zero() {
    let t = PriceTable::default_table().unwrap();
    assert_eq!(t.cost_micro_usd("gpt-9", &usage(1, 0, 1)), Err(PricingError::Unpriced("gpt-9".into())));
    assert_eq!(t.cost_micro_usd("", &Usage::default()), Err(PricingError::Unpriced(String::new())));
    assert!(t.lookup("gpt-4").is_none());
    assert!(t.lookup("gpt-4o ").is_none());
}

#[test]
fn lookup_exact_then_case_insensitive() {
    let t = PriceTable::default_table().unwrap();
    assert_eq!(t.lookup("GPT-4o").unwrap().id, "gpt-4o");
    assert_eq!(t.lookup("Claude-Sonnet-4-6").unwrap().id, "claude-sonnet-4.6");
    assert_eq!(t.lookup("DEEPSEEK-CHAT").unwrap().id, "deepseek-v3.2");
}

#[test]
fn cached_exceeding_prompt_is_error() {
    let m = model(1, None, 1);
    assert_eq!(m.cost_micro_usd(&usage(1, 2, 0)), Err(PricingError::CachedExceedsPrompt { cached: 2, prompt: 1 }));
}

#[test]
fn overflow_is_error_not_panic() {
    // Max validated price with u64::MAX tokens: fits u128, not u64.
    let m = model(1_000_000_000_000, Some(1_000_000_000_000), 1_000_000_000_000);
    assert!(matches!(m.cost_micro_usd(&usage(u64::MAX, 0, u64::MAX)), Err(PricingError::Overflow { .. })));
    // Hand-built prices beyond validation: the u128 sum itself overflows.
    let m = model(u64::MAX, Some(u64::MAX), u64::MAX);
    assert!(matches!(m.cost_micro_usd(&usage(u64::MAX, 1, u64::MAX)), Err(PricingError::Overflow { .. })));
    // A single product near the top of u128: the result does not fit u64.
    let m = model(u64::MAX, None, 0);
    assert!(matches!(m.cost_micro_usd(&usage(u64::MAX, 0, 0)), Err(PricingError::Overflow { .. })));
    // Largest cost that still fits.
    let m = model(1_000_000, None, 0);
    assert_eq!(m.cost_micro_usd(&usage(u64::MAX, 0, 0)).unwrap(), u64::MAX);
}

#[test]
fn price_conversion_rounds_to_micro_usd() {
    let t = PriceTable::try_from(raw(vec![
        raw_model("a", 0.0000005, 1_000_000.0), // 0.5 micro-USD/Mtok rounds to 1
        raw_model("b", 0.0000004, 0.1 + 0.2),
    ]))
    .unwrap();
    let a = t.lookup("a").unwrap();
    assert_eq!((a.base.input, a.base.output), (1, 1_000_000_000_000));
    let b = t.lookup("b").unwrap();
    assert_eq!((b.base.input, b.base.output), (0, 300_000));
    let c = PriceTable::try_from(raw(vec![raw_model("c", 0.0000025, 2.675)])).unwrap();
    let c = c.lookup("c").unwrap();
    assert_eq!((c.base.input, c.base.output), (3, 2_675_000));
}

#[test]
fn parses_user_config_shape() {
    let t = PriceTable::from_json(
        r#"{"version": "2026-04", "effective": "2026-04-01",
            "models": [ {"id": "gpt-4o", "input_per_mtok": 2.50, "cached_input_per_mtok": 1.25,
                         "output_per_mtok": 10.00, "aliases": ["gpt-4o-2024-08-06"]},
                        {"id": "local", "input_per_mtok": 0, "output_per_mtok": 0} ]}"#,
    )
    .unwrap();
    let m = t.lookup("gpt-4o-2024-08-06").unwrap();
    assert_eq!(
        *m,
        ModelPrice {
            id: "gpt-4o".into(),
            aliases: vec!["gpt-4o-2024-08-06".into()],
            base: rates(2_500_000, Some(1_250_000), 10_000_000),
            long_context: None,
            service_tiers: BTreeMap::new(),
            max_output_tokens: None,
        }
    );
    let local = t.lookup("local").unwrap();
    assert_eq!((local.base.cached_input, local.aliases.len()), (None, 0));
    assert_eq!(t.cost_micro_usd("local", &usage(10, 0, 10)).unwrap(), 0);
}

#[test]
fn rejects_unknown_and_missing_fields() {
    for bad in [
        r#"{"version":"v","effective":"2026-04-01","models":[],"extra":1}"#,
        r#"{"version":"v","effective":"2026-04-01","models":[{"id":"a","input_per_mtok":1,"output_per_mtok":1,"note":""}]}"#,
        r#"{"version":"v","effective":"2026-04-01","models":[{"id":"a","input_per_mtok":1}]}"#,
        r#"{"effective":"2026-04-01","models":[]}"#,
        r#"{"version":"v","effective":"2026-04-01","models":[{"id":"a","input_per_mtok":"1","output_per_mtok":1}]}"#,
        r#"not json"#,
    ] {
        assert!(matches!(PriceTable::from_json(bad), Err(PricingError::Parse(_))), "{bad}");
    }
}

#[test]
fn rejects_bad_table_metadata() {
    let mut r = raw(vec![raw_model("a", 1.0, 1.0)]);
    r.version = String::new();
    assert_eq!(PriceTable::try_from(r.clone()), Err(PricingError::EmptyVersion));
    r.version = "  ".into();
    assert_eq!(PriceTable::try_from(r.clone()), Err(PricingError::EmptyVersion));
    r.version = "v".into();
    for eff in ["", "2026-4-01", "2026-13-01", "2026-04-00", "2026/04/01", "2026-04-01T00:00", "２０２６-04-01"] {
        r.effective = eff.into();
        assert_eq!(PriceTable::try_from(r.clone()), Err(PricingError::InvalidEffective(eff.into())), "{eff}");
    }
    assert_eq!(PriceTable::try_from(raw(vec![])), Err(PricingError::NoModels));
}

#[test]
fn rejects_bad_prices() {
    for (value, field) in [
        (-0.01, "input_per_mtok"),
        (f64::NAN, "output_per_mtok"),
        (f64::INFINITY, "input_per_mtok"),
        (f64::NEG_INFINITY, "cached_input_per_mtok"),
        (1_000_000.01, "output_per_mtok"),
    ] {
        let mut m = raw_model("a", 1.0, 1.0);
        match field {
            "input_per_mtok" => m.input_per_mtok = value,
            "output_per_mtok" => m.output_per_mtok = value,
            _ => m.cached_input_per_mtok = Some(value),
        }
        let err = PriceTable::try_from(raw(vec![m])).unwrap_err();
        assert!(
            matches!(&err, PricingError::InvalidPrice { model, field: f, .. } if model == "a" && f == field),
            "{err:?}"
        );
    }
    // -0.0 is not negative.
    assert!(PriceTable::try_from(raw(vec![raw_model("a", -0.0, 1.0)])).is_ok());
}

#[test]
fn rejects_bad_and_duplicate_names() {
    let mut empty_alias = raw_model("a", 1.0, 1.0);
    empty_alias.aliases = vec![String::new()];
    for (models, err) in [
        (vec![raw_model("", 1.0, 1.0)], PricingError::InvalidName(String::new())),
        (vec![raw_model(" a", 1.0, 1.0)], PricingError::InvalidName(" a".into())),
        (vec![empty_alias], PricingError::InvalidName(String::new())),
        (vec![raw_model("a", 1.0, 1.0), raw_model("a", 2.0, 2.0)], PricingError::DuplicateName("a".into())),
        (vec![raw_model("a", 1.0, 1.0), raw_model("A", 2.0, 2.0)], PricingError::DuplicateName("A".into())),
    ] {
        assert_eq!(PriceTable::try_from(raw(models)), Err(err));
    }
    // Alias equal to another model's id (either order).
    let mut b = raw_model("b", 1.0, 1.0);
    b.aliases = vec!["a".into()];
    assert_eq!(
        PriceTable::try_from(raw(vec![raw_model("a", 1.0, 1.0), b.clone()])),
        Err(PricingError::DuplicateName("a".into()))
    );
    assert_eq!(
        PriceTable::try_from(raw(vec![b, raw_model("a", 1.0, 1.0)])),
        Err(PricingError::DuplicateName("a".into()))
    );
    // Alias repeated, or equal to its own id.
    let mut c = raw_model("c", 1.0, 1.0);
    c.aliases = vec!["c1".into(), "c1".into()];
    assert_eq!(PriceTable::try_from(raw(vec![c])), Err(PricingError::DuplicateName("c1".into())));
    let mut d = raw_model("d", 1.0, 1.0);
    d.aliases = vec!["d".into()];
    assert_eq!(PriceTable::try_from(raw(vec![d])), Err(PricingError::DuplicateName("d".into())));
}

#[test]
fn raw_table_round_trips() {
    let r: RawPriceTable = serde_json::from_str(include_str!("default_prices.json")).unwrap();
    let again: RawPriceTable = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
    assert_eq!(r, again);
}

#[test]
fn error_messages_are_lowercase() {
    assert_eq!(PricingError::Unpriced("x".into()).to_string(), "model \"x\" has no price");
    assert_eq!(PricingError::NoModels.to_string(), "price table has no models");
}

fn anthropic_usage(input: u64, read: u64, w5: u64, w1: u64, output: u64) -> Usage {
    Usage {
        prompt_tokens: input + read + w5 + w1,
        completion_tokens: output,
        cached_tokens: read,
        cache_write_5m_tokens: w5,
        cache_write_1h_tokens: w1,
        ..Usage::ZERO
    }
}

#[test]
fn cache_writes_are_billed_at_their_rates_with_one_rounding() {
    let t = PriceTable::default_table().unwrap();
    let sonnet = t.lookup("claude-sonnet-4-6").unwrap();
    // $3 in, $0.30 read, $3.75 5-minute write, $6 1-hour write, $15 out (per Mtok).
    let u = anthropic_usage(21, 188_086, 1_000, 2_000, 393);
    let expected_pico = 21 * 3_000_000 + 188_086 * 300_000 + 1_000 * 3_750_000 + 2_000 * 6_000_000 + 393 * 15_000_000;
    assert_eq!(sonnet.cost_micro_usd(&u).unwrap(), (expected_pico + 500_000) / 1_000_000);
    // A cache-heavy request: the read tokens cost a tenth of plain input.
    let heavy = anthropic_usage(10, 100_000, 0, 0, 100);
    let plain = anthropic_usage(100_010, 0, 0, 0, 100);
    assert_eq!(sonnet.cost_micro_usd(&heavy).unwrap(), (10 * 3 + 100_000 * 3 / 10 + 100 * 15) as u64);
    assert_eq!(sonnet.cost_micro_usd(&plain).unwrap(), (100_010 * 3 + 100 * 15) as u64);
}

#[test]
fn missing_cache_write_rates_fall_back_to_input() {
    let m = model(2_000_000, None, 0);
    assert_eq!(m.cost_micro_usd(&anthropic_usage(1, 0, 2, 3, 0)).unwrap(), 12);
}

#[test]
fn cache_writes_beyond_prompt_are_an_error() {
    let m = model(1, None, 1);
    let bad = Usage { prompt_tokens: 10, cached_tokens: 6, cache_write_5m_tokens: 5, ..Usage::ZERO };
    assert_eq!(m.cost_micro_usd(&bad), Err(PricingError::CacheWritesExceedPrompt { written: 5, prompt: 10 }));
}

#[test]
fn cache_write_prices_are_validated() {
    let mut bad = raw_model("a", 1.0, 1.0);
    bad.cache_write_1h_per_mtok = Some(-1.0);
    assert!(matches!(
        PriceTable::try_from(raw(vec![bad])),
        Err(PricingError::InvalidPrice { field, .. }) if field == "cache_write_1h_per_mtok"
    ));
}

#[test]
fn every_anthropic_model_has_both_cache_write_rates_and_a_source() {
    let raw: RawPriceTable = serde_json::from_str(DEFAULT_PRICES_JSON).unwrap();
    let claude: Vec<_> = raw.models.iter().filter(|m| m.id.starts_with("claude-")).collect();
    assert_eq!(claude.len(), 4);
    for m in claude {
        // Anthropic's documented multipliers: 1.25x input for 5 minutes, 2x for 1 hour.
        assert_eq!(m.cache_write_5m_per_mtok, Some(m.input_per_mtok * 1.25), "{}", m.id);
        assert_eq!(m.cache_write_1h_per_mtok, Some(m.input_per_mtok * 2.0), "{}", m.id);
        assert!(m.source.as_deref().is_some_and(|s| s.contains("platform.claude.com")), "{}", m.id);
    }
}

#[test]
fn every_price_has_a_source_and_a_date() {
    let raw: RawPriceTable = serde_json::from_str(DEFAULT_PRICES_JSON).unwrap();
    for m in &raw.models {
        let source = m.source.as_deref().unwrap_or_default();
        assert!(source.starts_with("https://"), "{}: {source}", m.id);
        assert!(source.contains("2026-"), "{} has no date: {source}", m.id);
    }
}

fn tiered(prompt: u64, cached: u64, completion: u64, tier: ServiceTier) -> Usage {
    Usage { service_tier: tier, ..usage(prompt, cached, completion) }
}

#[test]
fn long_context_rates_price_the_whole_request_above_the_threshold() {
    let t = PriceTable::default_table().unwrap();
    // gemini-2.5-pro: $1.25 / $0.125 / $10 up to 200K input tokens, $2.50 / $0.25 / $15 above.
    let at = usage(200_000, 50_000, 1_000);
    assert_eq!(t.cost_micro_usd("gemini-2.5-pro", &at).unwrap(), 150_000 * 5 / 4 + 50_000 / 8 + 1_000 * 10);
    let above = usage(200_001, 50_000, 1_000);
    assert_eq!(
        t.cost_micro_usd("gemini-2.5-pro", &above).unwrap(),
        // 150,001 * 2.5 + 50,000 * 0.25 + 1,000 * 15 = 402,502.5 micro-USD: rounded once, up.
        402_503
    );
    // Cache reads and writes count toward the threshold (Anthropic bills on all input tokens).
    let sonnet = t.lookup("claude-sonnet-4-5").unwrap();
    let u = Usage {
        prompt_tokens: 250_000,
        completion_tokens: 2_000,
        cached_tokens: 180_000,
        cache_write_5m_tokens: 60_000,
        cache_write_1h_tokens: 9_000,
        ..Usage::ZERO
    };
    let pico = 1_000 * 6_000_000 + 180_000 * 600_000 + 60_000 * 7_500_000 + 9_000 * 12_000_000 + 2_000 * 22_500_000;
    assert_eq!(sonnet.cost_micro_usd(&u).unwrap(), (pico + 500_000) / 1_000_000);
    // The 4.6 models have no premium: the same usage at base rates.
    let flat = t.lookup("claude-sonnet-4-6").unwrap();
    let base = 1_000 * 3_000_000 + 180_000 * 300_000 + 60_000 * 3_750_000 + 9_000 * 6_000_000 + 2_000 * 15_000_000;
    assert_eq!(flat.cost_micro_usd(&u).unwrap(), (base + 500_000) / 1_000_000);
}

#[test]
fn service_tiers_multiply_or_replace_the_rates() {
    let t = PriceTable::default_table().unwrap();
    let standard = t.cost_micro_usd("gpt-5", &tiered(10_000, 2_000, 3_000, ServiceTier::Standard)).unwrap();
    // 8,000 * 1.25 + 2,000 * 0.125 + 3,000 * 10 = 40,250 micro-USD.
    assert_eq!(standard, 40_250);
    assert_eq!(t.cost_micro_usd("gpt-5", &tiered(10_000, 2_000, 3_000, ServiceTier::Flex)).unwrap(), 20_125);
    // Priority: 8,000 * 2.50 + 2,000 * 0.25 + 3,000 * 20.
    assert_eq!(t.cost_micro_usd("gpt-5", &tiered(10_000, 2_000, 3_000, ServiceTier::Priority)).unwrap(), 80_500);
    // A multiplier applies to the total before the one rounding: 1 token of gpt-5-nano output on
    // flex is 0.2 micro-USD, 3 tokens 0.6, rounded to 1 (per-token rounding would give 0).
    assert_eq!(t.cost_micro_usd("gpt-5-nano", &tiered(0, 0, 3, ServiceTier::Flex)).unwrap(), 1);
}

#[test]
fn unpriced_and_unknown_service_tiers_are_errors_not_standard_prices() {
    let t = PriceTable::default_table().unwrap();
    for (model, tier) in [
        ("gpt-5-nano", ServiceTier::Priority),
        ("gpt-5", ServiceTier::Scale),
        ("claude-sonnet-4-6", ServiceTier::Priority),
        ("gpt-5", ServiceTier::Unknown),
    ] {
        let id = t.lookup(model).unwrap().id.clone();
        assert_eq!(
            t.cost_micro_usd(model, &tiered(10, 0, 10, tier)),
            Err(PricingError::UnpricedServiceTier { model: id, tier: tier.name() }),
            "{model} {tier:?}"
        );
    }
}

#[test]
fn own_rate_tiers_have_no_long_context_price_but_multipliers_do() {
    let mut m = model(1_000_000, None, 2_000_000);
    m.long_context = Some(LongContext { above_input_tokens: 100, rates: rates(3_000_000, None, 4_000_000) });
    m.service_tiers.insert(ServiceTier::Flex, TierPrice::Multiplier(500_000));
    m.service_tiers.insert(ServiceTier::Priority, TierPrice::Rates(rates(5_000_000, None, 6_000_000)));
    assert_eq!(m.cost_micro_usd(&tiered(100, 0, 10, ServiceTier::Flex)).unwrap(), 60);
    assert_eq!(m.cost_micro_usd(&tiered(101, 0, 10, ServiceTier::Flex)).unwrap(), 172);
    assert_eq!(m.cost_micro_usd(&tiered(100, 0, 10, ServiceTier::Priority)).unwrap(), 560);
    assert_eq!(
        m.cost_micro_usd(&tiered(101, 0, 10, ServiceTier::Priority)),
        Err(PricingError::NoLongContextTierRates { model: "m".into(), tier: "priority" })
    );
}

#[test]
fn long_context_and_service_tiers_are_validated() {
    let with = |f: &dyn Fn(&mut RawModelPrice)| {
        let mut m = raw_model("a", 1.0, 1.0);
        f(&mut m);
        PriceTable::try_from(raw(vec![m]))
    };
    let lc = |above: u64, input: f64| RawLongContext {
        above_input_tokens: above,
        input_per_mtok: input,
        cached_input_per_mtok: None,
        output_per_mtok: 1.0,
        cache_write_5m_per_mtok: None,
        cache_write_1h_per_mtok: None,
    };
    assert_eq!(with(&|m| m.long_context = Some(lc(0, 1.0))), Err(PricingError::ZeroLongContextThreshold("a".into())));
    assert!(matches!(
        with(&|m| m.long_context = Some(lc(5, -1.0))),
        Err(PricingError::InvalidPrice { field, .. }) if field == "long_context.input_per_mtok"
    ));
    let tier = |key: &str, p: RawTierPrice| {
        let key = key.to_string();
        with(&move |m| {
            m.service_tiers.insert(key.clone(), p.clone());
        })
    };
    let mult = |x: f64| RawTierPrice { multiplier: Some(x), ..RawTierPrice::default() };
    assert!(tier("flex", mult(0.5)).is_ok());
    assert_eq!(
        tier("standard", mult(0.5)),
        Err(PricingError::UnknownServiceTierKey { model: "a".into(), key: "standard".into() })
    );
    assert_eq!(
        tier("turbo", mult(0.5)),
        Err(PricingError::UnknownServiceTierKey { model: "a".into(), key: "turbo".into() })
    );
    for bad in [-0.1, 100.5, f64::NAN] {
        assert!(matches!(tier("flex", mult(bad)), Err(PricingError::InvalidMultiplier { tier: "flex", .. })), "{bad}");
    }
    let ambiguous = Err(PricingError::AmbiguousTierPrice { model: "a".into(), tier: "priority" });
    assert_eq!(tier("priority", RawTierPrice::default()), ambiguous);
    assert_eq!(tier("priority", RawTierPrice { input_per_mtok: Some(1.0), ..mult(2.0) }), ambiguous);
    assert_eq!(tier("priority", RawTierPrice { input_per_mtok: Some(1.0), ..RawTierPrice::default() }), ambiguous);
    let own = RawTierPrice { input_per_mtok: Some(1.0), output_per_mtok: Some(-2.0), ..RawTierPrice::default() };
    assert!(matches!(
        tier("priority", own),
        Err(PricingError::InvalidPrice { field, .. }) if field == "service_tiers.priority.output_per_mtok"
    ));
    let json = r#"{"version":"v","effective":"2026-04-01","models":[{"id":"a","input_per_mtok":1,"output_per_mtok":1,
        "service_tiers":{"flex":{"multiplier":0.5,"discount":1}}}]}"#;
    assert!(matches!(PriceTable::from_json(json), Err(PricingError::Parse(_))));
}
