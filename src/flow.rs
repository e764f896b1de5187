//! One request through the filter, as a small state machine over [`Phase`].
//!
//! Request side: strip client headers in the filter's namespace (always, on every request),
//! then for `POST` to an inspected path pause the headers, buffer the body, parse it, decide a
//! tier, rewrite `model` (+ `stream_options.include_usage` for streams), fix `content-length`
//! and set the cluster header. Anything that cannot be inspected passes through untouched
//! (fail-open, counted in `llm_router_errors_total{kind}`), or gets an OpenAI-shaped JSON 400
//! with `fail_closed: true`.
//!
//! Response side: decision headers are added when response headers arrive. Non-streaming JSON
//! with a `content-length` up to `max_response_bytes` is held and buffered so cost headers can
//! be added; a larger or chunked body is not held (headers go out at once) and a copy of up to
//! `max_response_bytes` is kept to read usage at the end, for stats and access log only. SSE
//! streams are never held: each chunk goes through an incremental scanner, and at the end one
//! SSE comment line `: llm-router {json}` carrying the cost is appended (clients ignore
//! comments; HTTP/1.1 responses have no trailers to put it in).
//!
//! Fallback and escalation: when the routed upstream answers a configured failure status
//! (429/5xx by default; Envoy's own answers for resets and timeouts are 503/504), nothing has
//! reached the client yet because the response headers are held; the failed body is buffered,
//! the request is re-sent with `dispatch_http_call` to the next tier's cluster with `model`
//! rewritten, and the held response is replaced by the new answer. Quality escalation works the
//! same way for a held, usable-looking but unusable non-streaming answer of a tier that opts in.
//! If the re-sent call fails too, the original answer goes on unchanged.
//!
//! Accounting happens exactly once per inspected request: at the end of the response, or in
//! `on_log` if the response never completed (then as `usage_missing`). Escalated requests add
//! the cost of the first answer to the cost of the one the client receives.

use serde::Serialize;
use serde_json::Value;

use crate::config::{ExplicitModel, Mode};
use crate::host::{Host, Level};
use crate::names::{self, label, stat, state};
use crate::policy::Decision;
use crate::quality::Expectation;
use crate::request::{self, ChatRequest, RequestError};
use crate::retry::{self, RetryKind};
use crate::router::{sanitize_label, Router};
use crate::sse::SseScanner;
use crate::usage::{self, Usage};

/// What the host should do after a callback.
///
/// `#[must_use]`: dropping it is a bug, not a shortcut. The host must stop or go on exactly as
/// told; above all after [`RequestFlow::on_call_response`], where `Pause` means another re-send
/// is in flight and resuming would deliver the failed answer.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let the data go on.
    Continue,
    /// Hold it (headers: stop iteration; body: buffer).
    Pause,
}

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
}

impl Status {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Priced => "priced",
            Status::Unpriced => "unpriced",
            Status::UsageMissing => "usage_missing",
        }
    }
}

/// The answer of a re-sent request (`dispatch_http_call`), as the host hands it over.
#[derive(Debug, Clone, Default)]
pub struct CallResponse {
    /// Response headers including `:status`.
    pub headers: Vec<(String, String)>,
    /// Whole response body.
    pub body: Vec<u8>,
}

impl CallResponse {
    fn status(&self) -> Option<u16> {
        header(&self.headers, ":status").and_then(|v| v.trim().parse().ok())
    }
}

/// The first value of header `name` (lowercase) in a header list fetched from the host.
fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// What a re-send needs: the request as it went upstream.
#[derive(Debug, Clone)]
struct Resend {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    expect: Expectation,
    stream: bool,
}

/// Everything known about a routed request.
#[derive(Debug, Clone)]
struct Routing {
    requested_model: String,
    /// Model the request went to (route mode) or would go to (measure mode).
    model: String,
    tier: String,
    tier_index: Option<usize>,
    score: Option<f32>,
    reason: String,
    customer: String,
    /// The policy decided (alias, `route_anyway` or measure mode); else passed through.
    decided: bool,
    /// Present when a fallback or escalation may re-send this request.
    resend: Option<Box<Resend>>,
    /// Re-sends made so far.
    attempts: u32,
    /// Cost of earlier answers that the client did not receive (escalation), micro-USD.
    prior_cost: u64,
    /// `fallback:<reason>` / `escalation:<reason>` once the answer came from a re-send.
    retry: Option<String>,
    /// The router added `stream_options.include_usage` to a stream request: the usage-only
    /// chunk it causes is read and removed from the answer, which keeps the shape the client
    /// asked for.
    strip_usage: bool,
}

impl Routing {
    fn score_str(&self) -> String {
        self.score.map_or_else(|| "-".to_string(), |s| format!("{s:.4}"))
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
    /// `fallback:<reason>` or `escalation:<reason>` when a re-send produced the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
}

/// Request phases.
#[derive(Debug)]
enum Phase {
    /// Nothing seen yet.
    Start,
    /// Not inspected; everything passes untouched.
    Skipped,
    /// Inspected path, waiting for the whole request body.
    AwaitBody { headers: Vec<(String, String)>, customer: String, resend_headers: Option<Vec<(String, String)>> },
    /// Request sent on; waiting for response headers.
    Routed(Box<Routing>),
    /// Response headers held; buffering a JSON body.
    Buffering(Box<Routing>),
    /// Response headers sent; copying up to the cap of a JSON body.
    Copying(Box<Routing>, Vec<u8>, bool),
    /// SSE stream being scanned.
    Streaming(Box<Routing>, Box<SseScanner>),
    /// Upstream failed; its headers are held and its body buffered until it ends.
    Failing(Box<Routing>, u16),
    /// A re-send is in flight; the response is held. `original` is the routing of the answer
    /// being held, which goes on if the re-send fails.
    Calling { routing: Box<Routing>, kind: RetryKind, original: Box<Routing> },
    /// Accounted.
    Done,
}

/// The per-request state machine.
#[derive(Debug)]
pub struct RequestFlow {
    phase: Phase,
}

impl Default for RequestFlow {
    fn default() -> Self {
        RequestFlow { phase: Phase::Start }
    }
}

fn openai_error(message: &str, code: &str) -> String {
    serde_json::json!({
        "error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}
    })
    .to_string()
}

impl RequestFlow {
    /// A new flow.
    pub fn new() -> Self {
        Self::default()
    }

    /// Request headers arrived.
    ///
    /// The header map is fetched from the host once and every lookup reads that copy (each
    /// host call costs a VM exit).
    pub fn on_request_headers<H: Host>(&mut self, router: &Router, host: &mut H, end_of_stream: bool) -> Action {
        let all = host.request_headers();
        for (name, _) in &all {
            if name.starts_with(names::HEADER_PREFIX) {
                host.set_request_header(name, None);
            }
        }
        let get = |name: &str| header(&all, name);
        let cfg = &router.config;
        if get(":method") != Some("POST") || !cfg.inspects_path(get(":path").unwrap_or_default()) {
            self.phase = Phase::Skipped;
            return Action::Continue;
        }
        if end_of_stream {
            return self.fail(router, host, "empty_body", "request body is empty");
        }
        if let Some(len) = get("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
            if len > cfg.max_request_bytes {
                return self.too_large(router, host);
            }
        }
        let headers = router
            .rule_headers()
            .iter()
            .filter_map(|n| get(n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let raw_customer = cfg.customer.as_ref().and_then(|c| get(&c.header));
        let (customer, overflow) = router.customer_label(raw_customer);
        if overflow {
            host.counter(stat::CUSTOMER_OVERFLOW, &[], 1);
        }
        // Usage must be readable: ask the upstream for an unencoded response.
        host.set_request_header("accept-encoding", Some("identity"));
        let may_resend = cfg.mode == Mode::Route
            && ((cfg.fallback.enabled && cfg.fallback.max_attempts > 0) || cfg.tiers.iter().any(|t| t.escalate.is_some()));
        let resend_headers = may_resend.then(|| {
            let mut h: Vec<(String, String)> = all
                .iter()
                .filter(|(k, _)| retry::resend_header_ok(k) && k != "accept-encoding")
                .cloned()
                .collect();
            h.push(("accept-encoding".to_string(), "identity".to_string()));
            h
        });
        self.phase = Phase::AwaitBody { headers, customer, resend_headers };
        Action::Pause
    }

    fn too_large<H: Host>(&mut self, router: &Router, host: &mut H) -> Action {
        let limit = router.config.max_request_bytes;
        self.fail(router, host, "too_large", &format!("request body over max_request_bytes ({limit})"))
    }

    /// Count and log a request that cannot be inspected, then pass it through (fail-open) or
    /// answer 400 (fail-closed).
    fn fail<H: Host>(&mut self, router: &Router, host: &mut H, kind: &str, message: &str) -> Action {
        host.counter(stat::ERRORS, &[(label::KIND, kind)], 1);
        host.set_state(state::STATUS, "error");
        self.phase = Phase::Skipped;
        if router.config.fail_closed {
            host.log(Level::Info, &format!("llm-router: rejected request ({kind}): {message}"));
            host.send_json_response(400, &openai_error(&format!("llm-router: {message}"), kind));
            return Action::Pause;
        }
        host.log(Level::Info, &format!("llm-router: passing request through uninspected ({kind}): {message}"));
        Action::Continue
    }

    /// A request body chunk arrived (`body_size` is the total buffered so far).
    pub fn on_request_body<H: Host>(&mut self, router: &Router, host: &mut H, body_size: usize, end_of_stream: bool) -> Action {
        if !matches!(self.phase, Phase::AwaitBody { .. }) {
            return Action::Continue;
        }
        if body_size > router.config.max_request_bytes {
            return self.too_large(router, host);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let Phase::AwaitBody { headers, customer, resend_headers } = std::mem::replace(&mut self.phase, Phase::Skipped) else {
            return Action::Continue;
        };
        let Some(body) = host.request_body(body_size) else {
            return self.fail(router, host, "no_body", "request body could not be read");
        };
        let started = host.now_nanos();
        let mut value = match request::parse_body(&body) {
            Ok(v) => v,
            Err(e) => return self.fail(router, host, e.kind(), &e.to_string()),
        };
        let (mut routing, rewrite_model, force_usage, expect) = match Self::route(router, &value, headers, customer) {
            Ok(r) => r,
            Err(e) => return self.fail(router, host, e.kind(), &e.to_string()),
        };
        let elapsed_us = host.now_nanos().saturating_sub(started) / 1000;
        host.histogram(stat::DECISION_TIME_US, &[], elapsed_us);

        if router.config.mode == Mode::Route {
            if let Some(t) = routing.tier_index.and_then(|i| router.config.tiers.get(i)) {
                host.set_request_header(names::HEADER_CLUSTER, Some(&t.cluster));
            }
            let sent = match request::rewrite_body(&body, &mut value, rewrite_model.as_deref(), force_usage) {
                Some(new_body) => {
                    host.replace_request_body(&new_body);
                    host.set_request_header("content-length", Some(&new_body.len().to_string()));
                    // A changed body with `force_usage` has the member the client did not send.
                    routing.strip_usage = force_usage;
                    new_body
                }
                None => body,
            };
            let resendable = routing.decided || router.config.fallback.explicit;
            if let (Some(headers), true) = (resend_headers, resendable && routing.tier_index.is_some()) {
                let stream = value.get("stream").and_then(Value::as_bool).unwrap_or(false);
                routing.resend = Some(Box::new(Resend { headers, body: sent, expect, stream }));
            }
        }
        self.phase = Phase::Routed(Box::new(routing));
        Action::Continue
    }

    /// Decide for a parsed body. Returns the routing, the model to write (if any), whether to
    /// force `include_usage`, and what the client expects of the answer.
    fn route(
        router: &Router,
        value: &Value,
        headers: Vec<(String, String)>,
        customer: String,
    ) -> Result<(Routing, Option<String>, bool, Expectation), RequestError> {
        let cfg = &router.config;
        let req = ChatRequest::try_from(value)?;
        let is_alias = cfg.is_alias(req.model);
        let decide = is_alias || cfg.explicit_model == ExplicitModel::RouteAnyway || cfg.mode == Mode::Measure;
        let decision = if decide { Some(router.decide(&req, headers)) } else { None };
        let (tier_index, score, reason) = match &decision {
            Some(Decision { tier, score, reason }) => (Some(*tier), *score, reason.clone()),
            None => (cfg.tier_for_model(req.model), None, "explicit".to_string()),
        };
        let tier = tier_index.and_then(|i| cfg.tiers.get(i));
        let model = match (&decision, tier) {
            (Some(_), Some(t)) => t.model.clone(),
            _ => req.model.to_string(),
        };
        let routing = Routing {
            requested_model: req.model.to_string(),
            model,
            tier: tier.map_or_else(|| "none".to_string(), |t| t.name.clone()),
            tier_index,
            score,
            reason,
            customer,
            decided: decision.is_some(),
            resend: None,
            attempts: 0,
            prior_cost: 0,
            retry: None,
            strip_usage: false,
        };
        let rewrite_model = decision.is_some().then(|| routing.model.clone());
        let force_usage = req.stream && !req.include_usage;
        let expect = Expectation { max_tokens: req.max_tokens, response_format: req.response_format.map(str::to_string) };
        Ok((routing, rewrite_model, force_usage, expect))
    }

    /// The decision's filter-state values; written once, at accounting time (every routed
    /// request is accounted, at the latest in `on_log`, which runs before the access log).
    fn write_decision_state<H: Host>(&self, router: &Router, host: &mut H, r: &Routing) {
        host.set_state(state::REQUESTED_MODEL, &r.requested_model);
        host.set_state(state::SCORE, &r.score_str());
        host.set_state(state::REASON, &r.reason);
        host.set_state(state::MODE, router.config.mode.as_str());
        host.set_state(state::CUSTOMER, &r.customer);
        host.set_state(state::PRICE_VERSION, router.config.prices.version());
    }

    fn set_decision_headers<H: Host>(router: &Router, host: &mut H, r: &Routing) {
        host.set_response_header(names::HEADER_MODEL, Some(&r.model));
        host.set_response_header(names::HEADER_TIER, Some(&r.tier));
        host.set_response_header(names::HEADER_SCORE, Some(&r.score_str()));
        host.set_response_header(names::HEADER_REASON, Some(&r.reason));
        host.set_response_header(names::HEADER_MODE, Some(router.config.mode.as_str()));
        host.set_response_header(names::HEADER_PRICE_VERSION, Some(router.config.prices.version()));
        if let Some(retry) = &r.retry {
            host.set_response_header(names::HEADER_RETRY, Some(retry));
        }
    }

    /// The tier a re-send of `r` would go to, if one is allowed.
    fn next_tier(router: &Router, r: &Routing) -> Option<usize> {
        retry::next_tier(&router.config.fallback, r.resend.is_some(), r.attempts, r.tier_index)
    }

    /// Response headers arrived.
    pub fn on_response_headers<H: Host>(&mut self, router: &Router, host: &mut H, end_of_stream: bool) -> Action {
        // Only this filter speaks in its namespace: an upstream cannot forge cost or decision
        // headers, whether or not this response gets ours.
        let all = host.response_headers();
        for (name, _) in &all {
            if name.starts_with(names::HEADER_PREFIX) {
                host.set_response_header(name, None);
            }
        }
        let get = |name: &str| header(&all, name);
        let routing = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Routed(r) => r,
            other => {
                self.phase = other;
                return Action::Continue;
            }
        };
        let status: u16 = get(":status").and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        if retry::falls_back(&router.config.fallback, status, !end_of_stream, Self::next_tier(router, &routing)) {
            self.phase = Phase::Failing(routing, status);
            return Action::Pause;
        }
        Self::set_decision_headers(router, host, &routing);
        if end_of_stream {
            let acc = self.account(router, host, &routing, None);
            set_cost_headers(host, &acc);
            return Action::Continue;
        }
        let content_type = get("content-type").unwrap_or_default().to_ascii_lowercase();
        if content_type.contains("text/event-stream") {
            // The stream's length changes (the final comment, a removed usage chunk).
            if get("content-length").is_some() {
                host.set_response_header("content-length", None);
            }
            self.phase = Phase::Streaming(routing, Box::new(SseScanner::new(router.config.max_response_bytes)));
            return Action::Continue;
        }
        let encoded = get("content-encoding").is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
        let length = get("content-length").and_then(|v| v.trim().parse::<usize>().ok());
        match length {
            Some(n) if n <= router.config.max_response_bytes && !encoded => {
                self.phase = Phase::Buffering(routing);
                Action::Pause
            }
            _ => {
                self.phase = Phase::Copying(routing, Vec::new(), encoded);
                Action::Continue
            }
        }
    }

    /// A response body chunk arrived (`body_size` is the chunk, or all buffered while held).
    pub fn on_response_body<H: Host>(&mut self, router: &Router, host: &mut H, body_size: usize, end_of_stream: bool) -> Action {
        match &mut self.phase {
            Phase::Failing(_, _) | Phase::Calling { .. } => {
                if !end_of_stream {
                    return Action::Pause;
                }
                match std::mem::replace(&mut self.phase, Phase::Done) {
                    Phase::Failing(routing, status) => self.start_retry(router, host, routing, RetryKind::Fallback(status), None),
                    other => {
                        self.phase = other;
                        Action::Pause
                    }
                }
            }
            Phase::Buffering(_) => {
                if !end_of_stream {
                    return Action::Pause;
                }
                let Phase::Buffering(routing) = std::mem::replace(&mut self.phase, Phase::Done) else {
                    return Action::Continue;
                };
                let body = host.response_body(body_size).unwrap_or_default();
                let parsed: Option<Value> = serde_json::from_slice(&body).ok();
                let usage = parsed.as_ref().and_then(|v| usage::usage_from_value(v).ok());
                if let Some(reason) = Self::escalation_reason(router, &routing, parsed.as_ref(), host) {
                    return self.start_retry(router, host, routing, RetryKind::Escalation(reason, usage), None);
                }
                let acc = self.account(router, host, &routing, usage);
                set_cost_headers(host, &acc);
                Action::Continue
            }
            Phase::Copying(_, copy, encoded) => {
                if !*encoded && copy.len() + body_size <= router.config.max_response_bytes {
                    if let Some(chunk) = host.response_body(body_size) {
                        copy.extend_from_slice(&chunk);
                    }
                } else {
                    *encoded = true; // unreadable: stop copying
                }
                if end_of_stream {
                    if let Phase::Copying(routing, copy, unreadable) = std::mem::replace(&mut self.phase, Phase::Done) {
                        let usage = if unreadable { None } else { usage::usage_from_json(&copy).ok() };
                        self.account(router, host, &routing, usage);
                    }
                }
                Action::Continue
            }
            Phase::Streaming(routing, scanner) => {
                let strip = routing.strip_usage;
                let chunk = if body_size > 0 { host.response_body(body_size) } else { Some(Vec::new()) };
                // The bytes to forward instead of the chunk, when the usage-only chunk is removed.
                let mut edited = Vec::new();
                match &chunk {
                    Some(c) if strip => scanner.push_edit(c, &mut edited),
                    Some(c) => scanner.push(c),
                    None => {}
                }
                let ended = if end_of_stream {
                    match std::mem::replace(&mut self.phase, Phase::Done) {
                        Phase::Streaming(routing, mut scanner) => {
                            if strip {
                                scanner.finish_edit(&mut edited);
                            } else {
                                scanner.finish();
                            }
                            Some(self.account(router, host, &routing, scanner.usage()))
                        }
                        _ => None,
                    }
                } else {
                    None
                };
                // An unreadable chunk is left as it is rather than replaced by nothing.
                if strip && chunk.is_some_and(|c| c != edited) {
                    host.replace_response_body(&edited);
                }
                if let Some(acc) = ended {
                    host.append_response_body(sse_comment(&acc).as_bytes());
                }
                Action::Continue
            }
            _ => Action::Continue,
        }
    }

    /// The reason to escalate a held 2xx answer, if its tier opts in and one applies.
    fn escalation_reason<H: Host>(router: &Router, r: &Routing, body: Option<&Value>, host: &H) -> Option<&'static str> {
        let esc = r.tier_index.and_then(|i| router.config.tiers.get(i)).and_then(|t| t.escalate.as_ref())?;
        let resend = r.resend.as_ref()?;
        let status: u16 = host.response_header(":status").and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        let can_retry = Self::next_tier(router, r).is_some();
        retry::escalation_reason(Some(esc), resend.stream, can_retry, status, body, &resend.expect)
    }

    /// Re-send the request to the next tier. Returns `Pause` while the call is in flight, or
    /// lets the held response go on if no call could be made. `original` is the routing of the
    /// held answer when this is a further attempt.
    fn start_retry<H: Host>(
        &mut self,
        router: &Router,
        host: &mut H,
        mut routing: Box<Routing>,
        kind: RetryKind,
        original: Option<Box<Routing>>,
    ) -> Action {
        let next = Self::next_tier(router, &routing);
        let (Some(tier), Some(resend)) = (next.and_then(|n| router.config.tiers.get(n)), routing.resend.as_ref()) else {
            return self.give_up(router, host, original.unwrap_or(routing), kind);
        };
        let original = original.unwrap_or_else(|| routing.clone());
        let route = route_label(host);
        let reason = kind.reason();
        let (from_tier, from_model) = (sanitize_label(&routing.tier), sanitize_label(&routing.model));
        host.counter(
            kind.stat(),
            &[(label::ROUTE, &route), (label::TIER, &from_tier), (label::MODEL, &from_model), (label::REASON, &reason)],
            1,
        );
        let call = retry::resend_request(&resend.headers, &resend.body, &tier.model);
        if !host.dispatch_call(&tier.cluster, &call.headers, &call.body, router.config.fallback.timeout_ms) {
            host.log(Level::Warn, &format!("llm-router: could not re-send to cluster `{}`", tier.cluster));
            return self.give_up(router, host, original, kind);
        }
        routing.retry = Some(kind.label());
        routing.attempts += 1;
        routing.model = tier.model.clone();
        routing.tier = tier.name.clone();
        routing.tier_index = next;
        self.phase = Phase::Calling { routing, kind, original };
        Action::Pause
    }

    /// No (further) re-send: let the held original answer go on, accounted as it is.
    fn give_up<H: Host>(&mut self, router: &Router, host: &mut H, original: Box<Routing>, kind: RetryKind) -> Action {
        Self::set_decision_headers(router, host, &original);
        let acc = self.account(router, host, &original, kind.first_usage());
        set_cost_headers(host, &acc);
        self.phase = Phase::Done;
        Action::Continue
    }

    /// The answer of a re-sent request arrived (`None`: the call failed or timed out).
    /// `Continue`: the host resumes the held response, which now carries the final answer.
    /// `Pause`: the next tier's call is in flight; the host must keep the response held.
    pub fn on_call_response<H: Host>(&mut self, router: &Router, host: &mut H, response: Option<CallResponse>) -> Action {
        let (mut routing, kind, original) = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Calling { routing, kind, original } => (routing, kind, original),
            other => {
                self.phase = other;
                return Action::Continue;
            }
        };
        let ok = retry::call_succeeded(response.as_ref().and_then(CallResponse::status));
        let Some(resp) = response.filter(|_| ok) else {
            // The re-send failed: try the tier after it if allowed, else the original goes on.
            if Self::next_tier(router, &routing).is_some() {
                return self.start_retry(router, host, routing, kind, Some(original));
            }
            host.log(Level::Info, "llm-router: re-sent request failed; the original answer goes on");
            let mut original = original;
            original.retry = retry::failed_label(routing.retry.as_deref());
            return self.give_up(router, host, original, kind);
        };
        let route = route_label(host);
        if let RetryKind::Escalation(_, first_usage) = &kind {
            routing.prior_cost += self.count_tokens_and_cost(router, host, &original, *first_usage, &route).unwrap_or(0);
        }
        let stream = routing.resend.as_ref().is_some_and(|r| r.stream);
        let (mut body, usage) = retry::read_answer(resp.body, stream, routing.strip_usage, router.config.max_response_bytes);
        for (name, _) in host.response_headers() {
            if !name.starts_with(':') && !name.starts_with(names::HEADER_PREFIX) {
                host.set_response_header(&name, None);
            }
        }
        for (name, value) in resp.headers.iter().filter(|(k, _)| retry::copy_call_header(k)) {
            host.set_response_header(name, Some(value));
        }
        Self::set_decision_headers(router, host, &routing);
        let acc = self.account(router, host, &routing, usage);
        if stream {
            body.extend_from_slice(sse_comment(&acc).as_bytes());
        } else {
            set_cost_headers(host, &acc);
        }
        host.set_response_header("content-length", Some(&body.len().to_string()));
        host.replace_response_body(&body);
        self.phase = Phase::Done;
        Action::Continue
    }

    /// The stream is being logged (always last): account for requests that never completed.
    pub fn on_log<H: Host>(&mut self, router: &Router, host: &mut H) {
        let routing = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Routed(r) | Phase::Buffering(r) | Phase::Copying(r, _, _) | Phase::Failing(r, _) => r,
            Phase::Calling { original, kind: RetryKind::Escalation(_, usage), .. } => {
                self.account(router, host, &original, usage);
                return;
            }
            Phase::Calling { original, .. } => original,
            Phase::Streaming(r, mut s) => {
                s.finish();
                let usage = s.usage();
                self.account(router, host, &r, usage);
                return;
            }
            _ => return,
        };
        self.account(router, host, &routing, None);
    }

    /// Count tokens and cost of one answer under its model's labels; returns its cost.
    fn count_tokens_and_cost<H: Host>(&self, router: &Router, host: &mut H, r: &Routing, usage: Option<Usage>, route: &str) -> Option<u64> {
        let cfg = &router.config;
        let u = usage?;
        let (tier, model) = (sanitize_label(&r.tier), sanitize_label(&r.model));
        let base: [(&str, &str); 5] = [
            (label::ROUTE, route),
            (label::TIER, &tier),
            (label::MODEL, &model),
            (label::CUSTOMER, &r.customer),
            (label::MODE, cfg.mode.as_str()),
        ];
        host.counter(stat::INPUT_TOKENS, &base, u.prompt_tokens);
        host.counter(stat::OUTPUT_TOKENS, &base, u.completion_tokens);
        host.counter(stat::CACHED_TOKENS, &base, u.cached_tokens);
        let cost = cfg.prices.cost_micro_usd(&r.model, &u).ok()?;
        host.counter(stat::COST, &base, cost);
        Some(cost)
    }

    /// Price, count and record one request. Called once.
    fn account<H: Host>(&self, router: &Router, host: &mut H, r: &Routing, usage: Option<Usage>) -> Accounting {
        let cfg = &router.config;
        let prices = &cfg.prices;
        let route = route_label(host);
        let answer_cost = self.count_tokens_and_cost(router, host, r, usage, &route);
        let (status, cost, baseline) = match &usage {
            None => (Status::UsageMissing, None, None),
            Some(u) => {
                let baseline = prices.cost_micro_usd(&cfg.baseline_model, u).ok();
                match answer_cost {
                    Some(c) => (Status::Priced, Some(c.saturating_add(r.prior_cost)), baseline),
                    None => (Status::Unpriced, None, baseline),
                }
            }
        };
        let u = usage.unwrap_or_default();
        let acc = Accounting {
            model: r.model.clone(),
            tier: r.tier.clone(),
            status,
            input_tokens: u.prompt_tokens,
            output_tokens: u.completion_tokens,
            cached_tokens: u.cached_tokens,
            cost_micro_usd: cost,
            baseline_cost_micro_usd: baseline,
            price_version: prices.version().to_string(),
            retry: r.retry.clone(),
        };

        let (tier, model, mode) = (sanitize_label(&r.tier), sanitize_label(&r.model), cfg.mode.as_str());
        let base: [(&str, &str); 5] = [
            (label::ROUTE, &route),
            (label::TIER, &tier),
            (label::MODEL, &model),
            (label::CUSTOMER, &r.customer),
            (label::MODE, mode),
        ];
        let [b0, b1, b2, b3, b4] = base;
        let reason = sanitize_label(&r.reason);
        let decision_stat = if r.decided { stat::DECISIONS } else { stat::PASSTHROUGH };
        host.counter(decision_stat, &[b0, b1, b4, (label::REASON, &reason)], 1);
        host.counter(stat::REQUESTS, &[b0, b1, b2, b3, b4, (label::STATUS, status.as_str())], 1);
        match status {
            Status::UsageMissing => host.counter(stat::USAGE_MISSING, &base, 1),
            Status::Unpriced => host.counter(stat::UNPRICED, &base, 1),
            Status::Priced => {}
        }
        if let Some(c) = cost {
            host.histogram(stat::REQUEST_COST, &[b0, b1, b2, b4], c);
        }
        if let (Some(b), Some(_)) = (baseline, cost) {
            host.counter(stat::BASELINE_COST, &base, b);
        }

        self.write_decision_state(router, host, r);
        host.set_state(state::MODEL, &r.model);
        host.set_state(state::TIER, &r.tier);
        host.set_state(state::STATUS, status.as_str());
        host.set_state(state::INPUT_TOKENS, &u.prompt_tokens.to_string());
        host.set_state(state::OUTPUT_TOKENS, &u.completion_tokens.to_string());
        host.set_state(state::CACHED_TOKENS, &u.cached_tokens.to_string());
        host.set_state(state::COST, &cost.map_or_else(String::new, |c| c.to_string()));
        host.set_state(state::BASELINE_COST, &baseline.map_or_else(String::new, |c| c.to_string()));
        host.set_state(state::RETRY, r.retry.as_deref().unwrap_or(""));
        acc
    }
}

/// The route label: Envoy's route name once the route is final.
fn route_label<H: Host>(host: &H) -> String {
    sanitize_label(&host.route_name().filter(|n| !n.is_empty()).unwrap_or_else(|| "unknown".to_string()))
}

fn sse_comment(acc: &Accounting) -> String {
    let json = serde_json::to_string(acc).unwrap_or_default();
    format!(": llm-router {json}\n\n")
}

fn set_cost_headers<H: Host>(host: &mut H, acc: &Accounting) {
    host.set_response_header(names::HEADER_STATUS, Some(acc.status.as_str()));
    if let Some(c) = acc.cost_micro_usd {
        host.set_response_header(names::HEADER_COST, Some(&c.to_string()));
    }
    if let Some(b) = acc.baseline_cost_micro_usd {
        host.set_response_header(names::HEADER_BASELINE_COST, Some(&b.to_string()));
    }
}
