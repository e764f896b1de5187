//! What the flow knows about a routed request, from the decision on: the decide step turns an
//! inspected body into a [`Routing`], and every later step (retry, accounting) reads it.

use std::ops::Range;

use crate::api::Api;
use crate::budget::{AtCap, Budget, ExplicitAtCap};
use crate::ceiling::{self, CostCeiling, Verdict};
use crate::config::{Config, ExplicitModel, Mode};
use crate::names::value;
use crate::policy::Decision;
use crate::quality::Expectation;
use crate::request::ChatRequest;
use crate::router::Router;

/// What a re-send needs: the request as it went upstream.
#[derive(Debug, Clone)]
pub(crate) struct Resend {
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Where `model` sits in `body`: a re-send splices the next tier's model there.
    pub(crate) model_spans: Vec<Range<usize>>,
    pub(crate) expect: Expectation,
    pub(crate) stream: bool,
}

/// Everything known about a routed request.
#[derive(Debug, Clone)]
pub(crate) struct Routing {
    /// The API of the request (the `api` label of its accounting).
    pub(crate) api: Api,
    pub(crate) requested_model: String,
    /// Model the request went to (route mode) or would go to (measure mode).
    pub(crate) model: String,
    pub(crate) tier: String,
    pub(crate) tier_index: Option<usize>,
    pub(crate) score: Option<f32>,
    pub(crate) reason: String,
    pub(crate) customer: String,
    /// The policy decided (alias, `route_anyway` or measure mode); else passed through.
    pub(crate) decided: bool,
    /// Present when a fallback or escalation may re-send this request.
    pub(crate) resend: Option<Box<Resend>>,
    /// Re-sends made so far.
    pub(crate) attempts: u32,
    /// `fallback:<reason>` / `escalation:<reason>` once the answer came from a re-send.
    pub(crate) retry: Option<String>,
    /// The router added `stream_options.include_usage` to a stream request: the usage-only
    /// chunk it causes is read and removed from the answer, which keeps the shape the client
    /// asked for.
    pub(crate) strip_usage: bool,
    /// A stateful request's provider family: a fallback re-send only goes to tiers of it.
    pub(crate) family: Option<String>,
    /// The customer's budget left before this request (micro-USD) and the pace, when the
    /// customer has a budget.
    pub(crate) budget: Option<(u64, f64)>,
    /// What a shadow-sampled request keeps until its answer ends ([`crate::shadow`]).
    pub(crate) shadow: Option<Box<crate::shadow::Capture>>,
}

impl Routing {
    /// The score as headers and filter state show it: 4 decimals, `-` when a rule decided.
    pub(crate) fn score_str(&self) -> String {
        self.score.map_or_else(|| value::NO_SCORE.to_string(), |s| format!("{s:.4}"))
    }
}

/// The outcome of deciding one parsed request body.
#[derive(Debug)]
pub(crate) struct Routed {
    pub(crate) routing: Routing,
    /// The model to write into the body, when the policy decided.
    pub(crate) rewrite_model: Option<String>,
    /// The router must add `stream_options.include_usage` (a stream that did not ask for it).
    pub(crate) force_usage: bool,
    /// What the client expects of the answer (for escalation).
    pub(crate) expect: Expectation,
    /// The request is a stream.
    pub(crate) stream: bool,
}

/// What the cost ceiling did to a routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ceiling {
    /// Nothing: within the ceiling.
    Within,
    /// Moved to a cheaper tier.
    SteppedDown,
    /// To be rejected, with this message.
    Reject(String),
}

/// Apply the cost ceiling `limit` (micro-USD) to a routed request ([`crate::ceiling`]).
pub(crate) fn apply_ceiling(
    cfg: &Config,
    ceiling: &CostCeiling,
    limit: u64,
    req: &ChatRequest<'_>,
    routed: &mut Routed,
) -> Ceiling {
    let r = &mut routed.routing;
    let verdict = ceiling::check(
        cfg,
        ceiling,
        limit,
        (&r.model, r.tier_index, r.decided),
        req.estimated_input_tokens(),
        req.max_tokens,
    );
    match verdict {
        Verdict::Within => Ceiling::Within,
        Verdict::Reject(estimate) => Ceiling::Reject(Verdict::message(&estimate, limit)),
        Verdict::StepDown { tier, over } => {
            let Some(t) = cfg.tiers.get(tier) else {
                return Ceiling::Within;
            };
            // A stateful request cannot leave its provider family: no cheaper tier fits there.
            if r.family.as_ref().is_some_and(|f| *f != t.family) {
                return Ceiling::Reject(Verdict::message(&over, limit));
            }
            r.tier_index = Some(tier);
            r.tier.clone_from(&t.name);
            r.model.clone_from(&t.model);
            r.reason = value::REASON_COST_CEILING.to_string();
            routed.rewrite_model = Some(t.model.clone());
            Ceiling::SteppedDown
        }
    }
}

/// What a budget's cap did to a routed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cap {
    /// Sent to the cheapest tier.
    Cheapest,
    /// Let through (an explicit model under `explicit_at_cap: allow`).
    Allow,
    /// To be rejected.
    Reject,
}

/// Apply a budget's cap to a request of a customer at the cap ([`crate::budget`]).
pub(crate) fn apply_cap(cfg: &Config, budget: &Budget, routed: &mut Routed) -> Cap {
    let r = &mut routed.routing;
    if !r.decided {
        return match budget.explicit_at_cap {
            ExplicitAtCap::Allow => Cap::Allow,
            ExplicitAtCap::Reject => Cap::Reject,
        };
    }
    // The cheapest tier a stateful request may go to is the cheapest of its family.
    let cheapest = cfg.tiers.iter().position(|t| r.family.as_ref().is_none_or(|f| *f == t.family));
    match (budget.at_cap, cheapest.and_then(|i| cfg.tiers.get(i).map(|t| (i, t)))) {
        (AtCap::Cheapest, Some((i, t))) => {
            r.tier_index = Some(i);
            r.tier.clone_from(&t.name);
            r.model.clone_from(&t.model);
            r.reason = value::REASON_BUDGET_CAP.to_string();
            routed.rewrite_model = Some(t.model.clone());
            Cap::Cheapest
        }
        _ => Cap::Reject,
    }
}

/// Decide for an inspected request: the policy for an alias (or `route_anyway`, or measure
/// mode), the serving tier of an explicit model otherwise. A stateful request stays in its
/// provider family ([`Config::stateful_family`](crate::config::Config::stateful_family)): the
/// decided tier moves to the nearest tier of that family, and a request whose family cannot be
/// known is not decided at all.
pub(crate) fn route(
    router: &Router,
    req: &ChatRequest<'_>,
    headers: Vec<(String, String)>,
    customer: String,
    pace: f64,
) -> Routed {
    let cfg = &router.config;
    let family = req.stateful.then(|| cfg.stateful_family(&req.model));
    let is_alias = cfg.is_alias(&req.model);
    let wants = is_alias || cfg.explicit_model == ExplicitModel::RouteAnyway || cfg.mode == Mode::Measure;
    let unknown_family = matches!(family, Some(None));
    let decide = wants && !unknown_family;
    let decision = if decide { Some(router.decide_paced(req, headers, pace)) } else { None };
    let decision = match (decision, family.flatten()) {
        (Some(d), Some(f)) => Some(within_family(cfg, d, f)),
        (d, _) => d,
    };
    let (tier_index, score, reason) = match &decision {
        Some(Decision { tier, score, reason }) => (Some(*tier), *score, reason.clone()),
        None if wants => (None, None, value::REASON_STATEFUL_UNROUTED.to_string()),
        None => (cfg.tier_for_model(&req.model), None, value::REASON_EXPLICIT.to_string()),
    };
    let tier = tier_index.and_then(|i| cfg.tiers.get(i));
    let model = match (&decision, tier) {
        (Some(_), Some(t)) => t.model.clone(),
        _ => req.model.to_string(),
    };
    let routing = Routing {
        api: router.api(),
        requested_model: req.model.to_string(),
        model,
        tier: tier.map_or_else(|| value::NO_TIER.to_string(), |t| t.name.clone()),
        tier_index,
        score,
        reason,
        customer,
        decided: decision.is_some(),
        resend: None,
        attempts: 0,
        retry: None,
        strip_usage: false,
        family: family.flatten().map(str::to_string),
        budget: None,
        shadow: None,
    };
    let rewrite_model = decision.is_some().then(|| routing.model.clone());
    let force_usage = req.stream && !req.include_usage;
    let expect =
        Expectation { max_tokens: req.max_tokens, response_format: req.response_format.as_deref().map(str::to_string) };
    Routed { routing, rewrite_model, force_usage, expect, stream: req.stream }
}

/// `d` moved into `family` when its tier is of another: the cheapest tier of the family at or
/// above it, else the strongest below it (the family always has a tier: it came from one).
fn within_family(cfg: &Config, d: Decision, family: &str) -> Decision {
    let of_family = |i: &usize| cfg.tiers.get(*i).is_some_and(|t| t.family == family);
    if of_family(&d.tier) {
        return d;
    }
    let tier =
        (d.tier..cfg.tiers.len()).find(of_family).or_else(|| (0..d.tier).rev().find(of_family)).unwrap_or(d.tier);
    Decision { tier, score: d.score, reason: format!("{}{}", value::REASON_STATEFUL_PREFIX, d.reason) }
}
