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
//! Accounting happens exactly once per inspected request: at the end of the response, or in
//! `on_log` if the response never completed (then as `usage_missing`).

use serde::Serialize;

use crate::config::{ExplicitModel, Mode};
use crate::host::{Host, Level};
use crate::names::{self, label, stat, state};
use crate::policy::Decision;
use crate::request::{self, ChatRequest, RequestError};
use crate::router::{sanitize_label, Router};
use crate::sse::SseScanner;
use crate::usage::{self, Usage};

/// What the host should do after a callback.
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

/// Everything known about a routed request.
#[derive(Debug, Clone)]
struct Routing {
    requested_model: String,
    /// Model the request went to (route mode) or would go to (measure mode).
    model: String,
    tier: String,
    score: Option<f32>,
    reason: String,
    customer: String,
    /// The policy decided (alias, `route_anyway` or measure mode); else passed through.
    decided: bool,
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
    /// Cost in micro-USD (absent unless priced).
    pub cost_micro_usd: Option<u64>,
    /// Baseline cost in micro-USD (absent when usage is missing).
    pub baseline_cost_micro_usd: Option<u64>,
    /// Price table version.
    pub price_version: String,
}

/// Request phases.
#[derive(Debug)]
enum Phase {
    /// Nothing seen yet.
    Start,
    /// Not inspected; everything passes untouched.
    Skipped,
    /// Inspected path, waiting for the whole request body.
    AwaitBody { headers: Vec<(String, String)>, customer: String },
    /// Request sent on; waiting for response headers.
    Routed(Box<Routing>),
    /// Response headers held; buffering a JSON body.
    Buffering(Box<Routing>),
    /// Response headers sent; copying up to the cap of a JSON body.
    Copying(Box<Routing>, Vec<u8>, bool),
    /// SSE stream being scanned.
    Streaming(Box<Routing>, Box<SseScanner>),
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
    pub fn on_request_headers<H: Host>(&mut self, router: &Router, host: &mut H, end_of_stream: bool) -> Action {
        for name in host.request_header_names() {
            if name.starts_with(names::HEADER_PREFIX) {
                host.set_request_header(&name, None);
            }
        }
        let cfg = &router.config;
        let method = host.request_header(":method").unwrap_or_default();
        let path = host.request_header(":path").unwrap_or_default();
        if method != "POST" || !cfg.inspects_path(&path) {
            self.phase = Phase::Skipped;
            return Action::Continue;
        }
        if end_of_stream {
            return self.fail(router, host, "empty_body", "request body is empty");
        }
        if let Some(len) = host.request_header("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
            if len > cfg.max_request_bytes {
                return self.too_large(router, host);
            }
        }
        let headers = router
            .rule_headers()
            .iter()
            .filter_map(|n| host.request_header(n).map(|v| (n.clone(), v)))
            .collect();
        let raw_customer = cfg.customer.as_ref().and_then(|c| host.request_header(&c.header));
        let (customer, overflow) = router.customer_label(raw_customer.as_deref());
        if overflow {
            host.counter(stat::CUSTOMER_OVERFLOW, &[], 1);
        }
        // Usage must be readable: ask the upstream for an unencoded response.
        host.set_request_header("accept-encoding", Some("identity"));
        self.phase = Phase::AwaitBody { headers, customer };
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
        let Phase::AwaitBody { headers, customer } = std::mem::replace(&mut self.phase, Phase::Skipped) else {
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
        let (routing, rewrite_model, force_usage) = match Self::route(router, &value, headers, customer) {
            Ok(r) => r,
            Err(e) => return self.fail(router, host, e.kind(), &e.to_string()),
        };
        let elapsed_us = host.now_nanos().saturating_sub(started) / 1000;
        host.histogram(stat::DECISION_TIME_US, &[], elapsed_us);

        if router.config.mode == Mode::Route {
            if let Some(tier) = router.config.tier_for_model(&routing.model) {
                if let Some(t) = router.config.tiers.get(tier) {
                    host.set_request_header(names::HEADER_CLUSTER, Some(&t.cluster));
                }
            }
            if let Some(new_body) = request::rewrite(&mut value, rewrite_model.as_deref(), force_usage) {
                host.replace_request_body(&new_body);
                host.set_request_header("content-length", Some(&new_body.len().to_string()));
            }
        }
        self.write_decision_state(router, host, &routing);
        self.phase = Phase::Routed(Box::new(routing));
        Action::Continue
    }

    /// Decide for a parsed body. Returns the routing, the model to write (if any) and whether
    /// to force `include_usage`.
    fn route(
        router: &Router,
        value: &serde_json::Value,
        headers: Vec<(String, String)>,
        customer: String,
    ) -> Result<(Routing, Option<String>, bool), RequestError> {
        let cfg = &router.config;
        let req = ChatRequest::try_from(value)?;
        let is_alias = cfg.is_alias(req.model);
        let decide = is_alias || cfg.explicit_model == ExplicitModel::RouteAnyway || cfg.mode == Mode::Measure;
        let decision = if decide {
            Some(router.decide(&req, headers))
        } else {
            None
        };
        let routing = match &decision {
            Some(Decision { tier, score, reason }) => {
                let t = cfg.tiers.get(*tier);
                Routing {
                    requested_model: req.model.to_string(),
                    model: t.map_or_else(|| req.model.to_string(), |t| t.model.clone()),
                    tier: t.map_or_else(|| "none".to_string(), |t| t.name.clone()),
                    score: *score,
                    reason: reason.clone(),
                    customer,
                    decided: true,
                }
            }
            None => Routing {
                requested_model: req.model.to_string(),
                model: req.model.to_string(),
                tier: cfg
                    .tier_for_model(req.model)
                    .and_then(|i| cfg.tiers.get(i))
                    .map_or_else(|| "none".to_string(), |t| t.name.clone()),
                score: None,
                reason: "explicit".to_string(),
                customer,
                decided: false,
            },
        };
        let rewrite_model = decision.is_some().then(|| routing.model.clone());
        let force_usage = req.stream && !req.include_usage;
        Ok((routing, rewrite_model, force_usage))
    }

    fn write_decision_state<H: Host>(&self, router: &Router, host: &mut H, r: &Routing) {
        host.set_state(state::REQUESTED_MODEL, &r.requested_model);
        host.set_state(state::MODEL, &r.model);
        host.set_state(state::TIER, &r.tier);
        host.set_state(state::SCORE, &r.score_str());
        host.set_state(state::REASON, &r.reason);
        host.set_state(state::MODE, router.config.mode.as_str());
        host.set_state(state::CUSTOMER, &r.customer);
        host.set_state(state::PRICE_VERSION, router.config.prices.version());
    }

    /// Response headers arrived.
    pub fn on_response_headers<H: Host>(&mut self, router: &Router, host: &mut H, end_of_stream: bool) -> Action {
        let routing = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Routed(r) => r,
            other => {
                self.phase = other;
                return Action::Continue;
            }
        };
        host.set_response_header(names::HEADER_MODEL, &routing.model);
        host.set_response_header(names::HEADER_TIER, &routing.tier);
        host.set_response_header(names::HEADER_SCORE, &routing.score_str());
        host.set_response_header(names::HEADER_REASON, &routing.reason);
        host.set_response_header(names::HEADER_MODE, router.config.mode.as_str());
        host.set_response_header(names::HEADER_PRICE_VERSION, router.config.prices.version());
        if end_of_stream {
            let acc = self.account(router, host, &routing, None);
            set_cost_headers(host, &acc);
            return Action::Continue;
        }
        let content_type = host.response_header("content-type").unwrap_or_default().to_ascii_lowercase();
        if content_type.contains("text/event-stream") {
            self.phase = Phase::Streaming(routing, Box::new(SseScanner::new(router.config.max_response_bytes)));
            return Action::Continue;
        }
        let encoded = host
            .response_header("content-encoding")
            .is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
        let length = host.response_header("content-length").and_then(|v| v.trim().parse::<usize>().ok());
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
            Phase::Buffering(_) => {
                if !end_of_stream {
                    return Action::Pause;
                }
                let Phase::Buffering(routing) = std::mem::replace(&mut self.phase, Phase::Done) else {
                    return Action::Continue;
                };
                let usage = host.response_body(body_size).and_then(|b| usage::usage_from_json(&b).ok());
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
            Phase::Streaming(_, scanner) => {
                if body_size > 0 {
                    if let Some(chunk) = host.response_body(body_size) {
                        scanner.push(&chunk);
                    }
                }
                if end_of_stream {
                    if let Phase::Streaming(routing, mut scanner) = std::mem::replace(&mut self.phase, Phase::Done) {
                        scanner.finish();
                        let acc = self.account(router, host, &routing, scanner.usage());
                        let json = serde_json::to_string(&acc).unwrap_or_default();
                        host.append_response_body(format!(": llm-router {json}\n\n").as_bytes());
                    }
                }
                Action::Continue
            }
            _ => Action::Continue,
        }
    }

    /// The stream is being logged (always last): account for requests that never completed.
    pub fn on_log<H: Host>(&mut self, router: &Router, host: &mut H) {
        let routing = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Routed(r) | Phase::Buffering(r) | Phase::Copying(r, _, _) => r,
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

    /// Price, count and record one request. Called once.
    fn account<H: Host>(&self, router: &Router, host: &mut H, r: &Routing, usage: Option<Usage>) -> Accounting {
        let cfg = &router.config;
        let prices = &cfg.prices;
        let (status, cost, baseline) = match &usage {
            None => (Status::UsageMissing, None, None),
            Some(u) => {
                let baseline = prices.cost_micro_usd(&cfg.baseline_model, u).ok();
                match prices.cost_micro_usd(&r.model, u) {
                    Ok(c) => (Status::Priced, Some(c), baseline),
                    Err(_) => (Status::Unpriced, None, baseline),
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
        };

        // Envoy fills in the route name only once the router filter has run, so it is read
        // here, at the end, when the route is final.
        let route = host.route_name().filter(|n| !n.is_empty()).unwrap_or_else(|| "unknown".to_string());
        let values = [
            sanitize_label(&route),
            sanitize_label(&r.tier),
            sanitize_label(&r.model),
            r.customer.clone(),
            cfg.mode.as_str().to_string(),
        ];
        let [route, tier, model, customer, mode] = &values;
        let base: [(&str, &str); 5] = [
            (label::ROUTE, route),
            (label::TIER, tier),
            (label::MODEL, model),
            (label::CUSTOMER, customer),
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
        if usage.is_some() {
            host.counter(stat::INPUT_TOKENS, &base, u.prompt_tokens);
            host.counter(stat::OUTPUT_TOKENS, &base, u.completion_tokens);
            host.counter(stat::CACHED_TOKENS, &base, u.cached_tokens);
        }
        if let Some(c) = cost {
            host.counter(stat::COST, &base, c);
            host.histogram(stat::REQUEST_COST, &[b0, b1, b2, b4], c);
        }
        if let (Some(b), Some(_)) = (baseline, cost) {
            host.counter(stat::BASELINE_COST, &base, b);
        }

        host.set_state(state::STATUS, status.as_str());
        host.set_state(state::INPUT_TOKENS, &u.prompt_tokens.to_string());
        host.set_state(state::OUTPUT_TOKENS, &u.completion_tokens.to_string());
        host.set_state(state::CACHED_TOKENS, &u.cached_tokens.to_string());
        host.set_state(state::COST, &cost.map_or_else(String::new, |c| c.to_string()));
        host.set_state(state::BASELINE_COST, &baseline.map_or_else(String::new, |c| c.to_string()));
        acc
    }
}

fn set_cost_headers<H: Host>(host: &mut H, acc: &Accounting) {
    host.set_response_header(names::HEADER_STATUS, acc.status.as_str());
    if let Some(c) = acc.cost_micro_usd {
        host.set_response_header(names::HEADER_COST, &c.to_string());
    }
    if let Some(b) = acc.baseline_cost_micro_usd {
        host.set_response_header(names::HEADER_BASELINE_COST, &b.to_string());
    }
}
