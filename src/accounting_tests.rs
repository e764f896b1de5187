//! Unit tests of the accounting step: values in, one emission out, no host.

use super::*;
use crate::config::DEFAULT_CONFIG_JSON;
use crate::service_tier::ServiceTier;

fn config() -> Config {
    Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap()
}

fn routing(model: &str, tier: &str) -> Routing {
    Routing {
        api: Api::ChatCompletions,
        requested_model: "auto".into(),
        model: model.into(),
        tier: tier.into(),
        tier_index: Some(0),
        score: Some(0.1),
        reason: "score".into(),
        customer: "acme".into(),
        decided: true,
        resend: None,
        attempts: 0,
        retry: None,
        strip_usage: false,
        family: None,
        budget: None,
        shadow: None,
    }
}

fn usage(p: u64, c: u64) -> Option<Usage> {
    Some(Usage { prompt_tokens: p, completion_tokens: c, cached_tokens: 0, ..Usage::ZERO })
}

fn counter(e: &Emission, name: &str) -> Vec<u64> {
    e.counters.iter().filter(|c| c.name == name).map(|c| c.value).collect()
}

fn header<'e>(e: &'e Emission, name: &str) -> Option<&'e str> {
    e.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
}

fn state_of<'e>(e: &'e Emission, key: &str) -> Option<&'e str> {
    e.state.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str())
}

#[test]
fn a_priced_answer_counts_records_and_sets_every_header() {
    let cfg = config();
    let e = account(&cfg, "chat", &routing("gpt-5-nano", "cheap"), usage(1000, 500), None, Headers::All);
    // gpt-5-nano 0.05/0.40 per Mtok: 250 micro-USD; the baseline (sonnet 3/15): 10500.
    assert_eq!(counter(&e, stat::COST), [250]);
    assert_eq!(counter(&e, stat::BASELINE_COST), [10500]);
    assert_eq!(counter(&e, stat::INPUT_TOKENS), [1000]);
    assert_eq!(counter(&e, stat::CACHED_TOKENS), [0], "a 0 still defines the metric");
    assert_eq!(counter(&e, stat::DECISIONS), [1]);
    assert_eq!(counter(&e, stat::PASSTHROUGH), Vec::<u64>::new());
    let requests = e.counters.iter().find(|c| c.name == stat::REQUESTS).unwrap();
    assert!(requests.labels.contains(&(label::STATUS, "priced".to_string())));
    assert!(requests.labels.contains(&(label::ROUTE, "chat".to_string())));
    assert_eq!(
        e.histograms,
        vec![Count::new(
            stat::REQUEST_COST,
            &[
                (label::ROUTE, "chat"),
                (label::API, "chat_completions"),
                (label::TIER, "cheap"),
                (label::MODEL, "gpt-5-nano"),
                (label::MODE, "route")
            ],
            250
        )]
    );
    assert_eq!(header(&e, names::HEADER_COST), Some("250"));
    assert_eq!(header(&e, names::HEADER_BASELINE_COST), Some("10500"));
    assert_eq!(header(&e, names::HEADER_STATUS), Some("priced"));
    assert_eq!(header(&e, names::HEADER_MODEL), Some("gpt-5-nano"));
    assert_eq!(header(&e, names::HEADER_SCORE), Some("0.1000"));
    assert_eq!(header(&e, names::HEADER_RETRY), None);
    assert_eq!(state_of(&e, state::COST), Some("250"));
    assert_eq!(state_of(&e, state::STATUS), Some("priced"));
    assert_eq!(state_of(&e, state::RETRY), Some(""));
    let record = e.record.unwrap();
    assert_eq!(
        (record.status, record.cost_micro_usd, record.baseline_cost_micro_usd),
        (Status::Priced, Some(250), Some(10500))
    );
    assert!(record
        .sse_comment()
        .starts_with(": llm-router {\"model\":\"gpt-5-nano\",\"tier\":\"cheap\",\"status\":\"priced\""));
    assert!(record.sse_comment().ends_with("}\n\n"));
}

#[test]
fn headers_follow_what_the_phase_allows() {
    let cfg = config();
    let r = routing("gpt-5-nano", "cheap");
    let names_of = |h: Headers| -> Vec<&'static str> {
        account(&cfg, "chat", &r, usage(1, 1), None, h).headers.into_iter().map(|(k, _)| k).collect()
    };
    assert!(names_of(Headers::None).is_empty());
    assert_eq!(names_of(Headers::Cost), [names::HEADER_STATUS, names::HEADER_COST, names::HEADER_BASELINE_COST]);
    assert_eq!(names_of(Headers::Decision), decision_headers(&cfg, &r).into_iter().map(|(k, _)| k).collect::<Vec<_>>());
    assert_eq!(names_of(Headers::All).len(), 9);
}

#[test]
fn an_escalated_request_pays_for_both_answers_under_their_own_labels() {
    let cfg = config();
    let first = routing("gpt-5-nano", "cheap");
    let mut second = routing("claude-haiku-4.5", "mid");
    second.retry = Some("escalation:empty".into());
    let e = account(&cfg, "chat", &second, usage(1000, 100), Some((&first, usage(1000, 500))), Headers::All);
    let costs: Vec<(String, u64)> = e
        .counters
        .iter()
        .filter(|c| c.name == stat::COST)
        .map(|c| (c.labels.iter().find(|(k, _)| *k == label::MODEL).unwrap().1.clone(), c.value))
        .collect();
    // haiku 1/5 per Mtok: 1000 + 500 = 1500; nano: 250.
    assert_eq!(costs, [("gpt-5-nano".to_string(), 250), ("claude-haiku-4.5".to_string(), 1500)]);
    assert_eq!(header(&e, names::HEADER_COST), Some("1750"));
    assert_eq!(header(&e, names::HEADER_RETRY), Some("escalation:empty"));
    assert_eq!(counter(&e, stat::REQUESTS), [1], "one request, two answers");
}

#[test]
fn unpriced_and_missing_usage_are_statuses_not_zero_cost() {
    let cfg = config();
    let e = account(&cfg, "chat", &routing("mystery-1", "none"), usage(10, 10), None, Headers::All);
    assert_eq!(e.record.as_ref().map(|r| r.status), Some(Status::Unpriced));
    assert_eq!((header(&e, names::HEADER_COST), counter(&e, stat::UNPRICED)), (None, vec![1]));
    assert!(header(&e, names::HEADER_BASELINE_COST).is_some(), "the baseline is still known");
    assert!(e.histograms.is_empty() && counter(&e, stat::BASELINE_COST).is_empty());

    let e = account(&cfg, "chat", &routing("gpt-5-nano", "cheap"), None, None, Headers::Cost);
    assert_eq!(e.record.as_ref().map(|r| r.status), Some(Status::UsageMissing));
    assert_eq!(counter(&e, stat::USAGE_MISSING), [1]);
    assert!(counter(&e, stat::INPUT_TOKENS).is_empty());
    assert_eq!((state_of(&e, state::COST), state_of(&e, state::INPUT_TOKENS)), (Some(""), Some("0")));
}

#[test]
fn rejected_requests_have_the_error_status() {
    let e = rejected(Api::Messages, "bad_json");
    assert_eq!(e.counters, vec![Count::new(stat::ERRORS, &[(label::API, "messages"), (label::KIND, "bad_json")], 1)]);
    assert_eq!(e.state, vec![(state::STATUS, "error".to_string()), (state::API, "messages".to_string())]);
    assert!(e.headers.is_empty() && e.record.is_none());
    assert_eq!(Status::Error.as_str(), value::STATUS_ERROR);
}

#[test]
fn request_side_stats_are_emissions_too() {
    assert_eq!(customer_overflow().counters, vec![Count::new(stat::CUSTOMER_OVERFLOW, &[], 1)]);
    assert_eq!(decision_time(42).histograms, vec![Count::new(stat::DECISION_TIME_US, &[], 42)]);
    assert!(decision_time(42).counters.is_empty() && customer_overflow().record.is_none());
}

#[test]
fn route_label_is_unknown_without_a_route_name() {
    assert_eq!(route_label(None), "unknown");
    assert_eq!(route_label(Some("")), "unknown");
    assert_eq!(route_label(Some("chat")), "chat");
}

#[test]
fn every_stat_and_the_record_carry_the_api_label() {
    let cfg = config();
    for api in Api::ALL {
        let r = Routing { api, ..routing("gpt-5-nano", "cheap") };
        let e = account(&cfg, "chat", &r, usage(1000, 500), None, Headers::All);
        assert!(e.counters.len() >= 7, "{:?}", e.counters);
        for c in e.counters.iter().chain(&e.histograms) {
            assert_eq!(
                c.labels.iter().filter(|(k, _)| *k == label::API).collect::<Vec<_>>(),
                [&(label::API, api.label().to_string())],
                "{}",
                c.name
            );
        }
        assert_eq!(state_of(&e, state::API), Some(api.label()));
        let record = e.record.unwrap();
        assert_eq!(record.api, api);
        assert!(record.sse_comment().contains(&format!("\"api\":\"{}\"", api.label())));
    }
}

#[test]
fn a_flex_answer_is_priced_on_its_tier_and_says_so() {
    let cfg = config();
    let flex = Some(Usage { service_tier: ServiceTier::Flex, ..usage(1000, 500).unwrap() });
    let e = account(&cfg, "chat", &routing("gpt-5-nano", "cheap"), flex, None, Headers::All);
    // Half of the standard 250 micro-USD; the baseline (sonnet, not sold on flex) at its
    // standard rates, as in the priced test above.
    assert_eq!(counter(&e, stat::COST), [125]);
    assert_eq!(counter(&e, stat::BASELINE_COST), [10500]);
    assert_eq!(state_of(&e, state::SERVICE_TIER), Some("flex"));
    assert!(e.record.unwrap().sse_comment().contains(r#""service_tier":"flex""#));
    // Standard answers pay no extra host call and keep the comment's shape.
    let e = account(&cfg, "chat", &routing("gpt-5-nano", "cheap"), usage(1000, 500), None, Headers::All);
    assert_eq!(state_of(&e, state::SERVICE_TIER), None);
    assert!(!e.record.unwrap().sse_comment().contains("service_tier"));
}

#[test]
fn an_answer_on_a_tier_without_a_price_is_unpriced() {
    let cfg = config();
    let priority = Some(Usage { service_tier: ServiceTier::Priority, ..usage(1000, 500).unwrap() });
    let e = account(&cfg, "chat", &routing("gpt-5-nano", "cheap"), priority, None, Headers::All);
    assert_eq!(counter(&e, stat::COST), Vec::<u64>::new());
    assert_eq!(counter(&e, stat::UNPRICED), [1]);
    assert_eq!(header(&e, names::HEADER_STATUS), Some("unpriced"));
    assert_eq!(header(&e, names::HEADER_COST), None);
    assert_eq!(state_of(&e, state::SERVICE_TIER), Some("priority"));
}
