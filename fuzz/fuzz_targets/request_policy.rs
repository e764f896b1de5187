//! Request parser + routing policy: arbitrary bytes as a request body through
//! `parse_body` -> `ChatRequest` -> features -> `Router::decide` (heuristic classifier)
//! -> `rewrite`, checking the invariants the filter relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_router::classifier::HeuristicClassifier;
use llm_router::config::{Config, DEFAULT_CONFIG_JSON};
use llm_router::features::{self, FEATURE_DIM};
use llm_router::request::{self, ChatRequest};
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

fuzz_target!(|data: &[u8]| {
    let Ok(mut value) = request::parse_body(data) else {
        return;
    };
    let (model, stream) = {
        let Ok(req) = ChatRequest::try_from(&value) else {
            return;
        };
        for m in &req.messages {
            let counted: u64 = m.text.iter().map(|t| t.chars().count() as u64).sum();
            assert_eq!(counted, m.chars, "message char count");
        }
        assert!(req.estimated_input_tokens() >= 4 * req.messages.len() as u64);
        for max_chars in [0, 1, 3, 16_384] {
            let f = features::extract(&req, max_chars);
            assert_eq!(f.as_slice().len(), FEATURE_DIM);
            assert!(f.as_slice().iter().all(|x| x.is_finite()), "non-finite feature");
        }
        ROUTERS.with(|routers| {
            for router in routers {
                let tiers = router.config.tiers.len();
                let plain = router.decide(&req, Vec::new());
                assert!(plain.tier < tiers);
                if let Some(s) = plain.score {
                    assert!((0.0..=1.0).contains(&s), "score {s}");
                    assert_eq!(plain.reason.is_empty(), false);
                }
                // The shipped `tools` rule is a floor: nothing may route a tool request lower.
                if req.tools > 0 {
                    assert!(plain.tier >= 1, "tools request routed to tier {}", plain.tier);
                }
                let enterprise = router.decide(&req, headers(&[("x-user-tier", "enterprise")]));
                assert!(enterprise.tier >= 1, "enterprise floor ignored: {enterprise:?}");
                let summary = router.decide(&req, headers(&[("x-feature", "summarization")]));
                assert!(summary.tier < tiers);
                if req.tools == 0 && router.config.max_inspect_chars > 3 {
                    assert_eq!(summary.tier, 0, "{summary:?}");
                    assert_eq!(summary.reason, "rule:summarization");
                }
            }
        });
        (req.model.to_string(), req.stream)
    };
    // Rewriting keeps a valid request that names the new model (and asks for usage), and the
    // byte splice the filter uses means the same JSON as re-serialising the parsed value.
    let mut parsed = value.clone();
    let spliced = request::rewrite_body(data, &mut parsed, Some("gpt-5-nano"), stream);
    let rewritten = request::rewrite(&mut value, Some("gpt-5-nano"), stream);
    assert_eq!(spliced.is_some(), rewritten.is_some(), "splice and rewrite disagree on a change");
    if let (Some(a), Some(b)) = (&spliced, &rewritten) {
        let (a, b) = (request::parse_body(a).expect("spliced body parses"), request::parse_body(b).expect("rewritten body parses"));
        assert_eq!(a, b, "splice and rewrite differ");
    }
    if model != "gpt-5-nano" {
        assert!(rewritten.is_some(), "model change not written");
    }
    if let Some(bytes) = rewritten {
        let again = request::parse_body(&bytes).expect("rewritten body parses");
        let req = ChatRequest::try_from(&again).expect("rewritten body is a request");
        assert_eq!(req.model, "gpt-5-nano");
        assert_eq!(req.stream, stream);
        if stream {
            assert!(req.include_usage);
        }
    }
});
