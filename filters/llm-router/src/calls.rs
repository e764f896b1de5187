//! The proxy-wasm host calls the glue makes, behind the small [`Calls`] trait ([`Real`] forwards
//! each to `proxy_wasm::hostcalls`; the glue tests implement it over a fake), and how their
//! error statuses are reported.

use std::time::{Duration, SystemTime};

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, Bytes, LogLevel, MapType, MetricType, Status};

/// A host call that answered with an error status instead of doing what was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostError {
    /// The call returned `Err(status)`; `call` names it and what it was for.
    #[error("llm-router: host call {call} failed with {status:?}")]
    Failed { call: &'static str, status: Status },
}

/// The proxy-wasm host calls this glue makes, one method each with the SDK's signature.
pub(crate) trait Calls {
    fn log(&self, level: LogLevel, message: &str) -> Result<(), Status>;
    fn get_map(&self, map: MapType) -> Result<Vec<(String, String)>, Status>;
    fn set_map_value(&self, map: MapType, name: &str, value: Option<&str>) -> Result<(), Status>;
    fn get_buffer(&self, buffer: BufferType, start: usize, size: usize) -> Result<Option<Bytes>, Status>;
    fn set_buffer(&self, buffer: BufferType, start: usize, size: usize, value: &[u8]) -> Result<(), Status>;
    fn send_http_response(&self, status: u32, headers: Vec<(&str, &str)>, body: Option<&[u8]>) -> Result<(), Status>;
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: Vec<(&str, &str)>,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<u32, Status>;
    fn resume_http_response(&self) -> Result<(), Status>;
    fn get_property(&self, path: Vec<&str>) -> Result<Option<Bytes>, Status>;
    fn set_property(&self, path: Vec<&str>, value: Option<&[u8]>) -> Result<(), Status>;
    fn define_metric(&self, kind: MetricType, name: &str) -> Result<u32, Status>;
    fn increment_metric(&self, id: u32, offset: i64) -> Result<(), Status>;
    fn record_metric(&self, id: u32, value: u64) -> Result<(), Status>;
    fn get_current_time(&self) -> Result<SystemTime, Status>;
    fn get_plugin_configuration(&self) -> Result<Option<Bytes>, Status>;
    fn get_shared_data(&self, key: &str) -> Result<(Option<Bytes>, Option<u32>), Status>;
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status>;
    fn set_tick_period(&self, period: Duration) -> Result<(), Status>;
}

/// The real host: every call goes to Envoy.
#[derive(Clone, Copy, Default)]
pub(crate) struct Real;

impl Calls for Real {
    fn log(&self, level: LogLevel, message: &str) -> Result<(), Status> {
        hostcalls::log(level, message)
    }
    fn get_map(&self, map: MapType) -> Result<Vec<(String, String)>, Status> {
        hostcalls::get_map(map)
    }
    fn set_map_value(&self, map: MapType, name: &str, value: Option<&str>) -> Result<(), Status> {
        hostcalls::set_map_value(map, name, value)
    }
    fn get_buffer(&self, buffer: BufferType, start: usize, size: usize) -> Result<Option<Bytes>, Status> {
        hostcalls::get_buffer(buffer, start, size)
    }
    fn set_buffer(&self, buffer: BufferType, start: usize, size: usize, value: &[u8]) -> Result<(), Status> {
        hostcalls::set_buffer(buffer, start, size, value)
    }
    fn send_http_response(&self, status: u32, headers: Vec<(&str, &str)>, body: Option<&[u8]>) -> Result<(), Status> {
        hostcalls::send_http_response(status, headers, body)
    }
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: Vec<(&str, &str)>,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<u32, Status> {
        hostcalls::dispatch_http_call(cluster, headers, body, vec![], timeout)
    }
    fn resume_http_response(&self) -> Result<(), Status> {
        hostcalls::resume_http_response()
    }
    fn get_property(&self, path: Vec<&str>) -> Result<Option<Bytes>, Status> {
        hostcalls::get_property(path)
    }
    fn set_property(&self, path: Vec<&str>, value: Option<&[u8]>) -> Result<(), Status> {
        hostcalls::set_property(path, value)
    }
    fn define_metric(&self, kind: MetricType, name: &str) -> Result<u32, Status> {
        hostcalls::define_metric(kind, name)
    }
    fn increment_metric(&self, id: u32, offset: i64) -> Result<(), Status> {
        hostcalls::increment_metric(id, offset)
    }
    fn record_metric(&self, id: u32, value: u64) -> Result<(), Status> {
        hostcalls::record_metric(id, value)
    }
    fn get_current_time(&self) -> Result<SystemTime, Status> {
        hostcalls::get_current_time()
    }
    fn get_plugin_configuration(&self) -> Result<Option<Bytes>, Status> {
        hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
    }
    fn get_shared_data(&self, key: &str) -> Result<(Option<Bytes>, Option<u32>), Status> {
        hostcalls::get_shared_data(key)
    }
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), Status> {
        hostcalls::set_shared_data(key, Some(value), cas)
    }
    fn set_tick_period(&self, period: Duration) -> Result<(), Status> {
        hostcalls::set_tick_period(period)
    }
}

/// Write one log line. Logging is where every other failure is reported, so a failing log
/// call has nowhere left to go: it is the one result this glue does not report further.
pub(crate) fn log_line<C: Calls>(calls: &C, level: LogLevel, message: &str) {
    calls.log(level, message).unwrap_or_default();
}

/// The value of a host call, or `None` after logging why there is none.
pub(crate) fn checked<C: Calls, T>(calls: &C, call: &'static str, result: Result<T, Status>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(status) => {
            log_line(calls, LogLevel::Warn, &HostError::Failed { call, status }.to_string());
            None
        }
    }
}

/// A host call done for its effect: logged if the host refused it.
pub(crate) fn effect<C: Calls>(calls: &C, call: &'static str, result: Result<(), Status>) {
    // `()` carries no value; the failure, if any, was logged by `checked`.
    checked(calls, call, result).unwrap_or_default();
}
