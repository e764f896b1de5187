//! Native tests of shadow sampling's pure steps and of the root-side queue over the fake host.

use serde_json::{json, Value};

use super::*;
use crate::config::Config;
use crate::fake_host::{router_with, FakeHost};
use crate::shadow_call::reference_call;
use crate::shadow_config::ShadowError;
use crate::shadow_record::{customer, rfc3339};
use crate::shadow_text::{answer_of, cap, prompt_of};

fn shadow_json() -> Value {
    json!({"rate": 0.1, "budget_micro_usd_per_minute": 1_000_000, "sink_cluster": "shadow_sink"})
}

fn config_with(shadow: Value) -> Result<Config, crate::config::ConfigError> {
    let mut v: Value = serde_json::from_str(crate::config::DEFAULT_CONFIG_JSON).unwrap();
    v["shadow"] = shadow;
    Config::from_json(v.to_string().as_bytes())
}

#[test]
fn config_defaults_and_per_tier_rates() {
    let c =
        config_with(json!({"rate": 0.1, "rates": {"mid": 0.5}, "budget_micro_usd_per_minute": 5, "sink_cluster": "s"}))
            .unwrap();
    let s = c.shadow.unwrap();
    // The reference is the top tier; it and anything above it are never sampled.
    assert_eq!(s.reference, 2);
    assert_eq!(s.rates, vec![0.1, 0.5, 0.0]);
    assert_eq!((s.sink_path.as_str(), s.sink_authority.as_str()), ("/samples", "s"));
    assert_eq!(s.max_text_bytes, crate::shadow_config::DEFAULT_MAX_TEXT_BYTES);
    assert_eq!(s.customer_salt, None);
    assert!(s.active());
    // Absent (or null): off.
    assert!(config_with(Value::Null).unwrap().shadow.is_none());
    let mut v: Value = serde_json::from_str(crate::config::DEFAULT_CONFIG_JSON).unwrap();
    v.as_object_mut().unwrap().remove("shadow");
    assert!(Config::from_json(v.to_string().as_bytes()).unwrap().shadow.is_none());
}

#[test]
fn config_errors_say_what_is_wrong() {
    let err = |patch: Value| {
        let mut s = shadow_json();
        for (k, v) in patch.as_object().unwrap() {
            s[k] = v.clone();
        }
        config_with(s).unwrap_err().to_string()
    };
    assert_eq!(err(json!({"rate": 1.5})), "shadow: rate of `every tier` must be a number from 0 to 1, got 1.5");
    assert_eq!(
        err(json!({"rates": {"cheap": -0.1}})),
        "shadow: rate of `cheap` must be a number from 0 to 1, got -0.1"
    );
    assert_eq!(err(json!({"rates": {"nope": 0.1}})), "shadow: rates names unknown tier `nope`");
    assert_eq!(err(json!({"reference_tier": "nope"})), "shadow: reference_tier names unknown tier `nope`");
    assert_eq!(
        err(json!({"reference_tier": "mid", "rates": {"frontier": 0.2}})),
        "shadow: rates: tier `frontier` is not below the reference tier `mid` (only cheaper tiers are shadowed)"
    );
    assert_eq!(err(json!({"sink_cluster": " "})), "shadow: sink_cluster must not be empty");
    assert_eq!(err(json!({"sink_path": "samples"})), "shadow: sink_path `samples` must start with `/`");
    assert_eq!(
        err(json!({"budget_micro_usd_per_minute": 0})),
        "shadow: budget_micro_usd_per_minute must be greater than zero"
    );
    assert_eq!(err(json!({"max_text_bytes": 0})), "shadow: max_text_bytes must be greater than zero");
    assert_eq!(err(json!({"customer_salt": "x"})), "shadow: customer_salt is set but hash_customer is false");
    assert!(err(json!({"rats": 1})).contains("unknown field `rats`"));
    let missing = config_with(json!({"rate": 0.1, "sink_cluster": "s"})).unwrap_err().to_string();
    assert!(missing.contains("missing field `budget_micro_usd_per_minute`"), "{missing}");
    // The error type is the module's own.
    assert_eq!(ShadowError::Zero("x").to_string(), "x must be greater than zero");
}

#[test]
fn draws_are_uniform_and_reproducible() {
    let (mut a, mut b) = (Prng::new(7), Prng::new(7));
    let n = 100_000;
    let under = (0..n).filter(|_| unit(a.next_u64()) < 0.1).count();
    assert!((9_500..10_500).contains(&under), "{under}");
    let mut a = Prng::new(7);
    assert_eq!(a.next_u64(), b.next_u64());
    assert_eq!(unit(0), 0.0);
    assert!(unit(u64::MAX) < 1.0);
}

fn routed(r: &crate::router::Router, tier: usize, decided: bool) -> Routing {
    let body = br#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#;
    let req = crate::request::parse(body).unwrap();
    let mut routing = crate::routing::route(r, &req, Vec::new(), "acme".into(), 0.0).routing;
    routing.tier_index = Some(tier);
    routing.tier = r.config.tiers[tier].name.clone();
    routing.decided = decided;
    routing
}

#[test]
fn decision_needs_route_mode_a_decided_tier_below_the_reference_and_a_low_draw() {
    let r = router_with(|v| {
        v["shadow"] =
            json!({"rate": 0.25, "rates": {"mid": 0.0}, "budget_micro_usd_per_minute": 9, "sink_cluster": "s"})
    });
    let low = u64::MAX / 8; // 0.125
    let high = u64::MAX / 2; // 0.5
    assert!(decide(&r.config, &routed(&r, 0, true), || low));
    assert!(!decide(&r.config, &routed(&r, 0, true), || high));
    // Rate 0 (mid) and the reference tier draw nothing.
    for tier in [1, 2] {
        assert!(!decide(&r.config, &routed(&r, tier, true), || panic!("no draw for a tier at rate 0")));
    }
    // Passed-through requests and stateful ones are not sampled.
    assert!(!decide(&r.config, &routed(&r, 0, false), || low));
    let mut stateful = routed(&r, 0, true);
    stateful.family = Some("openai".into());
    assert!(!decide(&r.config, &stateful, || low));
    // Measure mode never sends anything anywhere.
    let m = router_with(|v| {
        v["mode"] = json!("measure");
        v["shadow"] = shadow_json();
    });
    assert!(!decide(&m.config, &routed(&m, 0, true), || 0));
}

#[test]
fn reference_call_rewrites_the_model_and_drops_streaming() {
    let headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".to_string(), "/v1/chat/completions".to_string()),
        ("content-length".to_string(), "999".to_string()),
        ("accept".to_string(), "text/event-stream".to_string()),
    ];
    for body in [
        r#"{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"model":"auto","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
        r#"{"model":"auto","stream":true,"input":"hi"}"#,
    ] {
        let call = reference_call(&headers, body.as_bytes(), "claude-sonnet-4.6").unwrap();
        let sent: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(sent["model"], "claude-sonnet-4.6");
        assert!(sent.get("stream").is_none() && sent.get("stream_options").is_none(), "{sent}");
        let mut original: Value = serde_json::from_str(body).unwrap();
        for k in ["model", "stream", "stream_options"] {
            original.as_object_mut().unwrap().remove(k);
        }
        for (k, v) in original.as_object().unwrap() {
            assert_eq!(&sent[k], v, "{k} is kept");
        }
        let get = |n: &str| call.headers.iter().filter(|(k, _)| k == n).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        assert_eq!(get("content-length"), vec![call.body.len().to_string().as_str()]);
        assert_eq!(get("accept"), vec!["application/json"]);
        assert_eq!(get(":path"), vec!["/v1/chat/completions"]);
    }
    assert!(reference_call(&headers, b"[1]", "m").is_none());
    assert!(reference_call(&headers, b"not json", "m").is_none());
}

#[test]
fn answer_text_and_finish_from_json_answers() {
    let chat = br#"{"choices":[{"message":{"role":"assistant","content":"Hello","tool_calls":[{"type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}"#;
    let t = answer_of(Api::ChatCompletions, chat);
    assert_eq!((t.text.as_str(), t.finish), ("Hello\n[tool_call get({\"a\":1})]", Some("tool_calls")));
    let msg = br#"{"content":[{"type":"text","text":"Hi"},{"type":"tool_use","name":"f","input":{"x":2}}],"stop_reason":"max_tokens"}"#;
    let t = answer_of(Api::Messages, msg);
    assert_eq!((t.text.as_str(), t.finish), ("Hi\n[tool_call f({\"x\":2})]", Some("length")));
    let end = answer_of(Api::Messages, br#"{"content":[],"stop_reason":"end_turn"}"#);
    assert_eq!(end.finish, Some("stop"));
    let resp = br#"{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[{"type":"reasoning"},{"type":"message","content":[{"type":"output_text","text":"Yo"}]}]}"#;
    let t = answer_of(Api::Responses, resp);
    assert_eq!((t.text.as_str(), t.finish), ("Yo", Some("length")));
    let done = answer_of(Api::Responses, br#"{"status":"completed","output":[]}"#);
    assert_eq!(done.finish, Some("stop"));
    // Not an answer: nothing, not a failure.
    assert_eq!(answer_of(Api::ChatCompletions, b"\x00garbage").text, "");
    assert_eq!(answer_of(Api::ChatCompletions, br#"{"error":{}}"#).finish, None);
}

#[test]
fn answer_text_and_finish_from_streams() {
    let chat = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"length\"}]}\n\ndata: {\"choices\":[],\"usage\":{}}\n\ndata: [DONE]\n\n";
    let t = answer_of(Api::ChatCompletions, chat.as_bytes());
    assert_eq!((t.text.as_str(), t.finish), ("Hello", Some("length")));
    let tools = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"get\",\"arguments\":\"{\"}}]}}]}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n";
    let t = answer_of(Api::ChatCompletions, tools.as_bytes());
    assert_eq!((t.text.as_str(), t.finish), ("[tool_call get({\"a\":1})]", Some("tool_calls")));
    let msg = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi \"}}\n\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"there\"}}\n\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}\n\n";
    let t = answer_of(Api::Messages, msg.as_bytes());
    assert_eq!((t.text.as_str(), t.finish), ("Hi there", Some("stop")));
    let resp = "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Y\"}\n\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"o\"}\n\n";
    assert_eq!(answer_of(Api::Responses, resp.as_bytes()).text, "Yo");
    let completed = format!(
        "{resp}data: {{\"type\":\"response.completed\",\"response\":{{\"status\":\"completed\",\"output\":[{{\"type\":\"message\",\"content\":[{{\"type\":\"output_text\",\"text\":\"Yo!\"}}]}}]}}}}\n\n"
    );
    let t = answer_of(Api::Responses, completed.as_bytes());
    assert_eq!((t.text.as_str(), t.finish), ("Yo!", Some("stop")));
}

#[test]
fn prompts_render_as_role_lines_and_system_prompts_can_be_dropped() {
    let chat = br#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{}}]},{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"42"}]}"#;
    assert_eq!(
        prompt_of(Api::ChatCompletions, chat, false),
        "system: Be brief.\nuser: Look\n[image_url]\nassistant: [tool_call f({})]\ntool: 42"
    );
    assert_eq!(
        prompt_of(Api::ChatCompletions, chat, true),
        "user: Look\n[image_url]\nassistant: [tool_call f({})]\ntool: 42"
    );
    let msg = br#"{"system":[{"type":"text","text":"Sys"}],"messages":[{"role":"user","content":"Q"},{"role":"assistant","content":[{"type":"text","text":"A"}]}]}"#;
    assert_eq!(prompt_of(Api::Messages, msg, false), "system: Sys\nuser: Q\nassistant: A");
    assert_eq!(prompt_of(Api::Messages, msg, true), "user: Q\nassistant: A");
    let resp = br#"{"instructions":"Ins","input":[{"role":"developer","content":"Dev"},{"role":"user","content":[{"type":"input_text","text":"Q"}]},{"type":"function_call_output","output":"7"}]}"#;
    assert_eq!(prompt_of(Api::Responses, resp, false), "system: Ins\ndeveloper: Dev\nuser: Q\ntool: 7");
    assert_eq!(prompt_of(Api::Responses, resp, true), "user: Q\ntool: 7");
    assert_eq!(prompt_of(Api::Responses, br#"{"input":"hi"}"#, true), "user: hi");
    assert_eq!(prompt_of(Api::ChatCompletions, b"nope", false), "");
}

#[test]
fn caps_cut_on_a_utf8_boundary() {
    assert_eq!(cap("héllo", 2), ("h".to_string(), true));
    assert_eq!(cap("héllo", 3), ("hé".to_string(), true));
    assert_eq!(cap("hi", 2), ("hi".to_string(), false));
    assert_eq!(cap("€", 0), (String::new(), true));
}

#[test]
fn time_and_customer_hashing() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_798_781_400), "2027-01-01T05:30:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(customer("acme", None), "acme");
    let h = customer("acme", Some("pepper"));
    assert_eq!(h.len(), 16);
    assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(h, customer("acme", Some("salt")), "the salt changes the hash");
    assert_eq!(h, customer("acme", Some("pepper")));
}

fn capture(body: &str, answer: &str) -> Capture {
    Capture {
        request_id: Some("req-1".into()),
        headers: vec![(":path".into(), "/v1/chat/completions".into()), (":method".into(), "POST".into())],
        body: body.as_bytes().to_vec(),
        answer: answer.as_bytes().to_vec(),
        cap: 1 << 20,
        truncated: false,
    }
}

fn job_of(body: &str, answer: &str) -> Box<Job> {
    Box::new(Job {
        api: Api::ChatCompletions,
        route: "chat".into(),
        customer: "acme".into(),
        tier: "cheap".into(),
        score: Some(0.123_456),
        reason: "score".into(),
        model: "gpt-5-nano".into(),
        status: 200,
        tokens: Some((100, 20)),
        cost: Some(13),
        capture: capture(body, answer),
        ended_ns: 1_798_781_400_000_000_000,
        max_queued: 4,
    })
}

fn ok_answer(content: &str, p: u64, c: u64) -> CallResponse {
    CallResponse {
        headers: vec![(":status".into(), "200".into())],
        body: format!(
            r#"{{"choices":[{{"message":{{"role":"assistant","content":"{content}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":{p},"completion_tokens":{c}}}}}"#
        )
        .into_bytes(),
    }
}

const BODY: &str =
    r#"{"model":"auto","stream":true,"messages":[{"role":"system","content":"S"},{"role":"user","content":"hi"}]}"#;
const ROUTED: &str =
    "data: {\"choices\":[{\"delta\":{\"content\":\"cheap answer\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";

fn shadow_router(extra: Value) -> crate::router::Router {
    router_with(|v| {
        let mut s = shadow_json();
        for (k, x) in extra.as_object().unwrap() {
            s[k] = x.clone();
        }
        v["shadow"] = s;
    })
}

#[test]
fn the_root_makes_the_reference_call_then_posts_the_record() {
    let r = shadow_router(json!({"drop_system_prompts": true, "hash_customer": true, "customer_salt": "s1"}));
    let mut shadows = Shadows::default();
    assert!(shadows.push(job_of(BODY, ROUTED)));
    let mut h = FakeHost::default();
    shadows.tick(&r, &mut h);
    assert_eq!(shadows.pending(), (0, 1));
    let (cluster, headers, body, timeout) = h.calls[0].clone();
    assert_eq!((cluster.as_str(), timeout), ("llm_frontier", crate::shadow_config::DEFAULT_REFERENCE_TIMEOUT_MS));
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(sent["model"], "claude-sonnet-4.6");
    assert!(sent.get("stream").is_none());
    assert!(headers.contains(&(":path".into(), "/v1/chat/completions".into())));

    assert!(shadows.on_call_response(&r, &mut h, 1, Some(ok_answer("frontier answer", 100, 80))));
    let (sink, sink_headers, line, _) = h.calls[1].clone();
    assert_eq!(sink, "shadow_sink");
    assert!(sink_headers.contains(&(":path".into(), "/samples".into())));
    assert!(sink_headers.contains(&("content-type".into(), "application/json".into())));
    assert_eq!(line.last(), Some(&b'\n'));
    let rec: Value = serde_json::from_slice(&line).unwrap();
    let ref_cost = r
        .config
        .prices
        .cost_micro_usd("claude-sonnet-4.6", &Usage { prompt_tokens: 100, completion_tokens: 80, ..Usage::ZERO })
        .unwrap();
    assert_eq!(
        rec,
        json!({
            "version": 1, "id": "req-1", "time": "2027-01-01T05:30:00Z", "route": "chat",
            "api": "chat_completions", "customer": customer("acme", Some("s1")), "tier": "cheap",
            "score": 0.1235, "reason": "score", "json_requested": false,
            "prompt": "user: hi", "prompt_truncated": false,
            "routed": {"model": "gpt-5-nano", "text": "cheap answer", "text_truncated": false, "finish": "stop",
                       "status": 200, "input_tokens": 100, "output_tokens": 20, "cost_micro_usd": 13, "error": null},
            "reference": {"tier": "frontier", "model": "claude-sonnet-4.6", "text": "frontier answer",
                          "text_truncated": false, "finish": "stop", "status": 200, "input_tokens": 100,
                          "output_tokens": 80, "cost_micro_usd": ref_cost, "error": null}
        })
    );
    // The contract: what the filter writes, `judge` and `report --quality` read.
    let (sample, _) = crate::sample::read_line(std::str::from_utf8(&line).unwrap().trim_end()).unwrap();
    assert_eq!(
        (sample.id.as_str(), sample.tier.as_str(), sample.reference_tier.as_str()),
        ("req-1", "cheap", "frontier")
    );
    assert_eq!(sample.score, Some(0.1235));
    assert!(sample.routed.succeeded() && sample.reference.succeeded());
    assert_eq!(sample.reference.cost_micro_usd, Some(ref_cost));
    assert_eq!(h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=ok}"), 1);
    assert_eq!(h.counter_sum("llm_router_shadow_cost_micro_usd_total{route=chat,api=chat_completions,tier=cheap,model=claude-sonnet-4.6}"), ref_cost);
    // Shadow calls never touch the routed request's counters.
    assert_eq!(h.counter_sum("llm_router_cost_micro_usd_total"), 0);
    assert_eq!(h.counter_sum("llm_router_baseline_cost_micro_usd_total"), 0);
    // The sink's answer: 2xx is fine, anything else is a counted failure.
    assert!(shadows.on_call_response(
        &r,
        &mut h,
        2,
        Some(CallResponse { headers: vec![(":status".into(), "204".into())], body: vec![] })
    ));
    assert_eq!(h.counter_sum("llm_router_shadow_sink_failures_total"), 0);
    assert!(!shadows.on_call_response(&r, &mut h, 2, None), "a token is answered once");
    assert_eq!(shadows.pending(), (0, 0));
}

#[test]
fn a_failed_reference_still_writes_a_record_with_the_error() {
    let r = shadow_router(json!({"max_text_bytes": 5}));
    let mut shadows = Shadows::default();
    for _ in 0..2 {
        assert!(shadows.push(job_of(BODY, ROUTED)));
    }
    let mut h = FakeHost::default();
    shadows.tick(&r, &mut h);
    let e500 = CallResponse { headers: vec![(":status".into(), "500".into())], body: b"{}".to_vec() };
    assert!(shadows.on_call_response(&r, &mut h, 1, Some(e500)));
    assert!(shadows.on_call_response(&r, &mut h, 2, None));
    let recs: Vec<Value> = h.calls[2..].iter().map(|c| serde_json::from_slice(&c.2).unwrap()).collect();
    for c in &h.calls[2..] {
        let (sample, _) = crate::sample::read_line(std::str::from_utf8(&c.2).unwrap().trim_end()).unwrap();
        assert!(!sample.reference.succeeded() && sample.reference.failure().is_some());
    }
    assert_eq!(recs[0]["reference"]["error"], "status 500");
    assert_eq!(recs[0]["reference"]["status"], 500);
    assert_eq!(recs[1]["reference"]["error"], "no answer (timeout or connection failure)");
    assert_eq!(recs[1]["reference"]["status"], 0);
    for rec in &recs {
        assert_eq!(rec["reference"]["text"], "");
        assert!(rec["reference"]["input_tokens"].is_null() && rec["reference"]["cost_micro_usd"].is_null());
        // Capped texts: 5 bytes, marked.
        assert_eq!(rec["routed"]["text"], "cheap");
        assert_eq!(rec["routed"]["text_truncated"], true);
        assert_eq!(rec["prompt"], "syste");
        assert_eq!(rec["prompt_truncated"], true);
    }
    assert_eq!(
        h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=reference_failed}"),
        2
    );
    assert_eq!(h.counter_sum("llm_router_shadow_cost_micro_usd_total"), 0);
    // The sink refused: counted.
    h.refuse_calls = true;
    assert!(shadows.push(job_of(BODY, ROUTED)));
    h.refuse_calls = false;
    shadows.tick(&r, &mut h);
    h.refuse_calls = true;
    let n = u32::try_from(h.calls.len()).unwrap();
    assert!(shadows.on_call_response(&r, &mut h, n, Some(ok_answer("x", 1, 1))));
    assert_eq!(h.counter_sum("llm_router_shadow_sink_failures_total"), 1);
}

#[test]
fn the_budget_per_minute_caps_calls_and_renews_each_minute() {
    let usage = Usage { prompt_tokens: 100, completion_tokens: 20, ..Usage::ZERO };
    let r0 = shadow_router(json!({}));
    let per_call = r0.config.prices.cost_micro_usd("claude-sonnet-4.6", &usage).unwrap();
    // Room for two estimated calls, not three.
    let r = shadow_router(json!({"budget_micro_usd_per_minute": per_call * 2, "max_queued": 10}));
    let mut shadows = Shadows::default();
    let mut h = FakeHost::default();
    for _ in 0..4 {
        assert!(shadows.push(job_of(BODY, ROUTED)));
    }
    shadows.tick(&r, &mut h);
    assert_eq!(h.calls.len(), 2);
    assert_eq!(
        h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=skipped_budget}"),
        2
    );
    // A cheaper actual answer gives the estimate back within the minute.
    assert!(shadows.on_call_response(&r, &mut h, 1, Some(ok_answer("a", 1, 1))));
    assert!(shadows.push(job_of(BODY, ROUTED)));
    shadows.tick(&r, &mut h);
    assert_eq!(h.calls.len(), 4, "sink POST + one more reference call");
    // Spent: the next minute starts from zero.
    assert!(shadows.push(job_of(BODY, ROUTED)));
    shadows.tick(&r, &mut h);
    assert_eq!(h.calls.len(), 4);
    *h.clock.borrow_mut() += 60_000_000_000;
    assert!(shadows.push(job_of(BODY, ROUTED)));
    shadows.tick(&r, &mut h);
    assert_eq!(h.calls.len(), 5);
}

#[test]
fn samples_waiting_or_in_their_reference_call_are_capped() {
    let r = shadow_router(json!({}));
    let mut shadows = Shadows::default();
    for _ in 0..4 {
        assert!(shadows.push(job_of(BODY, ROUTED)));
    }
    assert!(!shadows.push(job_of(BODY, ROUTED)));
    assert_eq!(shadows.pending(), (4, 0));
    // In flight still counts: a slow reference tier does not pile samples up.
    let mut h = FakeHost::default();
    shadows.tick(&r, &mut h);
    assert_eq!(shadows.pending(), (0, 4));
    assert!(!shadows.push(job_of(BODY, ROUTED)));
    // An answered reference frees its place (its sink POST does not hold one).
    assert!(shadows.on_call_response(&r, &mut h, 1, Some(ok_answer("a", 1, 1))));
    assert_eq!(shadows.pending(), (0, 4), "three references and one sink POST");
    assert!(shadows.push(job_of(BODY, ROUTED)));
    assert!(!shadows.push(job_of(BODY, ROUTED)));
}

#[test]
fn an_unparseable_body_is_not_sent() {
    let r = shadow_router(json!({}));
    let mut shadows = Shadows::default();
    assert!(shadows.push(job_of("not json", ROUTED)));
    let mut h = FakeHost::default();
    shadows.tick(&r, &mut h);
    assert!(h.calls.is_empty());
    assert_eq!(
        h.counter_sum("llm_router_shadow_total{route=chat,api=chat_completions,tier=cheap,outcome=dispatch_failed}"),
        1
    );
}

#[test]
fn json_output_requests_are_recognized_per_api() {
    use crate::shadow_text::json_requested;
    assert!(json_requested(Api::ChatCompletions, br#"{"response_format":{"type":"json_object"}}"#));
    assert!(json_requested(Api::ChatCompletions, br#"{"response_format":{"type":"json_schema","json_schema":{}}}"#));
    assert!(!json_requested(Api::ChatCompletions, br#"{"response_format":{"type":"text"}}"#));
    assert!(json_requested(Api::Responses, br#"{"text":{"format":{"type":"json_schema"}}}"#));
    assert!(json_requested(Api::Messages, br#"{"output_format":{"type":"json_schema"}}"#));
    assert!(!json_requested(Api::Messages, br#"{"messages":[]}"#));
    assert!(!json_requested(Api::ChatCompletions, b"nope"));
}

#[test]
fn a_hostile_tool_call_index_does_not_grow_the_call_list() {
    let stream = "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":4000000000,\"function\":{\"name\":\"x\"}}]}}]}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"ok\",\"arguments\":\"{}\"}}]}}]}\n\n";
    assert_eq!(answer_of(Api::ChatCompletions, stream.as_bytes()).text, "[tool_call ok({})]");
}

#[test]
fn arbitrary_bytes_never_panic_the_readers() {
    // Upstream answers and client bodies are untrusted: mangled versions of real shapes (cut,
    // bytes flipped, invalid UTF-8) must read as some text, never a panic.
    let seeds: [&[u8]; 4] = [
        ROUTED.as_bytes(),
        BODY.as_bytes(),
        br#"{"output":[{"type":"message","content":[{"text":"y"}]}],"status":"completed"}"#,
        b"data: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"\xc3\xa9\"}}\n\n",
    ];
    let mut rng = Prng::new(42);
    for _ in 0..3_000 {
        let seed = seeds[usize::try_from(rng.next_u64() % 4).unwrap()];
        let mut bytes = seed.to_vec();
        let cut = usize::try_from(rng.next_u64() % (bytes.len() as u64 + 1)).unwrap();
        bytes.truncate(cut);
        for _ in 0..(rng.next_u64() % 4) {
            if !bytes.is_empty() {
                let i = usize::try_from(rng.next_u64() % bytes.len() as u64).unwrap();
                bytes[i] = u8::try_from(rng.next_u64() % 256).unwrap();
            }
        }
        for api in [Api::ChatCompletions, Api::Messages, Api::Responses] {
            let t = answer_of(api, &bytes);
            let (capped, _) = cap(&t.text, usize::try_from(rng.next_u64() % 16).unwrap());
            assert!(capped.len() <= 16);
            let _ = prompt_of(api, &bytes, rng.next_u64().is_multiple_of(2));
            let _ = crate::shadow_text::json_requested(api, &bytes);
        }
    }
}
