//! Request reader + routing policy: arbitrary bytes as a request body through the inspect step
//! -> `ChatRequest` -> features -> `Router::decide` (heuristic classifier) -> the splice,
//! checking the invariants the filter relies on. The inspect step is compared with the
//! tree-based reader it replaced (`dom_reference.rs`) on every input. The same bytes are read as
//! an OpenAI Responses body too, compared with its tree-based oracle (`responses_reference.rs`),
//! and spliced.
#![no_main]

mod dom_reference;
mod responses_reference;

use libfuzzer_sys::fuzz_target;
use llm_router::classifier::HeuristicClassifier;
use llm_router::config::{Config, DEFAULT_CONFIG_JSON};
use llm_router::features::{self, FEATURE_DIM};
use llm_router::inspect::inspect;
use llm_router::responses;
use llm_router::splice::{self, Edit};
use llm_router::router::Router;

/// The shipped configuration, and a variant with a 3-character inspection window (text is cut
/// mid-string, so any slicing at a non-char boundary would panic) and ceiling/floor rules.
fn routers() -> [Router; 2] {
    let mut shipped: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    shipped["classifier"] = serde_json::json!({"kind": "heuristic"});
    let mut tiny = shipped.clone();
    tiny["max_inspect_chars"] = serde_json::json!(3);
    tiny["rules"].as_array_mut().unwrap().extend([
        serde_json::json!({"name": "short", "when": {"input_tokens_below": 10}, "max_tier": "cheap"}),
        serde_json::json!({"name": "many", "when": {"messages_above": 3}, "min_tier": "frontier"}),
        serde_json::json!({"name": "json", "when": {"has_response_format": true}, "min_tier": "mid"}),
    ]);
    [shipped, tiny].map(|v| {
        let config = Config::from_json(v.to_string().as_bytes()).unwrap();
        Router::new(config, Box::new(HeuristicClassifier::default()))
    })
}

thread_local! {
    static ROUTERS: [Router; 2] = routers();
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The bytes as a Responses body: the one-pass reader agrees with the tree, and a routable body
/// splices to the same JSON with only `model` changed.
fn check_responses(data: &[u8]) {
    let read = responses::inspect(data);
    responses_reference::check(data, &read.as_ref().map(|i| i.request.clone()).map_err(Clone::clone));
    let Ok(read) = read else {
        return;
    };
    let out = splice::rewrite(data, &read.spans, Edit { model: Some("gpt-5-mini"), add_usage: false }).expect("an edit");
    let mut want: serde_json::Value = serde_json::from_slice(data).expect("inspected body is json");
    want["model"] = serde_json::json!("gpt-5-mini");
    let got: serde_json::Value = serde_json::from_slice(&out.body).expect("spliced body parses");
    assert_eq!(got, want, "splice changed more than model");
    let again = responses::inspect(&out.body).expect("spliced body is a Responses request");
    assert_eq!((again.request.model.as_ref(), again.request.stateful), ("gpt-5-mini", read.request.stateful));
}

fuzz_target!(|data: &[u8]| {
    check_responses(data);
    let read = inspect(data);
    dom_reference::check(data, &read.as_ref().map(|i| i.request.clone()).map_err(Clone::clone));
    let Ok(read) = read else {
        return;
    };
    let req = &read.request;
    for m in &req.messages {
        let counted: u64 = m.text.iter().map(|t| t.chars().count() as u64).sum();
        assert_eq!(counted, m.chars, "message char count");
    }
    assert!(req.estimated_input_tokens() >= 4 * req.messages.len() as u64);
    for max_chars in [0, 1, 3, 16_384] {
        let f = features::extract(req, max_chars);
        assert_eq!(f.as_slice().len(), FEATURE_DIM);
        assert!(f.as_slice().iter().all(|x| x.is_finite()), "non-finite feature");
    }
    ROUTERS.with(|routers| {
        for router in routers {
            let tiers = router.config.tiers.len();
            let plain = router.decide(req, Vec::new());
            assert!(plain.tier < tiers);
            if let Some(s) = plain.score {
                assert!((0.0..=1.0).contains(&s), "score {s}");
                assert_eq!(plain.reason.is_empty(), false);
            }
            // The shipped `tools` rule is a floor: nothing may route a tool request lower.
            if req.tools > 0 {
                assert!(plain.tier >= 1, "tools request routed to tier {}", plain.tier);
            }
            let enterprise = router.decide(req, headers(&[("x-user-tier", "enterprise")]));
            assert!(enterprise.tier >= 1, "enterprise floor ignored: {enterprise:?}");
            let summary = router.decide(req, headers(&[("x-feature", "summarization")]));
            assert!(summary.tier < tiers);
            if req.tools == 0 && router.config.max_inspect_chars > 3 {
                assert_eq!(summary.tier, 0, "{summary:?}");
                assert_eq!(summary.reason, "rule:summarization");
            }
        }
    });
    // The splice keeps the client's JSON except for the members it edits, and a re-send at the
    // returned spans names the next model.
    let add_usage = req.stream && !req.include_usage;
    let out = splice::rewrite(data, &read.spans, Edit { model: Some("gpt-5-nano"), add_usage }).expect("an edit");
    let mut want: serde_json::Value = serde_json::from_slice(data).expect("inspected body is json");
    want["model"] = serde_json::json!("gpt-5-nano");
    if add_usage {
        if !want["stream_options"].is_object() {
            want["stream_options"] = serde_json::json!({});
        }
        want["stream_options"]["include_usage"] = serde_json::json!(true);
    }
    let got: serde_json::Value = serde_json::from_slice(&out.body).expect("spliced body parses");
    assert_eq!(got, want, "splice changed more than model and stream_options");
    let again = inspect(&out.body).expect("spliced body is a request");
    assert_eq!(again.request.model, "gpt-5-nano");
    assert_eq!(again.request.stream, req.stream);
    assert!(!req.stream || again.request.include_usage);
    assert_eq!(again.spans.model, out.model, "returned model spans");
    let resent = splice::with_model(&out.body, &out.model, "frontier-\"x\"");
    assert_eq!(inspect(&resent.body).expect("re-sent body is a request").request.model, "frontier-\"x\"");
});
