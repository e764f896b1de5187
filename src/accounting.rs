//! The accounting step, pure: from the routing, the usage read and the price table, one
//! [`Emission`] that says everything a request's accounting writes (stat increments, the
//! filter-state values the access log reads, the decision and cost headers, and the record the
//! SSE comment carries). [`crate::emit`] turns it into host calls, in one place.
//!
//! Accounting happens exactly once per inspected request; a request that could not be
//! inspected gets [`rejected`] instead. The request side's own stats ([`customer_overflow`],
//! [`decision_time`]) and the retry step's counter are emissions too, so every stat, filter-state
//! value and header the core writes goes through [`crate::emit`].

use serde::Serialize;

use crate::api::Api;
use crate::config::Config;
use crate::names::{self, label, stat, state, value};
use crate::router::sanitize_label;
use crate::routing::Routing;
use crate::service_tier::ServiceTier;
use crate::usage::Usage;

/// Accounting status of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Usage read and priced.
    Priced,
    /// Usage read, model not in the price table: tokens counted, no cost.
    Unpriced,
    /// No usable usage in the response.
    UsageMissing,
    /// The request could not be inspected (passed through or rejected).
    Error,
}

impl Status {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Priced => value::STATUS_PRICED,
            Status::Unpriced => value::STATUS_UNPRICED,
            Status::UsageMissing => value::STATUS_USAGE_MISSING,
            Status::Error => value::STATUS_ERROR,
        }
    }
}

/// The accounting record of one request, as written to headers, state, stats and SSE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accounting {
    /// Model priced.
    pub model: String,
    /// Tier.
    pub tier: String,
    /// Status.
    pub status: Status,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Cost in micro-USD, all answers included (absent unless priced).
    pub cost_micro_usd: Option<u64>,
    /// Baseline cost in micro-USD (absent when usage is missing).
    pub baseline_cost_micro_usd: Option<u64>,
    /// Price table version.
    pub price_version: String,
    /// The API of the request.
    pub api: Api,
    /// `fallback:<reason>` or `escalation:<reason>` when a re-send produced the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
    /// The service tier the answer reports, when not standard.
    #[serde(skip_serializing_if = "ServiceTier::is_standard")]
    pub service_tier: ServiceTier,
}

impl Accounting {
    /// The SSE comment line that ends a stream: clients skip comments, so every SSE client
    /// over every protocol gets the cost without its parser noticing.
    pub fn sse_comment(&self) -> String {
        // Serializing strings and integers cannot fail; an empty object is still a comment.
        let json = serde_json::to_string(self).unwrap_or_default();
        format!(": llm-router {json}\n\n")
    }
}

/// Which response headers an accounting sets: only what the response phase still allows
/// (headers already sent cannot change; a stream's cost goes in its SSE comment instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// None (headers already went out).
    None,
    /// The cost headers (the decision headers went out with the held headers earlier).
    Cost,
    /// The decision headers only (a re-sent stream: the cost is in the comment).
    Decision,
    /// Decision and cost headers.
    All,
}

/// One stat increment or histogram value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// Stat name.
    pub name: &'static str,
    /// Labels (values sanitized).
    pub labels: Vec<(&'static str, String)>,
    /// Amount added (counter) or recorded (histogram).
    pub value: u64,
}

impl Count {
    fn new(name: &'static str, labels: &[(&'static str, &str)], value: u64) -> Count {
        Count { name, labels: labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect(), value }
    }
}

/// Everything one accounting writes; [`crate::emit::emit`] performs it.
#[must_use]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Emission {
    /// Counter increments (a 0 still defines the metric, so it shows up at 0).
    pub counters: Vec<Count>,
    /// Histogram values.
    pub histograms: Vec<Count>,
    /// Filter-state values for the access log.
    pub state: Vec<(&'static str, String)>,
    /// Response headers to set.
    pub headers: Vec<(&'static str, String)>,
    /// The record of an accounted request (absent for a rejected one).
    pub record: Option<Accounting>,
}

/// The route label: Envoy's route name once the route is final, `unknown` without one.
pub fn route_label(route_name: Option<&str>) -> String {
    sanitize_label(route_name.filter(|n| !n.is_empty()).unwrap_or(value::UNKNOWN_ROUTE))
}

/// The decision headers of `r`, set as soon as the response headers can carry them.
pub(crate) fn decision_headers(cfg: &Config, r: &Routing) -> Vec<(&'static str, String)> {
    let mut h = vec![
        (names::HEADER_MODEL, r.model.clone()),
        (names::HEADER_TIER, r.tier.clone()),
        (names::HEADER_SCORE, r.score_str()),
        (names::HEADER_REASON, r.reason.clone()),
        (names::HEADER_MODE, cfg.mode.as_str().to_string()),
        (names::HEADER_PRICE_VERSION, cfg.prices.version().to_string()),
    ];
    if let Some(retry) = &r.retry {
        h.push((names::HEADER_RETRY, retry.clone()));
    }
    if let Some((remaining, pace)) = r.budget {
        h.push((names::HEADER_BUDGET_REMAINING, remaining.to_string()));
        h.push((names::HEADER_BUDGET_PACE, format!("{pace:.2}")));
    }
    h
}

/// A request on an inspected path of `api` that could not be inspected: counted by `kind`, and
/// its status is [`Status::Error`] for the access log.
pub fn rejected(api: Api, kind: &str) -> Emission {
    Emission {
        counters: vec![Count::new(stat::ERRORS, &[(label::API, api.label()), (label::KIND, kind)], 1)],
        state: vec![(state::STATUS, Status::Error.as_str().to_string()), (state::API, api.label().to_string())],
        ..Emission::default()
    }
}

/// The cost ceiling acted on a request of `api` on `route`: stepped it down, or rejected it
/// (also an error of kind `cost_ceiling`, with status `error` for the access log).
pub fn cost_ceiling(api: Api, route: &str, rejected: bool) -> Emission {
    let action = if rejected { value::ACTION_REJECT } else { value::ACTION_STEP_DOWN };
    let labels = [(label::ROUTE, route), (label::API, api.label()), (label::ACTION, action)];
    let count = Count::new(stat::COST_CEILING, &labels, 1);
    let mut e = if rejected { self::rejected(api, value::COST_CEILING_REJECT) } else { Emission::default() };
    e.counters.push(count);
    e
}

/// A budget acted on a request of `api` by `customer` on `route`: `paced`, `cheapest` or
/// `reject` (a rejection is also an error of kind `budget_cap`).
pub fn budget_action(api: Api, route: &str, customer: &str, action: &str) -> Emission {
    let labels =
        [(label::ROUTE, route), (label::API, api.label()), (label::CUSTOMER, customer), (label::ACTION, action)];
    let count = Count::new(stat::BUDGET, &labels, 1);
    let mut e =
        if action == value::ACTION_REJECT { rejected(api, value::BUDGET_CAP_REJECT) } else { Emission::default() };
    e.counters.push(count);
    e
}

/// A customer folded into `other` because the distinct-customer cap was reached.
pub fn customer_overflow() -> Emission {
    Emission { counters: vec![Count::new(stat::CUSTOMER_OVERFLOW, &[], 1)], ..Emission::default() }
}

/// The time one routing decision took (parse, features, inference, policy), microseconds.
pub fn decision_time(micros: u64) -> Emission {
    Emission { histograms: vec![Count::new(stat::DECISION_TIME_US, &[], micros)], ..Emission::default() }
}

/// The token counters of one answer under its model's labels, and its cost if priced.
fn answer_counts(cfg: &Config, route: &str, r: &Routing, usage: Option<Usage>, out: &mut Vec<Count>) -> Option<u64> {
    let u = usage?;
    let (tier, model) = (sanitize_label(&r.tier), sanitize_label(&r.model));
    let base = [
        (label::ROUTE, route),
        (label::API, r.api.label()),
        (label::TIER, &tier),
        (label::MODEL, &model),
        (label::CUSTOMER, &r.customer),
        (label::MODE, cfg.mode.as_str()),
    ];
    out.push(Count::new(stat::INPUT_TOKENS, &base, u.prompt_tokens));
    out.push(Count::new(stat::OUTPUT_TOKENS, &base, u.completion_tokens));
    out.push(Count::new(stat::CACHED_TOKENS, &base, u.cached_tokens));
    let cost = cfg.prices.cost_micro_usd(&r.model, &u).ok()?;
    out.push(Count::new(stat::COST, &base, cost));
    Some(cost)
}

/// Price, count and record one request whose answer (from `r`) carried `usage`. `earlier` is
/// the answer the client did not receive (escalation: its routing and usage), counted under
/// its own labels and added to the cost. `route` is the route label ([`route_label`]).
pub(crate) fn account(
    cfg: &Config,
    route: &str,
    r: &Routing,
    usage: Option<Usage>,
    earlier: Option<(&Routing, Option<Usage>)>,
    headers: Headers,
) -> Emission {
    let prices = &cfg.prices;
    let mut counters = Vec::new();
    let prior_cost = earlier.and_then(|(e, u)| answer_counts(cfg, route, e, u, &mut counters)).unwrap_or(0);
    let answer_cost = answer_counts(cfg, route, r, usage, &mut counters);
    let (status, cost, baseline) = match &usage {
        None => (Status::UsageMissing, None, None),
        Some(u) => {
            let baseline = prices.counterfactual_cost_micro_usd(&cfg.baseline_model, u).ok();
            match answer_cost {
                Some(c) => (Status::Priced, Some(c.saturating_add(prior_cost)), baseline),
                None => (Status::Unpriced, None, baseline),
            }
        }
    };
    let u = usage.unwrap_or_default();
    let record = Accounting {
        model: r.model.clone(),
        tier: r.tier.clone(),
        status,
        input_tokens: u.prompt_tokens,
        output_tokens: u.completion_tokens,
        cached_tokens: u.cached_tokens,
        cost_micro_usd: cost,
        baseline_cost_micro_usd: baseline,
        price_version: prices.version().to_string(),
        api: r.api,
        retry: r.retry.clone(),
        service_tier: u.service_tier,
    };

    let (tier, model, mode) = (sanitize_label(&r.tier), sanitize_label(&r.model), cfg.mode.as_str());
    let base: [(&str, &str); 6] = [
        (label::ROUTE, route),
        (label::API, r.api.label()),
        (label::TIER, &tier),
        (label::MODEL, &model),
        (label::CUSTOMER, &r.customer),
        (label::MODE, mode),
    ];
    let [route_l, api_l, tier_l, model_l, customer_l, mode_l] = base;
    let reason = sanitize_label(&r.reason);
    let decision_stat = if r.decided { stat::DECISIONS } else { stat::PASSTHROUGH };
    counters.push(Count::new(decision_stat, &[route_l, api_l, tier_l, mode_l, (label::REASON, &reason)], 1));
    let status_l = (label::STATUS, status.as_str());
    counters.push(Count::new(stat::REQUESTS, &[route_l, api_l, tier_l, model_l, customer_l, mode_l, status_l], 1));
    match status {
        Status::UsageMissing => counters.push(Count::new(stat::USAGE_MISSING, &base, 1)),
        Status::Unpriced => counters.push(Count::new(stat::UNPRICED, &base, 1)),
        Status::Priced | Status::Error => {}
    }
    let mut histograms = Vec::new();
    if let Some(c) = cost {
        histograms.push(Count::new(stat::REQUEST_COST, &[route_l, api_l, tier_l, model_l, mode_l], c));
    }
    if let (Some(b), Some(_)) = (baseline, cost) {
        counters.push(Count::new(stat::BASELINE_COST, &base, b));
    }

    let opt = |v: Option<u64>| v.map_or_else(String::new, |c| c.to_string());
    let mut state = vec![
        (state::API, r.api.label().to_string()),
        (state::REQUESTED_MODEL, r.requested_model.clone()),
        (state::SCORE, r.score_str()),
        (state::REASON, r.reason.clone()),
        (state::MODE, mode.to_string()),
        (state::CUSTOMER, r.customer.clone()),
        (state::PRICE_VERSION, prices.version().to_string()),
        (state::MODEL, r.model.clone()),
        (state::TIER, r.tier.clone()),
        (state::STATUS, status.as_str().to_string()),
        (state::INPUT_TOKENS, u.prompt_tokens.to_string()),
        (state::OUTPUT_TOKENS, u.completion_tokens.to_string()),
        (state::CACHED_TOKENS, u.cached_tokens.to_string()),
        (state::COST, opt(cost)),
        (state::BASELINE_COST, opt(baseline)),
        (state::RETRY, r.retry.clone().unwrap_or_default()),
    ];
    // Only answers that wrote to a prompt cache pay the two extra host calls; the access log
    // reads a missing value as 0.
    if u.cache_write_5m_tokens > 0 || u.cache_write_1h_tokens > 0 {
        state.push((state::CACHE_WRITE_5M_TOKENS, u.cache_write_5m_tokens.to_string()));
        state.push((state::CACHE_WRITE_1H_TOKENS, u.cache_write_1h_tokens.to_string()));
    }
    // Likewise the service tier, set only off standard processing.
    if !u.service_tier.is_standard() {
        state.push((state::SERVICE_TIER, u.service_tier.name().to_string()));
    }

    let mut out_headers = match headers {
        Headers::Decision | Headers::All => decision_headers(cfg, r),
        Headers::None | Headers::Cost => Vec::new(),
    };
    if matches!(headers, Headers::Cost | Headers::All) {
        out_headers.push((names::HEADER_STATUS, status.as_str().to_string()));
        if let Some(c) = cost {
            out_headers.push((names::HEADER_COST, c.to_string()));
        }
        if let Some(b) = baseline {
            out_headers.push((names::HEADER_BASELINE_COST, b.to_string()));
        }
    }
    Emission { counters, histograms, state, headers: out_headers, record: Some(record) }
}

#[cfg(test)]
#[path = "accounting_tests.rs"]
mod tests;
