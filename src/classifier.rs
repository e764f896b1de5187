//! Classifiers: a score in [0, 1] per request, the estimated probability that a cheap model's
//! answer is worse than a frontier model's.
//!
//! [`Classifier`] is the interface the policy uses. Two implementations:
//! - [`HeuristicClassifier`]: a fixed, documented logistic function of the structural features
//!   ([`HEURISTIC_WEIGHTS`]); no model file needed.
//! - [`OnnxClassifier`] (feature `onnx`): an ONNX model run with `tract-onnx`. The default model
//!   ([`EMBEDDED_MODEL`]) is embedded in the binary with `include_bytes!`. Its contract: input
//!   `features`, shape `[1, FEATURE_DIM]` f32; first output: shape `[1, 1]` f32, the score.

use crate::features::{FEATURE_DIM, STRUCTURAL_NAMES};

/// The ONNX model embedded in every build with the `onnx` feature (`models/router.onnx`).
#[cfg(feature = "onnx")]
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../models/router.onnx");

/// Classifier errors.
#[derive(Debug, thiserror::Error)]
pub enum ClassifierError {
    /// The feature vector has the wrong length.
    #[error("expected {expected} features, got {got}")]
    Dimension {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// The model could not be loaded.
    #[error("cannot load model: {0}")]
    Load(String),
    /// Inference failed.
    #[error("inference failed: {0}")]
    Run(String),
    /// The model produced a value outside [0, 1] or not a number.
    #[error("model output {0} is not a probability")]
    BadOutput(f32),
    /// The ONNX runtime is not compiled in.
    #[error("this build has no onnx support")]
    NoOnnx,
}

/// Something that scores a feature vector.
pub trait Classifier {
    /// Score in [0, 1]; higher means the request needs a stronger model.
    fn score(&self, features: &[f32]) -> Result<f32, ClassifierError>;
    /// Short name for logs and reasons.
    fn name(&self) -> &'static str;
}

fn check_dim(features: &[f32]) -> Result<(), ClassifierError> {
    if features.len() != FEATURE_DIM {
        return Err(ClassifierError::Dimension { expected: FEATURE_DIM, got: features.len() });
    }
    Ok(())
}

fn check_prob(p: f32) -> Result<f32, ClassifierError> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(ClassifierError::BadOutput(p))
    }
}

/// Bias of the heuristic's logistic function.
pub const HEURISTIC_BIAS: f32 = -3.2;
/// Weights of the heuristic, by structural feature name; features not listed weigh 0.
///
/// Longer prompts, code, math notation and words like "prove"/"algorithm" push the score up;
/// everyday verbs like "translate"/"summarize" push it down.
pub const HEURISTIC_WEIGHTS: [(&str, f32); 12] = [
    ("log_est_tokens", 2.6),
    ("code_fences", 4.0),
    ("code_symbol_ratio", 8.0),
    ("math_symbol_ratio", 25.0),
    ("reasoning_words", 6.0),
    ("hard_words", 12.0),
    ("constraint_words", 3.0),
    ("easy_task_words", -4.0),
    ("has_tools", 0.5),
    ("json_response_format", 0.3),
    ("choice_lines", 0.5),
    ("code_words", 3.0),
];

/// The heuristic as a dense weight vector over all features (hashed ones are 0).
pub fn heuristic_dense_weights() -> Vec<f32> {
    let mut w = vec![0.0f32; FEATURE_DIM];
    for (name, weight) in HEURISTIC_WEIGHTS {
        if let Some(i) = STRUCTURAL_NAMES.iter().position(|n| *n == name) {
            if let Some(slot) = w.get_mut(i) {
                *slot = weight;
            }
        }
    }
    w
}

/// The deterministic heuristic classifier.
#[derive(Debug, Clone)]
pub struct HeuristicClassifier {
    weights: Vec<f32>,
}

impl Default for HeuristicClassifier {
    fn default() -> Self {
        HeuristicClassifier { weights: heuristic_dense_weights() }
    }
}

impl Classifier for HeuristicClassifier {
    fn score(&self, features: &[f32]) -> Result<f32, ClassifierError> {
        check_dim(features)?;
        let z: f32 = HEURISTIC_BIAS + self.weights.iter().zip(features).map(|(w, x)| w * x).sum::<f32>();
        check_prob(1.0 / (1.0 + (-z).exp()))
    }

    fn name(&self) -> &'static str {
        "heuristic"
    }
}

#[cfg(feature = "onnx")]
mod onnx {
    use super::*;
    use tract_onnx::prelude::*;

    type Plan = std::sync::Arc<TypedRunnableModel>;

    /// An ONNX model run with tract, optimized once at load.
    #[derive(Debug)]
    pub struct OnnxClassifier {
        plan: Plan,
    }

    impl OnnxClassifier {
        /// Load and optimize a model from ONNX bytes, and check it on a zero vector.
        pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClassifierError> {
            let load = |e: TractError| ClassifierError::Load(format!("{e:#}"));
            let mut reader = std::io::Cursor::new(bytes);
            let plan = tract_onnx::onnx()
                .model_for_read(&mut reader)
                .map_err(load)?
                .with_input_fact(0, f32::fact([1, FEATURE_DIM]).into())
                .map_err(load)?
                .into_optimized()
                .map_err(load)?
                .into_runnable()
                .map_err(load)?;
            let c = OnnxClassifier { plan };
            c.score(&vec![0.0; FEATURE_DIM])
                .map_err(|e| ClassifierError::Load(format!("model does not run: {e}")))?;
            Ok(c)
        }

        /// Load the embedded default model.
        pub fn embedded() -> Result<Self, ClassifierError> {
            Self::from_bytes(EMBEDDED_MODEL)
        }
    }

    impl Classifier for OnnxClassifier {
        fn score(&self, features: &[f32]) -> Result<f32, ClassifierError> {
            check_dim(features)?;
            let run = |e: TractError| ClassifierError::Run(format!("{e:#}"));
            let input = Tensor::from_shape(&[1, FEATURE_DIM], features).map_err(run)?;
            let out = self.plan.run(tvec!(input.into())).map_err(run)?;
            let first = out.first().ok_or_else(|| ClassifierError::Run("no output".into()))?;
            let view = first.to_plain_array_view::<f32>().map_err(run)?;
            let p = view.iter().next().copied().ok_or_else(|| ClassifierError::Run("empty output".into()))?;
            check_prob(p)
        }

        fn name(&self) -> &'static str {
            "onnx"
        }
    }
}

#[cfg(feature = "onnx")]
pub use onnx::OnnxClassifier;

/// Build the classifier a configuration asks for.
pub fn build(kind: &crate::config::ClassifierKind) -> Result<Box<dyn Classifier>, ClassifierError> {
    use crate::config::ClassifierKind;
    match kind {
        ClassifierKind::Heuristic => Ok(Box::new(HeuristicClassifier::default())),
        #[cfg(feature = "onnx")]
        ClassifierKind::Embedded => Ok(Box::new(OnnxClassifier::embedded()?)),
        #[cfg(feature = "onnx")]
        ClassifierKind::Inline(bytes) => Ok(Box::new(OnnxClassifier::from_bytes(bytes)?)),
        #[cfg(not(feature = "onnx"))]
        ClassifierKind::Embedded | ClassifierKind::Inline(_) => Err(ClassifierError::NoOnnx),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::features::extract;
    use crate::request::{parse_body, ChatRequest};

    fn features_of(body: &str) -> Vec<f32> {
        let v = parse_body(body.as_bytes()).unwrap();
        extract(&ChatRequest::try_from(&v).unwrap(), 16_384).0
    }

    #[test]
    fn heuristic_weights_name_real_features() {
        for (name, _) in HEURISTIC_WEIGHTS {
            assert!(STRUCTURAL_NAMES.contains(&name), "{name}");
        }
    }

    #[test]
    fn heuristic_orders_easy_below_hard() {
        let h = HeuristicClassifier::default();
        let easy = h.score(&features_of(r#"{"model":"auto","messages":[{"role":"user","content":"Translate 'good morning' to French."}]}"#)).unwrap();
        let hard = h.score(&features_of(r#"{"model":"auto","messages":[{"role":"user","content":"Prove rigorously that the algorithm below runs in O(n log n) and derive its recurrence. Explain each step.\n```python\ndef f(a):\n    return sorted(a)\n```\n$T(n) = 2T(n/2) + n$"}]}"#)).unwrap();
        assert!(easy < 0.35, "easy {easy}");
        assert!(hard > 0.7, "hard {hard}");
    }

    #[test]
    fn wrong_dimension_is_an_error() {
        let h = HeuristicClassifier::default();
        assert!(matches!(h.score(&[0.0; 3]), Err(ClassifierError::Dimension { .. })));
    }

    #[cfg(feature = "onnx")]
    #[test]
    fn embedded_onnx_model_loads_and_runs() {
        let c = OnnxClassifier::embedded().unwrap();
        let s = c.score(&features_of(r#"{"model":"auto","messages":[{"role":"user","content":"hello"}]}"#)).unwrap();
        assert!((0.0..=1.0).contains(&s));
    }

    #[cfg(feature = "onnx")]
    #[test]
    fn bad_model_bytes_fail_to_load() {
        let e = OnnxClassifier::from_bytes(b"definitely not onnx").unwrap_err();
        assert!(e.to_string().starts_with("cannot load model"), "{e}");
    }
}
