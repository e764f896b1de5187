//! Parity: the embedded model run by tract exactly as the filter runs it (the MLP export,
//! rebuilt with tract-core operators) gives the scores the training framework computed
//! (tests/data/parity_sample.jsonl, written by the script that produced models/router.onnx),
//! within 1e-5; and the ONNX itself, run by tract-onnx, does too.
#![cfg(feature = "onnx")]
// The whole crate is test code, helpers included, so clippy.toml's allow-*-in-tests covers it.
#![cfg(test)]

use llm_router::classifier::{Classifier, TractClassifier, EMBEDDED_ONNX};
use llm_router::config::{Config, DEFAULT_CONFIG_JSON};
use llm_router::features::extract;
use llm_router::request::parse;

#[test]
fn tract_matches_training_scores() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/parity_sample.jsonl")).unwrap();
    let cfg = Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    let models = [TractClassifier::embedded().unwrap(), TractClassifier::from_onnx(EMBEDDED_ONNX).unwrap()];
    let mut n = 0;
    let mut worst = 0.0f64;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let body = serde_json::to_vec(&row["request"]).unwrap();
        let req = parse(&body).unwrap();
        let f = extract(&req, cfg.max_inspect_chars);
        let want = row["score"].as_f64().unwrap();
        for model in &models {
            let got = f64::from(model.score(f.as_slice()).unwrap());
            let diff = (got - want).abs();
            worst = worst.max(diff);
            assert!(diff <= 1e-5, "{} ({}): tract {got} vs training {want} (diff {diff})", row["id"], model.name());
        }
        n += 1;
    }
    assert!(n >= 10, "parity sample too small: {n} rows");
    eprintln!("parity: {n} rows, worst abs diff {worst:e}");
}

#[test]
fn bad_model_is_rejected_with_a_clear_error() {
    let e = TractClassifier::from_onnx(&[0x08, 0x07, 0x12, 0x00]).unwrap_err().to_string();
    assert!(e.starts_with("cannot load model"), "{e}");
    let e = TractClassifier::from_mlp(&[0x08, 0x07, 0x12, 0x00]).unwrap_err().to_string();
    assert!(e.starts_with("cannot load model"), "{e}");
}

fn config_with_classifier(classifier: serde_json::Value) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    v["classifier"] = classifier;
    v.to_string().into_bytes()
}

#[test]
fn model_from_configuration_replaces_the_embedded_one() {
    use base64::Engine as _;
    use llm_router::classifier::EMBEDDED_MLP;
    use llm_router::router::Router;
    let b64 = base64::engine::general_purpose::STANDARD.encode(EMBEDDED_ONNX);
    let r =
        Router::from_json(&config_with_classifier(serde_json::json!({"kind": "inline", "onnx_base64": b64}))).unwrap();
    assert_eq!(r.classifier_name(), "tract-onnx");
    let d = r.decide_body(br#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
    assert!(d.score.is_some());
    let b64 = base64::engine::general_purpose::STANDARD.encode(EMBEDDED_MLP);
    let r =
        Router::from_json(&config_with_classifier(serde_json::json!({"kind": "inline", "mlp_base64": b64}))).unwrap();
    assert_eq!(r.classifier_name(), "tract-core");
    let d = r.decide_body(br#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#).unwrap();
    assert!(d.score.is_some());

    let junk = base64::engine::general_purpose::STANDARD.encode(b"this is not a model");
    for field in ["onnx_base64", "mlp_base64"] {
        let e =
            Router::from_json(&config_with_classifier(serde_json::json!({"kind": "inline", field: junk}))).unwrap_err();
        assert!(e.to_string().starts_with("classifier: cannot load model"), "{e}");
    }
}
