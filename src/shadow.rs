//! Shadow sampling: a configured share of the requests routed below a reference tier are also
//! sent to that tier after the client's answer is complete, and both answers go to the
//! operator's sample sink as one record ([`crate::shadow_record`]). See `docs/shadow.md`.
//!
//! The decision is made when the request is routed ([`decide`]: one random draw, only for a
//! tier with a rate above 0), so only sampled requests keep their body and a capped copy of
//! their answer ([`Capture`]). When the answer has ended and been accounted, the flow hands a
//! [`Job`] to the host ([`crate::host::Host::shadow`]), which queues it in the VM's [`Shadows`]:
//! the answer of a call an HTTP context makes never reaches it once its stream is gone (checked
//! with Envoy 1.40), so the reference call and the sink POST are made from the root context
//! ([`Shadows::tick`], [`Shadows::on_call_response`]). Nothing of this changes or delays what
//! the client gets.
//!
//! The shadow budget (`budget_micro_usd_per_minute`) is kept per API section and per VM (one
//! per Envoy worker): a call is made only while the minute's spend is under it; each call
//! reserves the estimated cost of the routed answer's tokens on the reference model, replaced
//! by the actual cost when the answer arrives within the same minute.

use std::collections::{HashMap, VecDeque};

use crate::accounting::{Accounting, Status};
use crate::api::Api;
use crate::config::{Config, Mode};
use crate::flow::CallResponse;
use crate::host::{Host, Level};
use crate::names::{label, stat, value};
use crate::router::Router;
use crate::routing::Routing;
use crate::shadow_call;
use crate::shadow_record::{self, Answer};
use crate::usage::Usage;

/// SplitMix64: the core has no RNG and a sampling draw needs no cryptographic quality. The
/// glue seeds one per VM from the clock; tests fix the draws through the fake host.
#[derive(Debug, Clone)]
pub struct Prng(u64);

impl Prng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Prng {
        Prng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A draw as a uniform number in `[0, 1)` (its top 53 bits).
pub fn unit(draw: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)] // 53 bits are exact in an f64
    let x = (draw >> 11) as f64;
    x / (1u64 << 53) as f64
}

/// Whether a routed request is sampled: route mode, a decided (not passed-through) request of
/// a tier with a rate above 0 (so below the reference tier), not stateful (a continued
/// Responses conversation lives with one provider), and the draw under the rate. `draw` is
/// called only when everything else holds.
pub(crate) fn decide(cfg: &Config, r: &Routing, draw: impl FnOnce() -> u64) -> bool {
    let Some(shadow) = cfg.shadow.as_ref().filter(|_| cfg.mode == Mode::Route) else {
        return false;
    };
    let rate = r.tier_index.filter(|_| r.decided && r.family.is_none()).map_or(0.0, |i| shadow.rate(i));
    rate > 0.0 && unit(draw()) < rate
}

/// What the flow keeps of a sampled request until its answer ends.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    /// The client's `x-request-id`.
    pub(crate) request_id: Option<String>,
    /// The headers a re-send keeps ([`crate::retry::resend_headers`]).
    pub(crate) headers: Vec<(String, String)>,
    /// The request body as the client sent it.
    pub(crate) body: Vec<u8>,
    /// The raw answer bytes, up to `cap`.
    pub(crate) answer: Vec<u8>,
    /// Most answer bytes kept.
    pub(crate) cap: usize,
    /// More answer bytes came than were kept.
    pub(crate) truncated: bool,
}

impl Capture {
    /// Keep `chunk` of the answer, up to the cap.
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        let room = self.cap.saturating_sub(self.answer.len());
        if chunk.len() > room {
            self.truncated = true;
        }
        self.answer.extend_from_slice(chunk.get(..room).unwrap_or(chunk));
    }

    /// Replace the answer with a whole one (a re-sent call's).
    pub(crate) fn set_answer(&mut self, body: &[u8]) {
        self.answer.clear();
        self.truncated = false;
        self.push(body);
    }
}

/// A finished sampled request, handed from its HTTP context to the VM's [`Shadows`].
#[derive(Debug, Clone)]
pub struct Job {
    pub(crate) api: Api,
    pub(crate) route: String,
    pub(crate) customer: String,
    pub(crate) tier: String,
    pub(crate) score: Option<f32>,
    pub(crate) reason: String,
    pub(crate) model: String,
    /// The routed answer's status.
    pub(crate) status: u16,
    /// The routed answer's tokens (input, output), when its usage was read.
    pub(crate) tokens: Option<(u64, u64)>,
    pub(crate) cost: Option<u64>,
    pub(crate) capture: Capture,
    /// When the routed answer ended (Unix nanoseconds).
    pub(crate) ended_ns: u64,
    /// The queue cap of the section.
    pub(crate) max_queued: usize,
}

/// The job of a sampled request whose answer (`status`) ended and was accounted as `acc`;
/// `None` when the request was not sampled. The capture (the request body and the answer copy)
/// moves out of `r` into the job: the request is done with it.
pub(crate) fn job(
    cfg: &Config,
    r: &mut Routing,
    route: &str,
    status: u16,
    acc: Option<&Accounting>,
    now_ns: u64,
) -> Option<Job> {
    let shadow = cfg.shadow.as_ref()?;
    let capture = *r.shadow.take()?;
    let usage_read = acc.is_some_and(|a| matches!(a.status, Status::Priced | Status::Unpriced));
    Some(Job {
        api: r.api,
        route: route.to_string(),
        customer: r.customer.clone(),
        tier: r.tier.clone(),
        score: r.score,
        reason: r.reason.clone(),
        model: r.model.clone(),
        status,
        tokens: acc.filter(|_| usage_read).map(|a| (a.input_tokens, a.output_tokens)),
        cost: acc.and_then(|a| a.cost_micro_usd),
        capture,
        ended_ns: now_ns,
        max_queued: shadow.max_queued,
    })
}

/// Sample a request just routed, if [`decide`] says so: keep its body and the headers a
/// re-send keeps (read from the host only now), and mark it in filter state. It is counted
/// when its answer ends ([`submit`], [`abandon`]), under the route label its accounting has
/// (Envoy's route is only final once the cluster header has been read).
pub(crate) fn sample<H: Host>(cfg: &Config, host: &mut H, r: &mut Routing, body: &[u8]) {
    if !decide(cfg, r, || host.random()) {
        return;
    }
    let all = host.request_headers();
    let request_id = all.iter().find(|(k, _)| k == "x-request-id").map(|(_, v)| v.clone());
    r.shadow = Some(Box::new(Capture {
        request_id,
        headers: crate::retry::resend_headers(&all),
        body: body.to_vec(),
        answer: Vec::new(),
        cap: cfg.max_response_bytes,
        truncated: false,
    }));
    host.set_state(crate::names::state::SHADOW, value::SHADOW_SAMPLED);
}

/// Hand the sample of `r` (if it was sampled), whose answer with `status` ended and was
/// accounted as `acc`, to the root context; its capture moves out of `r`. An answer that came
/// from the reference tier or above (after a fallback or escalation) has nothing to compare
/// with and is skipped.
pub(crate) fn submit<H: Host>(cfg: &Config, host: &mut H, r: &mut Routing, status: u16, acc: Option<&Accounting>) {
    if r.shadow.is_none() {
        return;
    }
    let route = crate::accounting::route_label(host.route_name().as_deref());
    count(host, &route, r.api, &r.tier, value::SHADOW_SAMPLED);
    let below = matches!((r.tier_index, cfg.shadow.as_ref()), (Some(i), Some(s)) if i < s.reference);
    if !below {
        count(host, &route, r.api, &r.tier, value::SHADOW_SKIPPED_TIER);
        return;
    }
    let now = host.now_nanos();
    let Some(job) = job(cfg, r, &route, status, acc, now) else {
        return;
    };
    if !host.shadow(Box::new(job)) {
        count(host, &route, r.api, &r.tier, value::SHADOW_SKIPPED_QUEUE);
    }
}

/// Count a sampled request that never got an answer to compare.
pub(crate) fn abandon<H: Host>(host: &mut H, r: &Routing) {
    if r.shadow.is_some() {
        let route = crate::accounting::route_label(host.route_name().as_deref());
        count(host, &route, r.api, &r.tier, value::SHADOW_SAMPLED);
        count(host, &route, r.api, &r.tier, value::SHADOW_ABANDONED);
    }
}

/// Count one shadow `outcome` of a request routed to `tier`.
pub(crate) fn count<H: Host>(host: &mut H, route: &str, api: Api, tier: &str, outcome: &str) {
    host.counter(
        stat::SHADOW,
        &[(label::ROUTE, route), (label::API, api.label()), (label::TIER, tier), (label::OUTCOME, outcome)],
        1,
    );
}

/// A section's shadow settings and its reference tier, `None` when the section has no `shadow`
/// (a job is only made for a section that has one; this keeps a mismatch from panicking).
fn reference_of(cfg: &Config) -> Option<(&crate::shadow_config::Shadow, &crate::config::Tier)> {
    let shadow = cfg.shadow.as_ref()?;
    Some((shadow, cfg.tiers.get(shadow.reference)?))
}

/// Shadow spend of one API section in one minute (per VM).
#[derive(Debug, Default, Clone, Copy)]
struct Spend {
    minute: u64,
    micro_usd: u64,
}

/// A call made from the root context, by token.
#[derive(Debug)]
enum InFlight {
    /// A reference call; `estimate` was reserved in `minute`.
    Reference { job: Box<Job>, estimate: u64, minute: u64 },
    /// A sink POST.
    Sink,
}

/// The shadow state of one VM, owned by the root context: sampled requests waiting for their
/// reference call, calls in flight, and the spend of the current minute.
#[derive(Debug, Default)]
pub struct Shadows {
    queue: VecDeque<Box<Job>>,
    in_flight: HashMap<u32, InFlight>,
    spend: [Spend; 3],
}

fn api_index(api: Api) -> usize {
    match api {
        Api::ChatCompletions => 0,
        Api::Messages => 1,
        Api::Responses => 2,
    }
}

impl Shadows {
    /// Queue a finished sampled request; false (the job is dropped) when `max_queued` samples
    /// already wait for or are in their reference call (each holds a request body and an answer
    /// copy, so a slow reference tier must not pile them up).
    pub fn push(&mut self, job: Box<Job>) -> bool {
        let references = self.in_flight.values().filter(|f| matches!(f, InFlight::Reference { .. })).count();
        if self.queue.len() + references >= job.max_queued {
            return false;
        }
        self.queue.push_back(job);
        true
    }

    /// Requests waiting and calls in flight.
    pub fn pending(&self) -> (usize, usize) {
        (self.queue.len(), self.in_flight.len())
    }

    /// Make the reference calls of every queued request (from the root context).
    pub fn tick<H: Host>(&mut self, router: &Router, host: &mut H) {
        while let Some(job) = self.queue.pop_front() {
            self.start(router, host, job);
        }
    }

    fn start<H: Host>(&mut self, router: &Router, host: &mut H, job: Box<Job>) {
        let cfg = &router.for_api(job.api).config;
        let Some((shadow, reference)) = reference_of(cfg) else {
            return;
        };
        let minute = host.now_nanos() / 60_000_000_000;
        let Some(spend) = self.spend.get_mut(api_index(job.api)) else {
            return;
        };
        if spend.minute != minute {
            *spend = Spend { minute, micro_usd: 0 };
        }
        if spend.micro_usd >= shadow.budget_micro_usd_per_minute {
            count(host, &job.route, job.api, &job.tier, value::SHADOW_SKIPPED_BUDGET);
            return;
        }
        let estimate = job.tokens.map_or(0, |(input, output)| {
            let usage = Usage { prompt_tokens: input, completion_tokens: output, ..Usage::ZERO };
            cfg.prices.cost_micro_usd(&reference.model, &usage).unwrap_or(0)
        });
        let Some(call) = shadow_call::reference_call(&job.capture.headers, &job.capture.body, &reference.model) else {
            host.log(Level::Info, "llm-router: shadow sample skipped: its request body is not a JSON object");
            count(host, &job.route, job.api, &job.tier, value::SHADOW_DISPATCH_FAILED);
            return;
        };
        match host.dispatch_call(&reference.cluster, &call.headers, &call.body, shadow.reference_timeout_ms) {
            Some(token) => {
                spend.micro_usd = spend.micro_usd.saturating_add(estimate);
                self.in_flight.insert(token, InFlight::Reference { job, estimate, minute });
            }
            None => {
                host.log(Level::Warn, &format!("llm-router: could not send a shadow call to `{}`", reference.cluster));
                count(host, &job.route, job.api, &job.tier, value::SHADOW_DISPATCH_FAILED);
            }
        }
    }

    /// The answer of a call made from the root context (`None`: failed or timed out). Returns
    /// false for a token this state did not make.
    pub fn on_call_response<H: Host>(
        &mut self,
        router: &Router,
        host: &mut H,
        token: u32,
        response: Option<CallResponse>,
    ) -> bool {
        match self.in_flight.remove(&token) {
            None => false,
            Some(InFlight::Sink) => {
                if !crate::retry::call_succeeded(response.as_ref().and_then(CallResponse::status)) {
                    host.counter(stat::SHADOW_SINK_FAILURES, &[], 1);
                }
                true
            }
            Some(InFlight::Reference { job, estimate, minute }) => {
                self.finish(router, host, &job, estimate, minute, response);
                true
            }
        }
    }

    fn finish<H: Host>(
        &mut self,
        router: &Router,
        host: &mut H,
        job: &Job,
        estimate: u64,
        minute: u64,
        response: Option<CallResponse>,
    ) {
        let cfg = &router.for_api(job.api).config;
        let Some((shadow, reference)) = reference_of(cfg) else {
            return;
        };
        let answer = Answer::of_reference(job.api, &cfg.prices, &reference.model, response, cfg.max_response_bytes);
        let cost = answer.cost.unwrap_or(0);
        if let Some(spend) = self.spend.get_mut(api_index(job.api)).filter(|s| s.minute == minute) {
            spend.micro_usd = spend.micro_usd.saturating_sub(estimate).saturating_add(cost);
        }
        let outcome = if answer.error.is_some() { value::SHADOW_REFERENCE_FAILED } else { value::SHADOW_OK };
        count(host, &job.route, job.api, &job.tier, outcome);
        if let Some(c) = answer.cost {
            host.counter(
                stat::SHADOW_COST,
                &[
                    (label::ROUTE, &job.route),
                    (label::API, job.api.label()),
                    (label::TIER, &job.tier),
                    (label::MODEL, &crate::router::sanitize_label(&reference.model)),
                ],
                c,
            );
        }
        let id = job.capture.request_id.clone().unwrap_or_else(|| format!("shadow-{:016x}", host.random()));
        let line = shadow_record::build(shadow, job, &reference.name, &reference.model, &answer, &id);
        let call = shadow_call::sink_post(shadow, line);
        match host.dispatch_call(&shadow.sink_cluster, &call.headers, &call.body, shadow.sink_timeout_ms) {
            Some(token) => {
                self.in_flight.insert(token, InFlight::Sink);
            }
            None => {
                host.log(
                    Level::Warn,
                    &format!("llm-router: could not POST a shadow record to `{}`", shadow.sink_cluster),
                );
                host.counter(stat::SHADOW_SINK_FAILURES, &[], 1);
            }
        }
    }
}

#[cfg(test)]
#[path = "shadow_tests.rs"]
mod tests;
