//! The cost ceiling: the most one request may cost, checked before it is forwarded.
//!
//! A request is priced only after its answer is paid for; a runaway one (a huge prompt, a huge
//! `max_tokens` on the frontier tier) would be seen too late. So before forwarding, the router
//! estimates the request's worst case on the model it is about to use:
//!
//! ```text
//! estimate = cost(model, input = the request's estimated input tokens,
//!                        output = max_tokens, else the model's max_output_tokens from the
//!                                 price table, else default_output_tokens)
//! ```
//!
//! priced by the same rules as an answer (standard processing; long-context rates when the
//! input is above the threshold). Above the ceiling, a routed request (an alias, or any request
//! under `route_anyway`) steps down to the strongest cheaper tier whose estimate fits (`over:
//! "step_down"`, the default), and is rejected when none fits; an explicit-model request, or
//! any request under `over: "reject"`, is rejected. A rejection is a 400 in the API's error
//! shape naming the estimate and the ceiling. A model the price table does not price has no
//! estimate and is never stopped here.
//!
//! The ceiling of a request is, first match wins: the trusted header (when configured and its
//! value is an integer of micro-USD), the route's entry in `per_route` (by Envoy route name),
//! `max_micro_usd`. Without any of them the request has no ceiling. Ceilings act in `route`
//! mode only.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Config;
use crate::pricing::PriceTable;
use crate::usage::Usage;

/// Output tokens assumed for a request without `max_tokens` on a model without a known cap.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 4_096;

/// What happens above the ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Over {
    /// Step a routed request down to a cheaper tier that fits; reject when none does.
    #[default]
    StepDown,
    /// Reject every request above the ceiling.
    Reject,
}

/// `cost_ceiling` as written in the configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCostCeiling {
    /// Ceiling of every request, micro-USD.
    pub max_micro_usd: Option<u64>,
    /// Ceilings by Envoy route name, micro-USD.
    #[serde(default)]
    pub per_route: BTreeMap<String, u64>,
    /// Request header carrying a per-request ceiling in micro-USD (set it from a trusted
    /// source, e.g. your auth filter).
    pub header: Option<String>,
    /// `step_down` (default) or `reject`.
    #[serde(default)]
    pub over: Over,
    /// Output tokens assumed without `max_tokens` and without a model cap.
    pub default_output_tokens: Option<u64>,
}

/// Why a `cost_ceiling` section is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CeilingError {
    /// No ceiling source at all.
    #[error("set max_micro_usd, per_route or header")]
    Empty,
    /// The header name is not a lowercase header name.
    #[error("header `{0}` is not a valid lowercase header name")]
    BadHeader(String),
    /// `default_output_tokens` is 0.
    #[error("default_output_tokens must be greater than zero")]
    ZeroOutput,
}

/// A validated cost ceiling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostCeiling {
    /// Ceiling of every request, micro-USD.
    pub max_micro_usd: Option<u64>,
    /// Ceilings by route name.
    pub per_route: BTreeMap<String, u64>,
    /// Trusted per-request header (lowercase).
    pub header: Option<String>,
    /// Action above the ceiling.
    pub over: Over,
    /// Output tokens assumed without `max_tokens` and without a model cap.
    pub default_output_tokens: u64,
}

impl TryFrom<RawCostCeiling> for CostCeiling {
    type Error = CeilingError;

    fn try_from(raw: RawCostCeiling) -> Result<Self, CeilingError> {
        if raw.max_micro_usd.is_none() && raw.per_route.is_empty() && raw.header.is_none() {
            return Err(CeilingError::Empty);
        }
        if let Some(h) = &raw.header {
            let valid = !h.is_empty() && h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(CeilingError::BadHeader(h.clone()));
            }
        }
        let default_output_tokens = raw.default_output_tokens.unwrap_or(DEFAULT_OUTPUT_TOKENS);
        if default_output_tokens == 0 {
            return Err(CeilingError::ZeroOutput);
        }
        Ok(CostCeiling {
            max_micro_usd: raw.max_micro_usd,
            per_route: raw.per_route,
            header: raw.header,
            over: raw.over,
            default_output_tokens,
        })
    }
}

impl CostCeiling {
    /// The ceiling of one request: the trusted header, else the route's, else the global one.
    /// `header` is the configured header's value; `route` the Envoy route name, asked for only
    /// when `per_route` is set (it costs a host call).
    pub fn limit(&self, header: Option<&str>, route: impl FnOnce() -> Option<String>) -> Option<u64> {
        if let Some(v) = header.and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(v);
        }
        if !self.per_route.is_empty() {
            if let Some(v) = route().and_then(|r| self.per_route.get(&r).copied()) {
                return Some(v);
            }
        }
        self.max_micro_usd
    }
}

/// A worst-case cost estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// Model estimated.
    pub model: String,
    /// Estimated input tokens.
    pub input_tokens: u64,
    /// Output tokens assumed.
    pub output_tokens: u64,
    /// Worst-case cost, micro-USD.
    pub micro_usd: u64,
}

/// The ceiling's verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Within the ceiling, or not estimable (unpriced model).
    Within,
    /// Send to this cheaper tier instead.
    StepDown {
        /// Index of the tier.
        tier: usize,
        /// The estimate on the tier first chosen.
        over: Estimate,
    },
    /// Reject; the estimate is on the chosen model, or on the cheapest tier when stepping down
    /// found no tier that fits.
    Reject(Estimate),
}

impl Verdict {
    /// The message of a rejection: the estimate and the ceiling, and what the client can do.
    pub fn message(estimate: &Estimate, limit: u64) -> String {
        format!(
            "estimated worst-case cost {} micro-USD on {} ({} input tokens, {} output tokens) is above the cost ceiling of {} micro-USD; lower max_tokens or shorten the prompt",
            estimate.micro_usd, estimate.model, estimate.input_tokens, estimate.output_tokens, limit
        )
    }
}

/// The worst-case estimate of a request on `model`; `None` when the model has no price.
pub fn estimate(
    ceiling: &CostCeiling,
    prices: &PriceTable,
    model: &str,
    input_tokens: u64,
    max_tokens: Option<u64>,
) -> Option<Estimate> {
    let price = prices.lookup(model)?;
    let output_tokens = max_tokens.or(price.max_output_tokens).unwrap_or(ceiling.default_output_tokens);
    let usage = Usage { prompt_tokens: input_tokens, completion_tokens: output_tokens, ..Usage::ZERO };
    // Only an absurd token count overflows; such a request has no sensible estimate either way,
    // and the answer's real usage is still priced.
    let micro_usd = price.cost_micro_usd(&usage).ok()?;
    Some(Estimate { model: price.id.clone(), input_tokens, output_tokens, micro_usd })
}

/// Check a request about to go to `model` (tier `tier`, `decided` when the policy chose it).
pub fn check(
    cfg: &Config,
    ceiling: &CostCeiling,
    limit: u64,
    (model, tier, decided): (&str, Option<usize>, bool),
    input_tokens: u64,
    max_tokens: Option<u64>,
) -> Verdict {
    let on = |m: &str| estimate(ceiling, &cfg.prices, m, input_tokens, max_tokens);
    let Some(first) = on(model) else {
        return Verdict::Within;
    };
    if first.micro_usd <= limit {
        return Verdict::Within;
    }
    let tier = match (ceiling.over, decided, tier) {
        (Over::StepDown, true, Some(t)) => t,
        _ => return Verdict::Reject(first),
    };
    let mut cheapest = None;
    for i in (0..tier).rev() {
        let Some(e) = cfg.tiers.get(i).and_then(|t| on(&t.model)) else {
            continue;
        };
        if e.micro_usd <= limit {
            return Verdict::StepDown { tier: i, over: first };
        }
        cheapest = Some(e);
    }
    Verdict::Reject(cheapest.unwrap_or(first))
}

#[cfg(test)]
#[path = "ceiling_tests.rs"]
mod tests;
