//! Token usage reported by Anthropic's Messages API, as a JSON answer and as an event stream.
//!
//! A non-streaming answer carries `usage` next to `content`:
//!
//! ```json
//! {"type": "message", "content": [...],
//!  "usage": {"input_tokens": 21, "output_tokens": 393, "cache_read_input_tokens": 188086,
//!            "cache_creation_input_tokens": 3000,
//!            "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}}}
//! ```
//!
//! Anthropic's `input_tokens` counts only the input that was neither read from nor written to
//! the cache. The [`Usage`] built here counts every input token in `prompt_tokens`
//! (`input + cache reads + cache writes`), with the reads in `cached_tokens` and the writes in
//! `cache_write_5m_tokens` / `cache_write_1h_tokens`, so the price table bills each token at
//! exactly one rate. Without the `cache_creation` split, every write is a 5-minute write (the
//! only kind that existed before the split was added, and still the default `ttl`). When both
//! the split and `cache_creation_input_tokens` are present they must agree.
//!
//! A stream reports usage twice: `message_start` carries `message.usage` (input counts and a
//! first output count), and `message_delta` carries the cumulative `usage` at the end (always
//! `output_tokens`; newer answers repeat the input counts too, which then replace the earlier
//! ones). [`EventUsage`] folds these. A stream's usage is known only once a `message_delta`
//! has arrived: a stream cut before it, or one that carries an `error` event, has no usage
//! (it is accounted as `usage_missing`, never as a guess). `ping` and content events are
//! skipped.

use serde::Deserialize;
use serde_json::Value;

use crate::service_tier::ServiceTier;
use crate::usage::{count, required_count, Usage, UsageError};

const INPUT: &str = "usage.input_tokens";
const OUTPUT: &str = "usage.output_tokens";
const READ: &str = "usage.cache_read_input_tokens";
const WRITE: &str = "usage.cache_creation_input_tokens";
const SPLIT: &str = "usage.cache_creation";
const WRITE_5M: &str = "usage.cache_creation.ephemeral_5m_input_tokens";
const WRITE_1H: &str = "usage.cache_creation.ephemeral_1h_input_tokens";

/// The counts of an Anthropic `usage` object as read, before they are combined: every member
/// is optional because a `message_delta` may carry only some of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    input: Option<u64>,
    output: Option<u64>,
    read: Option<u64>,
    write: Option<u64>,
    write_5m: Option<u64>,
    write_1h: Option<u64>,
    /// `usage.service_tier`, when the member is present.
    tier: Option<ServiceTier>,
}

impl Counts {
    fn read(usage: &Value) -> Result<Counts, UsageError> {
        let usage = usage.as_object().ok_or(UsageError::NotAnObject { field: "usage" })?;
        let opt = |name: &str, field: &'static str| match usage.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => count(v, field).map(Some),
        };
        let (write_5m, write_1h) = match usage.get("cache_creation") {
            None | Some(Value::Null) => (None, None),
            Some(Value::Object(split)) => {
                let part = |name: &str, field: &'static str| match split.get(name) {
                    None | Some(Value::Null) => Ok(0),
                    Some(v) => count(v, field),
                };
                (Some(part("ephemeral_5m_input_tokens", WRITE_5M)?), Some(part("ephemeral_1h_input_tokens", WRITE_1H)?))
            }
            Some(_) => return Err(UsageError::NotAnObject { field: SPLIT }),
        };
        Ok(Counts {
            input: opt("input_tokens", INPUT)?,
            output: opt("output_tokens", OUTPUT)?,
            read: opt("cache_read_input_tokens", READ)?,
            write: opt("cache_creation_input_tokens", WRITE)?,
            write_5m,
            write_1h,
            tier: usage.get("service_tier").map(|v| ServiceTier::from_member(Some(v))),
        })
    }

    /// `later`'s counts replace these where present (a `message_delta` is cumulative).
    fn update(&mut self, later: Counts) {
        let keep = |old: &mut Option<u64>, new: Option<u64>| {
            if new.is_some() {
                *old = new;
            }
        };
        keep(&mut self.input, later.input);
        keep(&mut self.output, later.output);
        keep(&mut self.read, later.read);
        keep(&mut self.write, later.write);
        if later.tier.is_some() {
            self.tier = later.tier;
        }
        if later.write_5m.is_some() || later.write_1h.is_some() {
            self.write_5m = later.write_5m;
            self.write_1h = later.write_1h;
        }
    }

    fn usage(self) -> Result<Usage, UsageError> {
        let input = required_count(self.input.map(Value::from).as_ref(), INPUT)?;
        let completion_tokens = required_count(self.output.map(Value::from).as_ref(), OUTPUT)?;
        let read = self.read.unwrap_or(0);
        let (w5, w1) = match (self.write, self.write_5m, self.write_1h) {
            (total, Some(w5), Some(w1)) => {
                let split =
                    w5.checked_add(w1).ok_or(UsageError::CacheSplitMismatch { total: None, split: u64::MAX })?;
                if total.is_some_and(|t| t != split) {
                    return Err(UsageError::CacheSplitMismatch { total, split });
                }
                (w5, w1)
            }
            (total, _, _) => (total.unwrap_or(0), 0),
        };
        // Each part is at most MAX_TOKENS_PER_FIELD, so the sum cannot overflow.
        let prompt_tokens = input.saturating_add(read).saturating_add(w5).saturating_add(w1);
        Ok(Usage {
            prompt_tokens,
            completion_tokens,
            cached_tokens: read,
            cache_write_5m_tokens: w5,
            cache_write_1h_tokens: w1,
            service_tier: self.tier.unwrap_or_default(),
        })
    }
}

/// Reads the `usage` member of an Anthropic Messages answer (the whole body, parsed).
///
/// # Errors
///
/// [`UsageError::NotObject`] if `v` is not an object, [`UsageError::MissingUsage`] if `usage`
/// is missing or `null`, and the count errors of [`crate::usage`] (`input_tokens` and
/// `output_tokens` are required; the cache counts default to 0), or
/// [`UsageError::CacheSplitMismatch`].
pub fn usage_from_value(v: &Value) -> Result<Usage, UsageError> {
    let obj = v.as_object().ok_or(UsageError::NotObject)?;
    match obj.get("usage") {
        None | Some(Value::Null) => Err(UsageError::MissingUsage),
        Some(usage) => Counts::read(usage)?.usage(),
    }
}

/// Reads an Anthropic Messages answer body.
///
/// # Errors
///
/// [`UsageError::NotJson`] if it does not parse, otherwise those of [`usage_from_value`].
pub fn usage_from_json(body: &[u8]) -> Result<Usage, UsageError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| UsageError::NotJson(e.to_string()))?;
    usage_from_value(&value)
}

/// One event's data as far as usage goes; every other member (a content delta's text) is
/// skipped without being kept.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<StartMessage>,
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct StartMessage {
    usage: Option<Value>,
}

/// What one event's data meant to the usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRead {
    /// Read, and usage-neutral or usable.
    Ok,
    /// Not a JSON object, or a usage in it is invalid (the stream's usage is then unknown).
    Bad,
}

/// The usage of one Anthropic event stream, folded event by event.
#[derive(Debug, Clone, Default)]
pub struct EventUsage {
    counts: Counts,
    /// A `message_delta` has arrived: the output count is final.
    delta_seen: bool,
    /// An `error` event or an invalid usage made the usage unknown for good.
    failed: bool,
}

impl EventUsage {
    /// Reads the data of one event.
    pub fn on_event(&mut self, data: &[u8]) -> EventRead {
        let Ok(event) = serde_json::from_slice::<Event>(data) else {
            return EventRead::Bad;
        };
        let usage = match event.kind.as_deref() {
            Some("message_start") => event.message.and_then(|m| m.usage),
            Some("message_delta") => {
                self.delta_seen = true;
                event.usage
            }
            Some("error") => {
                self.failed = true;
                None
            }
            _ => None,
        };
        match usage.as_ref().filter(|u| !u.is_null()).map(Counts::read) {
            None => EventRead::Ok,
            Some(Ok(c)) => {
                self.counts.update(c);
                EventRead::Ok
            }
            Some(Err(_)) => {
                self.failed = true;
                EventRead::Bad
            }
        }
    }

    /// The stream's usage: `None` before a `message_delta`, after an `error` event or an
    /// invalid usage, or when the counts read do not make a valid usage.
    pub fn usage(&self) -> Option<Usage> {
        if self.failed || !self.delta_seen {
            return None;
        }
        self.counts.usage().ok()
    }
}

#[cfg(test)]
#[path = "anthropic_usage_tests.rs"]
mod tests;
