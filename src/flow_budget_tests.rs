//! Budgets through the request flow (fake host): spend recorded by compare-and-swap, the pace
//! moving scored requests to cheaper tiers, and the cap.

use std::collections::BTreeMap;

use crate::budget::{encode, key};
use crate::fake_host::FakeHost;
use crate::flow::{Action, RequestFlow};
use crate::flow_tests::{respond_json, router_with, usage_body};
use crate::names;
use crate::router::Router;

/// 2026-12-02T12:00:00Z: half of the UTC day gone.
const NOON: u64 = 1_796_169_600 + 43_200;
const TODAY: u64 = 1_796_169_600 / 86_400;
const SIMPLE: &str = r#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#;

fn router(budget: serde_json::Value, score: f32) -> Router {
    router_with(
        |v| {
            v["customer"] = serde_json::json!({"header": "x-customer-id"});
            v["budget"] = budget;
        },
        score,
    )
}

/// A host at noon whose shared data says `acme` spent `spent` today.
fn host(body: &str, spent: Option<u64>, extra: &[(&str, &str)]) -> FakeHost {
    let mut headers = vec![("x-customer-id", "acme")];
    headers.extend_from_slice(extra);
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &headers, body);
    h.route = Some("chat".into());
    *h.clock.borrow_mut() = NOON * 1_000_000_000;
    if let Some(s) = spent {
        h.shared = BTreeMap::from([(key("acme"), (encode(TODAY, s), 5))]);
    }
    h
}

fn run(r: &Router, h: &mut FakeHost, body: &str) -> (RequestFlow, Action) {
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(r, h, false), Action::Pause);
    let action = f.on_request_body(r, h, body.len(), true);
    (f, action)
}

#[test]
fn every_priced_answer_adds_to_the_shared_spend_even_when_writes_race() {
    let r = router(serde_json::json!({"default_micro_usd": 1_000_000_000}), 0.1);
    let mut shared = BTreeMap::new();
    // One request per host (a stream), the shared data carried from one to the next.
    let once = |races: u32, shared: &mut BTreeMap<String, (Vec<u8>, u32)>| {
        let mut h = host(SIMPLE, None, &[]);
        h.shared = std::mem::take(shared);
        h.shared_races = races;
        let (mut f, action) = run(&r, &mut h, SIMPLE);
        assert_eq!(action, Action::Continue);
        // gpt-5-nano: 1,000 in + 500 out = 250 micro-USD.
        respond_json(&r, &mut f, &mut h, &usage_body("gpt-5-nano", 1_000, 500, 0));
        *shared = std::mem::take(&mut h.shared);
        h
    };
    once(0, &mut shared);
    let h = once(3, &mut shared);
    assert_eq!(shared[&key("acme")].0, encode(TODAY, 500));
    assert_eq!(h.counter_sum("llm_router_budget_update_failed_total"), 0);
    // The answer says what was left before it.
    assert_eq!(h.resp_header(names::HEADER_BUDGET_REMAINING), Some("999999750"));
    // A write that always loses is counted, not retried forever.
    let h = once(u32::MAX, &mut shared);
    assert_eq!(h.counter_sum("llm_router_budget_update_failed_total"), 1);
    assert_eq!(shared[&key("acme")].0, encode(TODAY, 500));
}

#[test]
fn spending_ahead_of_pace_sends_scored_requests_to_cheaper_tiers() {
    // Budget 2,000,000 a day; at noon the allowance is 1,100,000.
    let r = router(serde_json::json!({"default_micro_usd": 2_000_000}), 0.9);
    let mut h = host(SIMPLE, Some(1_000_000), &[]);
    assert_eq!(run(&r, &mut h, SIMPLE).1, Action::Continue);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_frontier"), "under the allowance: unchanged");
    // 1,999,000 spent: ratio 1.82, pace 0.82, thresholds raised above the 0.9 score.
    let mut h = host(SIMPLE, Some(1_999_000), &[]);
    let (mut f, _) = run(&r, &mut h, SIMPLE);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_cheap"));
    f.on_log(&r, &mut h);
    assert_eq!(h.state.get("llm_router_reason").map(String::as_str), Some("budget_pace"));
    assert!(h.counters.keys().any(|k| k.starts_with("llm_router_budget_total") && k.contains("action=paced")));
}

#[test]
fn at_the_cap_routed_requests_get_429_with_retry_after_or_the_cheapest_tier() {
    let r = router(serde_json::json!({"default_micro_usd": 1_000_000}), 0.9);
    let mut h = host(SIMPLE, Some(1_000_000), &[]);
    let (_, action) = run(&r, &mut h, SIMPLE);
    assert_eq!(action, Action::Pause);
    let (status, body) = h.local_reply.clone().unwrap();
    assert_eq!(status, 429);
    assert_eq!(h.local_reply_headers, vec![("retry-after".to_string(), "43200".to_string())]);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "budget_cap");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), None);
    assert!(h.counters.keys().any(|k| k.starts_with("llm_router_errors_total") && k.contains("budget_cap")));

    let r = router(serde_json::json!({"default_micro_usd": 1_000_000, "at_cap": "cheapest"}), 0.9);
    let mut h = host(SIMPLE, Some(1_000_000), &[]);
    let (mut f, _) = run(&r, &mut h, SIMPLE);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_cheap"));
    f.on_log(&r, &mut h);
    assert_eq!(h.state.get("llm_router_reason").map(String::as_str), Some("budget_cap"));
}

#[test]
fn explicit_models_at_the_cap_are_rejected_unless_allowed_and_measure_mode_never_acts() {
    let explicit = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"#;
    let r = router(serde_json::json!({"default_micro_usd": 10}), 0.9);
    let mut h = host(explicit, Some(10), &[]);
    assert_eq!(run(&r, &mut h, explicit).1, Action::Pause);
    assert_eq!(h.local_reply.as_ref().map(|r| r.0), Some(429));
    let r = router(serde_json::json!({"default_micro_usd": 10, "explicit_at_cap": "allow"}), 0.9);
    let mut h = host(explicit, Some(10), &[]);
    assert_eq!(run(&r, &mut h, explicit).1, Action::Continue);
    assert_eq!(h.local_reply, None);
    let r = router_with(
        |v| {
            v["customer"] = serde_json::json!({"header": "x-customer-id"});
            v["budget"] = serde_json::json!({"default_micro_usd": 10});
            v["mode"] = "measure".into();
        },
        0.9,
    );
    let mut h = host(SIMPLE, Some(10), &[]);
    assert_eq!(run(&r, &mut h, SIMPLE).1, Action::Continue);
    assert_eq!(h.local_reply, None);
}

#[test]
fn budgets_need_customer_labels() {
    let mut v: serde_json::Value = serde_json::from_str(crate::config::DEFAULT_CONFIG_JSON).unwrap();
    v.as_object_mut().unwrap().remove("customer");
    v["budget"] = serde_json::json!({"default_micro_usd": 10});
    let e = crate::config::Config::from_json(v.to_string().as_bytes()).unwrap_err();
    assert_eq!(e.to_string(), "budget: budgets are per customer: configure `customer` as well");
}
