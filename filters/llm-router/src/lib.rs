//! proxy-wasm glue for `llm-router`.
//!
//! The root context parses the plugin configuration into a [`Router`] (configuration +
//! classifier) once per VM; each HTTP context drives one [`RequestFlow`] and implements the
//! core's [`Host`] trait over proxy-wasm host calls. With shadow sampling configured, the root
//! context also owns the VM's [`Shadows`]: HTTP contexts queue finished samples there, and the
//! root makes their calls on its tick and receives their answers, because the answer of a call an
//! HTTP context makes never reaches it once its stream is destroyed (checked with Envoy 1.40: a
//! call dispatched in `on_log` reaches the upstream, its `on_http_call_response` never runs).
//! Nothing else lives here.
//!
//! The host calls go through the small [`Calls`] trait (`calls.rs`; [`Real`] forwards each to
//! `proxy_wasm::hostcalls`), so the HTTP context runs natively against a fake in the tests below:
//! a mismatch between what the core asks and what the glue does (such as an `Action` dropped
//! after a re-send) fails there, before Envoy.
//!
//! proxy-wasm 0.2 host calls `panic!` on an unexpected status, which traps the VM. The flow only
//! calls them in the phases where Envoy accepts them (request headers while paused, response
//! headers while held, body buffers inside body callbacks). The statuses they do return as `Err`
//! are never dropped: [`checked`] logs each one with the call that failed (`HostError`), and
//! the value-returning calls fall back to "nothing there" after logging.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

mod calls;

use calls::{checked, effect, log_line, Calls, Real};

use llm_router::flow::{Action as FlowAction, CallResponse, RequestFlow};
use llm_router::host::{Host, Labels, Level, SharedError};
use llm_router::names::{label, stat};
use llm_router::router::Router;
use llm_router::shadow::{Job, Prng, Shadows};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType, Status};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::<Real>::default()) });
}}

/// FNV-1a 64: metric names are short and trusted (sanitized labels), so the default
/// SipHash's DoS resistance buys nothing on this per-request path.
#[derive(Default)]
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Metric ids by full encoded name, defined lazily and shared by all contexts of a VM.
#[derive(Default)]
struct Metrics {
    ids: HashMap<String, Option<u32>, std::hash::BuildHasherDefault<Fnv>>,
}

/// Encode labels in the stat name as `k=.=v;.;` pairs before the metric name, the form the
/// shipped `stats_tags` regexes turn into Prometheus labels.
fn encode_name(name: &str, labels: Labels<'_>) -> String {
    let mut s = String::with_capacity(name.len() + labels.len() * 24);
    for (k, v) in labels {
        s.push_str(k);
        s.push_str("=.=");
        s.push_str(v);
        s.push_str(";.;");
    }
    s.push_str(name);
    s
}

impl Metrics {
    fn id<C: Calls>(&mut self, calls: &C, kind: MetricType, name: &str, labels: Labels<'_>) -> Option<u32> {
        let full = encode_name(name, labels);
        if let Some(id) = self.ids.get(&full) {
            return *id;
        }
        // A metric the host would not define is remembered as `None` (logged once, here), so
        // the request path neither retries nor logs it again.
        let id = checked(calls, "define_metric", calls.define_metric(kind, &full));
        self.ids.insert(full, id);
        id
    }
}

/// How often the root context makes the calls of queued shadow samples (only when a section
/// samples): the delay between a client's answer and its reference call.
const SHADOW_TICK: Duration = Duration::from_millis(50);

/// What every context of a VM shares besides the router: metric ids, the random generator and
/// the shadow samples.
#[derive(Default)]
struct Vm {
    metrics: RefCell<Metrics>,
    prng: RefCell<Option<Prng>>,
    shadows: RefCell<Shadows>,
}

/// The root context of a VM: the router built from the plugin configuration, shared by the
/// HTTP contexts it creates, and the state they share.
#[derive(Default)]
struct Root<C: Calls> {
    calls: C,
    router: Option<Rc<Router>>,
    vm: Rc<Vm>,
}

/// The answer of a dispatched call as the core takes it; no headers: the call failed or timed
/// out.
fn call_response<C: Calls>(c: &C, num_headers: usize, body_size: usize) -> Option<CallResponse> {
    (num_headers > 0).then(|| CallResponse {
        headers: checked(c, "get_map(call response headers)", c.get_map(MapType::HttpCallResponseHeaders))
            .unwrap_or_default(),
        body: checked(
            c,
            "get_buffer(call response body)",
            c.get_buffer(BufferType::HttpCallResponseBody, 0, body_size),
        )
        .flatten()
        .unwrap_or_default(),
    })
}

impl<C: Calls + Clone> Context for Root<C> {
    fn on_http_call_response(&mut self, token_id: u32, num_headers: usize, body_size: usize, _num_trailers: usize) {
        let Some(router) = self.router.clone() else {
            return;
        };
        let response = call_response(&self.calls, num_headers, body_size);
        let mut glue = self.glue();
        let vm = self.vm.clone();
        // Root calls are only ever shadow calls; a token it did not make has nowhere to go.
        if !vm.shadows.borrow_mut().on_call_response(&router, &mut glue, token_id, response) {
            log_line(&self.calls, LogLevel::Warn, &format!("llm-router: answer for unknown root call {token_id}"));
        }
    }
}

impl<C: Calls + Clone> Root<C> {
    /// The HTTP context for a new stream: none until a configuration was accepted (Envoy then
    /// lets the stream through without the filter).
    fn http(&self) -> Option<Http<C>> {
        let router = self.router.clone()?;
        Some(Http::new(router, self.glue()))
    }

    fn glue(&self) -> Glue<C> {
        Glue { calls: self.calls.clone(), vm: self.vm.clone() }
    }
}

impl<C: Calls + Clone + 'static> RootContext for Root<C> {
    fn on_configure(&mut self, _size: usize) -> bool {
        // No configuration at all parses as an empty document, which `Router::from_json` rejects
        // with its own message below.
        let bytes = checked(&self.calls, "get_buffer(plugin configuration)", self.calls.get_plugin_configuration())
            .flatten()
            .unwrap_or_default();
        match Router::from_json(&bytes) {
            Ok(router) => {
                log_line(
                    &self.calls,
                    LogLevel::Info,
                    &format!(
                        "llm-router: configured: mode={} tiers={} classifier={} prices={}",
                        router.config.mode.as_str(),
                        router.config.tiers.len(),
                        router.classifier_name(),
                        router.config.prices.version()
                    ),
                );
                // Spend keys of the named customers exist before any traffic, so every update of
                // theirs is a compare-and-swap (shared data has no create-if-absent).
                for key in router.budget_keys() {
                    if !matches!(self.calls.get_shared_data(&key), Ok((Some(_), _))) {
                        effect(
                            &self.calls,
                            "set_shared_data(budget key)",
                            self.calls.set_shared_data(&key, b"0:0", None),
                        );
                    }
                }
                if router.shadows() {
                    let seed = self.glue().now_nanos();
                    self.vm.prng.borrow_mut().get_or_insert_with(|| Prng::new(seed));
                    effect(&self.calls, "set_tick_period", self.calls.set_tick_period(SHADOW_TICK));
                }
                self.router = Some(Rc::new(router));
                true
            }
            Err(e) => {
                // Envoy keeps the previous configuration (or refuses the listener) on `false`.
                log_line(&self.calls, LogLevel::Error, &format!("llm-router: invalid plugin configuration: {e}"));
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(router) = self.router.clone() {
            let mut glue = self.glue();
            let vm = self.vm.clone();
            vm.shadows.borrow_mut().tick(&router, &mut glue);
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        self.http().map(|h| Box::new(h) as Box<dyn HttpContext>)
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// Host-call adapter for one HTTP stream, or for the root context's shadow calls.
struct Glue<C: Calls> {
    calls: C,
    vm: Rc<Vm>,
}

struct Http<C: Calls> {
    router: Rc<Router>,
    glue: Glue<C>,
    flow: RequestFlow,
}

impl<C: Calls> Host for Glue<C> {
    fn request_headers(&self) -> Vec<(String, String)> {
        checked(&self.calls, "get_map(request headers)", self.calls.get_map(MapType::HttpRequestHeaders))
            .unwrap_or_default()
    }

    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        effect(
            &self.calls,
            "set_map_value(request header)",
            self.calls.set_map_value(MapType::HttpRequestHeaders, name, value),
        );
    }

    fn request_body(&self, len: usize) -> Option<Vec<u8>> {
        checked(&self.calls, "get_buffer(request body)", self.calls.get_buffer(BufferType::HttpRequestBody, 0, len))
            .flatten()
    }

    fn replace_request_body(&mut self, body: &[u8]) {
        // `usize::MAX` as size replaces the whole buffered body.
        effect(
            &self.calls,
            "set_buffer(request body)",
            self.calls.set_buffer(BufferType::HttpRequestBody, 0, usize::MAX, body),
        );
    }

    fn send_json_response(&mut self, status: u32, headers: &[(&str, &str)], body: &str) {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        effect(&self.calls, "send_http_response", self.calls.send_http_response(status, all, Some(body.as_bytes())));
    }

    fn response_headers(&self) -> Vec<(String, String)> {
        checked(&self.calls, "get_map(response headers)", self.calls.get_map(MapType::HttpResponseHeaders))
            .unwrap_or_default()
    }

    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        effect(
            &self.calls,
            "set_map_value(response header)",
            self.calls.set_map_value(MapType::HttpResponseHeaders, name, value),
        );
    }

    fn response_body(&self, len: usize) -> Option<Vec<u8>> {
        checked(&self.calls, "get_buffer(response body)", self.calls.get_buffer(BufferType::HttpResponseBody, 0, len))
            .flatten()
    }

    fn append_response_body(&mut self, bytes: &[u8]) {
        // Start past the end, size 0: append.
        effect(
            &self.calls,
            "set_buffer(append response body)",
            self.calls.set_buffer(BufferType::HttpResponseBody, usize::MAX, 0, bytes),
        );
    }

    fn replace_response_body(&mut self, body: &[u8]) {
        effect(
            &self.calls,
            "set_buffer(replace response body)",
            self.calls.set_buffer(BufferType::HttpResponseBody, 0, usize::MAX, body),
        );
    }

    fn dispatch_call(
        &mut self,
        cluster: &str,
        headers: &[(String, String)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Option<u32> {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // The core logs the refusal with the cluster name and goes on without the call.
        checked(
            &self.calls,
            "dispatch_http_call",
            self.calls.dispatch_http_call(cluster, headers, Some(body), Duration::from_millis(timeout_ms)),
        )
    }

    fn random(&mut self) -> u64 {
        // Seeded in `on_configure` when a section samples; the flow only draws then.
        let seed = || Prng::new(self.now_nanos());
        self.vm.prng.borrow_mut().get_or_insert_with(seed).next_u64()
    }

    fn shadow(&mut self, job: Box<Job>) -> bool {
        self.vm.shadows.borrow_mut().push(job)
    }

    fn set_state(&mut self, key: &str, value: &str) {
        effect(&self.calls, "set_property", self.calls.set_property(vec![key], Some(value.as_bytes())));
    }

    fn counter(&mut self, name: &str, labels: Labels<'_>, value: u64) {
        let id = self.vm.metrics.borrow_mut().id(&self.calls, MetricType::Counter, name, labels);
        // The metric is defined (visible at 0) either way; adding 0 would be a wasted VM exit.
        if value == 0 {
            return;
        }
        if let (Some(id), Ok(v)) = (id, i64::try_from(value)) {
            effect(&self.calls, "increment_metric", self.calls.increment_metric(id, v));
        }
    }

    fn histogram(&mut self, name: &str, labels: Labels<'_>, value: u64) {
        let id = self.vm.metrics.borrow_mut().id(&self.calls, MetricType::Histogram, name, labels);
        if let Some(id) = id {
            effect(&self.calls, "record_metric", self.calls.record_metric(id, value));
        }
    }

    fn route_name(&self) -> Option<String> {
        // Envoy's attribute is `xds.route_name`; older Envoys answered `route_name`.
        [vec!["xds", "route_name"], vec!["route_name"]]
            .into_iter()
            .find_map(|path| checked(&self.calls, "get_property(route name)", self.calls.get_property(path)).flatten())
            .and_then(|b| String::from_utf8(b).ok())
    }

    fn shared_get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        // A key nobody wrote yet is `NotFound`: no value, not a failure.
        match self.calls.get_shared_data(key) {
            Ok((Some(value), cas)) => Some((value, cas.unwrap_or(0))),
            Ok((None, _)) | Err(Status::NotFound) => None,
            Err(status) => {
                log_line(
                    &self.calls,
                    LogLevel::Warn,
                    &format!("llm-router: host call get_shared_data failed: {status:?}"),
                );
                None
            }
        }
    }

    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedError> {
        match self.calls.set_shared_data(key, value, (cas != 0).then_some(cas)) {
            Ok(()) => Ok(()),
            Err(Status::CasMismatch) => Err(SharedError::CasMismatch),
            Err(status) => {
                log_line(
                    &self.calls,
                    LogLevel::Warn,
                    &format!("llm-router: host call set_shared_data failed: {status:?}"),
                );
                Err(SharedError::Failed)
            }
        }
    }

    fn now_nanos(&self) -> u64 {
        checked(&self.calls, "get_current_time", self.calls.get_current_time())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
        };
        log_line(&self.calls, level, message);
    }
}

fn action(a: FlowAction) -> Action {
    match a {
        FlowAction::Continue => Action::Continue,
        FlowAction::Pause => Action::Pause,
    }
}

impl<C: Calls> Context for Http<C> {
    fn on_http_call_response(&mut self, _token_id: u32, num_headers: usize, body_size: usize, _num_trailers: usize) {
        // No headers: the call failed or timed out (the flow treats `None` as a failed re-send).
        let response = call_response(&self.glue.calls, num_headers, body_size);
        match self.flow.on_call_response(&self.router, &mut self.glue, response) {
            // The held response now carries its final headers and body: let it go.
            FlowAction::Continue => {
                effect(&self.glue.calls, "resume_http_response", self.glue.calls.resume_http_response())
            }
            // Another re-send is in flight; its answer resumes the response. Resuming now would
            // send the failed answer and leave the next call's result nowhere to go.
            FlowAction::Pause => {}
        }
    }
}

impl<C: Calls> Http<C> {
    fn new(router: Rc<Router>, glue: Glue<C>) -> Self {
        Http { router, glue, flow: RequestFlow::new() }
    }

    /// Run one callback; with `"profile": true`, record its wall time by callback name.
    fn timed<T>(&mut self, callback: &str, f: impl FnOnce(&mut RequestFlow, &Router, &mut Glue<C>) -> T) -> T {
        if !self.router.config.profile {
            return f(&mut self.flow, &self.router, &mut self.glue);
        }
        let t0 = self.glue.now_nanos();
        let out = f(&mut self.flow, &self.router, &mut self.glue);
        let ns = self.glue.now_nanos().saturating_sub(t0);
        self.glue.histogram(stat::CALLBACK_TIME_NS, &[(label::CALLBACK, callback)], ns);
        out
    }
}

impl<C: Calls> HttpContext for Http<C> {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.timed("request_headers", |f, r, g| f.on_request_headers(r, g, end_of_stream)))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let name = if end_of_stream { "request_body_end" } else { "request_body" };
        action(self.timed(name, |f, r, g| f.on_request_body(r, g, body_size, end_of_stream)))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        action(self.timed("response_headers", |f, r, g| f.on_response_headers(r, g, end_of_stream)))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let name = if end_of_stream { "response_body_end" } else { "response_body" };
        action(self.timed(name, |f, r, g| f.on_response_body(r, g, body_size, end_of_stream)))
    }

    fn on_log(&mut self) {
        self.timed("log", |f, r, g| f.on_log(r, g));
    }
}

#[cfg(test)]
#[path = "glue_tests.rs"]
mod tests;
