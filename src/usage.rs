//! Token usage reported by an upstream (OpenAI chat completions format).
//!
//! A non-streaming response carries a `usage` object next to `choices`:
//!
//! ```json
//! {"model": "gpt-4o-2024-08-06", "choices": [...],
//!  "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
//!            "prompt_tokens_details": {"cached_tokens": 0}}}
//! ```
//!
//! A streaming response carries the same object in its last chunk (see
//! [`crate::sse`]). Counts are validated strictly: every count must be a
//! non-negative JSON integer no larger than [`MAX_TOKENS_PER_FIELD`], and the
//! cached part of the prompt can not exceed the prompt. `total_tokens` and
//! `completion_tokens_details` are ignored (they are derivable or already
//! included in `completion_tokens`).

use serde_json::Value;

use crate::service_tier::ServiceTier;

/// Largest accepted value of any single token count; anything above is
/// treated as absurd (a broken or hostile upstream), not as a real count.
pub const MAX_TOKENS_PER_FIELD: u64 = 100_000_000;

/// Token usage reported by an upstream for one completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Usage {
    /// `usage.prompt_tokens`: all input tokens, cached ones included.
    pub prompt_tokens: u64,
    /// `usage.completion_tokens`: all output tokens (reasoning included).
    pub completion_tokens: u64,
    /// `usage.prompt_tokens_details.cached_tokens`: the part of
    /// `prompt_tokens` served from the provider's prompt cache (0 if absent).
    pub cached_tokens: u64,
    /// The part of `prompt_tokens` written to a 5-minute prompt cache (Anthropic's
    /// `cache_creation_input_tokens`); always 0 for OpenAI answers, and left out of the
    /// serialized form when 0 so OpenAI records keep their shape.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_write_5m_tokens: u64,
    /// The part of `prompt_tokens` written to a 1-hour prompt cache (Anthropic's
    /// `cache_creation.ephemeral_1h_input_tokens`).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_write_1h_tokens: u64,
    /// The processing tier the answer reports (`service_tier`); left out of the serialized
    /// form when standard.
    #[serde(skip_serializing_if = "ServiceTier::is_standard")]
    pub service_tier: ServiceTier,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Usage {
    /// No tokens; the base of struct-update literals.
    pub const ZERO: Usage = Usage {
        prompt_tokens: 0,
        completion_tokens: 0,
        cached_tokens: 0,
        cache_write_5m_tokens: 0,
        cache_write_1h_tokens: 0,
        service_tier: ServiceTier::Standard,
    };

    /// Input tokens billed at the plain input rate: not read from, nor written to, a cache.
    /// `None` when the parts exceed the whole (a reader never builds such a usage).
    pub fn uncached_input(&self) -> Option<u64> {
        self.prompt_tokens
            .checked_sub(self.cached_tokens)?
            .checked_sub(self.cache_write_5m_tokens)?
            .checked_sub(self.cache_write_1h_tokens)
    }
}

/// Why a usage report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// The body is not valid JSON.
    #[error("response body is not valid json: {0}")]
    NotJson(String),
    /// The body (or chunk) is valid JSON but not an object.
    #[error("response is not a json object")]
    NotObject,
    /// There is no `usage` member, or it is `null`.
    #[error("response has no usage object")]
    MissingUsage,
    /// `usage` (or `usage.prompt_tokens_details`) is present but not an object.
    #[error("`{field}` is not a json object")]
    NotAnObject {
        /// Path of the offending member.
        field: &'static str,
    },
    /// A required count is absent or `null`.
    #[error("usage count `{field}` is missing")]
    MissingCount {
        /// Path of the missing count.
        field: &'static str,
    },
    /// A count is negative.
    #[error("usage count `{field}` is negative")]
    NegativeCount {
        /// Path of the offending count.
        field: &'static str,
    },
    /// A count is not a JSON integer (a float such as `5.0`, a string, ...).
    #[error("usage count `{field}` is not an integer")]
    NotAnInteger {
        /// Path of the offending count.
        field: &'static str,
    },
    /// A count is larger than [`MAX_TOKENS_PER_FIELD`].
    #[error("usage count `{field}` is {value}, above the maximum of {max}")]
    AbsurdCount {
        /// Path of the offending count.
        field: &'static str,
        /// The reported value.
        value: u64,
        /// The limit, [`MAX_TOKENS_PER_FIELD`].
        max: u64,
    },
    /// Anthropic's `cache_creation` split does not add up to `cache_creation_input_tokens`.
    #[error("cache-creation split ({split}) differs from cache_creation_input_tokens ({total:?})")]
    CacheSplitMismatch {
        /// `cache_creation_input_tokens`, if present.
        total: Option<u64>,
        /// Sum of the 5-minute and 1-hour parts.
        split: u64,
    },
    /// `cached_tokens` is larger than `prompt_tokens`.
    #[error("cached tokens ({cached}) exceed prompt tokens ({prompt})")]
    CachedExceedsPrompt {
        /// Reported cached tokens.
        cached: u64,
        /// Reported prompt tokens.
        prompt: u64,
    },
}

const PROMPT: &str = "usage.prompt_tokens";
const COMPLETION: &str = "usage.completion_tokens";
const CACHED: &str = "usage.prompt_tokens_details.cached_tokens";
const DETAILS: &str = "usage.prompt_tokens_details";

/// Reads the usage of a non-streaming `OpenAI` chat completion response body.
///
/// # Errors
///
/// [`UsageError::NotJson`] if the body does not parse, otherwise those of
/// [`usage_from_value`].
pub fn usage_from_json(body: &[u8]) -> Result<Usage, UsageError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| UsageError::NotJson(e.to_string()))?;
    usage_from_value(&value)
}

/// Reads the usage from the parent of the `usage` object: a whole response
/// or one SSE chunk object.
///
/// # Errors
///
/// [`UsageError::NotObject`] if `v` is not an object,
/// [`UsageError::MissingUsage`] if `usage` is missing or `null`, and the
/// other variants for an invalid count.
pub fn usage_from_value(v: &Value) -> Result<Usage, UsageError> {
    let obj = v.as_object().ok_or(UsageError::NotObject)?;
    let usage = match obj.get("usage") {
        None | Some(Value::Null) => return Err(UsageError::MissingUsage),
        Some(usage) => usage_from_usage_object(usage)?,
    };
    Ok(Usage { service_tier: ServiceTier::from_member(obj.get("service_tier")), ..usage })
}

/// Reads and validates the `usage` object itself.
pub(crate) fn usage_from_usage_object(usage: &Value) -> Result<Usage, UsageError> {
    let usage = usage.as_object().ok_or(UsageError::NotAnObject { field: "usage" })?;
    let prompt_tokens = required_count(usage.get("prompt_tokens"), PROMPT)?;
    let completion_tokens = required_count(usage.get("completion_tokens"), COMPLETION)?;
    let cached_tokens = match usage.get("prompt_tokens_details") {
        None | Some(Value::Null) => 0,
        Some(Value::Object(details)) => match details.get("cached_tokens") {
            None | Some(Value::Null) => 0,
            Some(c) => count(c, CACHED)?,
        },
        Some(_) => return Err(UsageError::NotAnObject { field: DETAILS }),
    };
    if cached_tokens > prompt_tokens {
        return Err(UsageError::CachedExceedsPrompt { cached: cached_tokens, prompt: prompt_tokens });
    }
    Ok(Usage { prompt_tokens, completion_tokens, cached_tokens, ..Usage::ZERO })
}

pub(crate) fn required_count(v: Option<&Value>, field: &'static str) -> Result<u64, UsageError> {
    match v {
        None | Some(Value::Null) => Err(UsageError::MissingCount { field }),
        Some(v) => count(v, field),
    }
}

pub(crate) fn count(v: &Value, field: &'static str) -> Result<u64, UsageError> {
    let Value::Number(n) = v else {
        return Err(UsageError::NotAnInteger { field });
    };
    if let Some(value) = n.as_u64() {
        if value > MAX_TOKENS_PER_FIELD {
            return Err(UsageError::AbsurdCount { field, value, max: MAX_TOKENS_PER_FIELD });
        }
        return Ok(value);
    }
    if n.is_i64() {
        // An integer that is not a u64 is negative.
        return Err(UsageError::NegativeCount { field });
    }
    // A float (`5.0`, `-1.5`, `1e3`) or an integer too large for 64 bits.
    if n.as_f64().is_some_and(|f| f < 0.0) {
        return Err(UsageError::NegativeCount { field });
    }
    Err(UsageError::NotAnInteger { field })
}

#[cfg(test)]
mod tests {

    use super::*;
    use serde_json::json;

    fn body(usage: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
            "usage": usage,
        }))
        .unwrap()
    }

    #[test]
    fn service_tier_is_read_from_the_answer() {
        let with = |tier: Value| {
            let mut v: Value =
                serde_json::from_slice(&body(json!({"prompt_tokens": 3, "completion_tokens": 4}))).unwrap();
            v["service_tier"] = tier;
            usage_from_value(&v).unwrap().service_tier
        };
        assert_eq!(with(json!("default")), ServiceTier::Standard);
        assert_eq!(with(json!(null)), ServiceTier::Standard);
        assert_eq!(with(json!("flex")), ServiceTier::Flex);
        assert_eq!(with(json!("scale")), ServiceTier::Scale);
        assert_eq!(with(json!(7)), ServiceTier::Unknown);
        let plain = usage_from_json(&body(json!({"prompt_tokens": 3, "completion_tokens": 4}))).unwrap();
        assert_eq!(plain.service_tier, ServiceTier::Standard);
    }

    #[test]
    fn full_openai_response() {
        let b = body(json!({
            "prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0}
        }));
        assert_eq!(
            usage_from_json(&b).unwrap(),
            Usage { prompt_tokens: 1200, completion_tokens: 80, cached_tokens: 1024, ..Usage::ZERO }
        );
    }

    #[test]
    fn missing_or_null_details_mean_zero_cached() {
        for usage in [
            json!({"prompt_tokens": 5, "completion_tokens": 7}),
            json!({"prompt_tokens": 5, "completion_tokens": 7, "prompt_tokens_details": null}),
            json!({"prompt_tokens": 5, "completion_tokens": 7, "prompt_tokens_details": {}}),
            json!({"prompt_tokens": 5, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": null}}),
        ] {
            assert_eq!(
                usage_from_json(&body(usage)).unwrap(),
                Usage { prompt_tokens: 5, completion_tokens: 7, cached_tokens: 0, ..Usage::ZERO }
            );
        }
    }

    #[test]
    fn zero_counts_are_fine() {
        let u = usage_from_json(&body(json!({"prompt_tokens": 0, "completion_tokens": 0}))).unwrap();
        assert_eq!(u, Usage::default());
    }

    #[test]
    fn not_json() {
        assert!(matches!(usage_from_json(b"{\"usage\":"), Err(UsageError::NotJson(_))));
        assert!(matches!(usage_from_json(b""), Err(UsageError::NotJson(_))));
        assert!(matches!(usage_from_json(&[0xff, 0xfe, 0x00]), Err(UsageError::NotJson(_))));
    }

    #[test]
    fn not_an_object() {
        assert_eq!(usage_from_json(b"[1,2]"), Err(UsageError::NotObject));
        assert_eq!(usage_from_json(b"\"usage\""), Err(UsageError::NotObject));
        assert_eq!(usage_from_json(b"null"), Err(UsageError::NotObject));
    }

    #[test]
    fn usage_missing_or_null() {
        assert_eq!(usage_from_json(b"{\"model\":\"x\"}"), Err(UsageError::MissingUsage));
        assert_eq!(usage_from_json(&body(Value::Null)), Err(UsageError::MissingUsage));
    }

    #[test]
    fn usage_or_details_not_object() {
        assert_eq!(usage_from_json(&body(json!([1]))), Err(UsageError::NotAnObject { field: "usage" }));
        assert_eq!(
            usage_from_json(&body(json!({"prompt_tokens": 1, "completion_tokens": 1, "prompt_tokens_details": 3}))),
            Err(UsageError::NotAnObject { field: DETAILS })
        );
    }

    #[test]
    fn count_missing() {
        assert_eq!(
            usage_from_json(&body(json!({"completion_tokens": 1}))),
            Err(UsageError::MissingCount { field: PROMPT })
        );
        assert_eq!(
            usage_from_json(&body(json!({"prompt_tokens": 1, "completion_tokens": null}))),
            Err(UsageError::MissingCount { field: COMPLETION })
        );
    }

    #[test]
    fn count_negative() {
        assert_eq!(
            usage_from_json(&body(json!({"prompt_tokens": -1, "completion_tokens": 1}))),
            Err(UsageError::NegativeCount { field: PROMPT })
        );
        assert_eq!(
            usage_from_json(&body(json!({"prompt_tokens": 1, "completion_tokens": -2.5}))),
            Err(UsageError::NegativeCount { field: COMPLETION })
        );
        assert_eq!(
            usage_from_json(&body(json!({"prompt_tokens": 5, "completion_tokens": 1,
                "prompt_tokens_details": {"cached_tokens": -3}}))),
            Err(UsageError::NegativeCount { field: CACHED })
        );
    }

    #[test]
    fn count_not_integer() {
        for bad in [json!(5.0), json!(1.5), json!("5"), json!(true), json!([5]), json!({"n": 5})] {
            assert_eq!(
                usage_from_json(&body(json!({"prompt_tokens": bad, "completion_tokens": 1}))),
                Err(UsageError::NotAnInteger { field: PROMPT }),
                "{bad}"
            );
        }
        // Exponent notation is a float in JSON, and integers beyond u64 too.
        assert_eq!(
            usage_from_json(br#"{"usage":{"prompt_tokens":1e3,"completion_tokens":1}}"#),
            Err(UsageError::NotAnInteger { field: PROMPT })
        );
        assert_eq!(
            usage_from_json(br#"{"usage":{"prompt_tokens":1,"completion_tokens":184467440737095516160}}"#),
            Err(UsageError::NotAnInteger { field: COMPLETION })
        );
    }

    #[test]
    fn count_absurd() {
        assert!(usage_from_json(&body(json!({"prompt_tokens": MAX_TOKENS_PER_FIELD, "completion_tokens": 1}))).is_ok());
        assert_eq!(
            usage_from_json(&body(json!({"prompt_tokens": 1, "completion_tokens": MAX_TOKENS_PER_FIELD + 1}))),
            Err(UsageError::AbsurdCount {
                field: COMPLETION,
                value: MAX_TOKENS_PER_FIELD + 1,
                max: MAX_TOKENS_PER_FIELD
            })
        );
        assert!(matches!(
            usage_from_json(&body(json!({"prompt_tokens": u64::MAX, "completion_tokens": 1}))),
            Err(UsageError::AbsurdCount { field: PROMPT, .. })
        ));
    }

    #[test]
    fn cached_exceeds_prompt() {
        assert_eq!(
            usage_from_json(&body(json!({"prompt_tokens": 10, "completion_tokens": 1,
                "prompt_tokens_details": {"cached_tokens": 11}}))),
            Err(UsageError::CachedExceedsPrompt { cached: 11, prompt: 10 })
        );
        // Equal is fine: the whole prompt came from the cache.
        assert!(usage_from_json(&body(json!({"prompt_tokens": 10, "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 10}})))
        .is_ok());
    }

    #[test]
    fn from_value_on_sse_chunk() {
        let chunk = json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o", "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}});
        assert_eq!(
            usage_from_value(&chunk).unwrap(),
            Usage { prompt_tokens: 3, completion_tokens: 4, cached_tokens: 0, ..Usage::ZERO }
        );
        assert_eq!(usage_from_value(&json!(3)), Err(UsageError::NotObject));
    }

    #[test]
    fn errors_have_lowercase_messages() {
        let e = UsageError::CachedExceedsPrompt { cached: 2, prompt: 1 };
        assert_eq!(e.to_string(), "cached tokens (2) exceed prompt tokens (1)");
    }

    #[test]
    fn serializes() {
        let s =
            serde_json::to_string(&Usage { prompt_tokens: 1, completion_tokens: 2, cached_tokens: 0, ..Usage::ZERO })
                .unwrap();
        assert_eq!(s, r#"{"prompt_tokens":1,"completion_tokens":2,"cached_tokens":0}"#);
    }
}
