//! `llm-router simulate`: monthly cost of a traffic description under several strategies.
//!
//! Traffic is either a synthetic profile (N requests a month, each with the same input, output
//! and cached tokens) or a sample of request bodies (JSON Lines), each with its input tokens
//! estimated as the filter does (`ceil(chars / 4) + 4` per message) and its output tokens from
//! its `expected_output_tokens` field or an assumed average. A sample stands for a month of
//! traffic, or is scaled to a given number of monthly requests.
//!
//! Strategies: everything on one model ([`Strategy::AllOn`]), a fixed split across models
//! ([`Strategy::Split`], shares summing to exactly 1), and the configured router
//! ([`Strategy::Router`], samples only: each body is routed with the real policy and
//! classifier; an explicit model that the configuration passes through stays on that model).
//! The all-baseline strategy (everything on the configuration's `baseline_model`) is always
//! computed, and savings are `1 - cost / baseline cost`.
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

use serde_json::{json, Value};

use crate::config::ExplicitModel;
use crate::money::{
    format_count, format_tenths, format_usd, parse_decimal, savings_tenths, tenths_json, tenths_of_percent,
};
use crate::pricing::PriceTable;
use crate::request;
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

/// The member a simulation line may add to a request body ([`OUTPUT_TOKENS_FIELD`]).
#[derive(serde::Deserialize)]
struct Extra {
    expected_output_tokens: Option<Value>,
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

/// How traffic is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Every request on this model (canonical id).
    AllOn(String),
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
            Strategy::Split(s) => format!("split {}", s.label()),
            Strategy::Router => "router (configured policy)".to_string(),
        }
    }
}

/// One request of a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleRequest {
    /// Estimated input tokens and expected output tokens (no cached tokens).
    pub usage: Usage,
    /// The model the configured router sends it to.
    pub routed_model: String,
}

impl SampleRequest {
    /// Read one JSON Lines request body: route it with `router` and estimate its tokens.
    ///
    /// # Errors
    ///
    /// [`SimulateError::Line`] when the body is not a chat request or has no output tokens
    /// (no `expected_output_tokens` field and no `default_output_tokens`).
    pub fn from_line(
        line: &str,
        router: &Router,
        default_output_tokens: Option<u64>,
    ) -> Result<SampleRequest, SimulateError> {
        let req = request::parse(line.as_bytes()).map_err(|e| SimulateError::Line(e.to_string()))?;
        // The line parsed as a request, so it is a JSON object; only the extra field is read.
        let extra: Extra = serde_json::from_str(line).map_err(|e| SimulateError::Line(e.to_string()))?;
        let output = match extra.expected_output_tokens.as_ref() {
            None | Some(Value::Null) => default_output_tokens.ok_or_else(|| {
                SimulateError::Line(format!("no `{OUTPUT_TOKENS_FIELD}` field and no --output-tokens average"))
            })?,
            Some(v) => v.as_u64().ok_or_else(|| {
                SimulateError::Line(format!("`{OUTPUT_TOKENS_FIELD}` must be a non-negative integer, got {v}"))
            })?,
        };
        let cfg = &router.config;
        let routed_model = if cfg.is_alias(&req.model) || cfg.explicit_model == ExplicitModel::RouteAnyway {
            let decision = router.decide(&req, Vec::new());
            cfg.tiers.get(decision.tier).map_or_else(|| req.model.to_string(), |t| t.model.clone())
        } else {
            req.model.to_string()
        };
        Ok(SampleRequest {
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
    /// `requests` a month, each with `usage`.
    Synthetic {
        /// Monthly requests.
        requests: u64,
        /// Tokens of every request.
        usage: Usage,
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

/// Sum of the per-request costs of the described requests on `model`, and `n`.
fn per_model_sum(traffic: &Traffic, table: &PriceTable, model: &str) -> Result<(u128, u128), SimulateError> {
    table.lookup(model).ok_or_else(|| SimulateError::UnknownModel(model.to_string()))?;
    // A recorded usage is already validated, so only the arithmetic can fail here; a record
    // served on a tier `model` is not sold on is priced at its standard rates.
    let cost =
        |u: &Usage| table.counterfactual_cost_micro_usd(model, u).map(u128::from).map_err(|_| SimulateError::Overflow);
    match traffic {
        Traffic::Synthetic { usage, .. } => Ok((cost(usage)?, 1)),
        Traffic::Sample { requests, .. } => {
            let mut sum: u128 = 0;
            for r in requests {
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
) -> Result<StrategyOutcome, SimulateError> {
    let monthly = u128::from(traffic.monthly_requests());
    match strategy {
        Strategy::AllOn(model) => {
            let (sum, n) = per_model_sum(traffic, table, model)?;
            Ok((Amount { num: mul(sum, monthly)?, den: n }, 0, BTreeMap::new()))
        }
        Strategy::Split(split) => {
            let mut num: u128 = 0;
            let mut den = 1;
            for (model, ppm) in &split.parts {
                let (sum, n) = per_model_sum(traffic, table, model)?;
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
            for r in requests {
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

/// Project `strategies` (the all-baseline strategy is added first if missing).
///
/// # Errors
///
/// [`SimulateError`] for unknown models, an empty sample, the router without a sample, or
/// overflow.
pub fn project(
    traffic: &Traffic,
    table: &PriceTable,
    baseline_model: &str,
    strategies: &[Strategy],
) -> Result<Vec<Projection>, SimulateError> {
    if let Traffic::Sample { requests, .. } = traffic {
        if requests.is_empty() {
            return Err(SimulateError::EmptySample);
        }
    }
    let baseline_id =
        table.lookup(baseline_model).ok_or_else(|| SimulateError::UnknownModel(baseline_model.to_string()))?.id.clone();
    let baseline = Strategy::AllOn(baseline_id);
    let mut all = vec![baseline.clone()];
    all.extend(strategies.iter().filter(|s| **s != baseline).cloned());
    let (base_amount, _, _) = strategy_amount(traffic, table, &baseline)?;
    let base_cost = base_amount.round()?;
    all.into_iter()
        .map(|strategy| {
            let (amount, unpriced_requests, routed_models) = strategy_amount(traffic, table, &strategy)?;
            let cost = amount.round()?;
            Ok(Projection {
                baseline: strategy == baseline,
                strategy,
                monthly_requests: traffic.monthly_requests(),
                monthly_cost_micro_usd: cost,
                savings_tenths: savings_tenths(cost, base_cost),
                unpriced_requests,
                routed_models,
            })
        })
        .collect()
}

/// A description of the traffic for the output header.
pub fn describe(traffic: &Traffic) -> String {
    match traffic {
        Traffic::Synthetic { requests, usage } => format!(
            "{} requests/month of {} input ({} cached) + {} output tokens (synthetic profile)",
            format_count(*requests),
            format_count(usage.prompt_tokens),
            format_count(usage.cached_tokens),
            format_count(usage.completion_tokens)
        ),
        Traffic::Sample { requests, monthly_requests } => {
            let n = requests.len() as u64;
            let input: u64 = requests.iter().map(|r| r.usage.prompt_tokens).sum();
            let output: u64 = requests.iter().map(|r| r.usage.completion_tokens).sum();
            format!(
                "{} requests/month from a sample of {} request bodies ({} input + {} output tokens in the sample)",
                format_count(*monthly_requests),
                format_count(n),
                format_count(input),
                format_count(output)
            )
        }
    }
}

fn label_of(p: &Projection) -> String {
    let mut label = p.strategy.label();
    if p.baseline {
        label += " (baseline)";
    }
    label
}

/// Aligned text table.
pub fn render_table(traffic: &Traffic, table: &PriceTable, projections: &[Projection]) -> String {
    let show_unpriced = projections.iter().any(|p| p.unpriced_requests > 0);
    let mut header = vec!["strategy", "requests/month", "monthly cost", "savings vs baseline"];
    if show_unpriced {
        header.push("unpriced (sample)");
    }
    let rows: Vec<Vec<String>> = projections
        .iter()
        .map(|p| {
            let mut row = vec![
                label_of(p),
                format_count(p.monthly_requests),
                format_usd(p.monthly_cost_micro_usd),
                format_tenths(p.savings_tenths),
            ];
            if show_unpriced {
                row.push(format_count(p.unpriced_requests));
            }
            row
        })
        .collect();
    let mut out = format!("llm-router simulate: {}; price table {}\n", describe(traffic), table.version());
    out += &crate::report::align(&header, &rows);
    if show_unpriced {
        out += "unpriced: sample requests whose explicit model has no price; their cost is left out, not counted as zero\n";
    }
    for p in projections.iter().filter(|p| !p.routed_models.is_empty()) {
        let n: u64 = p.routed_models.values().sum();
        let mut by_count: Vec<(&String, &u64)> = p.routed_models.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = by_count
            .iter()
            .map(|(m, c)| {
                format!(
                    "{m} {} ({})",
                    format_count(**c),
                    format_tenths(tenths_of_percent(i128::from(**c), i128::from(n)))
                )
            })
            .collect();
        out += &format!("{} sends the sample to: {}\n", p.strategy.label(), parts.join(", "));
    }
    out
}

/// CSV with integer micro-USD.
pub fn render_csv(projections: &[Projection]) -> String {
    let mut out =
        String::from("strategy,baseline,monthly_requests,monthly_cost_micro_usd,savings_pct,unpriced_requests\n");
    for p in projections {
        let savings = p.savings_tenths.map_or_else(String::new, |t| {
            format!("{}{}.{}", if t < 0 { "-" } else { "" }, t.unsigned_abs() / 10, t.unsigned_abs() % 10)
        });
        let label = p.strategy.label();
        let label = if label.contains(',') { format!("\"{label}\"") } else { label };
        out += &format!(
            "{label},{},{},{},{savings},{}\n",
            p.baseline, p.monthly_requests, p.monthly_cost_micro_usd, p.unpriced_requests
        );
    }
    out
}

/// JSON document with integer micro-USD and exact `$` strings.
pub fn render_json(traffic: &Traffic, table: &PriceTable, projections: &[Projection]) -> Value {
    json!({
        "traffic": describe(traffic),
        "price_version": table.version(),
        "strategies": projections.iter().map(|p| json!({
            "strategy": p.strategy.label(),
            "baseline": p.baseline,
            "monthly_requests": p.monthly_requests,
            "monthly_cost_micro_usd": p.monthly_cost_micro_usd,
            "monthly_cost_usd": format_usd(p.monthly_cost_micro_usd),
            "savings_pct": tenths_json(p.savings_tenths),
            "unpriced_requests": p.unpriced_requests,
            "routed_models": p.routed_models,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::HeuristicClassifier;
    use crate::config::{Config, DEFAULT_CONFIG_JSON};

    fn table() -> PriceTable {
        PriceTable::default_table().unwrap()
    }

    fn synthetic(requests: u64, input: u64, output: u64) -> Traffic {
        Traffic::Synthetic {
            requests,
            usage: Usage { prompt_tokens: input, completion_tokens: output, cached_tokens: 0, ..Usage::ZERO },
        }
    }

    fn cost(p: &[Projection], label: &str) -> u64 {
        p.iter().find(|p| p.strategy.label() == label).unwrap().monthly_cost_micro_usd
    }

    /// Per-request cost from the price table's integer rates, independently of `pricing`.
    fn per_request(model: &str, input: u64, output: u64) -> u64 {
        let m = table().lookup(model).unwrap().clone();
        let exact = u128::from(input) * u128::from(m.base.input) + u128::from(output) * u128::from(m.base.output);
        u64::try_from((exact + 500_000) / 1_000_000).unwrap()
    }

    #[test]
    fn worked_example_from_the_issue() {
        let t = table();
        let haiku = Strategy::Split(Split::parse("claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3", &t).unwrap());
        let deepseek = Strategy::Split(Split::parse("deepseek-v3.2=0.7,claude-sonnet-4.6=0.3", &t).unwrap());
        let p = project(&synthetic(1_000_000, 500, 200), &t, "claude-sonnet-4.6", &[haiku, deepseek]).unwrap();
        assert_eq!(p[0].strategy, Strategy::AllOn("claude-sonnet-4.6".into()));
        assert!(p[0].baseline);
        assert_eq!(p[0].monthly_cost_micro_usd, 4_500_000_000);
        assert_eq!(cost(&p, "split claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3"), 2_400_000_000);
        assert_eq!(p[1].savings_tenths, Some(467)); // 46.7%, i.e. 47% saved
        let expected =
            (700_000 * per_request("deepseek-v3.2", 500, 200)) + (300_000 * per_request("claude-sonnet-4.6", 500, 200));
        assert_eq!(cost(&p, "split deepseek-v3.2=0.7,claude-sonnet-4.6=0.3"), expected);
        assert_eq!(expected, 1_506_800_000);
    }

    #[test]
    fn per_request_rounding_happens_once_before_multiplying() {
        // gpt-5-nano: 3 input tokens at $0.05/Mtok = 0.15 micro-USD -> 0 per request; 7 -> 0.35 -> 0;
        // 10 -> 0.5 -> 1 (half up). Per-request rounding makes 1M such requests cost 0 or 1M.
        let t = table();
        let nano = [Strategy::AllOn("gpt-5-nano".into())];
        assert_eq!(
            cost(&project(&synthetic(1_000_000, 3, 0), &t, "gpt-5-nano", &nano).unwrap(), "all on gpt-5-nano"),
            0
        );
        assert_eq!(
            cost(&project(&synthetic(1_000_000, 10, 0), &t, "gpt-5-nano", &nano).unwrap(), "all on gpt-5-nano"),
            1_000_000
        );
        // A split is exact on top: 1 request 0.5/0.5 between costs 1 and 0 -> 0.5 -> rounds up to 1.
        let split = Strategy::Split(Split::parse("gpt-5-nano=0.5,deepseek-v3.2=0.5", &t).unwrap());
        let p = project(&synthetic(1, 10, 0), &t, "gpt-5-nano", std::slice::from_ref(&split)).unwrap();
        assert_eq!(p[1].monthly_cost_micro_usd, 2); // (1 + 3 (10 * 0.28 = 2.8 -> 3)) / 2 = 2
        let p = project(&synthetic(3, 10, 0), &t, "gpt-5-nano", &[split]).unwrap();
        assert_eq!(p[1].monthly_cost_micro_usd, 6);
    }

    #[test]
    fn split_validation() {
        let t = table();
        assert!(matches!(Split::parse("gpt-5-nano=0.7,claude-sonnet-4.6=0.2", &t), Err(SimulateError::Split { .. })));
        assert!(matches!(Split::parse("gpt-5-nano=0.7,nope=0.3", &t), Err(SimulateError::UnknownModel(_))));
        assert!(matches!(Split::parse("gpt-5-nano", &t), Err(SimulateError::Split { .. })));
        assert!(matches!(Split::parse("gpt-5-nano=0.5,gpt-5-nano=0.5", &t), Err(SimulateError::Split { .. })));
        assert!(matches!(Split::parse("gpt-5-nano=-0.5,gpt-4o=1.5", &t), Err(SimulateError::Split { .. })));
        assert!(matches!(Split::parse("gpt-5-nano=0.3333333,gpt-4o=0.6666667", &t), Err(SimulateError::Split { .. })));
        let s = Split::parse("claude-haiku-4-5=0.70, claude-sonnet-4.6=.3", &t).unwrap();
        assert_eq!(
            s.parts,
            vec![("claude-haiku-4.5".to_string(), 700_000), ("claude-sonnet-4.6".to_string(), 300_000)]
        );
        assert_eq!(s.label(), "claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3");
        assert_eq!(Split::parse("gpt-4o=1", &t).unwrap().label(), "gpt-4o=1");
    }

    fn router() -> Router {
        Router::new(
            Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap(),
            Box::new(HeuristicClassifier::default()),
        )
    }

    #[test]
    fn sample_lines_are_routed_and_estimated() {
        let r = router();
        let text = "x".repeat(40); // 10 tokens + 4 per message
        let line =
            json!({"model": "auto", "messages": [{"role": "user", "content": text}], "expected_output_tokens": 7})
                .to_string();
        let s = SampleRequest::from_line(&line, &r, None).unwrap();
        assert_eq!(s.usage, Usage { prompt_tokens: 14, completion_tokens: 7, cached_tokens: 0, ..Usage::ZERO });
        let decided = r.decide_body(line.as_bytes()).unwrap();
        assert_eq!(s.routed_model, r.config.tiers[decided.tier].model);
        let explicit = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).to_string();
        let s = SampleRequest::from_line(&explicit, &r, Some(100)).unwrap();
        assert_eq!((s.routed_model.as_str(), s.usage.completion_tokens), ("gpt-4o", 100));
        assert!(matches!(SampleRequest::from_line(&explicit, &r, None), Err(SimulateError::Line(_))));
        assert!(matches!(SampleRequest::from_line("nope", &r, Some(1)), Err(SimulateError::Line(_))));
        let bad = json!({"model": "auto", "messages": [], "expected_output_tokens": -1}).to_string();
        assert!(matches!(SampleRequest::from_line(&bad, &r, Some(1)), Err(SimulateError::Line(_))));
    }

    #[test]
    fn router_strategy_prices_each_request_on_its_routed_model_and_scales() {
        let t = table();
        let u = |i, o| Usage { prompt_tokens: i, completion_tokens: o, cached_tokens: 0, ..Usage::ZERO };
        let requests = vec![
            SampleRequest { usage: u(1000, 500), routed_model: "gpt-5-nano".into() }, // 250
            SampleRequest { usage: u(2000, 300), routed_model: "claude-haiku-4.5".into() }, // 3500
            SampleRequest { usage: u(10, 10), routed_model: "in-house".into() },      // unpriced
        ];
        let traffic = Traffic::Sample { requests, monthly_requests: 7 };
        let p = project(&traffic, &t, "claude-sonnet-4.6", &[Strategy::Router]).unwrap();
        // baseline: (10500 + 10500 + 180) * 7 / 3 = 49420
        assert_eq!(p[0].monthly_cost_micro_usd, 49_420);
        // router: 3750 * 7 / 3 = 8750
        assert_eq!((p[1].monthly_cost_micro_usd, p[1].unpriced_requests), (8_750, 1));
        assert_eq!(
            p[1].routed_models,
            BTreeMap::from([("gpt-5-nano".into(), 1), ("claude-haiku-4.5".into(), 1), ("in-house".into(), 1)])
        );
        assert!(p[0].routed_models.is_empty());
        let text = render_table(&traffic, &t, &p);
        assert!(text.contains("router (configured policy) sends the sample to: claude-haiku-4.5 1 (33.3%), gpt-5-nano 1 (33.3%), in-house 1 (33.3%)"), "{text}");
        assert_eq!(p[1].savings_tenths, savings_tenths(8_750, 49_420));
        assert_eq!(
            project(&synthetic(1, 1, 1), &t, "claude-sonnet-4.6", &[Strategy::Router]),
            Err(SimulateError::RouterNeedsSample)
        );
        let empty = Traffic::Sample { requests: vec![], monthly_requests: 1 };
        assert_eq!(project(&empty, &t, "claude-sonnet-4.6", &[]), Err(SimulateError::EmptySample));
    }

    #[test]
    fn baseline_is_first_and_not_repeated() {
        let t = table();
        let all: Vec<Strategy> = t.models().map(|m| Strategy::AllOn(m.id.clone())).collect();
        let p = project(&synthetic(10, 1, 1), &t, "claude-sonnet-4-6", &all).unwrap();
        assert_eq!(p.len(), all.len());
        assert!(p[0].baseline && p.iter().skip(1).all(|p| !p.baseline));
        assert_eq!(p[0].savings_tenths, Some(0));
    }

    #[test]
    fn overflow_is_an_error() {
        let t = table();
        let huge = Traffic::Synthetic {
            requests: u64::MAX,
            usage: Usage { prompt_tokens: 100_000_000, completion_tokens: 0, cached_tokens: 0, ..Usage::ZERO },
        };
        assert_eq!(project(&huge, &t, "claude-opus-4.6", &[]), Err(SimulateError::Overflow));
    }

    #[test]
    fn renders() {
        let t = table();
        let split = Strategy::Split(Split::parse("claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3", &t).unwrap());
        let traffic = synthetic(1_000_000, 500, 200);
        let p = project(&traffic, &t, "claude-sonnet-4.6", &[split]).unwrap();
        let table_text = render_table(&traffic, &t, &p);
        assert!(
            table_text.contains("$4,500.00") && table_text.contains("$2,400.00") && table_text.contains("46.7%"),
            "{table_text}"
        );
        let csv = render_csv(&p);
        assert!(
            csv.contains("\"split claude-haiku-4.5=0.7,claude-sonnet-4.6=0.3\",false,1000000,2400000000,46.7,0"),
            "{csv}"
        );
        let j = render_json(&traffic, &t, &p);
        assert_eq!(j["strategies"][1]["monthly_cost_micro_usd"], 2_400_000_000u64);
        assert_eq!(j["strategies"][1]["monthly_cost_usd"], "$2,400.00");
    }
}
