//! Native tests of the glue: the HTTP context driven like Envoy drives it, over a thin fake of
//! the proxy-wasm host calls. They check what the glue does with what the core asks (actions,
//! resumes, buffers, metric names, logged host errors), so a glue/core mismatch fails here.

use std::collections::HashMap;

use super::*;
use llm_router::config::DEFAULT_CONFIG_JSON;
use proxy_wasm::types::Bytes;
use std::time::SystemTime;

/// A dispatched call: (cluster, headers, body).
type Dispatched = (String, Vec<(String, String)>, Vec<u8>);

/// What the fake host holds and records.
#[derive(Default)]
struct State {
    maps: HashMap<MapType, Vec<(String, String)>>,
    buffers: HashMap<BufferType, Vec<u8>>,
    calls: Vec<Dispatched>,
    resumed: u32,
    local_reply: Option<(u32, Vec<u8>)>,
    properties: HashMap<String, Vec<u8>>,
    metric_names: Vec<String>,
    metric_values: HashMap<u32, i128>,
    logs: Vec<String>,
    /// Host calls (by name) that answer `Err(Status::InternalFailure)`.
    failing: Vec<&'static str>,
    plugin_configuration: Option<Vec<u8>>,
    shared: HashMap<String, (Vec<u8>, u32)>,
    tick_period: Option<Duration>,
}

/// The fake host, shared with the test that inspects it.
#[derive(Clone, Default)]
struct Fake(Rc<RefCell<State>>);

impl Fake {
    fn fails(&self, call: &'static str) -> bool {
        self.0.borrow().failing.contains(&call)
    }
    fn check(&self, call: &'static str) -> Result<(), Status> {
        if self.fails(call) {
            Err(Status::InternalFailure)
        } else {
            Ok(())
        }
    }
    fn header(&self, map: MapType, name: &str) -> Option<String> {
        self.0.borrow().maps.get(&map)?.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
    fn metric(&self, full_name: &str) -> Option<i128> {
        let st = self.0.borrow();
        let id = st.metric_names.iter().position(|n| n == full_name)?;
        Some(st.metric_values.get(&u32::try_from(id).unwrap()).copied().unwrap_or(0))
    }
}

impl Calls for Fake {
    fn log(&self, _level: LogLevel, message: &str) -> Result<(), Status> {
        self.0.borrow_mut().logs.push(message.to_string());
        Ok(())
    }
    fn get_map(&self, map: MapType) -> Result<Vec<(String, String)>, Status> {
        self.check("get_map")?;
        Ok(self.0.borrow().maps.get(&map).cloned().unwrap_or_default())
    }
    fn set_map_value(&self, map: MapType, name: &str, value: Option<&str>) -> Result<(), Status> {
        self.check("set_map_value")?;
        let mut st = self.0.borrow_mut();
        let m = st.maps.entry(map).or_default();
        m.retain(|(k, _)| k != name);
        if let Some(v) = value {
            m.push((name.to_string(), v.to_string()));
        }
        Ok(())
    }
    fn get_buffer(&self, buffer: BufferType, start: usize, size: usize) -> Result<Option<Bytes>, Status> {
        self.check("get_buffer")?;
        let st = self.0.borrow();
        let b = st.buffers.get(&buffer).map(Vec::as_slice).unwrap_or_default();
        let end = start.saturating_add(size).min(b.len());
        Ok(b.get(start.min(end)..end).map(<[u8]>::to_vec).filter(|v| !v.is_empty()))
    }
    fn set_buffer(&self, buffer: BufferType, start: usize, size: usize, value: &[u8]) -> Result<(), Status> {
        self.check("set_buffer")?;
        let mut st = self.0.borrow_mut();
        let b = st.buffers.entry(buffer).or_default();
        match (start, size) {
            (0, usize::MAX) => *b = value.to_vec(),
            (usize::MAX, 0) => b.extend_from_slice(value),
            other => panic!("set_buffer with an unexpected range {other:?}"),
        }
        Ok(())
    }
    fn send_http_response(&self, status: u32, _headers: Vec<(&str, &str)>, body: Option<&[u8]>) -> Result<(), Status> {
        self.0.borrow_mut().local_reply = Some((status, body.unwrap_or_default().to_vec()));
        Ok(())
    }
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: Vec<(&str, &str)>,
        body: Option<&[u8]>,
        _timeout: Duration,
    ) -> Result<u32, Status> {
        self.check("dispatch_http_call")?;
        let headers = headers.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let mut st = self.0.borrow_mut();
        st.calls.push((cluster.to_string(), headers, body.unwrap_or_default().to_vec()));
        Ok(u32::try_from(st.calls.len()).unwrap())
    }
    fn resume_http_response(&self) -> Result<(), Status> {
        self.0.borrow_mut().resumed += 1;
        Ok(())
    }
    fn get_property(&self, path: Vec<&str>) -> Result<Option<Bytes>, Status> {
        Ok(self.0.borrow().properties.get(&path.join(".")).cloned())
    }
    fn set_property(&self, path: Vec<&str>, value: Option<&[u8]>) -> Result<(), Status> {
        self.0.borrow_mut().properties.insert(path.join("."), value.unwrap_or_default().to_vec());
        Ok(())
    }
    fn define_metric(&self, _kind: MetricType, name: &str) -> Result<u32, Status> {
        let mut st = self.0.borrow_mut();
        st.metric_names.push(name.to_string());
        Ok(u32::try_from(st.metric_names.len() - 1).unwrap())
    }
    fn increment_metric(&self, id: u32, offset: i64) -> Result<(), Status> {
        *self.0.borrow_mut().metric_values.entry(id).or_default() += i128::from(offset);
        Ok(())
    }
    fn record_metric(&self, id: u32, value: u64) -> Result<(), Status> {
        *self.0.borrow_mut().metric_values.entry(id).or_default() += i128::from(value);
        Ok(())
    }
    fn get_current_time(&self) -> Result<SystemTime, Status> {
        Ok(UNIX_EPOCH + Duration::from_secs(1_800_000_000))
    }
    fn get_plugin_configuration(&self) -> Result<Option<Bytes>, Status> {
        self.check("get_plugin_configuration")?;
        Ok(self.0.borrow().plugin_configuration.clone())
    }
    fn get_shared_data(&self, key: &str) -> Result<(Option<Bytes>, Option<u32>), Status> {
        self.check("get_shared_data")?;
        Ok(match self.0.borrow().shared.get(key) {
            Some((v, cas)) => (Some(v.clone()), Some(*cas)),
            None => (None, None),
        })
    }
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
        self.check("set_shared_data")?;
        let mut s = self.0.borrow_mut();
        let version = s.shared.get(key).map_or(0, |e| e.1);
        if cas.is_some_and(|c| s.shared.contains_key(key) && c != version) {
            return Err(Status::CasMismatch);
        }
        s.shared.insert(key.to_string(), (value.to_vec(), version + 1));
        Ok(())
    }
    fn set_tick_period(&self, period: Duration) -> Result<(), Status> {
        self.0.borrow_mut().tick_period = Some(period);
        Ok(())
    }
}

fn router(patch: impl FnOnce(&mut serde_json::Value)) -> Rc<Router> {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    patch(&mut v);
    Rc::new(Router::from_json(v.to_string().as_bytes()).unwrap())
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

const BODY: &str = r#"{"model":"auto","messages":[{"role":"user","content":"summarize this"}]}"#;

/// Give the fake the request `BODY` on the `chat` route, with the `summarization` rule's header
/// and `extra` headers.
fn request(fake: &Fake, extra: &[(&str, &str)]) {
    let mut st = fake.0.borrow_mut();
    let len = BODY.len().to_string();
    let mut headers = pairs(&[
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        ("content-length", &len),
        ("x-feature", "summarization"),
    ]);
    headers.extend(pairs(extra));
    st.maps.insert(MapType::HttpRequestHeaders, headers);
    st.buffers.insert(BufferType::HttpRequestBody, BODY.as_bytes().to_vec());
    st.properties.insert("xds.route_name".into(), b"chat".to_vec());
}

/// A context that has sent `BODY` on, routed to the cheap tier by the `summarization` rule.
fn routed(router: Rc<Router>) -> (Http<Fake>, Fake) {
    let fake = Fake::default();
    request(&fake, &[("x-llm-router-cluster", "llm_frontier")]);
    let mut http = Http::new(router, Glue { calls: fake.clone(), vm: Rc::default() });
    assert_eq!(http.on_http_request_headers(5, false), Action::Pause);
    assert_eq!(http.on_http_request_body(BODY.len(), true), Action::Continue);
    (http, fake)
}

/// The upstream answers `status` with `body`, whole.
fn respond(http: &mut Http<Fake>, fake: &Fake, status: &str, body: &str) -> (Action, Action) {
    {
        let mut st = fake.0.borrow_mut();
        let len = body.len().to_string();
        st.maps.insert(
            MapType::HttpResponseHeaders,
            pairs(&[(":status", status), ("content-type", "application/json"), ("content-length", &len)]),
        );
        st.buffers.insert(BufferType::HttpResponseBody, body.as_bytes().to_vec());
    }
    let headers = http.on_http_response_headers(3, false);
    let body_action = http.on_http_response_body(body.len(), true);
    (headers, body_action)
}

fn call_answer(fake: &Fake, status: &str, body: &str) {
    let mut st = fake.0.borrow_mut();
    st.maps
        .insert(MapType::HttpCallResponseHeaders, pairs(&[(":status", status), ("content-type", "application/json")]));
    st.buffers.insert(BufferType::HttpCallResponseBody, body.as_bytes().to_vec());
}

const ANSWER: &str = r#"{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500}}"#;

#[test]
fn the_request_is_rewritten_through_the_host_calls() {
    let (_http, fake) = routed(router(|_| {}));
    let st = fake.0.borrow();
    let sent: serde_json::Value = serde_json::from_slice(&st.buffers[&BufferType::HttpRequestBody]).unwrap();
    assert_eq!(sent["model"], "gpt-5-nano");
    drop(st);
    assert_eq!(
        fake.header(MapType::HttpRequestHeaders, "x-llm-router-cluster").as_deref(),
        Some("llm_cheap"),
        "the client's value is replaced"
    );
    assert_eq!(fake.header(MapType::HttpRequestHeaders, "accept-encoding").as_deref(), Some("identity"));
    let len = fake.header(MapType::HttpRequestHeaders, "content-length").unwrap();
    assert_eq!(len, fake.0.borrow().buffers[&BufferType::HttpRequestBody].len().to_string());
}

#[test]
fn a_priced_answer_sets_headers_state_and_labelled_metrics() {
    let (mut http, fake) = routed(router(|_| {}));
    assert_eq!(respond(&mut http, &fake, "200", ANSWER), (Action::Pause, Action::Continue), "held, then let go");
    assert_eq!(fake.header(MapType::HttpResponseHeaders, "x-llm-router-cost-micro-usd").as_deref(), Some("250"));
    assert_eq!(fake.0.borrow().properties["llm_router_status"], b"priced");
    let labels =
        "route=.=chat;.;api=.=chat_completions;.;tier=.=cheap;.;model=.=gpt-5-nano;.;customer=.=unknown;.;mode=.=route;.;";
    assert_eq!(fake.metric(&format!("{labels}llm_router_cost_micro_usd_total")), Some(250));
    assert_eq!(fake.metric(&format!("{labels}llm_router_input_tokens_total")), Some(1000));
    http.on_log();
    assert_eq!(fake.metric(&format!("{labels}status=.=priced;.;llm_router_requests_total")), Some(1), "accounted once");
}

#[test]
fn the_response_stays_held_while_a_further_re_send_is_in_flight() {
    let (mut http, fake) = routed(router(|v| v["fallback"]["max_attempts"] = 2.into()));
    assert_eq!(respond(&mut http, &fake, "503", "busy"), (Action::Pause, Action::Pause));
    assert_eq!(fake.0.borrow().calls.len(), 1);
    assert_eq!(fake.0.borrow().calls[0].0, "llm_mid");

    // The mid tier fails too: the core asks for the frontier and the glue must not resume.
    http.on_http_call_response(1, 0, 0, 0);
    assert_eq!(fake.0.borrow().resumed, 0, "resuming now would deliver the failed answer");
    assert_eq!(fake.0.borrow().calls.len(), 2);
    assert_eq!(fake.0.borrow().calls[1].0, "llm_frontier");

    call_answer(&fake, "200", ANSWER);
    http.on_http_call_response(2, 2, ANSWER.len(), 0);
    assert_eq!(fake.0.borrow().resumed, 1, "the final answer goes on");
    assert_eq!(fake.0.borrow().buffers[&BufferType::HttpResponseBody], ANSWER.as_bytes());
    assert_eq!(fake.header(MapType::HttpResponseHeaders, ":status").as_deref(), Some("200"));
    assert_eq!(fake.header(MapType::HttpResponseHeaders, "x-llm-router-tier").as_deref(), Some("frontier"));
    assert_eq!(fake.header(MapType::HttpResponseHeaders, "x-llm-router-retry").as_deref(), Some("fallback:status_503"));
}

#[test]
fn every_attempt_failing_resumes_the_original_once() {
    let (mut http, fake) = routed(router(|_| {}));
    respond(&mut http, &fake, "503", "busy");
    call_answer(&fake, "502", "bad gateway");
    http.on_http_call_response(1, 2, 11, 0);
    assert_eq!(fake.0.borrow().resumed, 1);
    assert_eq!(fake.0.borrow().buffers[&BufferType::HttpResponseBody], b"busy", "the original answer goes on");
    assert_eq!(
        fake.header(MapType::HttpResponseHeaders, "x-llm-router-retry").as_deref(),
        Some("fallback:status_503:failed")
    );
}

#[test]
fn a_refused_dispatch_lets_the_held_answer_go_on_and_is_logged() {
    let (mut http, fake) = routed(router(|_| {}));
    fake.0.borrow_mut().failing.push("dispatch_http_call");
    assert_eq!(respond(&mut http, &fake, "503", "busy"), (Action::Pause, Action::Continue));
    let logs = fake.0.borrow().logs.join("\n");
    assert!(logs.contains("host call dispatch_http_call failed with InternalFailure"), "{logs}");
    assert!(logs.contains("could not re-send to cluster `llm_mid`"), "{logs}");
}

#[test]
fn host_call_errors_are_logged_with_the_call_name() {
    let fake = Fake::default();
    fake.0.borrow_mut().failing.push("get_map");
    let mut http = Http::new(router(|_| {}), Glue { calls: fake.clone(), vm: Rc::default() });
    // No headers to read: the request is not inspected, and the failure is on record.
    assert_eq!(http.on_http_request_headers(0, false), Action::Continue);
    assert!(fake
        .0
        .borrow()
        .logs
        .iter()
        .any(|l| l == "llm-router: host call get_map(request headers) failed with InternalFailure"));
}

#[test]
fn encodes_labels_in_the_name() {
    assert_eq!(
        encode_name("llm_router_requests_total", &[("model", "gpt-4o"), ("tier", "cheap")]),
        "model=.=gpt-4o;.;tier=.=cheap;.;llm_router_requests_total"
    );
    assert_eq!(encode_name("x", &[]), "x");
}

/// A root context over the fake, given `config` as the plugin configuration.
fn root(config: Option<&str>) -> (Root<Fake>, Fake) {
    let fake = Fake::default();
    fake.0.borrow_mut().plugin_configuration = config.map(|c| c.as_bytes().to_vec());
    (Root { calls: fake.clone(), router: None, vm: Rc::default() }, fake)
}

#[test]
fn a_valid_configuration_builds_the_router_its_http_contexts_use() {
    let (mut root, fake) = root(Some(DEFAULT_CONFIG_JSON));
    assert!(root.on_configure(0));
    let want = Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
    let logs = fake.0.borrow().logs.clone();
    assert_eq!(
        logs,
        vec![format!(
            "llm-router: configured: mode=route tiers={} classifier={} prices={}",
            want.config.tiers.len(),
            want.classifier_name(),
            want.config.prices.version()
        )]
    );
    // Each HTTP context runs the flow against the same host and metric registry.
    let mut http = root.http().unwrap();
    fake.0.borrow_mut().maps.insert(MapType::HttpRequestHeaders, pairs(&[(":method", "GET"), (":path", "/")]));
    assert_eq!(http.on_http_request_headers(2, true), Action::Continue);
    assert!(root.http().is_some());
}

#[test]
fn an_invalid_or_missing_configuration_is_refused_with_the_cores_message() {
    let bad = r#"{"tiers": []}"#;
    for (config, text) in [(Some(bad), bad), (None, "")] {
        let (mut root, fake) = root(config);
        assert!(!root.on_configure(0));
        let core = Router::from_json(text.as_bytes()).unwrap_err().to_string();
        assert_eq!(fake.0.borrow().logs, vec![format!("llm-router: invalid plugin configuration: {core}")]);
        assert!(root.http().is_none(), "no router, no HTTP context");
    }
    // A failing host call is logged by name before the configuration is judged.
    let (mut root, fake) = root(Some(DEFAULT_CONFIG_JSON));
    fake.0.borrow_mut().failing.push("get_plugin_configuration");
    assert!(!root.on_configure(0));
    let logs = fake.0.borrow().logs.clone();
    assert!(logs[0].contains("get_buffer(plugin configuration)"), "{logs:?}");
    assert!(logs[1].starts_with("llm-router: invalid plugin configuration: "), "{logs:?}");
}

#[test]
fn configuring_budgets_creates_the_named_customers_spend_keys_once() {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    v["customer"] = serde_json::json!({"header": "x-customer-id"});
    v["budget"] = serde_json::json!({"default_micro_usd": 5, "customers": {"acme": 10, "beta": 20}});
    let config = v.to_string();
    let (mut root, fake) = root(Some(&config));
    fake.0.borrow_mut().shared.insert("llm_router.spend.beta".into(), (b"7:3".to_vec(), 4));
    assert!(root.on_configure(0));
    let shared = fake.0.borrow().shared.clone();
    assert_eq!(shared["llm_router.spend.acme"], (b"0:0".to_vec(), 1));
    // An existing value (another VM's, or before a reload) is kept.
    assert_eq!(shared["llm_router.spend.beta"], (b"7:3".to_vec(), 4));
    assert_eq!(shared.len(), 2);
}

#[test]
fn shadow_calls_are_made_and_answered_in_the_root_context() {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    v["shadow"] = serde_json::json!({"rate": 1.0, "budget_micro_usd_per_minute": 1_000_000, "sink_cluster": "sink"});
    let config = v.to_string();
    let (mut root, fake) = root(Some(&config));
    assert!(root.on_configure(0));
    assert_eq!(fake.0.borrow().tick_period, Some(SHADOW_TICK), "the root ticks only when a section samples");

    // The HTTP context routes (the summarization rule: cheap), answers and ends; no call yet.
    request(&fake, &[("x-request-id", "rid-9")]);
    let mut http = root.http().unwrap();
    assert_eq!(http.on_http_request_headers(5, false), Action::Pause);
    assert_eq!(http.on_http_request_body(BODY.len(), true), Action::Continue);
    assert_eq!(respond(&mut http, &fake, "200", ANSWER), (Action::Pause, Action::Continue));
    http.on_log();
    drop(http);
    assert!(fake.0.borrow().calls.is_empty(), "nothing is sent from the stream's own context");
    assert_eq!(fake.0.borrow().properties.get("llm_router_shadow").map(Vec::as_slice), Some(&b"sampled"[..]));

    // The root's tick sends the reference call; its answer makes the record, POSTed to the sink.
    root.on_tick();
    let (cluster, _, body) = fake.0.borrow().calls[0].clone();
    assert_eq!(cluster, "llm_frontier");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["model"], "claude-sonnet-4.6");
    let reference = r#"{"choices":[{"message":{"content":"better"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":700}}"#;
    call_answer(&fake, "200", reference);
    root.on_http_call_response(1, 2, reference.len(), 0);
    let (sink, headers, line) = fake.0.borrow().calls[1].clone();
    assert_eq!(sink, "sink");
    assert!(headers.contains(&(":method".to_string(), "POST".to_string())));
    let rec: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(rec["id"], "rid-9");
    assert_eq!(rec["routed"]["text"], "ok");
    assert_eq!(rec["reference"]["text"], "better");
    assert_eq!(rec["reference"]["output_tokens"], 700);
    let ok = "route=.=chat;.;api=.=chat_completions;.;tier=.=cheap;.;outcome=.=ok;.;llm_router_shadow_total";
    assert_eq!(fake.metric(ok), Some(1));
    // The sink answered 503: counted, nothing else.
    call_answer(&fake, "503", "");
    root.on_http_call_response(2, 2, 0, 0);
    assert_eq!(fake.metric("llm_router_shadow_sink_failures_total"), Some(1));
    // A token the root never made is logged, not a panic.
    root.on_http_call_response(77, 0, 0, 0);
    assert!(fake.0.borrow().logs.iter().any(|l| l.contains("unknown root call 77")));
}

#[test]
fn no_tick_without_shadow_sampling() {
    let (mut root, fake) = root(Some(DEFAULT_CONFIG_JSON));
    assert!(root.on_configure(0));
    assert_eq!(fake.0.borrow().tick_period, None);
    root.on_tick();
    assert!(fake.0.borrow().calls.is_empty());
}
