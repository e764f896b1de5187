//! One request through the filter, as a small state machine over [`Phase`].
//!
//! Request side: strip client headers in the filter's namespace (always, on every request),
//! then for `POST` to an inspected path pause the headers, buffer the body, inspect it, decide a
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
//!
//! This module keeps the phases and the `on_*` entry points; each step is pure and lives in
//! its own file: [`crate::routing`] decides, [`crate::reader`] reads an answer's usage (chosen
//! once per response), [`crate::retry`] picks the next move of a fallback or escalation,
//! [`crate::accounting`] computes what an accounting writes and [`crate::emit`] performs it.

use crate::accounting::{self, Headers};
use crate::api::Api;
use crate::budget;
use crate::config::Mode;
use crate::emit;
use crate::host::{header, Host, Level};
pub use crate::host::{Action, CallResponse};
use crate::inspect;
use crate::names::{self, value};
use crate::reader::{self, Read, UsageReader};
use crate::retry::{self, RetryKind};
use crate::router::Router;
use crate::routing::{self, Cap, Ceiling, Resend, Routed, Routing};
use crate::shadow;
use crate::splice;

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
    /// Reading the answer with the reader its headers chose (held JSON, copied JSON, SSE);
    /// the answer's status, which escalation reads.
    Reading(Box<Routing>, UsageReader, u16),
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
    /// The API of the request, from its path; every callback after the request headers uses
    /// that API's section of the router.
    api: Api,
}

impl Default for RequestFlow {
    fn default() -> Self {
        RequestFlow { phase: Phase::Start, api: Api::ChatCompletions }
    }
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
        let found =
            if get(":method") == Some("POST") { router.for_path(get(":path").unwrap_or_default()) } else { None };
        let Some((api, router)) = found else {
            self.phase = Phase::Skipped;
            return Action::Continue;
        };
        self.api = api;
        let cfg = &router.config;
        if end_of_stream {
            return self.fail(router, host, "empty_body", "request body is empty");
        }
        if let Some(len) = get("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
            if len > cfg.max_request_bytes {
                return self.too_large(router, host);
            }
        }
        let headers = router.rule_headers().iter().filter_map(|n| get(n).map(|v| (n.clone(), v.to_string()))).collect();
        let raw_customer = cfg.customer.as_ref().and_then(|c| get(&c.header));
        let (customer, overflow) = router.customer_label(raw_customer);
        if overflow {
            emit::emit(host, &accounting::customer_overflow());
        }
        // Usage must be readable: ask the upstream for an unencoded response.
        host.set_request_header("accept-encoding", Some("identity"));
        let resend_headers = retry::may_resend(cfg).then(|| retry::resend_headers(&all));
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
        emit::emit(host, &accounting::rejected(self.api, kind));
        self.phase = Phase::Skipped;
        if router.config.fail_closed {
            host.log(Level::Info, &format!("llm-router: rejected request ({kind}): {message}"));
            host.send_json_response(400, &[], &self.api.error_body(&format!("llm-router: {message}"), kind));
            return Action::Pause;
        }
        host.log(Level::Info, &format!("llm-router: passing request through uninspected ({kind}): {message}"));
        Action::Continue
    }

    /// A request body chunk arrived (`body_size` is the total buffered so far).
    pub fn on_request_body<H: Host>(
        &mut self,
        router: &Router,
        host: &mut H,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        let router = router.for_api(self.api);
        if !matches!(self.phase, Phase::AwaitBody { .. }) {
            return Action::Continue;
        }
        if body_size > router.config.max_request_bytes {
            return self.too_large(router, host);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let Phase::AwaitBody { headers, customer, resend_headers } = std::mem::replace(&mut self.phase, Phase::Skipped)
        else {
            return Action::Continue;
        };
        let Some(body) = host.request_body(body_size) else {
            return self.fail(router, host, "no_body", "request body could not be read");
        };
        let started = host.now_nanos();
        let inspected = match self.api.inspect(&body) {
            Ok(i) => i,
            Err(e) => return self.fail(router, host, e.kind(), &e.to_string()),
        };
        let ceiling_header = router.config.cost_ceiling.as_ref().and_then(|c| {
            let name = c.header.as_deref()?;
            headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone())
        });
        let budget = router.config.budget.as_ref().filter(|b| b.of(&customer).is_some());
        // The clock is read only for a customer with a budget (each host call is a VM exit).
        let now_s = if budget.is_some() { host.now_nanos() / 1_000_000_000 } else { 0 };
        let standing = budget.and_then(|b| {
            let stored = host.shared_get(&budget::key(&customer));
            b.standing(&customer, stored.as_ref().map(|(v, _)| v.as_slice()), now_s)
        });
        let enforce = router.config.mode == Mode::Route;
        let pace = standing.filter(|_| enforce).map_or(0.0, |s| s.pace);
        let mut routed = routing::route(router, &inspected.request, headers, customer, pace);
        routed.routing.budget = standing.map(|s| (s.remaining(), s.pace));
        let elapsed_us = host.now_nanos().saturating_sub(started) / 1000;
        emit::emit(host, &accounting::decision_time(elapsed_us));
        if let (Some(b), Some(s), true) = (budget, standing, enforce) {
            let cap = if s.at_cap() { Some(routing::apply_cap(&router.config, b, &mut routed)) } else { None };
            let action = match cap {
                Some(Cap::Reject) => Some(value::ACTION_REJECT),
                Some(Cap::Cheapest) => Some(value::ACTION_CHEAPEST),
                Some(Cap::Allow) => None,
                None => (routed.routing.reason == value::REASON_BUDGET_PACE).then_some(value::ACTION_PACED),
            };
            if let Some(action) = action {
                let route = accounting::route_label(host.route_name().as_deref());
                emit::emit(host, &accounting::budget_action(self.api, &route, &routed.routing.customer, action));
            }
            if cap == Some(Cap::Reject) {
                let retry_after = s.window.end.saturating_sub(now_s).max(1).to_string();
                let message = format!(
                    "customer {} has spent its budget of {} micro-USD for this period ({} spent); it renews in {retry_after} s",
                    routed.routing.customer, s.budget, s.spent
                );
                host.log(Level::Info, &format!("llm-router: rejected request (budget_cap): {message}"));
                let body = self.api.error_body(&format!("llm-router: {message}"), value::BUDGET_CAP_REJECT);
                host.send_json_response(429, &[("retry-after", &retry_after)], &body);
                self.phase = Phase::Skipped;
                return Action::Pause;
            }
        }
        if let (Some(c), Mode::Route) = (&router.config.cost_ceiling, router.config.mode) {
            if let Some(limit) = c.limit(ceiling_header.as_deref(), || host.route_name()) {
                let outcome = routing::apply_ceiling(&router.config, c, limit, &inspected.request, &mut routed);
                if outcome != Ceiling::Within {
                    let route = accounting::route_label(host.route_name().as_deref());
                    let rejected = matches!(outcome, Ceiling::Reject(_));
                    emit::emit(host, &accounting::cost_ceiling(self.api, &route, rejected));
                }
                if let Ceiling::Reject(message) = outcome {
                    host.log(Level::Info, &format!("llm-router: rejected request (cost_ceiling): {message}"));
                    let body = self.api.error_body(&format!("llm-router: {message}"), value::COST_CEILING_REJECT);
                    host.send_json_response(400, &[], &body);
                    self.phase = Phase::Skipped;
                    return Action::Pause;
                }
            }
        }
        let Routed { mut routing, rewrite_model, force_usage, expect, stream } = routed;

        if router.config.mode == Mode::Route {
            if let Some(t) = routing.tier_index.and_then(|i| router.config.tiers.get(i)) {
                host.set_request_header(names::HEADER_CLUSTER, Some(&t.cluster));
            }
            shadow::sample(&router.config, host, &mut routing, &body);
            // Only a model that differs is written (the last `model` member is the one read).
            let model = rewrite_model.as_deref().filter(|m| *m != inspected.request.model);
            let edit = splice::Edit { model, add_usage: force_usage };
            let inspect::Inspected { request, spans } = inspected;
            // The request borrows the body, which goes on (or into the re-send) below.
            drop(request);
            let (sent, model_spans) = match splice::rewrite(&body, &spans, edit) {
                Some(new) => {
                    host.replace_request_body(&new.body);
                    host.set_request_header("content-length", Some(&new.body.len().to_string()));
                    // A changed body with `force_usage` has the member the client did not send.
                    routing.strip_usage = force_usage;
                    (new.body, new.model)
                }
                None => (body, spans.model),
            };
            let resendable = routing.decided || router.config.fallback.explicit;
            if let (Some(headers), true) = (resend_headers, resendable && routing.tier_index.is_some()) {
                routing.resend = Some(Box::new(Resend { headers, body: sent, model_spans, expect, stream }));
            }
        }
        self.phase = Phase::Routed(Box::new(routing));
        Action::Continue
    }

    /// Response headers arrived.
    pub fn on_response_headers<H: Host>(&mut self, router: &Router, host: &mut H, end_of_stream: bool) -> Action {
        let router = router.for_api(self.api);
        // Only this filter speaks in its namespace: an upstream cannot forge cost or decision
        // headers, whether or not this response gets ours.
        let all = host.response_headers();
        for (name, _) in &all {
            if name.starts_with(names::HEADER_PREFIX) {
                host.set_response_header(name, None);
            }
        }
        let get = |name: &str| header(&all, name);
        let mut routing = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Routed(r) => r,
            other => {
                self.phase = other;
                return Action::Continue;
            }
        };
        let status: u16 = get(":status").and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        if retry::falls_back(
            &router.config.fallback,
            status,
            !end_of_stream,
            retry::next_tier_of(&router.config, &routing),
        ) {
            self.phase = Phase::Failing(routing, status);
            return Action::Pause;
        }
        if end_of_stream {
            let acc = emit::account(router, host, &routing, None, None, Headers::All);
            shadow::submit(&router.config, host, &mut routing, status, acc.as_ref());
            return Action::Continue;
        }
        emit::set_headers(host, &accounting::decision_headers(&router.config, &routing));
        let reader = UsageReader::choose(
            self.api,
            get("content-type"),
            get("content-length"),
            get("content-encoding"),
            router.config.max_response_bytes,
            routing.strip_usage,
        );
        if reader.changes_length() && get("content-length").is_some() {
            host.set_response_header("content-length", None);
        }
        let action = if reader.holds() { Action::Pause } else { Action::Continue };
        self.phase = Phase::Reading(routing, reader, status);
        action
    }

    /// A response body chunk arrived (`body_size` is the chunk, or all buffered while held).
    pub fn on_response_body<H: Host>(
        &mut self,
        router: &Router,
        host: &mut H,
        body_size: usize,
        end_of_stream: bool,
    ) -> Action {
        let router = router.for_api(self.api);
        match &mut self.phase {
            Phase::Failing(_, _) | Phase::Calling { .. } => {
                if !end_of_stream {
                    return Action::Pause;
                }
                match std::mem::replace(&mut self.phase, Phase::Done) {
                    Phase::Failing(routing, status) => {
                        self.start_retry(router, host, routing, RetryKind::Fallback(status), None)
                    }
                    other => {
                        self.phase = other;
                        Action::Pause
                    }
                }
            }
            Phase::Reading(routing, reader, _) => {
                if reader.holds() && !end_of_stream {
                    return Action::Pause;
                }
                let wanted = reader.wants(body_size, end_of_stream);
                // A shadow-sampled answer is copied whatever the reader needs of it.
                let capture = routing.shadow.as_deref_mut();
                let chunk = match (wanted || capture.is_some(), body_size) {
                    (false, _) => None,
                    (true, 0) => Some(Vec::new()),
                    (true, n) => host.response_body(n),
                };
                if let (Some(c), Some(bytes)) = (capture, chunk.as_deref()) {
                    c.push(bytes);
                }
                let forward = reader.push(chunk.as_deref().filter(|_| wanted), end_of_stream);
                if let Some(bytes) = forward {
                    host.replace_response_body(&bytes);
                }
                if !end_of_stream {
                    return Action::Continue;
                }
                let Phase::Reading(mut routing, reader, status) = std::mem::replace(&mut self.phase, Phase::Done)
                else {
                    return Action::Continue;
                };
                let (held, stream) = (reader.holds(), reader.changes_length());
                let Read { usage, json } = reader.finish();
                if held {
                    if let Some(reason) = retry::escalation_of(&router.config, &routing, status, json.as_ref()) {
                        return self.start_retry(router, host, routing, RetryKind::Escalation(reason, usage), None);
                    }
                }
                let headers = if held { Headers::Cost } else { Headers::None };
                let acc = emit::account(router, host, &routing, usage, None, headers);
                shadow::submit(&router.config, host, &mut routing, status, acc.as_ref());
                if let (true, Some(acc)) = (stream, acc) {
                    host.append_response_body(acc.sse_comment().as_bytes());
                }
                Action::Continue
            }
            _ => Action::Continue,
        }
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
        let route = accounting::route_label(host.route_name().as_deref());
        let retry::Move::Resend(attempt) = retry::next_move(&router.config, &routing, &kind, &route) else {
            return self.give_up(router, host, original.unwrap_or(routing), kind);
        };
        let retry::Attempt { tier, cluster, call, count } = *attempt;
        let original = original.unwrap_or_else(|| routing.clone());
        emit::emit(host, &count);
        if host.dispatch_call(&cluster, &call.headers, &call.body, router.config.fallback.timeout_ms).is_none() {
            host.log(Level::Warn, &format!("llm-router: could not re-send to cluster `{cluster}`"));
            return self.give_up(router, host, original, kind);
        }
        retry::advance(&router.config, &mut routing, tier, &kind);
        self.phase = Phase::Calling { routing, kind, original };
        Action::Pause
    }

    /// No (further) re-send: let the held original answer go on, accounted as it is.
    fn give_up<H: Host>(
        &mut self,
        router: &Router,
        host: &mut H,
        mut original: Box<Routing>,
        kind: RetryKind,
    ) -> Action {
        let acc = emit::account(router, host, &original, kind.first_usage(), None, Headers::All);
        // An escalated answer was a 2xx (escalation reads only those); a fallback's, its status.
        let status = if let RetryKind::Fallback(s) = kind { s } else { 200 };
        shadow::submit(&router.config, host, &mut original, status, acc.as_ref());
        self.phase = Phase::Done;
        Action::Continue
    }

    /// The answer of a re-sent request arrived (`None`: the call failed or timed out).
    /// `Continue`: the host resumes the held response, which now carries the final answer.
    /// `Pause`: the next tier's call is in flight; the host must keep the response held.
    pub fn on_call_response<H: Host>(
        &mut self,
        router: &Router,
        host: &mut H,
        response: Option<CallResponse>,
    ) -> Action {
        let router = router.for_api(self.api);
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
            if retry::next_tier_of(&router.config, &routing).is_some() {
                return self.start_retry(router, host, routing, kind, Some(original));
            }
            host.log(Level::Info, "llm-router: re-sent request failed; the original answer goes on");
            let mut original = original;
            original.retry = retry::failed_label(routing.retry.as_deref());
            return self.give_up(router, host, original, kind);
        };
        let stream = routing.resend.as_ref().is_some_and(|r| r.stream);
        if let Some(c) = routing.shadow.as_deref_mut() {
            c.set_answer(&resp.body);
        }
        let status = resp.status().unwrap_or(0);
        let (mut body, usage) =
            reader::read_whole(self.api, resp.body, stream, routing.strip_usage, router.config.max_response_bytes);
        for (name, value) in retry::header_swap(&host.response_headers(), &resp.headers) {
            host.set_response_header(&name, value.as_deref());
        }
        // An escalated request also pays for the answer the client did not get.
        let earlier = match &kind {
            RetryKind::Escalation(_, first_usage) => Some((&*original, *first_usage)),
            RetryKind::Fallback(_) => None,
        };
        let headers = if stream { Headers::Decision } else { Headers::All };
        let acc = emit::account(router, host, &routing, usage, earlier, headers);
        shadow::submit(&router.config, host, &mut routing, status, acc.as_ref());
        if let (true, Some(acc)) = (stream, acc) {
            body.extend_from_slice(acc.sse_comment().as_bytes());
        }
        host.set_response_header("content-length", Some(&body.len().to_string()));
        host.replace_response_body(&body);
        self.phase = Phase::Done;
        Action::Continue
    }

    /// The stream is being logged (always last): account for requests that never completed.
    pub fn on_log<H: Host>(&mut self, router: &Router, host: &mut H) {
        let router = router.for_api(self.api);
        let routing = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Routed(r) | Phase::Failing(r, _) => r,
            Phase::Calling { original, kind: RetryKind::Escalation(_, usage), .. } => {
                emit::account(router, host, &original, usage, None, Headers::None);
                shadow::abandon(host, &original);
                return;
            }
            Phase::Calling { original, .. } => original,
            // A stream the client stopped reading (an SDK closes it after the last event) is
            // sampled with what passed so far.
            Phase::Reading(mut r, reader, status) => {
                let acc = emit::account(router, host, &r, reader.abandon(), None, Headers::None);
                shadow::submit(&router.config, host, &mut r, status, acc.as_ref());
                return;
            }
            _ => return,
        };
        emit::account(router, host, &routing, None, None, Headers::None);
        shadow::abandon(host, &routing);
    }
}
