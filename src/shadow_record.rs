//! The sample record (version 1): one JSON object per line, the contract between the filter
//! and `llm-router judge` / `report --quality`. `docs/shadow.md` documents every member;
//! readers ignore members they do not know.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api::Api;
use crate::budget::{civil_month, days_from_civil};
use crate::flow::CallResponse;
use crate::pricing::PriceTable;
use crate::shadow::Job;
use crate::shadow_config::Shadow;
use crate::shadow_text::{self, Text};

/// The record format version.
pub const VERSION: u32 = 1;

/// One answer of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// The tier (the reference side only; the routed tier is the record's `tier`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The model that answered (was asked).
    pub model: String,
    /// The answer's text, capped.
    pub text: String,
    /// The text was cut at the cap (or the answer was longer than the copy kept of it).
    pub text_truncated: bool,
    /// Normalized finish, `None` when unknown.
    pub finish: Option<&'static str>,
    /// HTTP status, 0 when there was no answer.
    pub status: u16,
    /// Input tokens, `None` when unread.
    pub input_tokens: Option<u64>,
    /// Output tokens, `None` when unread.
    pub output_tokens: Option<u64>,
    /// Cost in micro-USD, `None` when unpriced or unread.
    pub cost_micro_usd: Option<u64>,
    /// Why there is no usable answer.
    pub error: Option<String>,
}

/// A sample record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// [`VERSION`].
    pub version: u32,
    /// The request's `x-request-id`, else a generated id.
    pub id: String,
    /// When the routed answer ended, RFC 3339 UTC.
    pub time: String,
    /// Envoy route name or `unknown`.
    pub route: String,
    /// `chat_completions`, `messages` or `responses`.
    pub api: &'static str,
    /// Customer label, or its salted hash.
    pub customer: String,
    /// Routed tier.
    pub tier: String,
    /// Classifier score of the decision (4 decimals), `None` when a rule decided.
    pub score: Option<f64>,
    /// Decision reason.
    pub reason: String,
    /// The request asked for JSON output.
    pub json_requested: bool,
    /// The conversation as `role: text` lines, capped.
    pub prompt: String,
    /// The prompt was cut at the cap.
    pub prompt_truncated: bool,
    /// The answer the client got.
    pub routed: Side,
    /// The reference tier's answer.
    pub reference: Side,
}

/// The reference call's result, read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub(crate) text: Text,
    pub(crate) status: u16,
    pub(crate) tokens: Option<(u64, u64)>,
    pub(crate) cost: Option<u64>,
    pub(crate) error: Option<String>,
}

impl Answer {
    /// Read the reference call's answer (`None`: no answer). A failed call has its status,
    /// an error, no text and no tokens or cost; a call whose answer is longer than
    /// `max_bytes` is not read (an error too).
    pub(crate) fn of_reference(
        api: Api,
        prices: &PriceTable,
        model: &str,
        response: Option<CallResponse>,
        max_bytes: usize,
    ) -> Answer {
        let Some(resp) = response else {
            return Answer { error: Some("no answer (timeout or connection failure)".into()), ..Answer::default() };
        };
        let status = resp.status().unwrap_or(0);
        if !(200..300).contains(&status) {
            return Answer { status, error: Some(format!("status {status}")), ..Answer::default() };
        }
        if resp.body.len() > max_bytes {
            return Answer {
                status,
                error: Some(format!("answer over max_response_bytes ({max_bytes})")),
                ..Answer::default()
            };
        }
        let Ok(v) = serde_json::from_slice::<Value>(&resp.body) else {
            return Answer { status, error: Some("answer is not JSON".into()), ..Answer::default() };
        };
        let usage = api.usage_from_value(&v).ok();
        Answer {
            text: shadow_text::from_json(api, &v),
            status,
            tokens: usage.map(|u| (u.prompt_tokens, u.completion_tokens)),
            cost: usage.and_then(|u| prices.cost_micro_usd(model, &u).ok()),
            error: None,
        }
    }
}

/// `secs` (Unix) as RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(secs: u64) -> String {
    #[allow(clippy::cast_possible_wrap)] // Unix days fit an i64 for any u64 seconds / 86400
    let days = (secs / 86_400) as i64;
    let (y, m) = civil_month(days);
    let d = days - days_from_civil(y, m, 1) + 1;
    let rem = secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// The customer as a record shows it: the label, or with a salt its salted SHA-256 (16 hex
/// digits).
pub(crate) fn customer(label: &str, salt: Option<&str>) -> String {
    let Some(salt) = salt else {
        return label.to_string();
    };
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update(b":");
    h.update(label.as_bytes());
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The record of `job` with the reference tier's `answer`, as one JSON line (no newline).
pub(crate) fn build(shadow: &Shadow, job: &Job, ref_tier: &str, ref_model: &str, answer: &Answer, id: &str) -> Vec<u8> {
    let max = shadow.max_text_bytes;
    let (prompt, prompt_truncated) =
        shadow_text::cap(&shadow_text::prompt_of(job.api, &job.capture.body, shadow.drop_system_prompts), max);
    let routed_text = shadow_text::answer_of(job.api, &job.capture.answer);
    let (text, cut) = shadow_text::cap(&routed_text.text, max);
    let ok = (200..300).contains(&job.status);
    let routed = Side {
        tier: None,
        model: job.model.clone(),
        text,
        text_truncated: cut || job.capture.truncated,
        finish: routed_text.finish,
        status: job.status,
        input_tokens: job.tokens.map(|t| t.0),
        output_tokens: job.tokens.map(|t| t.1),
        cost_micro_usd: job.cost,
        error: (!ok).then(|| format!("status {}", job.status)),
    };
    let (text, text_truncated) = shadow_text::cap(&answer.text.text, max);
    let reference = Side {
        tier: Some(ref_tier.to_string()),
        model: ref_model.to_string(),
        text,
        text_truncated,
        finish: answer.text.finish,
        status: answer.status,
        input_tokens: answer.tokens.map(|t| t.0),
        output_tokens: answer.tokens.map(|t| t.1),
        cost_micro_usd: answer.cost,
        error: answer.error.clone(),
    };
    let record = Record {
        version: VERSION,
        id: id.to_string(),
        time: rfc3339(job.ended_ns / 1_000_000_000),
        route: job.route.clone(),
        api: job.api.label(),
        customer: customer(&job.customer, shadow.customer_salt.as_deref()),
        tier: job.tier.clone(),
        score: job.score.map(|s| (f64::from(s) * 10_000.0).round() / 10_000.0),
        reason: job.reason.clone(),
        json_requested: shadow_text::json_requested(job.api, &job.capture.body),
        prompt,
        prompt_truncated,
        routed,
        reference,
    };
    // A record of plain strings, numbers and options always serializes.
    serde_json::to_vec(&record).unwrap_or_default()
}
