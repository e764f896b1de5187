//! The compact model format the filter embeds: a stack of dense layers.
//!
//! Training exports ONNX; `llm-router export-mlp` (native, with `tract-onnx`) checks that the
//! graph is a multi-layer perceptron (`MatMul`/`Gemm`, `Add`, `Relu`, `Sigmoid`) and writes its
//! weights in this format (`models/router.mlp`). The filter rebuilds the same graph with
//! `tract-core` operators and runs it with tract, without linking any model-format importer:
//! the wasm module is a fraction of a `tract-onnx` build.
//!
//! Inputs whose first-layer weights are all zero do not influence the output; the export keeps
//! only the others and records which feature indices they are, so the graph tract runs is as
//! small as what the model uses.
//!
//! Layout, little-endian: magic `LRMLP2\0\0`, `u32` feature count (the full input width),
//! `u32` kept-input count `k`, `k` × `u32` feature indices (ascending), `u32` layer count, then
//! per layer `u32` inputs (the first layer's is `k`), `u32` outputs, `u32` activation
//! (0 none, 1 relu, 2 sigmoid), `inputs × outputs` `f32` weights (row-major,
//! `[inputs][outputs]`), `outputs` `f32` biases.

/// File magic.
pub const MAGIC: &[u8; 8] = b"LRMLP2\0\0";
/// Largest layer accepted (inputs × outputs), to bound memory on a hostile file.
pub const MAX_LAYER_WEIGHTS: usize = 16 * 1024 * 1024;

/// Errors reading or writing the format.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MlpError {
    /// Not this format.
    #[error("not an llm-router mlp file (bad magic)")]
    Magic,
    /// The file ends early or has bytes left over.
    #[error("mlp file is truncated or has trailing bytes")]
    Length,
    /// An activation code is unknown.
    #[error("layer {0}: unknown activation code {1}")]
    Activation(usize, u32),
    /// Layer sizes do not chain or are out of range.
    #[error("layer {0}: {1}")]
    Shape(usize, String),
    /// A weight is not finite.
    #[error("layer {0}: weights must be finite numbers")]
    NotFinite(usize),
}

/// Activation after a dense layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Identity.
    None,
    /// max(0, x).
    Relu,
    /// 1 / (1 + e^-x).
    Sigmoid,
}

impl Activation {
    fn code(self) -> u32 {
        match self {
            Activation::None => 0,
            Activation::Relu => 1,
            Activation::Sigmoid => 2,
        }
    }
}

/// One dense layer: `y = act(x · weights + bias)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Row-major `[inputs][outputs]`.
    pub weights: Vec<f32>,
    /// `[outputs]`.
    pub bias: Vec<f32>,
    /// Activation.
    pub activation: Activation,
}

/// A validated stack of layers (non-empty, widths chain) over a subset of the features.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    /// Width of the full feature vector.
    pub features: usize,
    /// Feature indices the first layer reads, ascending (its input width is their count).
    pub inputs_used: Vec<usize>,
    /// Layers in order.
    pub layers: Vec<Layer>,
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], MlpError> {
        if self.bytes.len() < n {
            return Err(MlpError::Length);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, MlpError> {
        let b = self.take(4)?;
        let arr: [u8; 4] = b.try_into().map_err(|_| MlpError::Length)?;
        Ok(u32::from_le_bytes(arr))
    }

    fn f32s(&mut self, n: usize) -> Result<Vec<f32>, MlpError> {
        let bytes = self.take(n.checked_mul(4).ok_or(MlpError::Length)?)?;
        Ok(f32s_le(bytes))
    }
}

/// Little-endian `f32`s from bytes (a trailing partial value is ignored).
pub fn f32s_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| {
            f32::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
                c.get(2).copied().unwrap_or(0),
                c.get(3).copied().unwrap_or(0),
            ])
        })
        .collect()
}

impl Mlp {
    /// A dense model over all `features`, pruned: first-layer rows that are all zero are
    /// dropped and recorded as unused.
    pub fn pruned(features: usize, mut layers: Vec<Layer>) -> Mlp {
        let mut inputs_used: Vec<usize> = (0..features).collect();
        if let Some(first) = layers.first_mut() {
            if first.inputs == features && first.weights.len() == features * first.outputs {
                let outputs = first.outputs;
                let rows: Vec<&[f32]> = first.weights.chunks_exact(outputs.max(1)).collect();
                inputs_used =
                    (0..features).filter(|i| rows.get(*i).is_some_and(|r| r.iter().any(|w| *w != 0.0))).collect();
                if inputs_used.is_empty() {
                    inputs_used.push(0);
                }
                let weights: Vec<f32> =
                    inputs_used.iter().filter_map(|i| rows.get(*i)).flat_map(|r| r.iter().copied()).collect();
                first.inputs = inputs_used.len();
                first.weights = weights;
            }
        }
        Mlp { features, inputs_used, layers }
    }

    /// Gather the used inputs from a full feature vector.
    pub fn gather(&self, features: &[f32]) -> Vec<f32> {
        self.inputs_used.iter().map(|i| features.get(*i).copied().unwrap_or(0.0)).collect()
    }

    /// Check widths chain, sizes are sane and weights finite.
    pub fn validate(&self) -> Result<(), MlpError> {
        if self.layers.is_empty() {
            return Err(MlpError::Shape(0, "no layers".into()));
        }
        if self.inputs_used.is_empty()
            || self.inputs_used.windows(2).any(|w| matches!(w, [a, b] if a >= b))
            || self.inputs_used.last().is_some_and(|i| *i >= self.features)
        {
            return Err(MlpError::Shape(0, "used-input indices must be ascending and below the feature count".into()));
        }
        if self.layers.first().is_some_and(|l| l.inputs != self.inputs_used.len()) {
            return Err(MlpError::Shape(0, "first layer width differs from the used-input count".into()));
        }
        let mut width: Option<usize> = None;
        for (i, l) in self.layers.iter().enumerate() {
            if l.inputs == 0 || l.outputs == 0 || l.inputs.saturating_mul(l.outputs) > MAX_LAYER_WEIGHTS {
                return Err(MlpError::Shape(i, format!("{}x{} is out of range", l.inputs, l.outputs)));
            }
            if width.is_some_and(|w| w != l.inputs) {
                return Err(MlpError::Shape(
                    i,
                    format!("takes {} inputs after a layer of {}", l.inputs, width.unwrap_or(0)),
                ));
            }
            if l.weights.len() != l.inputs * l.outputs || l.bias.len() != l.outputs {
                return Err(MlpError::Shape(i, "weight or bias count does not match the shape".into()));
            }
            if !l.weights.iter().chain(&l.bias).all(|x| x.is_finite()) {
                return Err(MlpError::NotFinite(i));
            }
            width = Some(l.outputs);
        }
        Ok(())
    }

    /// Width of the full feature vector the model reads from.
    pub fn inputs(&self) -> usize {
        self.features
    }

    /// Output width of the last layer.
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, |l| l.outputs)
    }

    /// Parse and validate the binary format.
    pub fn from_bytes(bytes: &[u8]) -> Result<Mlp, MlpError> {
        let mut r = Reader { bytes };
        if r.take(MAGIC.len()).map_err(|_| MlpError::Magic)? != MAGIC {
            return Err(MlpError::Magic);
        }
        let features = r.u32()? as usize;
        let kept = r.u32()? as usize;
        if kept == 0 || kept > features || features > MAX_LAYER_WEIGHTS {
            return Err(MlpError::Shape(0, format!("{kept} used inputs of {features} is out of range")));
        }
        let mut inputs_used = Vec::with_capacity(kept);
        for _ in 0..kept {
            inputs_used.push(r.u32()? as usize);
        }
        let n = r.u32()? as usize;
        if n == 0 || n > 64 {
            return Err(MlpError::Shape(0, format!("{n} layers is out of range")));
        }
        let mut layers = Vec::with_capacity(n);
        for i in 0..n {
            let inputs = r.u32()? as usize;
            let outputs = r.u32()? as usize;
            let activation = match r.u32()? {
                0 => Activation::None,
                1 => Activation::Relu,
                2 => Activation::Sigmoid,
                other => return Err(MlpError::Activation(i, other)),
            };
            if inputs.saturating_mul(outputs) > MAX_LAYER_WEIGHTS {
                return Err(MlpError::Shape(i, format!("{inputs}x{outputs} is out of range")));
            }
            let weights = r.f32s(inputs * outputs)?;
            let bias = r.f32s(outputs)?;
            layers.push(Layer { inputs, outputs, weights, bias, activation });
        }
        if !r.bytes.is_empty() {
            return Err(MlpError::Length);
        }
        let m = Mlp { features, inputs_used, layers };
        m.validate()?;
        Ok(m)
    }

    /// Serialize (after validating).
    pub fn to_bytes(&self) -> Result<Vec<u8>, MlpError> {
        self.validate()?;
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.features as u32).to_le_bytes());
        out.extend_from_slice(&(self.inputs_used.len() as u32).to_le_bytes());
        for i in &self.inputs_used {
            out.extend_from_slice(&(*i as u32).to_le_bytes());
        }
        out.extend_from_slice(&(self.layers.len() as u32).to_le_bytes());
        for l in &self.layers {
            out.extend_from_slice(&(l.inputs as u32).to_le_bytes());
            out.extend_from_slice(&(l.outputs as u32).to_le_bytes());
            out.extend_from_slice(&l.activation.code().to_le_bytes());
            for x in l.weights.iter().chain(&l.bias) {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        Ok(out)
    }

    /// Plain f64 evaluation of a full feature vector (reference for tests; the filter runs
    /// tract).
    pub fn eval_reference(&self, x: &[f32]) -> Vec<f64> {
        let mut v: Vec<f64> = self.gather(x).iter().map(|&a| f64::from(a)).collect();
        for l in &self.layers {
            let mut y: Vec<f64> = l.bias.iter().map(|&b| f64::from(b)).collect();
            for (i, xi) in v.iter().enumerate() {
                if *xi == 0.0 {
                    continue;
                }
                for (j, yj) in y.iter_mut().enumerate() {
                    *yj += xi * f64::from(l.weights.get(i * l.outputs + j).copied().unwrap_or(0.0));
                }
            }
            for yj in y.iter_mut() {
                *yj = match l.activation {
                    Activation::None => *yj,
                    Activation::Relu => yj.max(0.0),
                    Activation::Sigmoid => 1.0 / (1.0 + (-*yj).exp()),
                };
            }
            v = y;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Mlp {
        Mlp {
            features: 2,
            inputs_used: vec![0, 1],
            layers: vec![
                Layer {
                    inputs: 2,
                    outputs: 2,
                    weights: vec![1.0, -1.0, 0.5, 2.0],
                    bias: vec![0.0, 0.1],
                    activation: Activation::Relu,
                },
                Layer {
                    inputs: 2,
                    outputs: 1,
                    weights: vec![1.0, 1.0],
                    bias: vec![-1.0],
                    activation: Activation::Sigmoid,
                },
            ],
        }
    }

    #[test]
    fn round_trips() {
        let m = tiny();
        let b = m.to_bytes().unwrap();
        assert_eq!(Mlp::from_bytes(&b).unwrap(), m);
        let y = m.eval_reference(&[1.0, 1.0]);
        // h = relu([1.5, 1.1]) ; z = 2.6 - 1 = 1.6
        assert!((y[0] - 1.0 / (1.0 + (-1.6f64).exp())).abs() < 1e-6);
    }

    #[test]
    fn pruning_keeps_only_used_inputs_and_the_same_outputs() {
        let dense = vec![
            Layer {
                inputs: 4,
                outputs: 2,
                weights: vec![0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.5, 2.0],
                bias: vec![0.0, 0.1],
                activation: Activation::Relu,
            },
            Layer { inputs: 2, outputs: 1, weights: vec![1.0, 1.0], bias: vec![-1.0], activation: Activation::Sigmoid },
        ];
        let full = Mlp { features: 4, inputs_used: vec![0, 1, 2, 3], layers: dense.clone() };
        let pruned = Mlp::pruned(4, dense);
        assert_eq!(pruned.inputs_used, vec![1, 3]);
        assert_eq!(pruned.layers[0].inputs, 2);
        let x = [9.0, 1.0, 7.0, 1.0];
        assert_eq!(pruned.eval_reference(&x), full.eval_reference(&x));
        assert_eq!(Mlp::from_bytes(&pruned.to_bytes().unwrap()).unwrap(), pruned);
    }

    #[test]
    fn rejects_bad_files_without_panicking() {
        let b = tiny().to_bytes().unwrap();
        assert_eq!(Mlp::from_bytes(b"nope").unwrap_err(), MlpError::Magic);
        for cut in 0..b.len() {
            assert!(Mlp::from_bytes(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut extra = b.clone();
        extra.push(0);
        assert_eq!(Mlp::from_bytes(&extra).unwrap_err(), MlpError::Length);
        let mut bad_act = b.clone();
        bad_act[36] = 9;
        assert!(matches!(Mlp::from_bytes(&bad_act).unwrap_err(), MlpError::Activation(0, 9)));
        let mut huge = MAGIC.to_vec();
        huge.extend_from_slice(&2u32.to_le_bytes());
        huge.extend_from_slice(&1u32.to_le_bytes());
        huge.extend_from_slice(&0u32.to_le_bytes());
        huge.extend_from_slice(&1u32.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&0u32.to_le_bytes());
        assert!(matches!(Mlp::from_bytes(&huge).unwrap_err(), MlpError::Shape(0, _)));
        let mut m = tiny();
        m.layers[1].inputs = 3;
        m.layers[1].weights = vec![0.0; 3];
        assert!(m.to_bytes().is_err());
        let mut m = tiny();
        m.layers[0].bias[0] = f32::NAN;
        assert_eq!(m.validate().unwrap_err(), MlpError::NotFinite(0));
    }
}
