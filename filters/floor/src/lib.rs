//! Reference filters for `scripts/bench.sh`: the cost floor of a Rust proxy-wasm filter in
//! Envoy, to put the router's own cost in proportion. Not a product; no routing logic.
//!
//! The plugin configuration is a space-separated list:
//! - `noop`: every callback returns `Continue` (the per-request cost of the proxy-wasm ABI
//!   itself: context creation, one VM entry per callback).
//! - `buffer`: what any body-inspecting filter must do at least: pause the request headers,
//!   buffer the whole body, read it once into the VM, set one request header, and go on.
//! - `state=N`, `headers=N`, `metrics=N` (with `buffer`): also write N filter-state values,
//!   set N response headers, increment N counters per request, to price single host calls.

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType, MetricType};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

#[derive(Default, Clone, Copy)]
struct Plan {
    buffer: bool,
    state: usize,
    headers: usize,
    metrics: usize,
}

#[derive(Default)]
struct Root {
    plan: Plan,
    metric_ids: Vec<u32>,
}

fn parse(cfg: &str) -> Option<Plan> {
    let mut p = Plan::default();
    for tok in cfg.split_whitespace() {
        match tok.split_once('=') {
            None if tok == "noop" => {}
            None if tok == "buffer" => p.buffer = true,
            Some(("state", n)) => p.state = n.parse().ok()?,
            Some(("headers", n)) => p.headers = n.parse().ok()?,
            Some(("metrics", n)) => p.metrics = n.parse().ok()?,
            _ => return None,
        }
    }
    Some(p)
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let cfg = self.get_plugin_configuration().unwrap_or_default();
        let Some(plan) = std::str::from_utf8(&cfg).ok().and_then(parse) else {
            let _ = hostcalls::log(
                LogLevel::Error,
                "llm-router-floor: configuration: noop | buffer [state=N] [headers=N] [metrics=N]",
            );
            return false;
        };
        self.plan = plan;
        self.metric_ids = (0..plan.metrics)
            .filter_map(|i| hostcalls::define_metric(MetricType::Counter, &format!("llm_router_floor_{i}")).ok())
            .collect();
        let _ = hostcalls::log(
            LogLevel::Info,
            &format!(
                "llm-router: configured: floor filter, buffer={} state={} headers={} metrics={}",
                plan.buffer, plan.state, plan.headers, plan.metrics
            ),
        );
        true
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        if self.plan.buffer {
            Some(Box::new(Buffer { plan: self.plan, metric_ids: self.metric_ids.clone() }))
        } else {
            Some(Box::new(Noop))
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Noop;
impl Context for Noop {}
impl HttpContext for Noop {}

struct Buffer {
    plan: Plan,
    metric_ids: Vec<u32>,
}
impl Context for Buffer {}
impl HttpContext for Buffer {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if end_of_stream {
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let body = hostcalls::get_buffer(BufferType::HttpRequestBody, 0, body_size).ok().flatten().unwrap_or_default();
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "x-floor-bytes", Some(&body.len().to_string()));
        for i in 0..self.plan.state {
            let _ = hostcalls::set_property(vec![format!("llm_router_floor_{i}").as_str()], Some(b"value"));
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        for i in 0..self.plan.headers {
            let _ = hostcalls::set_map_value(MapType::HttpResponseHeaders, &format!("x-floor-{i}"), Some("value"));
        }
        for id in &self.metric_ids {
            let _ = hostcalls::increment_metric(*id, 1);
        }
        Action::Continue
    }
}
