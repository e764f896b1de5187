//! The one place where an accounting [`Emission`] becomes host calls: stats, filter state and
//! response headers. Everything that decides what to write lives in [`crate::accounting`].

use crate::accounting::{self, Accounting, Emission, Headers};
use crate::budget::{self, Budget};
use crate::host::{Host, Level, SharedError};
use crate::names::stat;
use crate::router::Router;
use crate::routing::Routing;
use crate::usage::Usage;

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

/// Account for the answer of `r` ([`accounting::account`], `earlier` the undelivered answer of
/// an escalated request) and emit it; returns the record for a stream's comment. Called once
/// per request.
pub(crate) fn account<H: Host>(
    router: &Router,
    host: &mut H,
    r: &Routing,
    usage: Option<Usage>,
    earlier: Option<(&Routing, Option<Usage>)>,
    headers: Headers,
) -> Option<Accounting> {
    let route = accounting::route_label(host.route_name().as_deref());
    let e = accounting::account(&router.config, &route, r, usage, earlier, headers);
    emit(host, &e);
    let cost = e.record.as_ref().and_then(|rec| rec.cost_micro_usd);
    if let (Some(b), Some(cost)) = (&router.config.budget, cost) {
        if b.of(&r.customer).is_some() {
            add_spend(host, b, &r.customer, cost);
        }
    }
    e.record
}

/// Add `cost` to a customer's spend this period in shared data, by compare-and-swap (see
/// [`crate::budget`]); a spend that cannot be written is counted and logged, never guessed.
fn add_spend<H: Host>(host: &mut H, b: &Budget, customer: &str, cost: u64) {
    let key = budget::key(customer);
    let window = b.period.window(host.now_nanos() / 1_000_000_000);
    for _ in 0..budget::MAX_CAS_ATTEMPTS {
        let current = host.shared_get(&key);
        let (stored, cas) = match &current {
            Some((v, cas)) => (Some(v.as_slice()), *cas),
            None => (None, 0),
        };
        let spent = budget::spent_in(stored, window.index).saturating_add(cost);
        match host.shared_set(&key, &budget::encode(window.index, spent), cas) {
            Ok(()) => return,
            Err(SharedError::CasMismatch) => {}
            Err(SharedError::Failed) => break,
        }
    }
    host.counter(stat::BUDGET_UPDATE_FAILED, &[], 1);
    host.log(Level::Warn, &format!("llm-router: could not add {cost} micro-USD to the spend of {customer}"));
}
