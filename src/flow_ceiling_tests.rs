//! The cost ceiling through the request flow (fake host): a step-down rewrites the body and the
//! cluster, a rejection answers 400 in the API's shape and sends nothing upstream.

use crate::fake_host::FakeHost;
use crate::flow::{Action, RequestFlow};
use crate::flow_tests::{decided, router_with};
use crate::names;

/// 10,000 characters (2,504 estimated tokens) and max_tokens 4,000: on the shipped frontier
/// tier (claude-sonnet-4.6) 2,504 * $3 + 4,000 * $15 per Mtok = 67,512 micro-USD, on mid
/// (claude-haiku-4.5) 22,504, on cheap (gpt-5-nano) 1,725.
fn big() -> String {
    format!(r#"{{"model":"auto","max_tokens":4000,"messages":[{{"role":"user","content":"{}"}}]}}"#, "a".repeat(10_000))
}

#[test]
fn a_routed_request_over_the_ceiling_steps_down() {
    let r = router_with(|v| v["cost_ceiling"] = serde_json::json!({"max_micro_usd": 30_000}), 0.9);
    let h = decided(&r, &[], &big());
    let body: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert_eq!(body["model"], "claude-haiku-4.5");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    assert_eq!(h.state.get("llm_router_reason").map(String::as_str), Some("cost_ceiling"));
    assert_eq!(h.counter_sum("llm_router_cost_ceiling_total"), 1);
    assert!(h.counters.keys().any(|k| k.starts_with("llm_router_cost_ceiling_total") && k.contains("step_down")));
    // Within the ceiling: nothing happens.
    let r = router_with(|v| v["cost_ceiling"] = serde_json::json!({"max_micro_usd": 67_512}), 0.9);
    let h = decided(&r, &[], &big());
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_frontier"));
    assert_eq!(h.counter_sum("llm_router_cost_ceiling_total"), 0);
}

#[test]
fn over_the_ceiling_on_every_tier_is_rejected_with_the_estimate() {
    let r = router_with(|v| v["cost_ceiling"] = serde_json::json!({"max_micro_usd": 1_000}), 0.9);
    let body = big();
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], &body);
    h.route = Some("chat".into());
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
    assert_eq!(f.on_request_body(&r, &mut h, body.len(), true), Action::Pause);
    let (status, reply) = h.local_reply.clone().unwrap();
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
    assert_eq!(v["error"]["code"], "cost_ceiling");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1725 micro-USD on gpt-5-nano") && message.contains("ceiling of 1000 micro-USD"),
        "{message}"
    );
    assert_eq!(h.req_header(names::HEADER_CLUSTER), None);
    assert_eq!(h.state.get("llm_router_status").map(String::as_str), Some("error"));
    assert!(h.counters.keys().any(|k| k.starts_with("llm_router_errors_total") && k.contains("cost_ceiling")));
}

#[test]
fn the_trusted_header_sets_the_ceiling_and_measure_mode_ignores_it() {
    let patch = |v: &mut serde_json::Value| v["cost_ceiling"] = serde_json::json!({"header": "x-cost-ceiling"});
    let r = router_with(patch, 0.9);
    let h = decided(&r, &[("x-cost-ceiling", "2000")], &big());
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_cheap"));
    let h = decided(&r, &[], &big());
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_frontier"), "no header, no ceiling");
    let r = router_with(
        |v| {
            patch(v);
            v["mode"] = "measure".into();
        },
        0.9,
    );
    let h = decided(&r, &[("x-cost-ceiling", "1")], &big());
    assert_eq!(h.local_reply, None);
    assert_eq!(h.state.get("llm_router_tier").map(String::as_str), Some("frontier"));
}
