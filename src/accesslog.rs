//! One line of the Envoy JSON access log written with the shipped format
//! (`envoy-config/envoy.yaml`), as read by `llm-router report`.
//!
//! Envoy writes every `%FILTER_STATE(wasm.llm_router_*:PLAIN)%` value as a JSON string (or
//! `null` when the filter did not set it); integers are accepted as well, so a log produced by
//! another pipeline that converts them still reads. A line is parsed into [`RawAccessLine`]
//! (every field optional, unknown fields ignored) and validated into an [`AccessRecord`] with
//! `TryFrom`. A line that is not a router request is not an error of the log: it is
//! [`AccessLogError::NotRouter`] (no `router_status`, e.g. `GET /v1/models`) or
//! [`AccessLogError::Uninspected`] (`router_status: "error"`: the filter could not inspect the
//! request and passed it through), and the report counts it separately.
//!
//! API: the `api` field (`chat_completions`, `messages`, ...). A line without it (a log
//! written before the field existed) takes the API whose default path its `path` is (query
//! string ignored), else `unknown`: a guess is never made from a path another section may have
//! been configured with.
//!
//! Fallbacks: a record counts as a fallback when its `retry` field starts with `fallback`
//! (`fallback:<reason>`, the value of the `x-llm-router-retry` response header) or its
//! `fallback` field is `true`, a non-zero number or a non-empty string other than `0`/`false`.
//! Logs without either field have no fallbacks.

use serde::Deserialize;
use serde_json::Value;

use crate::api::Api;
use crate::service_tier::ServiceTier;
use crate::usage::Usage;

/// The API of a line that has no `api` field and no path of a known default.
pub const UNKNOWN_API: &str = "unknown";

/// Why a line is not a usable router record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessLogError {
    /// The line is not JSON.
    #[error("line is not json: {0}")]
    NotJson(String),
    /// The line is JSON but not an object.
    #[error("line is not a json object")]
    NotObject,
    /// The line has no `router_status`: the filter did not handle this request.
    #[error("not a router request (no router_status)")]
    NotRouter,
    /// `router_status` is `error`: the request could not be inspected and passed through.
    #[error("request was not inspected (router_status error)")]
    Uninspected,
    /// A field has a value of the wrong shape.
    #[error("field `{field}` is invalid: {reason}")]
    Invalid {
        /// Field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A timestamp is not RFC 3339.
    #[error("`{0}` is not an rfc 3339 timestamp")]
    BadTime(String),
}

/// Accounting status of a logged request (the filter's `llm_router_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Usage read and priced.
    Priced,
    /// Usage read, model not in the price table.
    Unpriced,
    /// No usable usage in the answer.
    UsageMissing,
}

/// A line of the access log as written (every field optional; others ignored).
#[derive(Debug, Default, Deserialize)]
pub struct RawAccessLine {
    /// `%START_TIME%`, RFC 3339.
    pub start_time: Option<Value>,
    /// `%ROUTE_NAME%`.
    pub route_name: Option<Value>,
    /// The request path (`%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%`), read only when `api` is absent.
    pub path: Option<Value>,
    /// The API (`llm_router_api`).
    pub api: Option<Value>,
    /// Model the client asked for.
    pub requested_model: Option<Value>,
    /// Model sent upstream (measure mode: the would-be model).
    pub model: Option<Value>,
    /// Tier.
    pub tier: Option<Value>,
    /// `route` or `measure`.
    pub mode: Option<Value>,
    /// Customer label.
    pub customer: Option<Value>,
    /// Prompt tokens.
    pub input_tokens: Option<Value>,
    /// Completion tokens.
    pub output_tokens: Option<Value>,
    /// Cached prompt tokens.
    pub cached_tokens: Option<Value>,
    /// Prompt tokens written to a 5-minute cache (Anthropic; absent or null means 0).
    pub cache_write_5m_tokens: Option<Value>,
    /// Prompt tokens written to a 1-hour cache (Anthropic; absent or null means 0).
    pub cache_write_1h_tokens: Option<Value>,
    /// The answer's service tier (absent, null or `-` means standard).
    pub service_tier: Option<Value>,
    /// Cost, integer micro-USD.
    pub cost_micro_usd: Option<Value>,
    /// Baseline cost, integer micro-USD.
    pub baseline_cost_micro_usd: Option<Value>,
    /// Price table version.
    pub price_version: Option<Value>,
    /// `priced`, `unpriced`, `usage_missing` or `error`.
    pub router_status: Option<Value>,
    /// `fallback:<reason>` / `escalation:<reason>` when the answer came from a second attempt.
    pub retry: Option<Value>,
    /// Fallback marker (bool, number or string).
    pub fallback: Option<Value>,
}

/// A validated router request from the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord {
    /// Request start, nanoseconds since the Unix epoch (absent if the line has none).
    pub start_unix_nanos: Option<i64>,
    /// Envoy route name (`unknown` if absent).
    pub route: String,
    /// API label (from the `path` for older lines, [`UNKNOWN_API`] if neither tells).
    pub api: String,
    /// Model the client asked for (empty if absent).
    pub requested_model: String,
    /// Model priced: sent upstream, or projected in measure mode (`unknown` if absent).
    pub model: String,
    /// Tier (`none` if absent).
    pub tier: String,
    /// Mode (`route` if absent).
    pub mode: String,
    /// Customer label (`unknown` if absent).
    pub customer: String,
    /// Accounting status.
    pub status: RecordStatus,
    /// Token usage; `None` exactly when the status is `usage_missing`.
    pub usage: Option<Usage>,
    /// Cost in micro-USD; `Some` exactly when the status is `priced`.
    pub cost_micro_usd: Option<u64>,
    /// Baseline cost in micro-USD, as logged (also for unpriced requests).
    pub baseline_cost_micro_usd: Option<u64>,
    /// Price table version (empty if absent).
    pub price_version: String,
    /// The answer came from a fallback to another tier.
    pub fallback: bool,
}

impl AccessRecord {
    /// Parse and validate one access-log line.
    ///
    /// # Errors
    ///
    /// Any [`AccessLogError`]; `NotRouter` and `Uninspected` mark lines that are valid but not
    /// routed requests.
    pub fn from_line(line: &str) -> Result<AccessRecord, AccessLogError> {
        let value: Value = serde_json::from_str(line).map_err(|e| AccessLogError::NotJson(e.to_string()))?;
        if !value.is_object() {
            return Err(AccessLogError::NotObject);
        }
        let raw: RawAccessLine = serde_json::from_value(value)
            .map_err(|e| AccessLogError::Invalid { field: "line", reason: e.to_string() })?;
        AccessRecord::try_from(raw)
    }
}

/// A string field: JSON string (or number), `None` for null, absent, empty or Envoy's `-`.
fn text(v: Option<&Value>, field: &'static str) -> Result<Option<String>, AccessLogError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() || s == "-" => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(AccessLogError::Invalid { field, reason: format!("expected a string, got {other}") }),
    }
}

/// A count or micro-USD amount: a non-negative integer as a JSON string or number.
fn count(v: Option<&Value>, field: &'static str) -> Result<Option<u64>, AccessLogError> {
    let invalid = |reason: String| AccessLogError::Invalid { field, reason };
    match v {
        Some(Value::Number(n)) => {
            n.as_u64().map(Some).ok_or_else(|| invalid(format!("{n} is not a non-negative integer")))
        }
        other => match text(other, field)? {
            None => Ok(None),
            Some(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().map(Some).map_err(|e| invalid(format!("{s}: {e}")))
            }
            Some(s) => Err(invalid(format!("{s:?} is not a non-negative integer"))),
        },
    }
}

/// The API of a line: its `api` field, else the API whose default path is its `path`.
fn api_of(api: Option<&Value>, path: Option<&Value>) -> Result<String, AccessLogError> {
    if let Some(api) = text(api, "api")? {
        return Ok(api);
    }
    let path = text(path, "path")?.unwrap_or_default();
    let path = path.split(['?', '#', ';']).next().unwrap_or_default().trim_end_matches('/');
    Ok(Api::ALL.into_iter().find(|a| a.default_path() == path).map_or(UNKNOWN_API, Api::label).to_string())
}

fn is_fallback(retry: Option<&Value>, fallback: Option<&Value>) -> bool {
    let retry_says = matches!(retry, Some(Value::String(s)) if s.starts_with("fallback"));
    let flag_says = match fallback {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::String(s)) => !(s.is_empty() || s == "-" || s == "0" || s.eq_ignore_ascii_case("false")),
        _ => false,
    };
    retry_says || flag_says
}

impl TryFrom<RawAccessLine> for AccessRecord {
    type Error = AccessLogError;

    fn try_from(raw: RawAccessLine) -> Result<Self, Self::Error> {
        let status = match text(raw.router_status.as_ref(), "router_status")?.as_deref() {
            None => return Err(AccessLogError::NotRouter),
            Some("error") => return Err(AccessLogError::Uninspected),
            Some("priced") => RecordStatus::Priced,
            Some("unpriced") => RecordStatus::Unpriced,
            Some("usage_missing") => RecordStatus::UsageMissing,
            Some(other) => {
                return Err(AccessLogError::Invalid {
                    field: "router_status",
                    reason: format!("unknown status {other:?}"),
                })
            }
        };
        let start_unix_nanos = match text(raw.start_time.as_ref(), "start_time")? {
            None => None,
            Some(s) => Some(parse_rfc3339(&s)?),
        };
        let input = count(raw.input_tokens.as_ref(), "input_tokens")?;
        let output = count(raw.output_tokens.as_ref(), "output_tokens")?;
        let cached = count(raw.cached_tokens.as_ref(), "cached_tokens")?;
        let write_5m = count(raw.cache_write_5m_tokens.as_ref(), "cache_write_5m_tokens")?.unwrap_or(0);
        let write_1h = count(raw.cache_write_1h_tokens.as_ref(), "cache_write_1h_tokens")?.unwrap_or(0);
        let service_tier = match text(raw.service_tier.as_ref(), "service_tier")? {
            None => ServiceTier::Standard,
            Some(s) => ServiceTier::reported(Some(&s)),
        };
        let cost = count(raw.cost_micro_usd.as_ref(), "cost_micro_usd")?;
        let baseline = count(raw.baseline_cost_micro_usd.as_ref(), "baseline_cost_micro_usd")?;
        let usage = match status {
            RecordStatus::UsageMissing => None,
            RecordStatus::Priced | RecordStatus::Unpriced => {
                let missing =
                    |field| AccessLogError::Invalid { field, reason: "missing for a request with usage".into() };
                let prompt_tokens = input.ok_or_else(|| missing("input_tokens"))?;
                let cached_tokens = cached.unwrap_or(0);
                if cached_tokens > prompt_tokens {
                    return Err(AccessLogError::Invalid {
                        field: "cached_tokens",
                        reason: format!("{cached_tokens} exceeds input_tokens {prompt_tokens}"),
                    });
                }
                let usage = Usage {
                    prompt_tokens,
                    completion_tokens: output.ok_or_else(|| missing("output_tokens"))?,
                    cached_tokens,
                    cache_write_5m_tokens: write_5m,
                    cache_write_1h_tokens: write_1h,
                    service_tier,
                };
                if usage.uncached_input().is_none() {
                    return Err(AccessLogError::Invalid {
                        field: "cache_write_5m_tokens",
                        reason: format!(
                            "cache writes {write_5m} + {write_1h} exceed input_tokens {prompt_tokens} less cached {cached_tokens}"
                        ),
                    });
                }
                Some(usage)
            }
        };
        let cost_micro_usd = match (status, cost) {
            (RecordStatus::Priced, Some(c)) => Some(c),
            (RecordStatus::Priced, None) => {
                return Err(AccessLogError::Invalid {
                    field: "cost_micro_usd",
                    reason: "missing for a priced request".into(),
                })
            }
            (_, Some(_)) => {
                return Err(AccessLogError::Invalid {
                    field: "cost_micro_usd",
                    reason: "present for a request that is not priced".into(),
                })
            }
            (_, None) => None,
        };
        let or = |v: Option<String>, default: &str| v.unwrap_or_else(|| default.to_string());
        Ok(AccessRecord {
            start_unix_nanos,
            route: or(text(raw.route_name.as_ref(), "route_name")?, "unknown"),
            api: api_of(raw.api.as_ref(), raw.path.as_ref())?,
            requested_model: or(text(raw.requested_model.as_ref(), "requested_model")?, ""),
            model: or(text(raw.model.as_ref(), "model")?, "unknown"),
            tier: or(text(raw.tier.as_ref(), "tier")?, "none"),
            mode: or(text(raw.mode.as_ref(), "mode")?, "route"),
            customer: or(text(raw.customer.as_ref(), "customer")?, "unknown"),
            status,
            usage,
            cost_micro_usd,
            baseline_cost_micro_usd: baseline,
            price_version: or(text(raw.price_version.as_ref(), "price_version")?, ""),
            fallback: is_fallback(raw.retry.as_ref(), raw.fallback.as_ref()),
        })
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Digits `s[at..at+len]` as a number.
fn digits(s: &[u8], at: usize, len: usize) -> Option<i64> {
    let part = s.get(at..at + len)?;
    if !part.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(part.iter().fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0')))
}

/// Parse an RFC 3339 timestamp (`2026-04-01T12:00:00Z`, `2026-04-01T12:00:00.123+02:00`; `t`/`z`
/// and a space instead of `T` accepted) or a bare date (`2026-04-01`, midnight UTC) into
/// nanoseconds since the Unix epoch. Fractions beyond nanoseconds are truncated.
///
/// # Errors
///
/// [`AccessLogError::BadTime`] for anything else, including impossible dates.
pub fn parse_rfc3339(input: &str) -> Result<i64, AccessLogError> {
    let bad = || AccessLogError::BadTime(input.to_string());
    let s = input.trim().as_bytes();
    let sep = |at: usize, allowed: &[u8]| s.get(at).is_some_and(|c| allowed.contains(c));
    let year = digits(s, 0, 4).ok_or_else(bad)?;
    let month = digits(s, 5, 2).ok_or_else(bad)?;
    let day = digits(s, 8, 2).ok_or_else(bad)?;
    if !(sep(4, b"-") && sep(7, b"-") && (1..=12).contains(&month)) || day < 1 || day > days_in_month(year, month) {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    if s.len() == 10 {
        return days.checked_mul(86_400_000_000_000).ok_or_else(bad);
    }
    let hour = digits(s, 11, 2).ok_or_else(bad)?;
    let minute = digits(s, 14, 2).ok_or_else(bad)?;
    let second = digits(s, 17, 2).ok_or_else(bad)?;
    if !(sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) || hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let mut at = 19;
    let mut nanos = 0i64;
    if sep(at, b".") {
        at += 1;
        let start = at;
        while s.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + i64::from(s.get(at).copied().unwrap_or(b'0') - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(bad());
        }
        for _ in (at - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match s.get(at) {
        Some(b'Z' | b'z') if s.len() == at + 1 => 0,
        Some(&sign @ (b'+' | b'-')) if s.len() == at + 6 && sep(at + 3, b":") => {
            let oh = digits(s, at + 1, 2).ok_or_else(bad)?;
            let om = digits(s, at + 4, 2).ok_or_else(bad)?;
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let off = oh * 3600 + om * 60;
            if sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return Err(bad()),
    };
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(1_000_000_000).and_then(|n| n.checked_add(nanos)).ok_or_else(bad)
}

#[cfg(test)]
#[path = "accesslog_tests.rs"]
mod tests;
