//! Native tests of the flow on OpenAI Responses requests (`apis.responses` of the shipped
//! configuration) against the fake host: routing within the OpenAI tiers, cost from the
//! answer's JSON and event stream, OpenAI's error shape when failing closed, and stateful
//! requests (`previous_response_id`, `conversation`) kept in their provider family.

use crate::fake_host::{router_with, send_to, FakeHost};
use crate::flow::{Action, CallResponse, RequestFlow};
use crate::names;
use crate::router::Router;
use crate::usage::Usage;

/// The shipped section with each tier its own family (the default: its cluster).
fn three_families(v: &mut serde_json::Value) {
    for t in v["apis"]["responses"]["tiers"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("family");
    }
}

const PINNED: (&str, &str) = ("x-llm-tier", "openai-mid");
const BODY: &str = r#"{"model":"auto","instructions":"Be brief.","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"max_output_tokens":64}"#;

fn send(r: &Router, body: &str, headers: &[(&str, &str)]) -> (RequestFlow, FakeHost) {
    send_to(r, "/v1/responses", body, headers)
}

fn sent_model(h: &FakeHost) -> String {
    let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    sent["model"].as_str().unwrap().to_string()
}

fn answer(model: &str, status: &str) -> String {
    format!(
        r#"{{"id":"resp_1","object":"response","created_at":1741476542,"status":"{status}","error":null,"model":"{model}","output":[{{"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{{"type":"output_text","text":"ok","annotations":[]}}]}}],"service_tier":"default","usage":{{"input_tokens":1200,"input_tokens_details":{{"cached_tokens":1024}},"output_tokens":300,"output_tokens_details":{{"reasoning_tokens":128}},"total_tokens":1500}}}}"#
    )
}

const USAGE: Usage = Usage { prompt_tokens: 1200, completion_tokens: 300, cached_tokens: 1024, ..Usage::ZERO };

fn cost(r: &Router, model: &str) -> u64 {
    r.config.prices.cost_micro_usd(model, &USAGE).unwrap()
}

fn respond_json(r: &Router, f: &mut RequestFlow, h: &mut FakeHost, status: &str, body: &str) -> Action {
    h.response_headers = vec![
        (":status".into(), status.into()),
        ("content-type".into(), "application/json".into()),
        ("content-length".into(), body.len().to_string()),
    ];
    assert_eq!(f.on_response_headers(r, h, false), Action::Pause);
    h.response_chunk = body.as_bytes().to_vec();
    f.on_response_body(r, h, body.len(), true)
}

#[test]
fn routes_within_the_responses_tiers_and_prices_the_json_answer() {
    let r = router_with(|_| {});
    let (mut f, mut h) = send(&r, BODY, &[PINNED]);
    assert_eq!(sent_model(&h), "gpt-5-mini");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    assert_eq!(
        respond_json(&r, &mut f, &mut h, "200", &answer("gpt-5-mini-2025-08-07", "completed")),
        Action::Continue
    );
    let expected = cost(&r, "gpt-5-mini");
    // (1200-1024)*$0.25 + 1024*$0.025 + 300*$2.00 per Mtok (reasoning is inside the output), in micro-USD.
    assert_eq!(expected, (176 * 250_000 + 1024 * 25_000 + 300 * 2_000_000 + 500_000) / 1_000_000);
    assert_eq!(h.resp_header(names::HEADER_COST), Some(expected.to_string().as_str()));
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("openai-mid"));
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), expected);
}

#[test]
fn prices_the_event_stream_and_appends_the_comment() {
    let r = router_with(|_| {});
    let body = BODY.replace("\"max_output_tokens\":64", "\"max_output_tokens\":64,\"stream\":true");
    let (mut f, mut h) = send(&r, &body, &[PINNED]);
    let sent: serde_json::Value = serde_json::from_slice(&h.request_body).unwrap();
    assert!(sent.get("stream_options").is_none(), "Responses streams carry usage: no edit");
    h.response_headers = vec![(":status".into(), "200".into()), ("content-type".into(), "text/event-stream".into())];
    assert_eq!(f.on_response_headers(&r, &mut h, false), Action::Continue);
    let done = answer("gpt-5-mini", "completed");
    let stream = format!(
        "event: response.created\ndata: {{\"type\":\"response.created\",\"sequence_number\":0,\"response\":{{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"in_progress\",\"usage\":null}}}}\n\n\
         event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"sequence_number\":1,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"ok\",\"logprobs\":[]}}\n\n\
         event: response.completed\ndata: {{\"type\":\"response.completed\",\"sequence_number\":2,\"response\":{done}}}\n\n"
    );
    let mut client = Vec::new();
    for chunk in stream.as_bytes().chunks(11) {
        h.response_chunk = chunk.to_vec();
        assert_eq!(f.on_response_body(&r, &mut h, chunk.len(), false), Action::Continue);
        client.extend_from_slice(&h.response_chunk);
    }
    h.response_chunk.clear();
    assert_eq!(f.on_response_body(&r, &mut h, 0, true), Action::Continue);
    assert_eq!(client, stream.as_bytes(), "the events pass unchanged");
    let expected = cost(&r, "gpt-5-mini");
    let tail = String::from_utf8(h.appended.clone()).unwrap();
    assert!(tail.starts_with(": llm-router {") && tail.ends_with("\n\n"), "{tail}");
    assert!(tail.contains(&format!("\"cost_micro_usd\":{expected}")), "{tail}");
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), expected);
}

#[test]
fn malformed_bodies_fail_open_or_closed_in_openais_shape() {
    let r = router_with(|_| {});
    let mut h = FakeHost::request("POST", "/v1/responses", &[], r#"{"model":"auto","input":7}"#);
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(&r, &mut h, n, true), Action::Continue, "fail-open by default");
    assert!(h.local_reply.is_none());
    assert_eq!(h.counter_sum("llm_router_errors_total"), 1, "{:?}", h.counters);
    assert!(h.counters.keys().any(|k| k.starts_with("llm_router_errors_total") && k.contains("kind=bad_input")));
    let closed = router_with(|v| v["apis"]["responses"]["fail_closed"] = true.into());
    let mut h = FakeHost::request("POST", "/v1/responses", &[], r#"{"model":"auto","input":[3]}"#);
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&closed, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(&closed, &mut h, n, true), Action::Pause);
    let (status, body) = h.local_reply.clone().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status, &v["error"]["type"], &v["error"]["code"]),
        (400, &"invalid_request_error".into(), &"bad_input".into())
    );
    assert_eq!(v["error"]["message"], "llm-router: input item 0 is not an object");
}

#[test]
fn a_stateful_alias_request_is_routed_when_every_tier_is_one_family() {
    let r = router_with(|_| {});
    for extra in [r#","previous_response_id":"resp_1""#, r#","conversation":{"id":"conv_1"}"#] {
        let body = BODY.replace("}]}]", &format!("}}]}}]{extra}"));
        let (_, h) = send(&r, &body, &[PINNED]);
        assert_eq!(sent_model(&h), "gpt-5-mini", "{body}");
        assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    }
}

#[test]
fn a_stateful_alias_request_over_several_families_passes_through_unrouted() {
    let r = router_with(three_families);
    let body = BODY.replace("}]}]", r#"}]}],"previous_response_id":"resp_1""#);
    let (mut f, mut h) = send(&r, &body, &[PINNED]);
    assert_eq!(h.request_body, body.as_bytes(), "untouched");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), None);
    let err = r#"{"error":{"message":"Invalid value: 'auto'.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#;
    assert_eq!(respond_json(&r, &mut f, &mut h, "404", err), Action::Continue);
    assert_eq!(h.resp_header(names::HEADER_REASON), Some("stateful_unrouted"));
    assert_eq!(h.resp_header(names::HEADER_TIER), Some("none"));
    assert!(h.calls.is_empty());
    // A stateless request on the same section is routed.
    let (_, h) = send(&r, BODY, &[PINNED]);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
}

#[test]
fn a_stateful_explicit_request_stays_on_the_family_of_its_model() {
    // route_anyway would move an explicit model wherever the policy says; the pin says mid.
    let r = router_with(|v| {
        three_families(v);
        v["apis"]["responses"]["explicit_model"] = "route_anyway".into();
    });
    let body = r#"{"model":"gpt-5","input":"hi","previous_response_id":"resp_1"}"#;
    let (mut f, mut h) = send(&r, body, &[PINNED]);
    assert_eq!(sent_model(&h), "gpt-5");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_frontier"));
    f.on_log(&r, &mut h);
    assert_eq!(h.state[names::state::REASON], "stateful:rule:pinned");
    // Stateless, the pin wins.
    let (_, h) = send(&r, r#"{"model":"gpt-5","input":"hi"}"#, &[PINNED]);
    assert_eq!(sent_model(&h), "gpt-5-mini");
    // A model no tier serves has no known family: passed through.
    let (mut f, mut h) = send(&r, r#"{"model":"gpt-4o","input":"hi","conversation":"conv_1"}"#, &[PINNED]);
    assert_eq!((sent_model(&h), h.req_header(names::HEADER_CLUSTER)), ("gpt-4o".into(), None));
    f.on_log(&r, &mut h);
    assert_eq!(h.state[names::state::REASON], "stateful_unrouted");
}

#[test]
fn a_stateful_request_is_decided_into_the_nearest_tier_of_its_family() {
    // cheap and frontier share a family; the pin (mid) moves up to frontier.
    let r = router_with(|v| {
        v["apis"]["responses"]["tiers"][1]["family"] = "other".into();
        v["apis"]["responses"]["explicit_model"] = "route_anyway".into();
    });
    let (_, h) = send(&r, r#"{"model":"gpt-5-nano","input":"hi","previous_response_id":"resp_1"}"#, &[PINNED]);
    assert_eq!(sent_model(&h), "gpt-5");
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_frontier"));
}

fn resend_answer(model: &str) -> Option<CallResponse> {
    Some(CallResponse {
        headers: vec![(":status".into(), "200".into()), ("content-type".into(), "application/json".into())],
        body: answer(model, "completed").into_bytes(),
    })
}

#[test]
fn fallback_of_a_stateful_request_skips_other_families() {
    let err = r#"{"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}"#;
    // mid and cheap are one family, frontier another: mid's fallback (frontier) is skipped.
    // Explicit models, moved on failure (`fallback.explicit`), so the family is the model's.
    let r = router_with(|v| {
        for (i, fam) in ["a", "a", "b"].iter().enumerate() {
            v["apis"]["responses"]["tiers"][i]["family"] = (*fam).into();
        }
        v["apis"]["responses"]["fallback"]["order"] =
            serde_json::json!(["openai-mid", "openai-frontier", "openai-cheap"]);
        v["apis"]["responses"]["fallback"]["explicit"] = true.into();
    });
    let stateful = r#"{"model":"gpt-5-mini","input":"hi","previous_response_id":"resp_1"}"#;
    let (mut f, mut h) = send(&r, stateful, &[]);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    assert_eq!(respond_json(&r, &mut f, &mut h, "503", err), Action::Pause);
    assert_eq!(h.calls.len(), 1);
    assert_eq!(h.calls[0].0, "llm_cheap", "frontier is another family");
    let resent: serde_json::Value = serde_json::from_slice(&h.calls[0].2).unwrap();
    assert_eq!(
        (resent["model"].as_str(), resent["previous_response_id"].as_str()),
        (Some("gpt-5-nano"), Some("resp_1"))
    );
    assert_eq!(f.on_call_response(&r, &mut h, resend_answer("gpt-5-nano")), Action::Continue);
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), cost(&r, "gpt-5-nano"));
    // Stateless, the same failure falls back to frontier.
    let (mut f, mut h) = send(&r, r#"{"model":"gpt-5-mini","input":"hi"}"#, &[]);
    assert_eq!(respond_json(&r, &mut f, &mut h, "503", err), Action::Pause);
    assert_eq!(h.calls[0].0, "llm_frontier");
    // With no other tier of its family, a stateful request is not re-sent at all.
    let r = router_with(|v| {
        three_families(v);
        v["apis"]["responses"]["fallback"]["explicit"] = true.into();
    });
    let (mut f, mut h) = send(&r, stateful, &[]);
    assert_eq!(h.req_header(names::HEADER_CLUSTER), Some("llm_mid"));
    assert_eq!(respond_json(&r, &mut f, &mut h, "503", err), Action::Continue);
    assert!(h.calls.is_empty());
    assert_eq!(h.resp_header(":status"), Some("503"));
}

#[test]
fn the_cost_ceiling_never_steps_a_stateful_request_out_of_its_family() {
    // gpt-5 alone in its family; 4,000 output tokens are 40,000 micro-USD on gpt-5, 8,000 on
    // gpt-5-mini: a 20,000 ceiling steps a stateless request down to mid.
    let r = router_with(|v| {
        for (i, fam) in ["a", "a", "b"].iter().enumerate() {
            v["apis"]["responses"]["tiers"][i]["family"] = (*fam).into();
        }
        v["apis"]["responses"]["explicit_model"] = "route_anyway".into();
        v["apis"]["responses"]["cost_ceiling"] = serde_json::json!({"max_micro_usd": 20_000});
        let strong = serde_json::json!({"name": "strong", "when": {"header": {"name": "x-strong", "equals": "1"}}, "tier": "openai-frontier"});
        v["apis"]["responses"]["rules"].as_array_mut().unwrap().insert(0, strong);
    });
    let pinned = [("x-strong", "1")];
    let stateless = r#"{"model":"gpt-5","input":"hi","max_output_tokens":4000}"#;
    let (_, h) = send(&r, stateless, &pinned);
    assert_eq!((sent_model(&h), h.req_header(names::HEADER_CLUSTER)), ("gpt-5-mini".into(), Some("llm_mid")));
    let stateful = r#"{"model":"gpt-5","input":"hi","max_output_tokens":4000,"previous_response_id":"resp_1"}"#;
    let mut h = FakeHost::request("POST", "/v1/responses", &pinned, stateful);
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(&r, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(&r, &mut h, n, true), Action::Pause, "rejected, nothing sent");
    let (status, body) = h.local_reply.clone().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, v["error"]["code"].as_str()), (400, Some("cost_ceiling")));
    assert!(v["error"]["message"].as_str().unwrap().contains("on gpt-5 "), "{body}");
}

#[test]
fn a_structured_output_request_matches_has_response_format_rules() {
    let r = router_with(|v| {
        let rules = v["apis"]["responses"]["rules"].as_array_mut().unwrap();
        rules.push(
            serde_json::json!({"name": "json", "when": {"has_response_format": true}, "tier": "openai-frontier"}),
        );
    });
    let json = r#"{"model":"auto","input":"hi","text":{"format":{"type":"json_schema","name":"a","schema":{"type":"object"}}}}"#;
    let (_, h) = send(&r, json, &[]);
    assert_eq!(sent_model(&h), "gpt-5");
    let (_, h) = send(&r, r#"{"model":"auto","input":"hi","text":{"verbosity":"low"}}"#, &[]);
    assert_ne!(sent_model(&h), "gpt-5");
}
