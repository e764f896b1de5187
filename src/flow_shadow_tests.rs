//! Native tests of shadow sampling in the request flow against the fake host: what the client
//! sees is byte-identical with shadowing on and off, and a sampled request hands the root
//! context the right job.

use std::collections::BTreeMap;

use serde_json::json;

use crate::fake_host::{send_to, FakeHost};
use crate::flow::{Action, CallResponse, RequestFlow};
use crate::flow_tests::{router_with, stream_as, usage_body};
use crate::names;
use crate::router::Router;

const CHAT: &str = r#"{"model":"auto","messages":[{"role":"system","content":"S"},{"role":"user","content":"hi"}]}"#;
const CHAT_STREAM: &str = r#"{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
const SSE: &str = "data: {\"id\":\"1\",\"model\":\"gpt-5-nano\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hel\"}}]}\n\ndata: {\"id\":\"1\",\"model\":\"gpt-5-nano\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\ndata: {\"id\":\"1\",\"model\":\"gpt-5-nano\",\"choices\":[],\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":500}}\n\ndata: [DONE]\n\n";

/// The shipped configuration (score 0.1: the cheap tier), with shadowing on at `rate` when
/// given.
fn router(rate: Option<f64>) -> Router {
    let patch = move |v: &mut serde_json::Value| {
        if let Some(rate) = rate {
            v["shadow"] = json!({"rate": rate, "budget_micro_usd_per_minute": 1_000_000, "sink_cluster": "sink"});
            v["apis"]["messages"]["shadow"] =
                json!({"rate": rate, "budget_micro_usd_per_minute": 1_000_000, "sink_cluster": "sink"});
        }
    };
    router_with(patch, 0.1)
}

/// [`router`] with every API section built (and the embedded classifier).
fn all_apis(rate: Option<f64>) -> Router {
    crate::fake_host::router_with(move |v| {
        if let Some(rate) = rate {
            v["apis"]["messages"]["shadow"] =
                json!({"rate": rate, "budget_micro_usd_per_minute": 1_000_000, "sink_cluster": "sink"});
        }
    })
}

/// Everything the client and the operator's other stats see of one request: bytes sent on,
/// headers, the answer as forwarded, local replies, filter state and counters, with the
/// shadow's own state and counters left out.
type Seen = (
    Vec<u8>,
    Vec<(String, String)>,
    Vec<(String, String)>,
    Vec<u8>,
    Option<(u32, String)>,
    BTreeMap<String, String>,
    BTreeMap<String, u64>,
    usize,
);

fn seen(h: &FakeHost, client: Vec<u8>) -> Seen {
    let mut state = h.state.clone();
    state.remove(names::state::SHADOW);
    let counters =
        h.counters.iter().filter(|(k, _)| !k.starts_with("llm_router_shadow")).map(|(k, v)| (k.clone(), *v)).collect();
    (
        h.request_body.clone(),
        h.request_headers.clone(),
        h.response_headers.clone(),
        client,
        h.local_reply.clone(),
        state,
        counters,
        h.calls.len(),
    )
}

/// The request side with a first draw of `draw`.
fn send(r: &Router, path: &str, body: &str, draw: u64) -> (RequestFlow, FakeHost) {
    let mut h = FakeHost::request("POST", path, &[("x-request-id", "rid-1"), ("x-customer-id", "acme")], body);
    h.route = Some("chat".into());
    h.draws.push_back(draw);
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(r, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(r, &mut h, n, true), Action::Continue);
    (f, h)
}

/// A held JSON answer; returns what the client got.
fn held(r: &Router, f: &mut RequestFlow, h: &mut FakeHost, answer: &str) -> Vec<u8> {
    h.response_headers = vec![
        (":status".into(), "200".into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), answer.len().to_string()),
    ];
    assert_eq!(f.on_response_headers(r, h, false), Action::Pause);
    h.response_chunk = answer.as_bytes().to_vec();
    assert_eq!(f.on_response_body(r, h, answer.len(), true), Action::Continue);
    f.on_log(r, h);
    h.response_chunk.clone()
}

/// A streamed answer (`content_type`, no content-length) in `size`-byte chunks, then the log
/// callback; returns what the client got.
fn streamed(
    r: &Router,
    f: &mut RequestFlow,
    h: &mut FakeHost,
    content_type: &str,
    answer: &str,
    size: usize,
) -> Vec<u8> {
    let client = stream_as(r, f, h, content_type, answer, size);
    f.on_log(r, h);
    client
}

#[derive(Clone, Copy)]
enum Answer {
    Held,
    Sse,
    Chunked,
    MessagesSse,
}

fn run(r: &Router, kind: Answer, draw: u64) -> (Seen, FakeHost) {
    let json = usage_body("gpt-5-nano", 100, 20, 0);
    let msg_sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    let (mut f, mut h, client) = match kind {
        Answer::Held => {
            let (mut f, mut h) = send(r, "/v1/chat/completions", CHAT, draw);
            let c = held(r, &mut f, &mut h, &json);
            (f, h, c)
        }
        Answer::Sse => {
            let (mut f, mut h) = send(r, "/v1/chat/completions", CHAT_STREAM, draw);
            let c = streamed(r, &mut f, &mut h, "text/event-stream", SSE, 9);
            (f, h, c)
        }
        Answer::Chunked => {
            let (mut f, mut h) = send(r, "/v1/chat/completions", CHAT, draw);
            let c = streamed(r, &mut f, &mut h, "application/json", &json, 13);
            (f, h, c)
        }
        Answer::MessagesSse => {
            let body = r#"{"model":"auto","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
            let (mut f, mut h) = send(r, "/v1/messages", body, draw);
            let c = streamed(r, &mut f, &mut h, "text/event-stream", msg_sse, 11);
            (f, h, c)
        }
    };
    f.on_log(r, &mut h);
    (seen(&h, client), h)
}

#[test]
fn what_the_client_sees_is_identical_with_shadowing_on_and_off() {
    for kind in [Answer::Held, Answer::Sse, Answer::Chunked, Answer::MessagesSse] {
        let (off, on) = match kind {
            Answer::MessagesSse => (all_apis(None), all_apis(Some(1.0))),
            _ => (router(None), router(Some(1.0))),
        };
        let (without, h0) = run(&off, kind, 0);
        let (with, h1) = run(&on, kind, 0);
        assert!(h0.shadows.is_empty());
        assert_eq!(h1.shadows.len(), 1, "sampled");
        assert_eq!(h1.state.get(names::state::SHADOW).map(String::as_str), Some("sampled"));
        assert_eq!(without, with);
        // Nothing is sent from the request's own context: the root context makes the call.
        assert!(h1.calls.is_empty());
    }
}

#[test]
fn an_unsampled_request_keeps_nothing() {
    let r = router(Some(0.5));
    let (_, h) = run(&r, Answer::Sse, u64::MAX / 4 * 3);
    assert!(h.shadows.is_empty());
    assert!(!h.state.contains_key(names::state::SHADOW));
    assert_eq!(h.counter_sum("llm_router_shadow_total"), 0);
    let (_, h) = run(&r, Answer::Sse, u64::MAX / 4);
    assert_eq!(h.shadows.len(), 1);
    assert_eq!(h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=sampled}"), 1);
}

#[test]
fn the_job_carries_the_request_and_the_raw_answer() {
    let r = router(Some(1.0));
    let (_, h) = run(&r, Answer::Sse, 0);
    let job = &h.shadows[0];
    assert_eq!((job.tier.as_str(), job.model.as_str(), job.status), ("cheap", "gpt-5-nano", 200));
    // The raw stream the upstream sent, its usage-only chunk included.
    assert_eq!(job.capture.answer, SSE.as_bytes());
    assert_eq!(job.capture.body, CHAT_STREAM.as_bytes(), "the client's body, not the rewritten one");
    assert_eq!(job.capture.request_id.as_deref(), Some("rid-1"));
    assert!(job.capture.headers.iter().all(|(k, _)| !k.starts_with("x-llm-router-") && k != "content-length"));
    assert_eq!(job.tokens, Some((1000, 500)));
    assert_eq!(job.cost, Some(250));
    let (_, h) = run(&r, Answer::Held, 0);
    assert_eq!(h.shadows[0].capture.answer, usage_body("gpt-5-nano", 100, 20, 0).as_bytes());
    assert!(!h.shadows[0].capture.truncated);
}

#[test]
fn an_answer_longer_than_the_copy_cap_is_marked_truncated() {
    let r = router_with(
        |v| {
            v["max_response_bytes"] = json!(64);
            v["shadow"] = json!({"rate": 1.0, "budget_micro_usd_per_minute": 1, "sink_cluster": "sink"});
        },
        0.1,
    );
    let (_, h) = run(&r, Answer::Sse, 0);
    assert_eq!(h.shadows[0].capture.answer.len(), 64);
    assert!(h.shadows[0].capture.truncated);
}

#[test]
fn a_full_queue_and_an_abandoned_answer_are_counted() {
    let r = router(Some(1.0));
    let (mut f, mut h) = send(&r, "/v1/chat/completions", CHAT, 0);
    h.refuse_shadows = true;
    held(&r, &mut f, &mut h, &usage_body("gpt-5-nano", 1, 1, 0));
    assert_eq!(
        h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=skipped_queue}"),
        1
    );
    let (mut f, mut h) = send(&r, "/v1/chat/completions", CHAT, 0);
    f.on_log(&r, &mut h);
    assert_eq!(
        h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=abandoned}"),
        1
    );
    assert!(h.shadows.is_empty());
}

#[test]
fn a_fallback_answer_is_shadowed_as_the_tier_that_gave_it_and_never_from_the_reference() {
    let fail = |r: &Router, f: &mut RequestFlow, h: &mut FakeHost| {
        let err = r#"{"error":{}}"#;
        h.response_headers = vec![
            (":status".into(), "503".into()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), err.len().to_string()),
        ];
        assert_eq!(f.on_response_headers(r, h, false), Action::Pause);
        h.response_chunk = err.as_bytes().to_vec();
        assert_eq!(f.on_response_body(r, h, err.len(), true), Action::Pause);
    };
    let mid_answer = usage_body("claude-haiku-4.5", 100, 20, 0);
    let call = CallResponse { headers: vec![(":status".into(), "200".into())], body: mid_answer.clone().into_bytes() };
    let r = router(Some(1.0));
    // `send_to` gives no draws: the fake's `u64::MAX` is never under a rate.
    let (mut f, mut h) = send_to(&r, "/v1/chat/completions", CHAT, &[]);
    let (mut f2, mut h2) = send(&r, "/v1/chat/completions", CHAT, 0);
    fail(&r, &mut f2, &mut h2);
    assert_eq!(f2.on_call_response(&r, &mut h2, Some(call.clone())), Action::Continue);
    let job = &h2.shadows[0];
    assert_eq!((job.tier.as_str(), job.model.as_str()), ("mid", "claude-haiku-4.5"));
    assert_eq!(job.capture.answer, mid_answer.as_bytes());
    fail(&r, &mut f, &mut h);
    assert!(h.shadows.is_empty(), "not sampled");
    // A fallback into the reference tier leaves nothing to compare.
    let top = router_with(
        |v| {
            v["fallback"]["order"] = json!(["cheap", "frontier", "mid"]);
            v["shadow"] = json!({"rate": 1.0, "budget_micro_usd_per_minute": 1, "sink_cluster": "sink"});
        },
        0.1,
    );
    let (mut f, mut h) = send(&top, "/v1/chat/completions", CHAT, 0);
    fail(&top, &mut f, &mut h);
    assert_eq!(f.on_call_response(&top, &mut h, Some(call)), Action::Continue);
    assert!(h.shadows.is_empty());
    assert_eq!(
        h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=frontier,outcome=skipped_tier}"),
        1
    );
}

#[test]
fn a_stream_the_client_stopped_reading_is_sampled_with_what_passed() {
    let r = router(Some(1.0));
    let (mut f, mut h) = send(&r, "/v1/chat/completions", CHAT_STREAM, 0);
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "text/event-stream".into())];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    let first = &SSE[..SSE.find("data: [DONE]").unwrap()];
    h.response_chunk = first.as_bytes().to_vec();
    assert_eq!(f.on_response_body(&r, &mut h, first.len(), false), Action::Continue);
    f.on_log(&r, &mut h);
    assert_eq!(h.shadows.len(), 1);
    assert_eq!(h.shadows[0].capture.answer, first.as_bytes());
    assert_eq!(h.shadows[0].tokens, Some((1000, 500)));
    assert_eq!(h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=sampled}"), 1);
    assert_eq!(
        h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=abandoned}"),
        0
    );
}
