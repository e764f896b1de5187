//! The retry step of the request flow (fallback and escalation), as pure functions.
//!
//! Everything here decides; nothing here acts. Whether an answer is re-sent, to which tier, as
//! which request, and how the attempt is labelled are computed from values, so they are tested
//! without a host. [`crate::flow`] performs the decisions (counters, `dispatch_call`, header and
//! body changes) in the phases where the host allows them; a re-sent call's answer is read by
//! [`crate::reader::read_whole`], like every other answer.

use std::ops::Range;

use serde_json::Value;

use crate::accounting::{Count, Emission};
use crate::config::{Config, Escalate, Fallback, Mode};
use crate::names::{self, label, stat};
use crate::quality::{self, Expectation};
use crate::router::sanitize_label;
use crate::routing::Routing;
use crate::splice;
use crate::usage::Usage;

/// Why a request is being re-sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryKind {
    /// The upstream failed with this status.
    Fallback(u16),
    /// The answer was unusable for this reason; the first answer's usage.
    Escalation(&'static str, Option<Usage>),
}

impl RetryKind {
    /// The counter a re-send of this kind is counted in.
    pub fn stat(&self) -> &'static str {
        match self {
            RetryKind::Fallback(_) => stat::FALLBACKS,
            RetryKind::Escalation(..) => stat::ESCALATIONS,
        }
    }

    /// The `reason` label: `status_<code>` or the escalation trigger.
    pub fn reason(&self) -> String {
        match self {
            RetryKind::Fallback(status) => format!("status_{status}"),
            RetryKind::Escalation(reason, _) => (*reason).to_string(),
        }
    }

    /// The `x-llm-router-retry` value of an answer that came from a re-send of this kind.
    pub fn label(&self) -> String {
        let prefix = match self {
            RetryKind::Fallback(_) => "fallback",
            RetryKind::Escalation(..) => "escalation",
        };
        format!("{prefix}:{}", self.reason())
    }

    /// The usage of the answer that was not delivered (escalation only: a failed upstream's
    /// answer is not counted as tokens).
    pub fn first_usage(&self) -> Option<Usage> {
        match self {
            RetryKind::Fallback(_) => None,
            RetryKind::Escalation(_, usage) => *usage,
        }
    }
}

/// The `x-llm-router-retry` value when every re-send failed and the original answer goes on.
pub fn failed_label(label: Option<&str>) -> Option<String> {
    label.map(|l| format!("{l}:failed"))
}

/// The tier a re-send of an answer from `tier` goes to: `None` when the request cannot be
/// re-sent (`resendable` false), the attempts are used up, or `tier` is last in the order.
pub fn next_tier(fallback: &Fallback, resendable: bool, attempts: u32, tier: Option<usize>) -> Option<usize> {
    if !resendable || attempts >= fallback.max_attempts {
        return None;
    }
    fallback.next_tier(tier?)
}

/// Whether an upstream answer's status starts a fallback. A failure without a body is not
/// re-sent: the held response would have no body buffer for the new answer.
pub fn falls_back(fallback: &Fallback, status: u16, has_body: bool, next: Option<usize>) -> bool {
    fallback.enabled && fallback.statuses.contains(&status) && has_body && next.is_some()
}

/// The escalation trigger of a held answer, if its tier opts in (`escalate`), the request is
/// not a stream, another attempt is possible (`can_retry`), the answer is a 2xx and unusable.
pub fn escalation_reason(
    escalate: Option<&Escalate>,
    stream: bool,
    can_retry: bool,
    status: u16,
    body: Option<&Value>,
    expect: &Expectation,
) -> Option<&'static str> {
    let esc = escalate?;
    if stream || !can_retry || !(200..300).contains(&status) {
        return None;
    }
    quality::unusable(body?, esc, expect).map(|on| on.as_str())
}

/// Request headers that are not copied into a re-sent request: hop-by-hop and framing headers
/// (recomputed for the new body), this router's own and Envoy's internal ones.
pub fn resend_header_ok(name: &str) -> bool {
    !matches!(
        name,
        "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "te"
            | "upgrade"
            | "expect"
            | "proxy-connection"
    ) && !name.starts_with(names::HEADER_PREFIX)
        && !name.starts_with("x-envoy-")
}

/// Response headers of a re-sent call that replace the held response's (framing headers are
/// set for the final body; this router's are never taken from an upstream).
pub fn copy_call_header(name: &str) -> bool {
    name == ":status"
        || (!name.starts_with(':')
            && !matches!(name, "content-length" | "transfer-encoding" | "connection" | "keep-alive")
            && !name.starts_with(names::HEADER_PREFIX))
}

/// A request to re-send: headers (as kept by [`resend_header_ok`]) plus the new
/// `content-length`, and the body with `model` set to the next tier's model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resent {
    /// Headers to send, `content-length` last.
    pub headers: Vec<(String, String)>,
    /// Body to send.
    pub body: Vec<u8>,
}

/// The re-sent request for `model`, from the request as it first went upstream, whose `model`
/// values sit at `model_spans` (found when it was inspected): spliced, not parsed again.
pub fn resend_request(headers: &[(String, String)], body: &[u8], model_spans: &[Range<usize>], model: &str) -> Resent {
    let body = splice::with_model(body, model_spans, model).body;
    let mut headers = headers.to_vec();
    headers.push(("content-length".to_string(), body.len().to_string()));
    Resent { headers, body }
}

/// Whether a re-sent call answered with a success (2xx); `None`: no answer at all.
pub fn call_succeeded(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

/// Whether a request may be re-sent at all under this configuration (route mode, with a
/// fallback or an escalating tier): only then is the request kept for a re-send.
pub(crate) fn may_resend(cfg: &Config) -> bool {
    cfg.mode == Mode::Route
        && ((cfg.fallback.enabled && cfg.fallback.max_attempts > 0) || cfg.tiers.iter().any(|t| t.escalate.is_some()))
}

/// The headers a re-sent request carries: the client's (as [`resend_header_ok`] keeps them),
/// with `accept-encoding: identity` so the answer's usage is readable.
pub(crate) fn resend_headers(request_headers: &[(String, String)]) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> =
        request_headers.iter().filter(|(k, _)| resend_header_ok(k) && k != "accept-encoding").cloned().collect();
    h.push(("accept-encoding".to_string(), "identity".to_string()));
    h
}

/// The tier a re-send of the answer of `r` would go to, if one is allowed. A stateful request
/// skips the tiers of other provider families: the response it continues is not there.
pub(crate) fn next_tier_of(cfg: &Config, r: &Routing) -> Option<usize> {
    let mut next = next_tier(&cfg.fallback, r.resend.is_some(), r.attempts, r.tier_index)?;
    let Some(family) = r.family.as_deref() else {
        return Some(next);
    };
    // `order` names each tier once, so this walks forward and ends.
    while cfg.tiers.get(next).is_some_and(|t| t.family != family) {
        next = cfg.fallback.next_tier(next)?;
    }
    Some(next)
}

/// The reason to escalate the held answer of `r` with `status` and parsed `body`, if its tier
/// opts in and one applies.
pub(crate) fn escalation_of(cfg: &Config, r: &Routing, status: u16, body: Option<&Value>) -> Option<&'static str> {
    let esc = r.tier_index.and_then(|i| cfg.tiers.get(i)).and_then(|t| t.escalate.as_ref())?;
    let resend = r.resend.as_ref()?;
    let can_retry = next_tier_of(cfg, r).is_some();
    escalation_reason(Some(esc), resend.stream, can_retry, status, body, &resend.expect)
}

/// A re-send to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    /// Index of the tier the request goes to.
    pub(crate) tier: usize,
    /// Its cluster.
    pub(crate) cluster: String,
    /// The request to dispatch.
    pub(crate) call: Resent,
    /// The attempt's counter (the tier and model that failed, the reason).
    pub(crate) count: Emission,
}

/// The next move after an answer of `r` failed (or was unusable) for `kind`.
#[must_use]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Move {
    /// Count the attempt and dispatch it.
    Resend(Box<Attempt>),
    /// No (further) re-send: the held answer goes on.
    GiveUp,
}

/// Decide the next move for the answer of `r` that failed for `kind`; `route` is the route
/// label.
pub(crate) fn next_move(cfg: &Config, r: &Routing, kind: &RetryKind, route: &str) -> Move {
    let next = next_tier_of(cfg, r);
    let (Some(index), Some(tier), Some(resend)) = (next, next.and_then(|n| cfg.tiers.get(n)), r.resend.as_ref()) else {
        return Move::GiveUp;
    };
    let (from_tier, from_model, reason) = (sanitize_label(&r.tier), sanitize_label(&r.model), kind.reason());
    let labels: Vec<(&'static str, String)> = vec![
        (label::ROUTE, route.to_string()),
        (label::API, r.api.label().to_string()),
        (label::TIER, from_tier),
        (label::MODEL, from_model),
        (label::REASON, reason),
    ];
    let count = Emission { counters: vec![Count { name: kind.stat(), labels, value: 1 }], ..Emission::default() };
    Move::Resend(Box::new(Attempt {
        tier: index,
        cluster: tier.cluster.clone(),
        call: resend_request(&resend.headers, &resend.body, &resend.model_spans, &tier.model),
        count,
    }))
}

/// The routing of the re-sent request: the answer will come from tier `tier` of `cfg`.
pub(crate) fn advance(cfg: &Config, r: &mut Routing, tier: usize, kind: &RetryKind) {
    r.retry = Some(kind.label());
    r.attempts = r.attempts.saturating_add(1);
    if let Some(t) = cfg.tiers.get(tier) {
        r.model = t.model.clone();
        r.tier = t.name.clone();
    }
    r.tier_index = Some(tier);
}

/// The response header edits that put a re-sent call's answer in place of the held one: every
/// held header that is neither a pseudo-header nor this router's is removed, then the call's
/// headers (as [`copy_call_header`] keeps them) are set.
pub(crate) fn header_swap(held: &[(String, String)], call: &[(String, String)]) -> Vec<(String, Option<String>)> {
    let removed = held
        .iter()
        .filter(|(k, _)| !k.starts_with(':') && !k.starts_with(names::HEADER_PREFIX))
        .map(|(k, _)| (k.clone(), None));
    let set = call.iter().filter(|(k, _)| copy_call_header(k)).map(|(k, v)| (k.clone(), Some(v.clone())));
    removed.chain(set).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EscalateOn;

    fn fallback(max_attempts: u32, order: Vec<usize>) -> Fallback {
        Fallback { enabled: true, statuses: vec![429, 503], max_attempts, timeout_ms: 1000, order, explicit: false }
    }

    #[test]
    fn kinds_label_count_and_carry_usage() {
        let f = RetryKind::Fallback(503);
        assert_eq!(
            (f.stat(), f.reason(), f.label(), f.first_usage()),
            (stat::FALLBACKS, "status_503".to_string(), "fallback:status_503".to_string(), None)
        );
        let u = Usage { prompt_tokens: 1, completion_tokens: 2, cached_tokens: 0, ..Usage::ZERO };
        let e = RetryKind::Escalation("refusal", Some(u));
        assert_eq!(
            (e.stat(), e.label(), e.first_usage()),
            (stat::ESCALATIONS, "escalation:refusal".to_string(), Some(u))
        );
        assert_eq!(failed_label(Some("fallback:status_503")).as_deref(), Some("fallback:status_503:failed"));
        assert_eq!(failed_label(None), None);
    }

    #[test]
    fn next_tier_follows_the_order_within_the_attempts() {
        let f = fallback(2, vec![0, 1, 2]);
        assert_eq!(next_tier(&f, true, 0, Some(0)), Some(1));
        assert_eq!(next_tier(&f, true, 1, Some(1)), Some(2));
        assert_eq!(next_tier(&f, true, 2, Some(1)), None, "attempts used up");
        assert_eq!(next_tier(&f, true, 0, Some(2)), None, "last in the order");
        assert_eq!(next_tier(&f, false, 0, Some(0)), None, "not resendable");
        assert_eq!(next_tier(&f, true, 0, None), None, "no tier");
        let skipping = fallback(1, vec![2, 0]);
        assert_eq!(next_tier(&skipping, true, 0, Some(2)), Some(0));
        assert_eq!(next_tier(&skipping, true, 0, Some(1)), None, "tier not in the order");
    }

    #[test]
    fn falls_back_only_on_listed_statuses_with_a_body_and_a_next_tier() {
        let f = fallback(1, vec![0, 1]);
        assert!(falls_back(&f, 503, true, Some(1)));
        assert!(!falls_back(&f, 500, true, Some(1)), "status not listed");
        assert!(!falls_back(&f, 503, false, Some(1)), "no body");
        assert!(!falls_back(&f, 503, true, None), "no next tier");
        assert!(!falls_back(&Fallback { enabled: false, ..f }, 503, true, Some(1)), "disabled");
    }

    #[test]
    fn escalation_needs_an_opted_in_tier_a_2xx_and_an_unusable_answer() {
        let esc = Escalate { on: vec![EscalateOn::Empty], refusal_patterns: vec![] };
        let expect = Expectation::default();
        let empty = serde_json::json!({"choices": [{"message": {"content": ""}, "finish_reason": "stop"}]});
        let fine = serde_json::json!({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]});
        assert_eq!(escalation_reason(Some(&esc), false, true, 200, Some(&empty), &expect), Some("empty"));
        assert_eq!(escalation_reason(Some(&esc), false, true, 200, Some(&fine), &expect), None);
        assert_eq!(escalation_reason(None, false, true, 200, Some(&empty), &expect), None, "tier not opted in");
        assert_eq!(escalation_reason(Some(&esc), true, true, 200, Some(&empty), &expect), None, "stream");
        assert_eq!(escalation_reason(Some(&esc), false, false, 200, Some(&empty), &expect), None, "no next tier");
        assert_eq!(escalation_reason(Some(&esc), false, true, 500, Some(&empty), &expect), None, "not a 2xx");
        assert_eq!(escalation_reason(Some(&esc), false, true, 200, None, &expect), None, "not JSON");
    }

    #[test]
    fn header_filters() {
        for dropped in [
            "content-length",
            "transfer-encoding",
            "connection",
            "te",
            "x-llm-router-cluster",
            "x-envoy-expected-rq-timeout-ms",
        ] {
            assert!(!resend_header_ok(dropped), "{dropped}");
        }
        for kept in ["authorization", "content-type", "x-request-id", "accept-encoding"] {
            assert!(resend_header_ok(kept), "{kept}");
        }
        assert!(copy_call_header(":status") && copy_call_header("content-type") && copy_call_header("x-upstream-name"));
        for dropped in [":path", "content-length", "transfer-encoding", "x-llm-router-cost-micro-usd"] {
            assert!(!copy_call_header(dropped), "{dropped}");
        }
    }

    #[test]
    fn resend_request_rewrites_the_model_and_the_length() {
        let headers = vec![("authorization".to_string(), "Bearer k".to_string())];
        let body = br#"{"model":"gpt-5-nano","messages":[]}"#;
        let r = resend_request(&headers, body, &[Range { start: 9, end: 21 }], "claude-haiku-4.5");
        assert_eq!(r.body, br#"{"model":"claude-haiku-4.5","messages":[]}"#);
        assert_eq!(r.headers, vec![headers[0].clone(), ("content-length".to_string(), r.body.len().to_string())]);
        // The spans are the inspect step's: the same request inspected gives them.
        assert_eq!(crate::inspect::inspect(body).unwrap().spans.model, vec![Range { start: 9, end: 21 }]);
    }

    #[test]
    fn call_success_is_a_2xx() {
        assert!(call_succeeded(Some(200)) && call_succeeded(Some(299)));
        assert!(!call_succeeded(Some(199)) && !call_succeeded(Some(503)) && !call_succeeded(None));
    }

    fn config(patch: impl FnOnce(&mut Value)) -> Config {
        let mut v: Value = serde_json::from_str(crate::config::DEFAULT_CONFIG_JSON).unwrap();
        patch(&mut v);
        Config::from_json(v.to_string().as_bytes()).unwrap()
    }

    fn routing(tier: usize, resendable: bool) -> Routing {
        Routing {
            api: crate::api::Api::ChatCompletions,
            requested_model: "auto".into(),
            model: "gpt-5-nano".into(),
            tier: "cheap".into(),
            tier_index: Some(tier),
            score: None,
            reason: "score".into(),
            customer: "-".into(),
            decided: true,
            resend: resendable.then(|| {
                Box::new(crate::routing::Resend {
                    headers: vec![("authorization".into(), "Bearer k".into())],
                    body: br#"{"model":"gpt-5-nano","messages":[]}"#.to_vec(),
                    model_spans: vec![Range { start: 9, end: 21 }],
                    expect: Expectation::default(),
                    stream: false,
                })
            }),
            attempts: 0,
            retry: None,
            strip_usage: false,
            family: None,
            budget: None,
            shadow: None,
        }
    }

    #[test]
    fn the_next_move_counts_and_builds_the_call_or_gives_up() {
        let cfg = config(|_| {});
        let kind = RetryKind::Fallback(503);
        let Move::Resend(a) = next_move(&cfg, &routing(0, true), &kind, "chat") else { panic!("expected a re-send") };
        assert_eq!((a.tier, a.cluster.as_str()), (1, "llm_mid"));
        assert_eq!(a.call.body, br#"{"model":"claude-haiku-4.5","messages":[]}"#);
        let c = &a.count.counters[0];
        assert_eq!((c.name, c.value), (stat::FALLBACKS, 1));
        assert!(
            c.labels.contains(&(label::REASON, "status_503".to_string()))
                && c.labels.contains(&(label::TIER, "cheap".to_string()))
                && c.labels.contains(&(label::API, "chat_completions".to_string()))
        );
        assert_eq!(next_move(&cfg, &routing(0, false), &kind, "chat"), Move::GiveUp, "not resendable");
        assert_eq!(next_move(&cfg, &routing(2, true), &kind, "chat"), Move::GiveUp, "last tier");

        let mut r = routing(0, true);
        advance(&cfg, &mut r, 1, &kind);
        assert_eq!(
            (r.model.as_str(), r.tier.as_str(), r.tier_index, r.attempts),
            ("claude-haiku-4.5", "mid", Some(1), 1)
        );
        assert_eq!(r.retry.as_deref(), Some("fallback:status_503"));
        assert_eq!(next_tier_of(&cfg, &r), None, "one attempt by default");
    }

    #[test]
    fn resending_needs_route_mode_and_a_fallback_or_an_escalating_tier() {
        assert!(may_resend(&config(|_| {})));
        assert!(!may_resend(&config(|v| v["mode"] = "measure".into())));
        let no_fallback = |v: &mut Value| v["fallback"] = serde_json::json!({"max_attempts": 0});
        assert!(may_resend(&config(no_fallback)), "the shipped cheap tier escalates");
        assert!(!may_resend(&config(|v| {
            no_fallback(v);
            v["tiers"][0].as_object_mut().unwrap().remove("escalate");
        })));
        let h = resend_headers(&[
            ("accept-encoding".into(), "gzip".into()),
            ("content-length".into(), "9".into()),
            ("authorization".into(), "Bearer k".into()),
        ]);
        assert_eq!(h, vec![("authorization".into(), "Bearer k".into()), ("accept-encoding".into(), "identity".into())]);
    }

    #[test]
    fn escalation_reads_the_tier_of_the_routing() {
        let esc = serde_json::json!({"on": ["empty"]});
        let cfg = config(|v| v["tiers"][0]["escalate"] = esc);
        let empty = serde_json::json!({"choices": [{"message": {"content": ""}, "finish_reason": "stop"}]});
        assert_eq!(escalation_of(&cfg, &routing(0, true), 200, Some(&empty)), Some("empty"));
        assert_eq!(escalation_of(&cfg, &routing(1, true), 200, Some(&empty)), None, "tier not opted in");
        assert_eq!(escalation_of(&cfg, &routing(0, false), 200, Some(&empty)), None, "not resendable");
    }

    #[test]
    fn the_header_swap_keeps_pseudo_and_own_headers() {
        let held = vec![
            (":status".into(), "503".into()),
            ("x-llm-router-tier".into(), "cheap".into()),
            ("content-type".into(), "text/plain".into()),
        ];
        let call = vec![
            (":status".into(), "200".into()),
            ("content-type".into(), "application/json".into()),
            ("content-length".into(), "9".into()),
        ];
        assert_eq!(
            header_swap(&held, &call),
            vec![
                ("content-type".to_string(), None),
                (":status".to_string(), Some("200".to_string())),
                ("content-type".to_string(), Some("application/json".to_string())),
            ]
        );
    }
}
