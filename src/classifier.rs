//! Classifiers: a score in [0, 1] per request, the estimated probability that a cheap model's
//! answer is worse than a frontier model's.
//!
//! [`Classifier`] is the interface the policy uses. Two implementations:
//! - [`HeuristicClassifier`]: a fixed, documented logistic function of the structural features
//!   ([`HEURISTIC_WEIGHTS`]); no model file needed.
//! - [`TractClassifier`] (features `nnef` / `onnx`): a model run with tract. Training exports
//!   ONNX (`models/router.onnx`); `llm-router export-nnef` converts it with tract into NNEF
//!   (`models/router.nnef.tar`), which is embedded with `include_bytes!` and run by
//!   `tract-nnef` in the filter and the CLI alike: the wasm links `tract-nnef` only, not the
//!   ONNX protobuf importer, which keeps the module much smaller. Model contract: input
//!   `features`, shape `[1, FEATURE_DIM]` f32; first output: shape `[1, 1]` f32, the score.

use crate::features::{FEATURE_DIM, STRUCTURAL_NAMES};

/// The trained model as exported by training (`models/router.onnx`).
#[cfg(feature = "onnx")]
pub const EMBEDDED_ONNX: &[u8] = include_bytes!("../models/router.onnx");
/// The same model converted to NNEF by tract (`models/router.nnef.tar`, written by
/// `llm-router export-nnef`): the model the filter and the CLI run.
#[cfg(feature = "nnef")]
pub const EMBEDDED_NNEF: &[u8] = include_bytes!("../models/router.nnef.tar");

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
    /// The model format is not compiled in.
    #[error("this build cannot read {0} models")]
    NoSupport(&'static str),
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

#[cfg(feature = "nnef")]
mod tract_model {
    use super::*;
    use tract_nnef::prelude::*;

    type Plan = std::sync::Arc<TypedRunnableModel>;

    fn load_err(e: TractError) -> ClassifierError {
        ClassifierError::Load(format!("{e:#}"))
    }

    /// A model run with tract, optimized once at load: NNEF (what the wasm filter links,
    /// `tract-nnef` only) or ONNX (feature `onnx`, `tract-onnx`).
    #[derive(Debug)]
    pub struct TractClassifier {
        plan: Plan,
        format: &'static str,
    }

    impl TractClassifier {
        fn from_typed(model: TypedModel, format: &'static str) -> Result<Self, ClassifierError> {
            let plan = model.into_optimized().map_err(load_err)?.into_runnable().map_err(load_err)?;
            let c = TractClassifier { plan, format };
            c.score(&vec![0.0; FEATURE_DIM])
                .map_err(|e| ClassifierError::Load(format!("model does not run: {e}")))?;
            Ok(c)
        }

        /// Load an NNEF model (a tar archive as written by `llm-router export-nnef`), with the
        /// standard NNEF operators only (see [`nnef_reader`]).
        pub fn from_nnef(bytes: &[u8]) -> Result<Self, ClassifierError> {
            let mut reader = std::io::Cursor::new(bytes);
            let model = nnef_reader().model_for_read(&mut reader).map_err(load_err)?;
            Self::from_typed(model, "tract-nnef")
        }

        /// Load an ONNX model.
        #[cfg(feature = "onnx")]
        pub fn from_onnx(bytes: &[u8]) -> Result<Self, ClassifierError> {
            Self::from_typed(onnx_typed(bytes)?, "tract-onnx")
        }

        /// Load the embedded default model ([`EMBEDDED_NNEF`]), exactly what the filter runs.
        pub fn embedded() -> Result<Self, ClassifierError> {
            Self::from_nnef(EMBEDDED_NNEF)
        }
    }

    /// The NNEF reader: standard NNEF operators and plain tensor files only. Unlike
    /// `tract_nnef::nnef()` it does not register tract-core's extension operators, so the wasm
    /// does not link them (FFT, convolutions' exotic variants, ...): the module is much smaller.
    /// Models must therefore be written with standard operators, which `onnx_to_nnef` checks.
    pub fn nnef_reader() -> tract_nnef::framework::Nnef {
        use tract_nnef::internal::ResourceLoader;
        tract_nnef::framework::Nnef {
            stdlib: tract_nnef::framework::stdlib(),
            registries: vec![tract_nnef::ops::tract_nnef()],
            resource_loaders: vec![
                tract_nnef::resource::GraphNnefLoader.into_boxed(),
                tract_nnef::resource::DatLoader.into_boxed(),
            ],
            allow_extended_identifier_syntax: false,
            extern_all_constants: false,
        }
    }

    /// Parse ONNX into a typed tract model with the input fixed to `[1, FEATURE_DIM]`.
    #[cfg(feature = "onnx")]
    fn onnx_typed(bytes: &[u8]) -> Result<TypedModel, ClassifierError> {
        use tract_onnx::prelude::InferenceModelExt;
        let mut reader = std::io::Cursor::new(bytes);
        tract_onnx::onnx()
            .model_for_read(&mut reader)
            .map_err(load_err)?
            .with_input_fact(0, f32::fact([1, FEATURE_DIM]).into())
            .map_err(load_err)?
            .into_typed()
            .map_err(load_err)?
            .into_decluttered()
            .map_err(load_err)
    }

    /// Convert an ONNX model to a deterministic NNEF tar archive (what the filter embeds).
    #[cfg(feature = "onnx")]
    pub fn onnx_to_nnef(onnx: &[u8]) -> Result<Vec<u8>, ClassifierError> {
        let mut typed = onnx_typed(onnx)?;
        // ONNX metadata would be written with tract-core extension fragments.
        typed.properties.clear();
        // Written with the same standard-only framework the filter reads with.
        let tar = nnef_reader()
            .write_to_tar_with_config(&typed, Vec::new(), false, true)
            .map_err(|e| ClassifierError::Load(format!("cannot write nnef: {e:#}")))?;
        TractClassifier::from_nnef(&tar).map_err(|e| {
            ClassifierError::Load(format!("the model needs operators outside standard NNEF, which the filter does not link: {e}"))
        })?;
        Ok(tar)
    }

    impl Classifier for TractClassifier {
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
            self.format
        }
    }
}

#[cfg(feature = "onnx")]
pub use tract_model::onnx_to_nnef;
#[cfg(feature = "nnef")]
pub use tract_model::{nnef_reader, TractClassifier};

/// Build the classifier a configuration asks for.
pub fn build(kind: &crate::config::ClassifierKind) -> Result<Box<dyn Classifier>, ClassifierError> {
    use crate::config::ClassifierKind;
    match kind {
        ClassifierKind::Heuristic => Ok(Box::new(HeuristicClassifier::default())),
        #[cfg(feature = "nnef")]
        ClassifierKind::Embedded => Ok(Box::new(TractClassifier::embedded()?)),
        #[cfg(feature = "nnef")]
        ClassifierKind::InlineNnef(bytes) => Ok(Box::new(TractClassifier::from_nnef(bytes)?)),
        #[cfg(feature = "onnx")]
        ClassifierKind::InlineOnnx(bytes) => Ok(Box::new(TractClassifier::from_onnx(bytes)?)),
        #[cfg(not(feature = "onnx"))]
        ClassifierKind::InlineOnnx(_) => Err(ClassifierError::NoSupport(
            "onnx (use nnef_base64: convert with `llm-router export-nnef`)",
        )),
        #[cfg(not(feature = "nnef"))]
        ClassifierKind::Embedded | ClassifierKind::InlineNnef(_) => Err(ClassifierError::NoSupport("nnef")),
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

    #[cfg(feature = "nnef")]
    #[test]
    fn embedded_model_loads_and_runs() {
        let c = TractClassifier::embedded().unwrap();
        let s = c.score(&features_of(r#"{"model":"auto","messages":[{"role":"user","content":"hello"}]}"#)).unwrap();
        assert!((0.0..=1.0).contains(&s));
    }

    #[cfg(feature = "onnx")]
    #[test]
    fn bad_model_bytes_fail_to_load() {
        let e = TractClassifier::from_onnx(b"definitely not onnx").unwrap_err();
        assert!(e.to_string().starts_with("cannot load model"), "{e}");
        let e = TractClassifier::from_nnef(b"definitely not nnef").unwrap_err();
        assert!(e.to_string().starts_with("cannot load model"), "{e}");
    }

    #[cfg(feature = "onnx")]
    #[test]
    fn committed_nnef_is_the_committed_onnx_converted() {
        let onnx = TractClassifier::from_onnx(EMBEDDED_ONNX).unwrap();
        let nnef = TractClassifier::embedded().unwrap();
        for body in [
            r#"{"model":"auto","messages":[{"role":"user","content":"hello"}]}"#,
            r#"{"model":"auto","messages":[{"role":"user","content":"Prove that the algorithm is O(n log n). Derive it step by step."}]}"#,
        ] {
            let f = features_of(body);
            let (a, b) = (onnx.score(&f).unwrap(), nnef.score(&f).unwrap());
            assert!((a - b).abs() <= 1e-6, "onnx {a} vs nnef {b}: run `llm-router export-nnef`");
        }
        assert_eq!(onnx_to_nnef(EMBEDDED_ONNX).unwrap(), EMBEDDED_NNEF, "models/router.nnef.tar is stale: run `llm-router export-nnef`");
    }
}
