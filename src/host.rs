//! What the core needs from its host (Envoy via proxy-wasm, or a fake in tests).
//!
//! The filter crate implements [`Host`] over proxy-wasm host calls. Every method must be safe
//! to call in the phase where the flow calls it; the flow only touches request headers during
//! the request phases and response headers while they are held.

/// What the host should do after a callback.
///
/// `#[must_use]`: dropping it is a bug, not a shortcut. The host must stop or go on exactly as
/// told; above all after [`crate::flow::RequestFlow::on_call_response`], where `Pause` means
/// another re-send is in flight and resuming would deliver the failed answer.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Let the data go on.
    Continue,
    /// Hold it (headers: stop iteration; body: buffer).
    Pause,
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
    pub(crate) fn status(&self) -> Option<u16> {
        header(&self.headers, ":status").and_then(|v| v.trim().parse().ok())
    }
}

/// The first value of header `name` (lowercase) in a header list fetched from the host.
pub(crate) fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// Log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Debug detail.
    Debug,
    /// Something worth one line.
    Info,
    /// A request that could not be handled as intended.
    Warn,
}

/// Why a shared-data write did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SharedError {
    /// The value changed since it was read (compare-and-swap lost).
    #[error("shared value changed since it was read")]
    CasMismatch,
    /// The host refused the write.
    #[error("shared data write refused")]
    Failed,
}

/// A label set: (label name, value) pairs; values must already be sanitized.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// Host operations used by [`crate::flow::RequestFlow`].
pub trait Host {
    /// All request headers (lowercase names).
    fn request_headers(&self) -> Vec<(String, String)>;
    /// Set (`Some`) or remove (`None`) a request header.
    fn set_request_header(&mut self, name: &str, value: Option<&str>);
    /// The first `len` bytes of the buffered request body.
    fn request_body(&self, len: usize) -> Option<Vec<u8>>;
    /// Replace the whole buffered request body.
    fn replace_request_body(&mut self, body: &[u8]);
    /// Answer locally (fail-closed path, cost ceiling, budget cap) with a JSON body and these
    /// extra headers.
    fn send_json_response(&mut self, status: u32, headers: &[(&str, &str)], body: &str);

    /// All response headers (lowercase names, pseudo-headers included).
    fn response_headers(&self) -> Vec<(String, String)>;
    /// Set (`Some`) or remove (`None`) a response header; only called while response headers
    /// are held.
    fn set_response_header(&mut self, name: &str, value: Option<&str>);
    /// The current response body chunk (or the whole buffered body), `len` bytes.
    fn response_body(&self, len: usize) -> Option<Vec<u8>>;
    /// Append bytes after the current response body chunk.
    fn append_response_body(&mut self, bytes: &[u8]);
    /// Replace the whole buffered response body (while the response is held), or the current
    /// chunk of a stream that is not held (the bytes forwarded in its place).
    fn replace_response_body(&mut self, body: &[u8]);
    /// Send a request to `cluster` out of band; its answer comes back through
    /// [`crate::flow::RequestFlow::on_call_response`] (or, made from the root context,
    /// [`crate::shadow::Shadows::on_call_response`]). The call's token, `None` if the host
    /// refused.
    fn dispatch_call(
        &mut self,
        cluster: &str,
        headers: &[(String, String)],
        body: &[u8],
        timeout_ms: u64,
    ) -> Option<u32>;
    /// 64 random bits (the VM's [`crate::shadow::Prng`]; tests fix them).
    fn random(&mut self) -> u64;
    /// Hand a finished shadow sample to the root context, which makes its reference call once
    /// this stream is gone ([`crate::shadow::Shadows::push`]). False when its queue is full.
    fn shadow(&mut self, job: Box<crate::shadow::Job>) -> bool;

    /// A value shared by every VM of the process (all workers), and its version.
    fn shared_get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Store a shared value if its version is still `cas` (0: whatever the version).
    ///
    /// # Errors
    ///
    /// [`SharedError::CasMismatch`] when another write came first, [`SharedError::Failed`].
    fn shared_set(&mut self, key: &str, value: &[u8], cas: u32) -> Result<(), SharedError>;

    /// Write a filter-state value (readable in access logs).
    fn set_state(&mut self, key: &str, value: &str);
    /// Add to a counter.
    fn counter(&mut self, name: &str, labels: Labels<'_>, value: u64);
    /// Record a histogram value.
    fn histogram(&mut self, name: &str, labels: Labels<'_>, value: u64);
    /// The Envoy route name, when known.
    fn route_name(&self) -> Option<String>;
    /// A monotonic-enough clock in nanoseconds.
    fn now_nanos(&self) -> u64;
    /// Log one line.
    fn log(&self, level: Level, message: &str);
}
