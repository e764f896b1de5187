//! Native tests of the request flow against the fake host.

use crate::classifier::{Classifier, ClassifierError, HeuristicClassifier};
use crate::config::{Config, DEFAULT_CONFIG_JSON};
use crate::fake_host::FakeHost;
use crate::flow::{Action, RequestFlow};
use crate::names;
use crate::router::Router;

/// A classifier returning a fixed score.
struct Fixed(f32);
impl Classifier for Fixed {
    fn score(&self, _: &[f32]) -> Result<f32, ClassifierError> {
        Ok(self.0)
    }
    fn name(&self) -> &'static str {
        "fixed"
    }
}

pub(crate) fn router_with(patch: impl FnOnce(&mut serde_json::Value), score: f32) -> Router {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    patch(&mut v);
    Router::new(Config::from_json(v.to_string().as_bytes()).unwrap(), Box::new(Fixed(score)))
}

fn router(score: f32) -> Router {
    router_with(|_| {}, score)
}

const SIMPLE: &str = r#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#;

pub(crate) fn usage_body(model: &str, p: u64, c: u64, cached: u64) -> String {
    format!(
        r#"{{"id":"x","object":"chat.completion","model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant","content":"ok"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{p},"completion_tokens":{c},"total_tokens":{},"prompt_tokens_details":{{"cached_tokens":{cached}}}}}}}"#,
        p + c
    )
}

/// Run the request side; returns the flow and the host.
pub(crate) fn send(r: &Router, headers: &[(&str, &str)], body: &str) -> (RequestFlow, FakeHost) {
    let mut h = FakeHost::request("POST", "/v1/chat/completions", headers, body);
    h.route = Some("chat".into());
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(r, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(r, &mut h, n, true), Action::Continue);
    (f, h)
}

/// Run the request side and end the stream without a response (`on_log`), so the decision's
/// filter state (written at accounting time) is there to read.
pub(crate) fn decided(r: &Router, headers: &[(&str, &str)], body: &str) -> FakeHost {
    let (mut f, mut h) = send(r, headers, body);
    f.on_log(r, &mut h);
    h
}

/// Complete a non-streaming JSON response through the held-headers path.
pub(crate) fn respond_json(r: &Router, f: &mut RequestFlow, h: &mut FakeHost, body: &str) {
    h.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), body.len().to_string()),
    ];
    assert_eq!(f.on_response_headers(r, h, false), Action::Pause);
    h.response_chunk = body.as_bytes().to_vec();
    assert_eq!(f.on_response_body(r, h, body.len() / 2, false), Action::Pause);
    assert_eq!(f.on_response_body(r, h, body.len(), true), Action::Continue);
    f.on_log(r, h);
}

#[test]
fn routes_alias_by_score_and_rewrites_body() {
    let r = router(0.1);
    let h = decided(&r, &[("x-customer-id", "acme")], SIMPLE);
    let body: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert_eq!(body["model"], "gpt-5-nano");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_cheap"));
    assert_eq!(h.req_header("content-length"), Some(h.request_body.len().to_string().as_str()));
    assert_eq!(h.req_header("accept-encoding"), Some("identity"));
    assert_eq!(h.state["llm_router_tier"], "cheap");
    assert_eq!(h.state["llm_router_score"], "0.1000");
    assert_eq!(h.state["llm_router_customer"], "acme");
    assert_eq!(h.histograms["llm_router_decision_time_us{}"], vec![7]);

    let r = router(0.5);
    let (_, h) = send(&r, &[], SIMPLE);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    let r = router(0.9);
    let (_, h) = send(&r, &[], SIMPLE);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_frontier"));
}

#[test]
fn strips_client_headers_in_namespace_on_every_request() {
    let r = router(0.1);
    let spoof = [
        ("x-llm-router-cluster", "llm_frontier"),
        ("x-llm-router-cost-micro-usd", "1"),
        ("X-LLM-Router-Tier", "frontier"),
    ];
    let (_, h) = send(&r, &spoof[..2], SIMPLE);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_cheap"));
    assert_eq!(h.req_header("x-llm-router-cost-micro-usd"), None);

    let mut h = FakeHost::request("GET", "/v1/models", &spoof[..1], "");
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, true), Action::Continue);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), None);
}

#[test]
fn prices_json_response_and_sets_headers() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[("x-customer-id", "acme")], SIMPLE);
    respond_json(&r, &mut f, &mut h, &usage_body("gpt-5-nano", 1000, 500, 0));
    // gpt-5-nano 0.05/0.40 per Mtok: 1000*0.05 + 500*0.40 = 250 micro-USD; sonnet 3/15: 10500.
    assert_eq!(h.resp_header(names::HEADER_COST), Some("250"));
    assert_eq!(h.resp_header(names::HEADER_BASELINE_COST), Some("10500"));
    assert_eq!(h.resp_header(names::HEADER_MODEL), Some("gpt-5-nano"));
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("cheap"));
    assert_eq!(h.resp_header(names::HEADER_REASON), Some("score"));
    assert_eq!(h.resp_header(names::HEADER_PRICE_VERSION), Some("2026-12"));
    assert_eq!(h.resp_header(names::HEADER_STATUS), Some("priced"));
    let labels = "route=chat,api=chat_completions,tier=cheap,model=gpt-5-nano,customer=acme,mode=route";
    assert_eq!(
        h.counters["llm_router_decisions_total{route=chat,api=chat_completions,tier=cheap,mode=route,reason=score}"],
        1
    );
    assert_eq!(h.counters[&format!("llm_router_cost_micro_usd_total{{{labels}}}")], 250);
    assert_eq!(h.counters[&format!("llm_router_baseline_cost_micro_usd_total{{{labels}}}")], 10500);
    assert_eq!(h.counters[&format!("llm_router_input_tokens_total{{{labels}}}")], 1000);
    assert_eq!(h.counters[&format!("llm_router_requests_total{{{labels},status=priced}}")], 1);
    assert_eq!(h.state["llm_router_cost_micro_usd"], "250");
    // on_log after completion must not count twice
    assert_eq!(h.counter_sum("llm_router_requests_total"), 1);
}

#[test]
fn cached_tokens_use_cached_rate() {
    let r = router(0.9);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    respond_json(&r, &mut f, &mut h, &usage_body("claude-sonnet-4.6", 1000, 100, 800));
    // 200*3 + 800*0.30 + 100*15 = 600 + 240 + 1500 = 2340
    assert_eq!(h.resp_header(names::HEADER_COST), Some("2340"));
    assert_eq!(h.resp_header(names::HEADER_BASELINE_COST), Some("2340"));
}

#[test]
fn explicit_model_passes_through_unchanged_but_priced() {
    let r = router(0.1);
    let body = r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0}"#;
    let (mut f, mut h) = send(&r, &[], body);
    assert_eq!(h.request_body, body.as_bytes());
    assert_eq!(h.req_header(names::HEADER_CLUSTER), None);
    respond_json(&r, &mut f, &mut h, &usage_body("gpt-4o-2024-08-06", 1000, 100, 0));
    assert_eq!(h.state["llm_router_reason"], "explicit");
    assert_eq!(h.resp_header(names::HEADER_COST), Some("3500"));
    assert_eq!(h.counter_sum("llm_router_passthrough_total"), 1);

    // An explicit model that a tier serves goes to that tier's cluster.
    let body = r#"{"model":"claude-haiku-4.5","messages":[]}"#;
    let (_, h) = send(&r, &[], body);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    assert_eq!(h.request_body, body.as_bytes());
}

#[test]
fn unknown_explicit_model_is_unpriced_not_free() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], r#"{"model":"mystery-1","messages":[]}"#);
    respond_json(&r, &mut f, &mut h, &usage_body("mystery-1", 10, 10, 0));
    assert_eq!(h.resp_header(names::HEADER_COST), None);
    assert_eq!(h.resp_header(names::HEADER_STATUS), Some("unpriced"));
    assert_eq!(h.counter_sum("llm_router_unpriced_total"), 1);
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), 0);
    assert_eq!(h.state["llm_router_cost_micro_usd"], "");
}

#[test]
fn route_anyway_routes_explicit_models() {
    let r = router_with(|v| v["explicit_model"] = "route_anyway".into(), 0.1);
    let (_, h) = send(&r, &[], r#"{"model":"gpt-4o","messages":[]}"#);
    let body: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert_eq!(body["model"], "gpt-5-nano");
}

#[test]
fn measure_mode_decides_but_does_not_touch_the_request() {
    let r = router_with(|v| v["mode"] = "measure".into(), 0.1);
    let body = r#"{"model":"claude-sonnet-4.6","messages":[{"role":"user","content":"hi"}]}"#;
    let (mut f, mut h) = send(&r, &[], body);
    assert_eq!(h.request_body, body.as_bytes());
    assert_eq!(h.req_header(names::HEADER_CLUSTER), None);
    respond_json(&r, &mut f, &mut h, &usage_body("claude-sonnet-4.6", 1000, 500, 0));
    assert_eq!(h.state["llm_router_tier"], "cheap");
    assert_eq!(h.resp_header(names::HEADER_MODE), Some("measure"));
    assert_eq!(h.resp_header(names::HEADER_COST), Some("250"));
}

#[test]
fn streaming_forces_usage_and_accounts_at_end() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], r#"{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}"#);
    let body: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert_eq!(body["stream_options"]["include_usage"], true);

    h.response_headers =
        vec![(":status".into(), "200".into()), ("content-type".into(), "text/event-stream; charset=utf-8".into())];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    let stream = "data: {\"id\":\"1\",\"model\":\"gpt-5-nano\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n\
                  data: {\"id\":\"1\",\"model\":\"gpt-5-nano\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500}}\n\ndata: [DONE]\n\n";
    for (i, chunk) in stream.as_bytes().chunks(7).enumerate() {
        h.response_chunk = chunk.to_vec();
        assert_eq!(f.on_response_body(&r, &mut h, chunk.len(), false), Action::Continue, "chunk {i}");
    }
    h.response_chunk.clear();
    assert_eq!(f.on_response_body(&r, &mut h, 0, true), Action::Continue);
    let tail = String::from_utf8(h.appended.clone()).unwrap();
    assert!(tail.starts_with(": llm-router {"), "{tail}");
    assert!(tail.contains("\"cost_micro_usd\":250"), "{tail}");
    assert!(tail.ends_with("\n\n"));
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), 250);
    f.on_log(&r, &mut h);
    assert_eq!(h.counter_sum("llm_router_requests_total"), 1);
}

const CONTENT_CHUNK: &str =
    "data: {\"id\":\"1\",\"model\":\"gpt-5-nano\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n";
const USAGE_CHUNK: &str = "data: {\"id\":\"1\",\"model\":\"gpt-5-nano\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500}}\n\n";

/// Feed `stream` in `size`-byte chunks to a streamed response; returns what the client got
/// (each chunk as the flow left it, then the end-of-stream bytes and the appended comment).
fn stream_through(r: &Router, f: &mut RequestFlow, h: &mut FakeHost, stream: &str, size: usize) -> Vec<u8> {
    stream_as(r, f, h, "text/event-stream", stream, size)
}

/// [`stream_through`] for an answer of any `content_type` without a `content-length`.
pub(crate) fn stream_as(
    r: &Router,
    f: &mut RequestFlow,
    h: &mut FakeHost,
    content_type: &str,
    stream: &str,
    size: usize,
) -> Vec<u8> {
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), content_type.into())];
    assert_eq!(f.on_response_headers(r, h, false), Action::Continue);
    let mut client = Vec::new();
    for chunk in stream.as_bytes().chunks(size) {
        h.response_chunk = chunk.to_vec();
        assert_eq!(f.on_response_body(r, h, chunk.len(), false), Action::Continue);
        client.extend_from_slice(&h.response_chunk);
    }
    h.response_chunk.clear();
    assert_eq!(f.on_response_body(r, h, 0, true), Action::Continue);
    client.extend_from_slice(&h.response_chunk);
    client.extend_from_slice(&h.appended);
    client
}

#[test]
fn usage_chunk_the_router_asked_for_is_read_and_removed() {
    let r = router(0.1);
    let stream = format!("{CONTENT_CHUNK}{USAGE_CHUNK}data: [DONE]\n\n");
    for size in [1, 7, 64, stream.len()] {
        let (mut f, mut h) =
            send(&r, &[], r#"{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}"#);
        let client = String::from_utf8(stream_through(&r, &mut f, &mut h, &stream, size)).unwrap();
        let (events, comment) = client.split_at(client.find(": llm-router {").unwrap());
        assert_eq!(events, format!("{CONTENT_CHUNK}data: [DONE]\n\n"), "chunk size {size}");
        assert!(comment.contains("\"cost_micro_usd\":250"), "{comment}");
        assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), 250);
    }
}

#[test]
fn usage_chunk_the_client_asked_for_stays() {
    let r = router(0.1);
    let stream = format!("{CONTENT_CHUNK}{USAGE_CHUNK}data: [DONE]\n\n");
    let (mut f, mut h) = send(
        &r,
        &[],
        r#"{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
    );
    let client = String::from_utf8(stream_through(&r, &mut f, &mut h, &stream, 5)).unwrap();
    assert!(client.starts_with(&stream), "{client}");
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), 250);
}

#[test]
fn explicit_model_stream_gets_the_same_shape_back() {
    let r = router(0.1);
    let stream = format!("{CONTENT_CHUNK}{USAGE_CHUNK}data: [DONE]\n\n");
    let (mut f, mut h) = send(&r, &[], r#"{"model":"gpt-5-nano","stream":true,"messages":[]}"#);
    let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true, "usage is still forced for accounting");
    let client = String::from_utf8(stream_through(&r, &mut f, &mut h, &stream, 3)).unwrap();
    assert!(client.starts_with(&format!("{CONTENT_CHUNK}data: [DONE]\n\n: llm-router {{")), "{client}");
}

#[test]
fn stream_cut_before_usage_is_usage_missing_in_on_log() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], r#"{"model":"auto","stream":true,"messages":[]}"#);
    h.response_headers = vec![("content-type".into(), "text/event-stream".into())];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    h.response_chunk = b"data: {\"choices\":[{\"delta\":{\"content\":\"h".to_vec();
    let n = h.response_chunk.len();
    assert_eq!(f.on_response_body(&r, &mut h, n, false), Action::Continue);
    f.on_log(&r, &mut h);
    assert_eq!(h.counter_sum("llm_router_usage_missing_total"), 1);
    assert_eq!(h.state["llm_router_status"], "usage_missing");
}

#[test]
fn chunked_json_response_is_not_held_but_accounted() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    h.response_headers = vec![("content-type".into(), "application/json".into())];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("cheap"));
    let body = usage_body("gpt-5-nano", 1000, 500, 0);
    for chunk in body.as_bytes().chunks(10) {
        h.response_chunk = chunk.to_vec();
        assert_eq!(f.on_response_body(&r, &mut h, chunk.len(), false), Action::Continue);
    }
    h.response_chunk.clear();
    assert_eq!(f.on_response_body(&r, &mut h, 0, true), Action::Continue);
    assert_eq!(h.resp_header(names::HEADER_COST), None);
    assert_eq!(h.state["llm_router_cost_micro_usd"], "250");
}

#[test]
fn malformed_requests_fail_open_by_default() {
    let r = router(0.1);
    for (body, kind) in
        [("{not json", "invalid_json"), (r#"{"model":"auto","messages":"x"}"#, "bad_messages"), ("[]", "not_object")]
    {
        let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], body);
        let mut f = RequestFlow::new();
        assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
        assert_eq!(f.on_request_body(&r, &mut h, body.len(), true), Action::Continue);
        assert_eq!(h.request_body, body.as_bytes());
        assert_eq!(h.req_header(names::HEADER_CLUSTER), None);
        assert_eq!(h.counters[&format!("llm_router_errors_total{{api=chat_completions,kind={kind}}}")], 1);
        assert!(h.local_reply.is_none());
        assert_eq!(h.logs.borrow().len(), 1);
        // the response passes untouched
        h.response_headers = vec![("content-type".into(), "application/json".into())];
        assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
        assert_eq!(h.resp_header(names::HEADER_TIER), None);
        f.on_log(&r, &mut h);
        assert_eq!(h.counter_sum("llm_router_requests_total"), 0);
    }
}

#[test]
fn malformed_requests_fail_closed_when_configured() {
    let r = router_with(|v| v["fail_closed"] = true.into(), 0.1);
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], "{oops");
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
    assert_eq!(f.on_request_body(&r, &mut h, 5, true), Action::Pause);
    let (status, body) = h.local_reply.clone().unwrap();
    assert_eq!(status, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(v["error"]["code"], "invalid_json");
}

#[test]
fn oversized_bodies_pass_through() {
    let r = router_with(|v| v["max_request_bytes"] = 64.into(), 0.1);
    let body = format!(r#"{{"model":"auto","messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(100));
    let mut h = FakeHost::request("POST", "/v1/chat/completions", &[], &body);
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Continue);
    assert_eq!(h.counters["llm_router_errors_total{api=chat_completions,kind=too_large}"], 1);
    // without content-length, the limit is found while buffering
    h.request_headers.retain(|(k, _)| k != "content-length");
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
    assert_eq!(f.on_request_body(&r, &mut h, 60, false), Action::Pause);
    assert_eq!(f.on_request_body(&r, &mut h, 120, false), Action::Continue);
    assert_eq!(f.on_request_body(&r, &mut h, 130, true), Action::Continue);
    assert_eq!(h.counters["llm_router_errors_total{api=chat_completions,kind=too_large}"], 2);
}

#[test]
fn other_methods_and_paths_are_untouched() {
    let r = router(0.1);
    for (m, p) in [("GET", "/v1/chat/completions"), ("POST", "/v1/embeddings"), ("POST", "/v1/chat/completions/x")] {
        let mut h = FakeHost::request(m, p, &[], SIMPLE);
        let mut f = RequestFlow::new();
        assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Continue);
        assert_eq!(f.on_request_body(&r, &mut h, SIMPLE.len(), true), Action::Continue);
        assert_eq!(h.request_body, SIMPLE.as_bytes());
        assert!(h.counters.is_empty());
    }
}

#[test]
fn rules_apply_through_the_flow() {
    let r = router(0.9);
    let h = decided(&r, &[("x-feature", "summarization")], SIMPLE);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_cheap"));
    assert_eq!(h.state["llm_router_reason"], "rule:summarization");
    assert_eq!(h.state["llm_router_score"], "-");
    let r = router(0.1);
    let (_, h) = send(&r, &[("x-user-tier", "enterprise")], SIMPLE);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
}

#[test]
fn error_response_without_usage_is_usage_missing() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    respond_json(&r, &mut f, &mut h, r#"{"error":{"message":"overloaded"}}"#);
    assert_eq!(h.resp_header(names::HEADER_STATUS), Some("usage_missing"));
    assert_eq!(h.resp_header(names::HEADER_COST), None);
    assert_eq!(h.counter_sum("llm_router_usage_missing_total"), 1);
}

#[test]
fn heuristic_router_end_to_end() {
    let c = Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    let r = Router::new(c, Box::new(HeuristicClassifier::default()));
    let h = decided(&r, &[], r#"{"model":"auto","messages":[{"role":"user","content":"Translate hello to French"}]}"#);
    assert_eq!(h.state["llm_router_tier"], "cheap");
}

use crate::flow::CallResponse;

fn call_ok(body: &str) -> Option<CallResponse> {
    Some(CallResponse {
        headers: vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "application/json".into()),
            ("x-upstream-name".into(), "mid".into()),
        ],
        body: body.as_bytes().to_vec(),
    })
}

/// Upstream answers `status` with a small JSON error; returns the action of the final body call.
fn fail_upstream(r: &Router, f: &mut RequestFlow, h: &mut FakeHost, status: &str) -> Action {
    let err = r#"{"error":{"message":"overloaded"}}"#;
    h.response_headers = vec![
        (":status".into(), status.into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), err.len().to_string()),
        ("x-upstream-name".into(), "cheap".into()),
    ];
    assert_eq!(f.on_response_headers(r, h, false), Action::Pause);
    h.response_chunk = err.as_bytes().to_vec();
    f.on_response_body(r, h, err.len(), true)
}

#[test]
fn fallback_resends_to_the_next_tier_and_replaces_the_answer() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[("authorization", "Bearer sk-test"), ("x-customer-id", "acme")], SIMPLE);
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "503"), Action::Pause);
    assert_eq!(h.calls.len(), 1);
    let (cluster, headers, body, timeout) = h.calls[0].clone();
    assert_eq!(cluster, "llm_mid");
    assert_eq!(timeout, 60_000);
    let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["model"], "claude-haiku-4.5");
    let hv = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(hv("authorization").as_deref(), Some("Bearer sk-test"));
    assert_eq!(hv("content-length"), Some(body.len().to_string()));
    assert_eq!(hv(":path").as_deref(), Some("/v1/chat/completions"));
    assert!(headers.iter().all(|(k, _)| !k.starts_with("x-llm-router-")));
    assert_eq!(
        h.counter_sum(
            "llm_router_fallbacks_total{route=chat,api=chat_completions,tier=cheap,model=gpt-5-nano,reason=status_503}"
        ),
        1
    );

    let answer = usage_body("claude-haiku-4.5", 1000, 100, 0);
    assert_eq!(f.on_call_response(&r, &mut h, call_ok(&answer)), Action::Continue);
    assert_eq!(h.resp_header(":status"), Some("200"));
    assert_eq!(h.resp_header("x-upstream-name"), Some("mid"));
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("mid"));
    assert_eq!(h.resp_header(names::HEADER_MODEL), Some("claude-haiku-4.5"));
    assert_eq!(h.resp_header(names::HEADER_RETRY), Some("fallback:status_503"));
    // haiku 1.00/5.00: 1000 + 500 = 1500
    assert_eq!(h.resp_header(names::HEADER_COST), Some("1500"));
    assert_eq!(h.resp_header("content-length"), Some(answer.len().to_string().as_str()));
    assert_eq!(h.response_chunk, answer.as_bytes());
    f.on_log(&r, &mut h);
    assert_eq!(h.counter_sum("llm_router_requests_total"), 1);
    assert_eq!(
        h.counter_sum("llm_router_requests_total{route=chat,api=chat_completions,tier=mid,model=claude-haiku-4.5"),
        1
    );
    assert_eq!(h.state["llm_router_retry"], "fallback:status_503");
}

#[test]
fn failed_resend_keeps_the_original_answer() {
    let r = router_with(|v| v["fallback"] = serde_json::json!({"order": ["cheap", "mid"]}), 0.1);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "429"), Action::Pause);
    assert_eq!(f.on_call_response(&r, &mut h, None), Action::Continue);
    assert_eq!(h.resp_header(":status"), Some("429"));
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("cheap"));
    assert_eq!(h.resp_header(names::HEADER_RETRY), Some("fallback:status_429:failed"));
    assert_eq!(h.resp_header(names::HEADER_STATUS), Some("usage_missing"));
    assert_eq!(h.response_chunk, br#"{"error":{"message":"overloaded"}}"#);
}

#[test]
fn max_attempts_chain_through_tiers() {
    let r = router_with(|v| v["fallback"] = serde_json::json!({"max_attempts": 2}), 0.1);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "500"), Action::Pause);
    let mut bad = call_ok("{}").unwrap();
    bad.headers[0].1 = "502".into();
    assert_eq!(f.on_call_response(&r, &mut h, Some(bad)), Action::Pause);
    assert_eq!(h.calls.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), vec!["llm_mid", "llm_frontier"]);
    let answer = usage_body("claude-sonnet-4.6", 10, 10, 0);
    assert_eq!(f.on_call_response(&r, &mut h, call_ok(&answer)), Action::Continue);
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("frontier"));
}

#[test]
fn no_fallback_when_disabled_top_tier_explicit_or_measure() {
    for (patch, body) in [
        (serde_json::json!({"fallback": {"enabled": false}}), SIMPLE),
        (serde_json::json!({}), r#"{"model":"claude-haiku-4.5","messages":[]}"#),
        (serde_json::json!({"mode": "measure"}), SIMPLE),
    ] {
        let r = router_with(
            |v| {
                for (k, val) in patch.as_object().unwrap() {
                    v[k] = val.clone();
                }
            },
            0.1,
        );
        let (mut f, mut h) = send(&r, &[], body);
        h.response_headers = vec![
            (":status".into(), "503".into()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), "2".into()),
        ];
        assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Pause, "held to buffer, not for fallback");
        h.response_chunk = b"{}".to_vec();
        assert_eq!(f.on_response_body(&r, &mut h, 2, true), Action::Continue);
        assert!(h.calls.is_empty());
    }
    let r = router(0.9);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "503"), Action::Continue);
    assert!(h.calls.is_empty(), "frontier has no next tier");
}

#[test]
fn explicit_fallback_when_configured() {
    let r = router_with(|v| v["fallback"] = serde_json::json!({"explicit": true}), 0.1);
    let (mut f, mut h) = send(&r, &[], r#"{"model":"claude-haiku-4.5","messages":[]}"#);
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "503"), Action::Pause);
    assert_eq!(h.calls[0].0, "llm_frontier");
}

#[test]
fn streaming_fallback_replaces_with_the_whole_stream_and_comment() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], r#"{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}"#);
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "503"), Action::Pause);
    let sent: serde_json::Value = serde_json::from_slice(&h.calls[0].2).unwrap();
    assert_eq!(sent["stream_options"]["include_usage"], true);
    let stream = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":100}}\n\ndata: [DONE]\n\n";
    let resp = CallResponse {
        headers: vec![(":status".into(), "200".into()), ("content-type".into(), "text/event-stream".into())],
        body: stream.as_bytes().to_vec(),
    };
    assert_eq!(f.on_call_response(&r, &mut h, Some(resp)), Action::Continue);
    let body = String::from_utf8(h.response_chunk.clone()).unwrap();
    // The client did not ask for usage: the usage-only chunk is read, not delivered.
    let without_usage = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: [DONE]\n\n: llm-router {";
    assert!(body.starts_with(without_usage), "{body}");
    assert_eq!(h.resp_header("content-length"), Some(body.len().to_string().as_str()));
    assert!(
        body.contains(": llm-router {")
            && body.contains("\"cost_micro_usd\":1500")
            && body.contains("\"retry\":\"fallback:status_503\""),
        "{body}"
    );
    assert_eq!(h.resp_header("content-type"), Some("text/event-stream"));
}

fn escalating_router() -> Router {
    router_with(
        |v| v["tiers"][0]["escalate"] = serde_json::json!({"on": ["length", "empty", "invalid_json", "refusal"], "refusal_patterns": ["i can't help"]}),
        0.1,
    )
}

fn answer_json(content: &str, finish: &str, p: u64, c: u64) -> String {
    serde_json::json!({"id": "x", "object": "chat.completion", "model": "gpt-5-nano",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
        "usage": {"prompt_tokens": p, "completion_tokens": c}})
    .to_string()
}

#[test]
fn escalation_on_unusable_answer_counts_both_calls() {
    let r = escalating_router();
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    let first = answer_json("I can't help with that.", "stop", 1000, 500);
    h.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), first.len().to_string()),
    ];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Pause);
    h.response_chunk = first.as_bytes().to_vec();
    assert_eq!(f.on_response_body(&r, &mut h, first.len(), true), Action::Pause);
    assert_eq!(h.calls[0].0, "llm_mid");
    assert_eq!(
        h.counter_sum(
            "llm_router_escalations_total{route=chat,api=chat_completions,tier=cheap,model=gpt-5-nano,reason=refusal}"
        ),
        1
    );
    let better = usage_body("claude-haiku-4.5", 1000, 100, 0);
    assert_eq!(f.on_call_response(&r, &mut h, call_ok(&better)), Action::Continue);
    // nano 250 + haiku 1500
    assert_eq!(h.resp_header(names::HEADER_COST), Some("1750"));
    assert_eq!(h.resp_header(names::HEADER_RETRY), Some("escalation:refusal"));
    assert_eq!(h.response_chunk, better.as_bytes());
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), 1750);
    assert_eq!(
        h.counters
            ["llm_router_cost_micro_usd_total{route=chat,api=chat_completions,tier=cheap,model=gpt-5-nano,customer=unknown,mode=route}"],
        250
    );
    assert_eq!(h.counter_sum("llm_router_requests_total"), 1);
}

#[test]
fn escalation_respects_the_clients_own_limit_and_failed_escalation_keeps_first_answer() {
    let r = escalating_router();
    let (mut f, mut h) =
        send(&r, &[], r#"{"model":"auto","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}"#);
    respond_json(&r, &mut f, &mut h, &answer_json("Once upon a", "length", 10, 50));
    assert!(h.calls.is_empty());

    let (mut f, mut h) = send(&r, &[], SIMPLE);
    let first = answer_json("", "stop", 1000, 500);
    h.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), first.len().to_string()),
    ];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Pause);
    h.response_chunk = first.as_bytes().to_vec();
    assert_eq!(f.on_response_body(&r, &mut h, first.len(), true), Action::Pause);
    assert_eq!(f.on_call_response(&r, &mut h, None), Action::Continue);
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("cheap"));
    assert_eq!(h.resp_header(names::HEADER_COST), Some("250"));
    assert_eq!(h.resp_header(names::HEADER_RETRY), Some("escalation:empty:failed"));
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), 250);
}

#[test]
fn refused_dispatch_lets_the_original_go_on() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    h.refuse_calls = true;
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "503"), Action::Continue);
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("cheap"));
    assert_eq!(h.counter_sum("llm_router_requests_total"), 1);
}

#[test]
fn abandoned_call_is_accounted_in_on_log() {
    let r = router(0.1);
    let (mut f, mut h) = send(&r, &[], SIMPLE);
    assert_eq!(fail_upstream(&r, &mut f, &mut h, "503"), Action::Pause);
    f.on_log(&r, &mut h);
    assert_eq!(h.counter_sum("llm_router_requests_total{route=chat,api=chat_completions,tier=cheap"), 1);
    assert_eq!(h.counter_sum("llm_router_usage_missing_total"), 1);
}

#[test]
fn upstream_cannot_forge_router_headers() {
    let r = router(0.1);
    // streamed (headers not held)
    let (mut f, mut h) = send(&r, &[], r#"{"model":"auto","stream":true,"messages":[]}"#);
    h.response_headers = vec![
        ("content-type".into(), "text/event-stream".into()),
        ("x-llm-router-cost-micro-usd".into(), "1".into()),
        ("x-llm-router-tier".into(), "frontier".into()),
    ];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    assert_eq!(h.resp_header(names::HEADER_COST), None);
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("cheap"));
    // not inspected at all
    let mut h = FakeHost::request("GET", "/v1/models", &[], "");
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, true), Action::Continue);
    h.response_headers = vec![("x-llm-router-cost-micro-usd".into(), "1".into())];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    assert!(h.response_headers.is_empty());
}
