//! The one place where an accounting [`Emission`] becomes host calls: stats, filter state and
//! response headers. Everything that decides what to write lives in [`crate::accounting`].

use crate::accounting::Emission;
use crate::host::Host;

/// Perform `e` on the host: counters, histograms, filter state, then response headers (only
/// ever present when the phase still allows setting them).
pub(crate) fn emit<H: Host>(host: &mut H, e: &Emission) {
    for c in &e.counters {
        let labels: Vec<(&str, &str)> = c.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        host.counter(c.name, &labels, c.value);
    }
    for c in &e.histograms {
        let labels: Vec<(&str, &str)> = c.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        host.histogram(c.name, &labels, c.value);
    }
    for (key, value) in &e.state {
        host.set_state(key, value);
    }
    set_headers(host, &e.headers);
}

/// Set response headers (while they are held).
pub(crate) fn set_headers<H: Host>(host: &mut H, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        host.set_response_header(name, Some(value));
    }
}
