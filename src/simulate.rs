//! `llm-router simulate`: monthly cost of a traffic description under several strategies.
//!
//! Traffic is either a synthetic profile (N requests a month, each with the same input, output
//! and cached tokens) or a sample of request bodies (JSON Lines), each with its input tokens
//! estimated as the filter does (`ceil(chars / 4) + 4` per message) and its output tokens from
//! its `expected_output_tokens` field or an assumed average. A sample stands for a month of
//! traffic, or is scaled to a given number of monthly requests.
//!
//! Every request has an API ([`Api`]): a sample line names it in an `api` member
//! (`"chat_completions"`, `"messages"`), else it has the default API given (`--api`), which is
//! also the API of a synthetic profile. A line is read in its API's wire format and routed by
//! that API's section of the configuration. Each projection is split by API: the part of each
//! API is `round(S_api × M / n)` with the same `n` and `M`, so the parts are that API's share
//! of the whole (each rounded once; they may differ from the rounded total by less than one
//! micro-USD per API).
//!
//! Strategies: everything on one model ([`Strategy::AllOn`]), a fixed split across models
//! ([`Strategy::Split`], shares summing to exactly 1), and the configured router
//! ([`Strategy::Router`], samples only: each body is routed with the real policy and
//! classifier; an explicit model that the configuration passes through stays on that model).
//! The all-baseline strategy is always computed, and savings are `1 - cost / baseline cost`:
//! each request on the `baseline_model` of its API's section ([`Baselines::of`]), the model the
//! filter's own baseline cost counter uses, or on one model given (`--baseline-model`). When
//! every API of the traffic has the same baseline it is [`Strategy::AllOn`] that model, else
//! [`Strategy::Baselines`].
//!
//! # Rounding rule
//!
//! Each request is priced exactly as the filter prices it ([`crate::pricing`]: integer
//! micro-USD, rounded half up once per request). Everything after that is exact integer
//! arithmetic, rounded half up once at the very end:
//!
//! ```text
//! all on m      = round( S_m × M / n )
//! split {m: p}  = round( Σ p_m × S_m × M / (n × 1,000,000) )     p_m in parts per million
//! router        = round( S_router × M / n )
//! ```
//!
//! where `S_m` is the sum of the per-request costs of the `n` requests described (synthetic:
//! `n = 1`, the per-request cost) and `M` the monthly requests. Shares are parsed as decimals
//! with at most 6 places, never as floats. So 1,000,000 requests of 500 input and 200 output
//! tokens on Claude Sonnet 4.6 ($3/$15 per Mtok) cost exactly 1,000,000 × 4,500 micro-USD.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::Api;
use crate::config::ExplicitModel;
use crate::money::{parse_decimal, savings_tenths};
use crate::pricing::PriceTable;
use crate::router::Router;
use crate::usage::Usage;

// Reading a sample and listing the strategies (shared by the CLI and the playground).
#[path = "simulate_plan.rs"]
mod plan;
pub use plan::{strategies, SampleReader};

/// Parts per million in a whole.
const PPM: u128 = 1_000_000;

/// Field of a sample line giving the request's expected output tokens.
pub const OUTPUT_TOKENS_FIELD: &str = "expected_output_tokens";

/// Field of a sample line naming its API ([`Api::label`]).
pub const API_FIELD: &str = "api";

/// The members a simulation line may add to a request body ([`OUTPUT_TOKENS_FIELD`],
/// [`API_FIELD`]).
#[derive(serde::Deserialize)]
struct Extra {
    expected_output_tokens: Option<Value>,
    api: Option<Value>,
}

/// Errors building or running a simulation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimulateError {
    /// A `--split` specification is malformed.
    #[error("split {spec:?}: {reason}")]
    Split {
        /// The specification.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// A model is not in the price table.
    #[error("model {0:?} is not in the price table")]
    UnknownModel(String),
    /// A sample line cannot be used.
    #[error("{0}")]
    Line(String),
    /// Nothing to simulate.
    #[error("the traffic sample has no usable request")]
    EmptySample,
    /// The router strategy needs a sample of request bodies.
    #[error("the router strategy needs a sample of request bodies (--traffic FILE)")]
    RouterNeedsSample,
    /// A total does not fit in 64 bits of micro-USD.
    #[error("the projected cost overflows")]
    Overflow,
}

/// Parts per million as a decimal: `700_000` is `0.7`, `1_000_000` is `1`.
fn ppm_text(p: u64) -> String {
    let mut frac = format!("{:06}", p % 1_000_000);
    while frac.ends_with('0') {
        frac.pop();
    }
    let whole = p / 1_000_000;
    if frac.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{frac}")
    }
}

/// A fixed split of traffic across models.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Model and share in parts per million; shares sum to exactly 1,000,000.
    pub parts: Vec<(String, u64)>,
}

impl Split {
    /// Parse `model=share,model=share` (shares are decimals summing to exactly 1), checking
    /// every model against `table`.
    ///
    /// # Errors
    ///
    /// [`SimulateError::Split`] or [`SimulateError::UnknownModel`].
    pub fn parse(spec: &str, table: &PriceTable) -> Result<Split, SimulateError> {
        let fail = |reason: String| SimulateError::Split { spec: spec.to_string(), reason };
        let mut parts: Vec<(String, u64)> = Vec::new();
        for part in spec.split(',') {
            let (model, share) = part.split_once('=').ok_or_else(|| fail(format!("{part:?} is not model=share")))?;
            let model = model.trim();
            let price = table.lookup(model).ok_or_else(|| SimulateError::UnknownModel(model.to_string()))?;
            let ppm = parse_decimal(share, 6).map_err(|e| fail(e.to_string()))?;
            if parts.iter().any(|(m, _)| *m == price.id) {
                return Err(fail(format!("model {model:?} appears twice")));
            }
            parts.push((price.id.clone(), ppm));
        }
        let sum: u64 = parts.iter().map(|(_, p)| *p).sum();
        if u128::from(sum) != PPM {
            return Err(fail(format!("shares add up to {}, not 1", ppm_text(sum))));
        }
        Ok(Split { parts })
    }

    /// `model=share,...` with shares as decimals.
    pub fn label(&self) -> String {
        let parts: Vec<String> = self.parts.iter().map(|(m, p)| format!("{m}={}", ppm_text(*p))).collect();
        parts.join(",")
    }
}

/// The model each API's requests are priced on in the all-baseline strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baselines {
    /// Per API; an API not listed takes `default`.
    per_api: Vec<(Api, String)>,
    default: String,
}

impl Baselines {
    /// Every API on `model`.
    pub fn one(model: &str) -> Baselines {
        Baselines { per_api: Vec::new(), default: model.to_string() }
    }

    /// Each API on its section's `baseline_model` (an API without a section: the top-level one).
    pub fn of(router: &Router) -> Baselines {
        let per_api = Api::ALL
            .into_iter()
            .filter_map(|api| router.section(api).map(|r| (api, r.config.baseline_model.clone())))
            .collect();
        Baselines { per_api, default: router.config.baseline_model.clone() }
    }

    fn model(&self, api: Api) -> &str {
        self.per_api.iter().find(|(a, _)| *a == api).map_or(self.default.as_str(), |(_, m)| m.as_str())
    }

    /// The all-baseline strategy for the APIs of `traffic`, with canonical model ids.
    fn strategy(&self, traffic: &Traffic, table: &PriceTable) -> Result<Strategy, SimulateError> {
        let mut models: Vec<(Api, String)> = Vec::new();
        for api in traffic.apis() {
            let model = self.model(api);
            let price = table.lookup(model).ok_or_else(|| SimulateError::UnknownModel(model.to_string()))?;
            models.push((api, price.id.clone()));
        }
        Ok(match models.as_slice() {
            [] => Strategy::AllOn(self.default.clone()),
            [(_, first), rest @ ..] if rest.iter().all(|(_, m)| m == first) => Strategy::AllOn(first.clone()),
            _ => Strategy::Baselines(models),
        })
    }
}

/// How traffic is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Every request on this model (canonical id).
    AllOn(String),
    /// Each API's requests on its own model (canonical ids), in [`Api::ALL`] order: the
    /// all-baseline strategy when the sections' baselines differ.
    Baselines(Vec<(Api, String)>),
    /// A fixed split.
    Split(Split),
    /// The configured router.
    Router,
}

impl Strategy {
    /// Display name.
    pub fn label(&self) -> String {
        match self {
            Strategy::AllOn(m) => format!("all on {m}"),
            Strategy::Baselines(models) => {
                let parts: Vec<String> = models.iter().map(|(api, m)| format!("{} on {m}", api.label())).collect();
                format!("each api on its baseline ({})", parts.join(", "))
            }
            Strategy::Split(s) => format!("split {}", s.label()),
            Strategy::Router => "router (configured policy)".to_string(),
        }
    }
}

/// One request of a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRequest {
    /// The API of the request.
    pub api: Api,
    /// Estimated input tokens and expected output tokens (no cached tokens).
    pub usage: Usage,
    /// The model the configured router sends it to.
    pub routed_model: String,
}

impl SampleRequest {
    /// Read one JSON Lines request body: route it with `router` (the section of its API) and
    /// estimate its tokens. A line without an `api` member has `default_api`.
    ///
    /// # Errors
    ///
    /// [`SimulateError::Line`] when the body is not a request of its API, its `api` is unknown
    /// or has no section in the configuration, or it has no output tokens (no
    /// `expected_output_tokens` field and no `default_output_tokens`).
    pub fn from_line(
        line: &str,
        router: &Router,
        default_output_tokens: Option<u64>,
        default_api: Api,
    ) -> Result<SampleRequest, SimulateError> {
        let line_err = |m: String| SimulateError::Line(m);
        // Read first as JSON for the extra members: the API decides how the body is read.
        let extra: Extra = serde_json::from_str(line).map_err(|e| line_err(e.to_string()))?;
        let api = match extra.api.as_ref() {
            None | Some(Value::Null) => default_api,
            Some(Value::String(s)) => {
                Api::from_label(s).ok_or_else(|| line_err(format!("unknown `{API_FIELD}` {s:?}")))?
            }
            Some(v) => return Err(line_err(format!("`{API_FIELD}` must be a string, got {v}"))),
        };
        let router = router
            .section(api)
            .ok_or_else(|| line_err(format!("api `{}` has no section in the configuration", api.label())))?;
        let req = api.inspect(line.as_bytes()).map_err(|e| line_err(e.to_string()))?.request;
        let output = match extra.expected_output_tokens.as_ref() {
            None | Some(Value::Null) => default_output_tokens
                .ok_or_else(|| line_err(format!("no `{OUTPUT_TOKENS_FIELD}` field and no --output-tokens average")))?,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| line_err(format!("`{OUTPUT_TOKENS_FIELD}` must be a non-negative integer, got {v}")))?,
        };
        let cfg = &router.config;
        let routed_model = if cfg.is_alias(&req.model) || cfg.explicit_model == ExplicitModel::RouteAnyway {
            let decision = router.decide(&req, Vec::new());
            cfg.tiers.get(decision.tier).map_or_else(|| req.model.to_string(), |t| t.model.clone())
        } else {
            req.model.to_string()
        };
        Ok(SampleRequest {
            api,
            usage: Usage {
                prompt_tokens: req.estimated_input_tokens(),
                completion_tokens: output,
                cached_tokens: 0,
                ..Usage::ZERO
            },
            routed_model,
        })
    }
}

/// What traffic to project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Traffic {
    /// `requests` a month of `api`, each with `usage`.
    Synthetic {
        /// Monthly requests.
        requests: u64,
        /// Tokens of every request.
        usage: Usage,
        /// The API of every request.
        api: Api,
    },
    /// A sample of requests, scaled to `monthly_requests`.
    Sample {
        /// The sample.
        requests: Vec<SampleRequest>,
        /// Monthly requests the sample stands for.
        monthly_requests: u64,
    },
}

impl Traffic {
    /// Monthly requests.
    pub fn monthly_requests(&self) -> u64 {
        match self {
            Traffic::Synthetic { requests, .. } => *requests,
            Traffic::Sample { monthly_requests, .. } => *monthly_requests,
        }
    }

    /// The APIs of the traffic, in [`Api::ALL`] order.
    pub fn apis(&self) -> Vec<Api> {
        Api::ALL
            .into_iter()
            .filter(|a| match self {
                Traffic::Synthetic { api, .. } => api == a,
                Traffic::Sample { requests, .. } => requests.iter().any(|r| r.api == *a),
            })
            .collect()
    }

    /// Requests of the sample (synthetic: one) and those of `api`.
    fn counts(&self, api: Api) -> (u64, u64) {
        match self {
            Traffic::Synthetic { api: a, .. } => (1, u64::from(*a == api)),
            Traffic::Sample { requests, .. } => {
                (requests.len() as u64, requests.iter().filter(|r| r.api == api).count() as u64)
            }
        }
    }
}

/// The part of one API in a projection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPart {
    /// The API.
    pub api: Api,
    /// Its monthly requests: `round(n_api × M / n)`.
    pub monthly_requests: u64,
    /// Its monthly cost, micro-USD: `round(S_api × M / n)`.
    pub monthly_cost_micro_usd: u64,
    /// Savings of this API's part against its part of the all-baseline strategy.
    pub savings_tenths: Option<i64>,
    /// Its sample requests left unpriced.
    pub unpriced_requests: u64,
}

/// The projection of one strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// The strategy.
    pub strategy: Strategy,
    /// Monthly requests.
    pub monthly_requests: u64,
    /// Monthly cost, micro-USD.
    pub monthly_cost_micro_usd: u64,
    /// Savings against the all-baseline strategy, tenths of a percent.
    pub savings_tenths: Option<i64>,
    /// Sample requests left unpriced (router strategy: explicit models with no price).
    pub unpriced_requests: u64,
    /// Router strategy: sample requests per routed model (empty for the other strategies).
    pub routed_models: BTreeMap<String, u64>,
    /// This is the all-baseline strategy.
    pub baseline: bool,
    /// The part of each API of the traffic ([`Traffic::apis`]).
    pub by_api: Vec<ApiPart>,
}

/// A rational amount of micro-USD: `num / den`, rounded half up when read.
#[derive(Debug, Clone, Copy)]
struct Amount {
    num: u128,
    den: u128,
}

impl Amount {
    fn round(self) -> Result<u64, SimulateError> {
        if self.den == 0 {
            return Err(SimulateError::EmptySample);
        }
        let rounded = self.num.checked_add(self.den / 2).ok_or(SimulateError::Overflow)? / self.den;
        u64::try_from(rounded).map_err(|_| SimulateError::Overflow)
    }
}

fn mul(a: u128, b: u128) -> Result<u128, SimulateError> {
    a.checked_mul(b).ok_or(SimulateError::Overflow)
}

/// Which requests of the traffic an amount is for: all, or those of one API.
type Only = Option<Api>;

fn included(only: Only, api: Api) -> bool {
    only.is_none_or(|o| o == api)
}

/// Sum of the per-request costs of the described requests (of `only`) on `model`, and `n`
/// (all the requests described, so the parts of the APIs add up to the whole).
fn per_model_sum(
    traffic: &Traffic,
    table: &PriceTable,
    model: &str,
    only: Only,
) -> Result<(u128, u128), SimulateError> {
    table.lookup(model).ok_or_else(|| SimulateError::UnknownModel(model.to_string()))?;
    // A recorded usage is already validated, so only the arithmetic can fail here; a record
    // served on a tier `model` is not sold on is priced at its standard rates.
    let cost =
        |u: &Usage| table.counterfactual_cost_micro_usd(model, u).map(u128::from).map_err(|_| SimulateError::Overflow);
    match traffic {
        Traffic::Synthetic { usage, api, .. } => Ok((if included(only, *api) { cost(usage)? } else { 0 }, 1)),
        Traffic::Sample { requests, .. } => {
            let mut sum: u128 = 0;
            for r in requests.iter().filter(|r| included(only, r.api)) {
                sum = sum.checked_add(cost(&r.usage)?).ok_or(SimulateError::Overflow)?;
            }
            Ok((sum, requests.len() as u128))
        }
    }
}

/// The amount of a strategy, its unpriced sample requests and (router) requests per model.
type StrategyOutcome = (Amount, u64, BTreeMap<String, u64>);

fn strategy_amount(
    traffic: &Traffic,
    table: &PriceTable,
    strategy: &Strategy,
    only: Only,
) -> Result<StrategyOutcome, SimulateError> {
    let monthly = u128::from(traffic.monthly_requests());
    match strategy {
        Strategy::AllOn(model) => {
            let (sum, n) = per_model_sum(traffic, table, model, only)?;
            Ok((Amount { num: mul(sum, monthly)?, den: n }, 0, BTreeMap::new()))
        }
        Strategy::Baselines(models) => {
            let (mut num, mut den) = (0u128, 1u128);
            for (api, model) in models.iter().filter(|(api, _)| included(only, *api)) {
                let (sum, n) = per_model_sum(traffic, table, model, Some(*api))?;
                num = num.checked_add(mul(sum, monthly)?).ok_or(SimulateError::Overflow)?;
                den = n;
            }
            Ok((Amount { num, den }, 0, BTreeMap::new()))
        }
        Strategy::Split(split) => {
            let mut num: u128 = 0;
            let mut den = 1;
            for (model, ppm) in &split.parts {
                let (sum, n) = per_model_sum(traffic, table, model, only)?;
                num = num.checked_add(mul(mul(sum, u128::from(*ppm))?, monthly)?).ok_or(SimulateError::Overflow)?;
                den = mul(n, PPM)?;
            }
            Ok((Amount { num, den }, 0, BTreeMap::new()))
        }
        Strategy::Router => {
            let Traffic::Sample { requests, .. } = traffic else {
                return Err(SimulateError::RouterNeedsSample);
            };
            let mut sum: u128 = 0;
            let mut unpriced = 0;
            let mut models = BTreeMap::new();
            for r in requests.iter().filter(|r| included(only, r.api)) {
                *models.entry(r.routed_model.clone()).or_insert(0) += 1;
                match table.counterfactual_cost_micro_usd(&r.routed_model, &r.usage) {
                    Ok(c) => sum = sum.checked_add(u128::from(c)).ok_or(SimulateError::Overflow)?,
                    Err(_) => unpriced += 1,
                }
            }
            Ok((Amount { num: mul(sum, monthly)?, den: requests.len() as u128 }, unpriced, models))
        }
    }
}

/// Project `strategies` (the all-baseline strategy on `baselines` is added first if missing).
///
/// # Errors
///
/// [`SimulateError`] for unknown models, an empty sample, the router without a sample, or
/// overflow.
pub fn project(
    traffic: &Traffic,
    table: &PriceTable,
    baselines: &Baselines,
    strategies: &[Strategy],
) -> Result<Vec<Projection>, SimulateError> {
    if let Traffic::Sample { requests, .. } = traffic {
        if requests.is_empty() {
            return Err(SimulateError::EmptySample);
        }
    }
    let baseline = baselines.strategy(traffic, table)?;
    let mut all = vec![baseline.clone()];
    all.extend(strategies.iter().filter(|s| **s != baseline).cloned());
    let apis = traffic.apis();
    let monthly = traffic.monthly_requests();
    let base_cost = strategy_amount(traffic, table, &baseline, None)?.0.round()?;
    let mut base_parts = Vec::with_capacity(apis.len());
    for api in &apis {
        base_parts.push(strategy_amount(traffic, table, &baseline, Some(*api))?.0.round()?);
    }
    all.into_iter()
        .map(|strategy| {
            let (amount, unpriced_requests, routed_models) = strategy_amount(traffic, table, &strategy, None)?;
            let cost = amount.round()?;
            let mut by_api = Vec::with_capacity(apis.len());
            for (api, base) in apis.iter().zip(&base_parts) {
                let (part, unpriced, _) = strategy_amount(traffic, table, &strategy, Some(*api))?;
                let part_cost = part.round()?;
                let (n, n_api) = traffic.counts(*api);
                let requests = Amount { num: mul(u128::from(n_api), u128::from(monthly))?, den: u128::from(n) };
                by_api.push(ApiPart {
                    api: *api,
                    monthly_requests: requests.round()?,
                    monthly_cost_micro_usd: part_cost,
                    savings_tenths: savings_tenths(part_cost, *base),
                    unpriced_requests: unpriced,
                });
            }
            Ok(Projection {
                baseline: strategy == baseline,
                strategy,
                monthly_requests: monthly,
                monthly_cost_micro_usd: cost,
                savings_tenths: savings_tenths(cost, base_cost),
                unpriced_requests,
                routed_models,
                by_api,
            })
        })
        .collect()
}

// Rendering (table, CSV, JSON) lives in its own file.
#[path = "simulate_render.rs"]
mod render;
pub use render::{describe, render_csv, render_json, render_table};

#[cfg(test)]
#[path = "simulate_tests.rs"]
mod tests;
