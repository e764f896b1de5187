//! What the filter does with one request body and one answer's usage, as data: for tools that
//! show a decision instead of acting on it (the browser playground in `web/`).
//!
//! Nothing here decides or prices on its own. [`explain`] runs the inspect and decide steps of
//! the flow ([`crate::inspect::inspect`], then `routing::route`: alias or explicit model,
//! policy, tier and model), and adds what
//! that step read: the policy's facts, each rule tested with the policy's own
//! [`crate::policy::holds`], and the classifier's feature vector ([`Router::features`]).
//! [`price`] prices usage on a model and on the baseline model with the configuration's price
//! table, as the accounting step prices an answer; a test below holds the two together.

use serde::Serialize;

use crate::config::{Config, RuleAction};
use crate::features::{HASH_DIM, STRUCTURAL_NAMES};
use crate::inspect::inspect;
use crate::policy::holds;
use crate::request::RequestError;
use crate::router::Router;
use crate::routing::route;
use crate::usage::Usage;

/// One configured rule and whether its condition held for the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleTrace {
    /// Rule name.
    pub name: String,
    /// `tier <name>`, `min_tier <name>` or `max_tier <name>`.
    pub action: String,
    /// The condition held (the policy applied the action, unless an earlier `tier` rule or a
    /// stricter floor or ceiling won: the decision's reason names the rule that did).
    pub matched: bool,
}

/// One structural feature: name and value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureValue {
    /// Feature name ([`STRUCTURAL_NAMES`]).
    pub name: &'static str,
    /// Value the classifier reads.
    pub value: f32,
}

/// The decision on one request body, with what it was made from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// `model` as the client sent it.
    pub requested_model: String,
    /// The policy decided (an alias, `route_anyway` or measure mode); otherwise the explicit
    /// model passes through and no rule or score was looked at.
    pub decided: bool,
    /// Tier name (`none` for an explicit model no tier serves).
    pub tier: String,
    /// Model the request goes to.
    pub model: String,
    /// Classifier score, when the classifier ran (no `tier` rule fixed the tier).
    pub score: Option<f32>,
    /// The score as the filter's `x-llm-router-score` header shows it (4 decimals, `-` without).
    pub score_header: String,
    /// Why this tier (`score`, `rule:<name>`, `floor:<name>`, `ceiling:<name>`, `explicit`, ...).
    pub reason: String,
    /// Estimated input tokens (`ceil(chars / 4) + 4` per message).
    pub input_tokens: u64,
    /// Messages in the request.
    pub messages: u64,
    /// Tools in the request.
    pub has_tools: bool,
    /// `response_format` in the request.
    pub has_response_format: bool,
    /// The rule headers the policy saw (lowercase names the rules read, with their values).
    pub headers: Vec<(String, String)>,
    /// Every rule, in configuration order (empty when the policy did not run).
    pub rules: Vec<RuleTrace>,
    /// Classifier in use.
    pub classifier: &'static str,
    /// The structural features.
    pub features: Vec<FeatureValue>,
    /// Hashed n-gram buckets that are not zero (out of [`HASH_DIM`]).
    pub hashed_nonzero: usize,
    /// Hashed n-gram buckets in the feature vector.
    pub hashed_total: usize,
}

fn action_text(cfg: &Config, action: &RuleAction) -> String {
    let (verb, tier) = match action {
        RuleAction::Tier(t) => ("tier", *t),
        RuleAction::MinTier(t) => ("min_tier", *t),
        RuleAction::MaxTier(t) => ("max_tier", *t),
    };
    format!("{verb} {}", cfg.tiers.get(tier).map_or("?", |t| t.name.as_str()))
}

/// Decide for one request body as the filter does, given the client's request headers (any
/// case; only those the rules read are kept, as the filter keeps them).
///
/// # Errors
///
/// The [`RequestError`] the filter would count for a body it cannot inspect.
pub fn explain(router: &Router, body: &[u8], headers: &[(String, String)]) -> Result<Explanation, RequestError> {
    let cfg = &router.config;
    let rule_headers: Vec<(String, String)> = router
        .rule_headers()
        .iter()
        .filter_map(|n| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| (n.clone(), v.clone())))
        .collect();
    // The flow's own two steps: inspect the body, then route the request.
    let req = inspect(body)?.request;
    let routed = route(router, &req, rule_headers.clone(), String::new(), 0.0);
    let facts = router.facts(&req, rule_headers);
    let r = routed.routing;
    let rules = if r.decided {
        cfg.rules
            .iter()
            .map(|rule| RuleTrace {
                name: rule.name.clone(),
                action: action_text(cfg, &rule.action),
                matched: holds(&rule.when, &facts),
            })
            .collect()
    } else {
        Vec::new()
    };
    let vector = router.features(&req);
    let (structural, hashed) = vector.as_slice().split_at(STRUCTURAL_NAMES.len());
    Ok(Explanation {
        score_header: r.score_str(),
        requested_model: r.requested_model,
        decided: r.decided,
        tier: r.tier,
        model: r.model,
        score: r.score,
        reason: r.reason,
        input_tokens: facts.input_tokens,
        messages: facts.messages,
        has_tools: facts.has_tools,
        has_response_format: facts.has_response_format,
        headers: facts.headers,
        rules,
        classifier: router.classifier_name(),
        features: STRUCTURAL_NAMES
            .iter()
            .zip(structural)
            .map(|(name, value)| FeatureValue { name, value: *value })
            .collect(),
        hashed_nonzero: hashed.iter().filter(|v| **v != 0.0).count(),
        hashed_total: HASH_DIM,
    })
}

/// The cost of one answer and what the baseline model would have cost, in micro-USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Costs {
    /// Cost on the model that answered (absent when the price table does not price it: the
    /// filter counts such a request as `unpriced`, never as free).
    pub cost_micro_usd: Option<u64>,
    /// Cost of the same usage on the configuration's `baseline_model`.
    pub baseline_cost_micro_usd: Option<u64>,
}

/// Price `usage` on `model` and on the baseline model, as the filter's accounting prices an
/// answer (one answer, no escalation).
pub fn price(cfg: &Config, model: &str, usage: &Usage) -> Costs {
    Costs {
        cost_micro_usd: cfg.prices.cost_micro_usd(model, usage).ok(),
        baseline_cost_micro_usd: cfg.prices.counterfactual_cost_micro_usd(&cfg.baseline_model, usage).ok(),
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
