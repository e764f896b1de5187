//! A fake [`Host`] for native tests of the flow.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use crate::config::DEFAULT_CONFIG_JSON;
use crate::flow::{Action, RequestFlow};
use crate::host::{Host, Labels, Level, SharedError};
use crate::router::Router;
use crate::shadow::Job;

/// A dispatched call: (cluster, headers, body, timeout_ms).
pub type Call = (String, Vec<(String, String)>, Vec<u8>, u64);

/// Records everything the flow does.
#[derive(Debug, Default)]
pub struct FakeHost {
    pub request_headers: Vec<(String, String)>,
    pub request_body: Vec<u8>,
    pub response_headers: Vec<(String, String)>,
    /// The current response chunk (or the whole buffered body).
    pub response_chunk: Vec<u8>,
    /// Bytes appended after the current chunk.
    pub appended: Vec<u8>,
    pub local_reply: Option<(u32, String)>,
    pub local_reply_headers: Vec<(String, String)>,
    /// Calls dispatched: (cluster, headers, body, timeout_ms).
    pub calls: Vec<Call>,
    /// Make `dispatch_call` refuse.
    pub refuse_calls: bool,
    pub state: BTreeMap<String, String>,
    pub counters: BTreeMap<String, u64>,
    pub histograms: BTreeMap<String, Vec<u64>>,
    pub route: Option<String>,
    pub clock: RefCell<u64>,
    pub logs: RefCell<Vec<String>>,
    /// Shared data: key -> (value, version).
    pub shared: BTreeMap<String, (Vec<u8>, u32)>,
    /// Versions to bump before the next `shared_set`s (a concurrent writer), one per call.
    pub shared_races: u32,
    /// Random draws to hand out, in order; `u64::MAX` (never under a rate) once used up.
    pub draws: VecDeque<u64>,
    /// Shadow jobs handed over.
    pub shadows: Vec<Job>,
    /// Make `shadow` refuse (a full queue).
    pub refuse_shadows: bool,
}

/// The shipped configuration with `patch` applied, as a router.
pub fn router_with(patch: impl FnOnce(&mut serde_json::Value)) -> Router {
    let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
    patch(&mut v);
    Router::from_json(v.to_string().as_bytes()).unwrap()
}

/// Runs the request side of a `POST` to `path` on Envoy's `chat` route; returns the flow and
/// the host.
pub fn send_to(r: &Router, path: &str, body: &str, headers: &[(&str, &str)]) -> (RequestFlow, FakeHost) {
    let mut h = FakeHost::request("POST", path, headers, body);
    h.route = Some("chat".into());
    let mut f = RequestFlow::new();
    assert_eq!(f.on_request_headers(r, &mut h, false), Action::Pause);
    let n = h.request_body.len();
    assert_eq!(f.on_request_body(r, &mut h, n, true), Action::Continue);
    (f, h)
}

/// Render a metric key like the filter encodes it: `name{a=1,b=2}`.
pub fn key(name: &str, labels: Labels<'_>) -> String {
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{name}{{{}}}", l.join(","))
}

impl FakeHost {
    pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> FakeHost {
        let mut h = FakeHost::default();
        h.request_headers.push((":method".into(), method.into()));
        h.request_headers.push((":path".into(), path.into()));
        for (k, v) in headers {
            h.request_headers.push((k.to_string(), v.to_string()));
        }
        h.request_headers.push(("content-length".into(), body.len().to_string()));
        h.request_body = body.as_bytes().to_vec();
        h
    }

    pub fn req_header(&self, name: &str) -> Option<&str> {
        self.request_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn resp_header(&self, name: &str) -> Option<&str> {
        self.response_headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Sum of a counter over all label sets whose key starts with `prefix`.
    pub fn counter_sum(&self, prefix: &str) -> u64 {
        self.counters.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).sum()
    }
}

impl Host for FakeHost {
    fn shared_get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.shared.get(key).cloned()
    }

    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedError> {
        if self.shared_races > 0 {
            self.shared_races -= 1;
            if let Some(entry) = self.shared.get_mut(key) {
                entry.1 += 1;
            }
        }
        let version = self.shared.get(key).map_or(0, |e| e.1);
        if cas != 0 && self.shared.contains_key(key) && cas != version {
            return Err(SharedError::CasMismatch);
        }
        self.shared.insert(key.to_string(), (value.to_vec(), version + 1));
        Ok(())
    }

    fn request_headers(&self) -> Vec<(String, String)> {
        self.request_headers.clone()
    }
    fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        self.request_headers.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.request_headers.push((name.to_string(), v.to_string()));
        }
    }
    fn request_body(&self, len: usize) -> Option<Vec<u8>> {
        Some(self.request_body[..len.min(self.request_body.len())].to_vec())
    }
    fn replace_request_body(&mut self, body: &[u8]) {
        self.request_body = body.to_vec();
    }
    fn send_json_response(&mut self, status: u32, headers: &[(&str, &str)], body: &str) {
        self.local_reply = Some((status, body.to_string()));
        self.local_reply_headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    }
    fn response_headers(&self) -> Vec<(String, String)> {
        self.response_headers.clone()
    }
    fn set_response_header(&mut self, name: &str, value: Option<&str>) {
        self.response_headers.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.response_headers.push((name.to_string(), v.to_string()));
        }
    }
    fn response_body(&self, len: usize) -> Option<Vec<u8>> {
        Some(self.response_chunk[..len.min(self.response_chunk.len())].to_vec())
    }
    fn append_response_body(&mut self, bytes: &[u8]) {
        self.appended.extend_from_slice(bytes);
    }
    fn replace_response_body(&mut self, body: &[u8]) {
        self.response_chunk = body.to_vec();
    }
    fn dispatch_call(
        &mut self,
        cluster: &str,
        headers: &[(String, String)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Option<u32> {
        if self.refuse_calls {
            return None;
        }
        self.calls.push((cluster.to_string(), headers.to_vec(), body.to_vec(), timeout_ms));
        u32::try_from(self.calls.len()).ok()
    }
    fn random(&mut self) -> u64 {
        self.draws.pop_front().unwrap_or(u64::MAX)
    }
    fn shadow(&mut self, job: Box<Job>) -> bool {
        if self.refuse_shadows {
            return false;
        }
        self.shadows.push(*job);
        true
    }
    fn set_state(&mut self, key: &str, value: &str) {
        self.state.insert(key.to_string(), value.to_string());
    }
    fn counter(&mut self, name: &str, labels: Labels<'_>, value: u64) {
        *self.counters.entry(key(name, labels)).or_default() += value;
    }
    fn histogram(&mut self, name: &str, labels: Labels<'_>, value: u64) {
        self.histograms.entry(key(name, labels)).or_default().push(value);
    }
    fn route_name(&self) -> Option<String> {
        self.route.clone()
    }
    fn now_nanos(&self) -> u64 {
        let mut c = self.clock.borrow_mut();
        *c += 7_000;
        *c
    }
    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push(format!("{level:?}: {message}"));
    }
}
