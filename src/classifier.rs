//! Classifiers: a score in [0, 1] per request, the estimated probability that a cheap model's
//! answer is worse than a frontier model's.
//!
//! [`Classifier`] is the interface the policy uses. Two implementations:
//! - [`HeuristicClassifier`]: a fixed, documented logistic function of the structural features
//!   ([`HEURISTIC_WEIGHTS`]); no model file needed.
//! - [`TractClassifier`] (features `tract` / `onnx`): a model run with tract. Training exports
//!   ONNX (`models/router.onnx`); `llm-router export-mlp` checks it is a multi-layer
//!   perceptron and writes its weights in a compact format (`models/router.mlp`, see
//!   [`crate::mlp`]), which is embedded with `include_bytes!`; the filter and the CLI rebuild
//!   the graph from it with `tract-core` operators and run it with tract. The wasm links
//!   `tract-core` only, no model-format importer (`tract-onnx` or `tract-nnef` would pull in
//!   protobuf parsing and every operator they can deserialize), which keeps the module small.
//!   Model contract: input `features` `[1, FEATURE_DIM]` f32; output `[1, 1]` f32, the score.

use crate::features::{FEATURE_DIM, STRUCTURAL_DIM, STRUCTURAL_NAMES};

/// The trained model as exported by training (`models/router.onnx`).
#[cfg(feature = "onnx")]
pub const EMBEDDED_ONNX: &[u8] = include_bytes!("../models/router.onnx");
/// The same model in the compact MLP format (`models/router.mlp`, written by
/// `llm-router export-mlp`): the model the filter and the CLI run.
#[cfg(feature = "tract")]
pub const EMBEDDED_MLP: &[u8] = include_bytes!("../models/router.mlp");

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
    /// Whether the score depends on the hashed n-gram buckets; when false the caller may pass
    /// features extracted without them (zeros there).
    fn reads_hashed(&self) -> bool {
        true
    }
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

    fn reads_hashed(&self) -> bool {
        self.weights.iter().skip(STRUCTURAL_DIM).any(|w| *w != 0.0)
    }
}

#[cfg(feature = "tract")]
mod tract_model {
    use super::*;
    use crate::mlp::{Activation, Mlp};
    use tract_core::ops::einsum::EinSum;
    use tract_core::prelude::*;

    type Plan = std::sync::Arc<TypedRunnableModel>;
    type State = tract_core::model::TypedSimpleState;

    fn load_err(e: TractError) -> ClassifierError {
        ClassifierError::Load(format!("{e:#}"))
    }

    /// A model run with tract, optimized once at load: the embedded MLP rebuilt with
    /// `tract-core` operators (what the wasm filter links), or ONNX (feature `onnx`).
    ///
    /// One execution state is kept and reused across calls (no per-request allocation of
    /// tract's session); the filter is single-threaded per VM.
    #[derive(Debug)]
    pub struct TractClassifier {
        state: std::cell::RefCell<State>,
        /// Feature indices the model reads (all of them for ONNX models).
        inputs_used: Option<Vec<usize>>,
        width: usize,
        format: &'static str,
    }

    impl TractClassifier {
        fn from_typed(
            model: TypedModel,
            format: &'static str,
            inputs_used: Option<Vec<usize>>,
        ) -> Result<Self, ClassifierError> {
            let plan: Plan = model.into_optimized().map_err(load_err)?.into_runnable().map_err(load_err)?;
            let state = plan.spawn().map_err(load_err)?;
            let width = inputs_used.as_ref().map_or(FEATURE_DIM, Vec::len);
            let c = TractClassifier { state: std::cell::RefCell::new(state), inputs_used, width, format };
            c.score(&[0.0; FEATURE_DIM]).map_err(|e| ClassifierError::Load(format!("model does not run: {e}")))?;
            Ok(c)
        }

        /// Build the tract graph of an MLP file (`models/router.mlp` format): per layer an
        /// `EinSum` matrix product with the weights, an `Add` of the bias, then `Max(0)` or
        /// `Sigmoid`.
        pub fn from_mlp(bytes: &[u8]) -> Result<Self, ClassifierError> {
            let mlp = Mlp::from_bytes(bytes).map_err(|e| ClassifierError::Load(e.to_string()))?;
            if mlp.inputs() != FEATURE_DIM || mlp.outputs() != 1 {
                return Err(ClassifierError::Load(format!(
                    "model maps {} inputs to {} outputs; the features need {FEATURE_DIM} -> 1",
                    mlp.inputs(),
                    mlp.outputs()
                )));
            }
            let build = || -> TractResult<TypedModel> {
                let mut m = TypedModel::default();
                let mut x = m.add_source("features", f32::fact([1, mlp.inputs_used.len()]))?;
                for (i, l) in mlp.layers.iter().enumerate() {
                    let first = |outs: TVec<OutletId>| {
                        outs.first().copied().ok_or_else(|| TractError::msg("node has no output"))
                    };
                    let w = m.add_const(format!("w{i}"), Tensor::from_shape(&[l.inputs, l.outputs], &l.weights)?)?;
                    let y = first(m.wire_node(
                        format!("matmul{i}"),
                        EinSum::new("ik,kj->ij".parse()?, f32::datum_type()),
                        &[x, w],
                    )?)?;
                    let b = m.add_const(format!("b{i}"), Tensor::from_shape(&[1, l.outputs], &l.bias)?)?;
                    let y = first(m.wire_node(format!("add{i}"), tract_core::ops::math::add(), &[y, b])?)?;
                    x = match l.activation {
                        Activation::None => y,
                        Activation::Relu => {
                            let zero = m.add_const(format!("zero{i}"), tensor2(&[[0f32]]))?;
                            first(m.wire_node(format!("relu{i}"), tract_core::ops::math::max(), &[y, zero])?)?
                        }
                        Activation::Sigmoid => {
                            first(m.wire_node(format!("sigmoid{i}"), tract_core::ops::nn::sigmoid(), &[y])?)?
                        }
                    };
                }
                m.select_output_outlets(&[x])?;
                Ok(m)
            };
            Self::from_typed(build().map_err(load_err)?, "tract-core", Some(mlp.inputs_used.clone()))
        }

        /// Load an ONNX model with `tract-onnx`.
        #[cfg(feature = "onnx")]
        pub fn from_onnx(bytes: &[u8]) -> Result<Self, ClassifierError> {
            use tract_onnx::prelude::{Framework, InferenceModelExt};
            let mut reader = std::io::Cursor::new(bytes);
            let typed = tract_onnx::onnx()
                .model_for_read(&mut reader)
                .map_err(load_err)?
                .with_input_fact(0, f32::fact([1, FEATURE_DIM]).into())
                .map_err(load_err)?
                .into_typed()
                .map_err(load_err)?;
            Self::from_typed(typed, "tract-onnx", None)
        }

        /// Load the embedded default model ([`EMBEDDED_MLP`]), exactly what the filter runs.
        pub fn embedded() -> Result<Self, ClassifierError> {
            Self::from_mlp(EMBEDDED_MLP)
        }
    }

    impl Classifier for TractClassifier {
        fn score(&self, features: &[f32]) -> Result<f32, ClassifierError> {
            check_dim(features)?;
            let run = |e: TractError| ClassifierError::Run(format!("{e:#}"));
            let input = match &self.inputs_used {
                Some(idx) => {
                    let used: Vec<f32> = idx.iter().map(|i| features.get(*i).copied().unwrap_or(0.0)).collect();
                    Tensor::from_shape(&[1, self.width], &used)
                }
                None => Tensor::from_shape(&[1, self.width], features),
            }
            .map_err(run)?;
            let mut state =
                self.state.try_borrow_mut().map_err(|_| ClassifierError::Run("classifier re-entered".into()))?;
            let out = state.run(tvec!(input.into())).map_err(run)?;
            let first = out.first().ok_or_else(|| ClassifierError::Run("no output".into()))?;
            let view = first.to_plain_array_view::<f32>().map_err(run)?;
            let p = view.iter().next().copied().ok_or_else(|| ClassifierError::Run("empty output".into()))?;
            check_prob(p)
        }

        fn name(&self) -> &'static str {
            self.format
        }

        fn reads_hashed(&self) -> bool {
            self.inputs_used.as_ref().is_none_or(|idx| idx.iter().any(|i| *i >= STRUCTURAL_DIM))
        }
    }
}

#[cfg(feature = "onnx")]
mod export {
    use super::ClassifierError;
    use crate::mlp::{Activation, Layer, Mlp};
    use std::collections::HashMap;
    use tract_onnx::pb::{NodeProto, TensorProto};
    use tract_onnx::prelude::Framework;

    fn err(msg: impl Into<String>) -> ClassifierError {
        ClassifierError::Load(msg.into())
    }

    fn floats(t: &TensorProto) -> Result<Vec<f32>, ClassifierError> {
        if t.data_type != 1 {
            return Err(err(format!("initializer `{}` is not float32", t.name)));
        }
        if !t.float_data.is_empty() {
            return Ok(t.float_data.clone());
        }
        if !t.raw_data.len().is_multiple_of(4) {
            return Err(err(format!("initializer `{}` has a ragged payload", t.name)));
        }
        Ok(crate::mlp::f32s_le(&t.raw_data))
    }

    fn attr_i(n: &NodeProto, name: &str, default: i64) -> i64 {
        n.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.i)
    }

    fn attr_f(n: &NodeProto, name: &str, default: f32) -> f32 {
        n.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.f)
    }

    /// Transpose a row-major `[rows][cols]` matrix.
    fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
        let mut out = vec![0.0; m.len()];
        for (idx, v) in m.iter().enumerate() {
            let (r, c) = (idx / cols, idx % cols);
            if let Some(slot) = out.get_mut(c * rows + r) {
                *slot = *v;
            }
        }
        out
    }

    /// Read an ONNX multi-layer perceptron (`MatMul`+`Add` or `Gemm`, then optional `Relu` or
    /// `Sigmoid`, repeated) into the compact format the filter embeds.
    pub fn onnx_to_mlp(onnx: &[u8]) -> Result<Vec<u8>, ClassifierError> {
        let mut reader = std::io::Cursor::new(onnx);
        let proto = tract_onnx::onnx()
            .proto_model_for_read(&mut reader)
            .map_err(|e| err(format!("cannot read onnx: {e:#}")))?;
        let graph = proto.graph.ok_or_else(|| err("onnx model has no graph"))?;
        let inits: HashMap<&str, &TensorProto> = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
        let dims =
            |t: &TensorProto| -> Vec<usize> { t.dims.iter().map(|d| usize::try_from(*d).unwrap_or(0)).collect() };
        let mut current = graph.input.first().map(|i| i.name.clone()).ok_or_else(|| err("onnx graph has no input"))?;
        let mut layers: Vec<Layer> = Vec::new();
        let mut pending: Option<Layer> = None;
        for node in &graph.node {
            let inputs: Vec<&str> = node.input.iter().map(String::as_str).collect();
            if inputs.first() != Some(&current.as_str()) {
                return Err(err(format!("node `{}` ({}) does not continue the single chain", node.name, node.op_type)));
            }
            let weight = |i: usize| -> Result<&TensorProto, ClassifierError> {
                inputs
                    .get(i)
                    .and_then(|n| inits.get(n).copied())
                    .ok_or_else(|| err(format!("node `{}` input {i} is not a constant", node.name)))
            };
            match node.op_type.as_str() {
                "MatMul" | "Gemm" => {
                    if let Some(l) = pending.take() {
                        layers.push(l);
                    }
                    let w = weight(1)?;
                    let d = dims(w);
                    let (mut rows, mut cols) = match d.as_slice() {
                        [r, c] => (*r, *c),
                        _ => return Err(err(format!("weight `{}` is not a matrix", w.name))),
                    };
                    let mut weights = floats(w)?;
                    let mut bias = vec![0.0; 0];
                    if node.op_type == "Gemm" {
                        if attr_i(node, "transA", 0) != 0
                            || attr_f(node, "alpha", 1.0) != 1.0
                            || attr_f(node, "beta", 1.0) != 1.0
                        {
                            return Err(err("Gemm with transA/alpha/beta is not supported"));
                        }
                        if attr_i(node, "transB", 0) != 0 {
                            weights = transpose(&weights, rows, cols);
                            std::mem::swap(&mut rows, &mut cols);
                        }
                        if inputs.len() > 2 {
                            bias = floats(weight(2)?)?;
                        }
                    }
                    if bias.is_empty() {
                        bias = vec![0.0; cols];
                    }
                    pending = Some(Layer { inputs: rows, outputs: cols, weights, bias, activation: Activation::None });
                }
                "Add" => {
                    let l = pending.as_mut().ok_or_else(|| err("Add without a preceding MatMul"))?;
                    let b = floats(weight(1)?)?;
                    if b.len() != l.outputs {
                        return Err(err(format!("bias of {} values for a layer of {}", b.len(), l.outputs)));
                    }
                    for (x, y) in l.bias.iter_mut().zip(b) {
                        *x += y;
                    }
                }
                "Relu" | "Sigmoid" => {
                    let mut l = pending.take().ok_or_else(|| err("activation without a preceding layer"))?;
                    l.activation = if node.op_type == "Relu" { Activation::Relu } else { Activation::Sigmoid };
                    layers.push(l);
                }
                other => {
                    return Err(err(format!("operator `{other}` is not part of an MLP; the filter runs MLPs only")))
                }
            }
            current = node.output.first().cloned().ok_or_else(|| err("node without output"))?;
        }
        if let Some(l) = pending.take() {
            layers.push(l);
        }
        let features = layers.first().map_or(0, |l| l.inputs);
        Mlp::pruned(features, layers).to_bytes().map_err(|e| err(e.to_string()))
    }
}

#[cfg(feature = "onnx")]
pub use export::onnx_to_mlp;
#[cfg(feature = "tract")]
pub use tract_model::TractClassifier;

/// Build the classifier a configuration asks for.
pub fn build(kind: &crate::config::ClassifierKind) -> Result<Box<dyn Classifier>, ClassifierError> {
    use crate::config::ClassifierKind;
    match kind {
        ClassifierKind::Heuristic => Ok(Box::new(HeuristicClassifier::default())),
        #[cfg(feature = "tract")]
        ClassifierKind::Embedded => Ok(Box::new(TractClassifier::embedded()?)),
        #[cfg(feature = "tract")]
        ClassifierKind::InlineMlp(bytes) => Ok(Box::new(TractClassifier::from_mlp(bytes)?)),
        #[cfg(feature = "onnx")]
        ClassifierKind::InlineOnnx(bytes) => Ok(Box::new(TractClassifier::from_onnx(bytes)?)),
        #[cfg(not(feature = "onnx"))]
        ClassifierKind::InlineOnnx(_) => {
            Err(ClassifierError::NoSupport("onnx (use mlp_base64: convert with `llm-router export-mlp`)"))
        }
        #[cfg(not(feature = "tract"))]
        ClassifierKind::Embedded | ClassifierKind::InlineMlp(_) => Err(ClassifierError::NoSupport("mlp")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::extract;
    use crate::request::parse;

    fn features_of(body: &str) -> Vec<f32> {
        extract(&parse(body.as_bytes()).unwrap(), 16_384).0
    }

    #[test]
    fn classifiers_say_whether_they_read_hashed_buckets() {
        assert!(!HeuristicClassifier::default().reads_hashed());
        let model = TractClassifier::embedded().unwrap();
        let body = r#"{"model":"auto","messages":[{"role":"user","content":"Prove that the sum of two odd numbers is even, then write it in Python."}]}"#;
        let r = parse(body.as_bytes()).unwrap();
        let full = model.score(&extract(&r, 16_384).0).unwrap();
        let lean = model.score(&crate::features::extract_with(&r, 16_384, false).0).unwrap();
        if model.reads_hashed() {
            assert_ne!(full, lean, "a model reading buckets must see them");
        } else {
            assert_eq!(full, lean);
        }
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
        let easy = h
            .score(&features_of(
                r#"{"model":"auto","messages":[{"role":"user","content":"Translate 'good morning' to French."}]}"#,
            ))
            .unwrap();
        let hard = h.score(&features_of(r#"{"model":"auto","messages":[{"role":"user","content":"Prove rigorously that the algorithm below runs in O(n log n) and derive its recurrence. Explain each step.\n```python\ndef f(a):\n    return sorted(a)\n```\n$T(n) = 2T(n/2) + n$"}]}"#)).unwrap();
        assert!(easy < 0.35, "easy {easy}");
        assert!(hard > 0.7, "hard {hard}");
    }

    #[test]
    fn wrong_dimension_is_an_error() {
        let h = HeuristicClassifier::default();
        assert!(matches!(h.score(&[0.0; 3]), Err(ClassifierError::Dimension { .. })));
    }

    #[cfg(feature = "tract")]
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
        let e = TractClassifier::from_mlp(b"definitely not mlp").unwrap_err();
        assert!(e.to_string().starts_with("cannot load model"), "{e}");
    }

    #[cfg(feature = "onnx")]
    #[test]
    fn committed_mlp_is_the_committed_onnx_converted() {
        assert_eq!(
            onnx_to_mlp(EMBEDDED_ONNX).unwrap(),
            EMBEDDED_MLP,
            "models/router.mlp is stale: run `llm-router export-mlp`"
        );
        let onnx = TractClassifier::from_onnx(EMBEDDED_ONNX).unwrap();
        let mlp = TractClassifier::embedded().unwrap();
        let reference = crate::mlp::Mlp::from_bytes(EMBEDDED_MLP).unwrap();
        for body in [
            r#"{"model":"auto","messages":[{"role":"user","content":"hello"}]}"#,
            r#"{"model":"auto","messages":[{"role":"user","content":"Prove that the algorithm is O(n log n). Derive it step by step."}]}"#,
        ] {
            let f = features_of(body);
            let (a, b) = (onnx.score(&f).unwrap(), mlp.score(&f).unwrap());
            let c = reference.eval_reference(&f)[0];
            assert!((a - b).abs() <= 1e-6, "onnx {a} vs tract-core mlp {b}");
            assert!((f64::from(b) - c).abs() <= 1e-5, "tract-core {b} vs f64 reference {c}");
        }
    }
}
