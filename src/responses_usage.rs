//! Token usage reported by OpenAI's Responses API, as a JSON answer and as an event stream.
//!
//! A non-streaming answer is a `response` object carrying `usage`:
//!
//! ```json
//! {"id": "resp_67cc", "object": "response", "status": "completed", "output": [...],
//!  "usage": {"input_tokens": 328, "input_tokens_details": {"cached_tokens": 256},
//!            "output_tokens": 52, "output_tokens_details": {"reasoning_tokens": 20},
//!            "total_tokens": 380}}
//! ```
//!
//! `input_tokens` already counts the cached part and `output_tokens` the reasoning part, so the
//! [`Usage`] is `input_tokens` / `output_tokens` with `cached_tokens` as the cached part (at most
//! the input); `reasoning_tokens` and `total_tokens` are not needed to price it. The details
//! objects may be missing or `null` (0 cached tokens).
//!
//! A stream is a sequence of events (`event: <type>` and `data: {"type": <type>,
//! "sequence_number": n, ...}`) with no `[DONE]`: `response.created`, `response.in_progress`,
//! output item, content part and text delta events, and one terminal event carrying the whole
//! `response`: `response.completed`, or `response.incomplete` (e.g. `max_output_tokens` reached)
//! or `response.failed`, both of which the provider bills with the usage they carry.
//! [`EventUsage`] takes the usage of the terminal event's `response.usage` (and its tier from
//! `response.service_tier`, as the JSON answer's from its `service_tier`). A stream cut before
//! a terminal event, a terminal event without usage, and a stream carrying an `error` event have
//! no usage (accounted as `usage_missing`, never a guess); an invalid usage is a bad event.

use serde::Deserialize;
use serde_json::Value;

use crate::service_tier::ServiceTier;
pub use crate::usage::EventRead;
use crate::usage::{read_usage, usage_member, Usage, UsageError, UsageShape};

/// Responses' `usage`: input and output tokens, the cached part inside the input.
const SHAPE: UsageShape = UsageShape {
    prompt: "usage.input_tokens",
    completion: "usage.output_tokens",
    details: "usage.input_tokens_details",
    cached: "usage.input_tokens_details.cached_tokens",
};

/// Reads the `usage` member of a Responses answer (the whole `response` object, parsed).
///
/// # Errors
///
/// [`UsageError::NotObject`] if `v` is not an object, [`UsageError::MissingUsage`] if `usage`
/// is missing or `null`, the count errors of [`crate::usage`] (`input_tokens` and
/// `output_tokens` are required), or [`UsageError::CachedExceedsPrompt`].
pub fn usage_from_value(v: &Value) -> Result<Usage, UsageError> {
    usage_member(v, &SHAPE)
}

/// One event's data as far as usage goes: its type and, for the events that carry one, the
/// response's usage (every other member, a text delta's text, is skipped without being kept).
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: Option<String>,
    response: Option<EventResponse>,
}

#[derive(Deserialize)]
struct EventResponse {
    usage: Option<Value>,
    /// The tier the response was processed on (`default`, `flex`, `priority`, ...).
    service_tier: Option<Value>,
}

/// The usage of one Responses event stream, folded event by event.
#[derive(Debug, Clone, Default)]
pub struct EventUsage {
    /// The usage of the last terminal event, once one arrived with a valid usage.
    usage: Option<Usage>,
    /// An `error` event or an invalid terminal usage made the usage unknown for good.
    failed: bool,
}

/// The events that end a response and carry its final usage.
fn is_terminal(kind: &str) -> bool {
    matches!(kind, "response.completed" | "response.incomplete" | "response.failed")
}

impl EventUsage {
    /// Reads the data of one event.
    pub fn on_event(&mut self, data: &[u8]) -> EventRead {
        let Ok(event) = serde_json::from_slice::<Event>(data) else {
            return EventRead::Bad;
        };
        match event.kind.as_deref() {
            Some("error") => {
                self.failed = true;
                EventRead::Ok
            }
            Some(kind) if is_terminal(kind) => {
                let (usage, tier) = event.response.map_or((None, None), |r| (r.usage, r.service_tier));
                let usage = usage.filter(|u| !u.is_null());
                let read = |u: &Value| {
                    let usage = read_usage(u, &SHAPE)?;
                    Ok::<_, UsageError>(Usage { service_tier: ServiceTier::from_member(tier.as_ref()), ..usage })
                };
                match usage.as_ref().map(read) {
                    None => {
                        self.usage = None;
                        EventRead::Ok
                    }
                    Some(Ok(u)) => {
                        self.usage = Some(u);
                        EventRead::Ok
                    }
                    Some(Err(_)) => {
                        self.failed = true;
                        EventRead::Bad
                    }
                }
            }
            _ => EventRead::Ok,
        }
    }

    /// The stream's usage: that of its terminal event; `None` before one, when it had none,
    /// or after an `error` event or an invalid terminal usage.
    pub fn usage(&self) -> Option<Usage> {
        if self.failed {
            return None;
        }
        self.usage
    }
}

#[cfg(test)]
#[path = "responses_usage_tests.rs"]
mod tests;
