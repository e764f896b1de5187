//! Native tests of the flow on Anthropic Messages requests (`apis.messages` of the shipped
//! configuration) against the fake host: routing within the Claude tiers, cost from the
//! answer's JSON and event stream, and the Anthropic error shape when failing closed.

use crate::fake_host::{router_with, send_to, FakeHost};
use crate::flow::{Action, RequestFlow};
use crate::names;
use crate::router::Router;
use crate::usage::Usage;

const PINNED: (&str, &str) = ("x-llm-tier", "claude-mid");
const BODY: &str = r#"{"model":"auto","max_tokens":64,"system":[{"type":"text","text":"manual","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}"#;

fn send(r: &Router, body: &str, headers: &[(&str, &str)]) -> (RequestFlow, FakeHost) {
    send_to(r, "/v1/messages", body, headers)
}

/// Cost of `usage` on `model` by the shipped price table.
fn cost(r: &Router, model: &str, usage: &Usage) -> u64 {
    r.config.prices.cost_micro_usd(model, usage).unwrap()
}

#[test]
fn routes_within_the_messages_tiers_and_prices_the_json_answer() {
    let r = router_with(|_| {});
    let (mut f, mut h) = send(&r, BODY, &[PINNED]);
    let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4-6");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    let answer = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-6","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":300,"cache_read_input_tokens":2000,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":50}}"#;
    h.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), answer.len().to_string()),
    ];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Pause);
    h.response_chunk = answer.as_bytes().to_vec();
    assert_eq!(f.on_response_body(&r, &mut h, answer.len(), true), Action::Continue);
    let usage = Usage {
        prompt_tokens: 2310,
        completion_tokens: 50,
        cached_tokens: 2000,
        cache_write_5m_tokens: 100,
        cache_write_1h_tokens: 200,
        ..Usage::ZERO
    };
    let expected = cost(&r, "claude-sonnet-4-6", &usage);
    // 10*$3 + 2000*$0.30 + 100*$3.75 + 200*$6 + 50*$15 per Mtok, in micro-USD.
    assert_eq!(
        expected,
        (10 * 3_000_000 + 2000 * 300_000 + 100 * 3_750_000 + 200 * 6_000_000 + 50 * 15_000_000) / 1_000_000
    );
    assert_eq!(h.resp_header(names::HEADER_COST), Some(expected.to_string().as_str()));
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("claude-mid"));
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), expected);
    // Counted under api=messages only: the label tells the APIs apart in Prometheus.
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total{route=chat,api=messages,"), expected);
    assert_eq!(h.counter_sum("llm_router_requests_total{route=chat,api=messages,tier=claude-mid,"), 1);
    assert!(h.counters.keys().all(|k| !k.contains("api=chat_completions")), "{:?}", h.counters);
    assert_eq!(h.state.get(names::state::API).map(String::as_str), Some("messages"));
}

#[test]
fn prices_the_event_stream_and_appends_the_comment() {
    let r = router_with(|_| {});
    let body = BODY.replace("\"max_tokens\":64", "\"max_tokens\":64,\"stream\":true");
    let (mut f, mut h) = send(&r, &body, &[PINNED]);
    let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert!(sent.get("stream_options").is_none(), "Anthropic streams carry usage: no edit");
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "text/event-stream".into())];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    let stream = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-6\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"cache_read_input_tokens\":1000,\"output_tokens\":1}}}\n\n\
        event: ping\ndata: {\"type\":\"ping\"}\n\n\
        event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n\
        event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n\
        event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let mut client = Vec::new();
    for chunk in stream.as_bytes().chunks(9) {
        h.response_chunk = chunk.to_vec();
        assert_eq!(f.on_response_body(&r, &mut h, chunk.len(), false), Action::Continue);
        client.extend_from_slice(&h.response_chunk);
    }
    h.response_chunk.clear();
    assert_eq!(f.on_response_body(&r, &mut h, 0, true), Action::Continue);
    assert_eq!(client, stream.as_bytes(), "the events pass unchanged");
    let usage = Usage { prompt_tokens: 1025, completion_tokens: 15, cached_tokens: 1000, ..Usage::ZERO };
    let expected = cost(&r, "claude-sonnet-4-6", &usage);
    let tail = String::from_utf8(h.appended.clone()).unwrap();
    assert!(tail.starts_with(": llm-router {") && tail.ends_with("\n\n"), "{tail}");
    assert!(tail.contains(&format!("\"cost_micro_usd\":{expected}")), "{tail}");
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), expected);
}

#[test]
fn malformed_bodies_fail_open_or_closed_in_anthropics_shape() {
    let r = router_with(|_| {});
    let mut h = FakeHost::request("POST", "/v1/messages", &[], r#"{"model":"auto","messages":[],"system":7}"#);
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(&r, &mut h, n, true), Action::Continue, "fail-open by default");
    assert!(h.local_reply.is_none());
    assert_eq!(h.counters["llm_router_errors_total{api=messages,kind=bad_messages}"], 1, "{:?}", h.counters);
    assert_eq!(h.state.get(names::state::API).map(String::as_str), Some("messages"));
    let closed = router_with(|v| v["apis"]["messages"]["fail_closed"] = true.into());
    let mut h = FakeHost::request("POST", "/v1/messages", &[], "{nope");
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&closed, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(&closed, &mut h, n, true), Action::Pause);
    let (status, body) = h.local_reply.clone().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, &v["type"], &v["error"]["type"]), (400, &"error".into(), &"invalid_request_error".into()));
    assert!(v["error"]["message"].as_str().unwrap().starts_with("llm-router: "));
}

#[test]
fn chat_paths_keep_the_chat_tiers() {
    let r = router_with(|_| {});
    let mut h = FakeHost::request(
        "POST",
        "/v1/chat/completions",
        &[],
        r#"{"model":"auto","messages":[{"role":"user","content":"hi"}],"tools":[{}]}"#,
    );
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(&r, &mut h, n, true), Action::Continue);
    let tier = h.state.get(crate::names::state::TIER).cloned();
    f.on_log(&r, &mut h);
    let tier = tier.or_else(|| h.state.get(crate::names::state::TIER).cloned()).unwrap();
    assert!(r.config.tiers.iter().any(|t| t.name == tier), "{tier}");
    assert_eq!(h.counter_sum("llm_router_requests_total{route=unknown,api=chat_completions,"), 1, "{:?}", h.counters);
    assert_eq!(h.state.get(names::state::API).map(String::as_str), Some("chat_completions"));
}
