//! Is a non-streaming answer usable? The checks behind quality-triggered escalation.

use serde_json::Value;

use crate::config::{Escalate, EscalateOn};

/// What the request asked for that the checks need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectation {
    /// The client's `max_completion_tokens` / `max_tokens`.
    pub max_tokens: Option<u64>,
    /// The client's `response_format.type` (`json_object`, `json_schema`, `text`).
    pub response_format: Option<String>,
}

fn is_json(s: &str) -> bool {
    serde_json::from_str::<Value>(s).is_ok()
}

/// The first configured trigger that the answer `body` (a chat completion) hits, if any.
/// Answers that are not chat completions (errors, other shapes) never trigger: they are not a
/// cheap model's bad answer but something else.
pub fn unusable(body: &Value, esc: &Escalate, expect: &Expectation) -> Option<EscalateOn> {
    let choice = body.get("choices")?.as_array()?.first()?;
    let message = choice.get("message")?;
    let content = message.get("content").and_then(Value::as_str).unwrap_or("");
    let tool_calls = message.get("tool_calls").and_then(Value::as_array);
    let completion_tokens = body.get("usage").and_then(|u| u.get("completion_tokens")).and_then(Value::as_u64);
    for on in &esc.on {
        let hit = match on {
            EscalateOn::Length => {
                choice.get("finish_reason").and_then(Value::as_str) == Some("length")
                    && match (expect.max_tokens, completion_tokens) {
                        // The client's own limit was reached: that is what it asked for.
                        (Some(limit), Some(used)) => used < limit,
                        (Some(_), None) => false,
                        (None, _) => true,
                    }
            }
            EscalateOn::Empty => content.trim().is_empty() && tool_calls.is_none_or(|t| t.is_empty()),
            EscalateOn::InvalidJson => {
                let wants_json = expect.response_format.as_deref().is_some_and(|f| f.starts_with("json"));
                let bad_content = wants_json && !content.trim().is_empty() && !is_json(content);
                let bad_args = tool_calls.is_some_and(|calls| {
                    calls.iter().any(|c| {
                        c.get("function")
                            .and_then(|f| f.get("arguments"))
                            .and_then(Value::as_str)
                            .is_some_and(|a| !is_json(a))
                    })
                });
                bad_content || bad_args
            }
            EscalateOn::Refusal => {
                let refusal_field = message.get("refusal").is_some_and(|r| !r.is_null());
                let lower = content.to_lowercase();
                refusal_field || esc.refusal_patterns.iter().any(|p| !p.is_empty() && lower.contains(p.as_str()))
            }
        };
        if hit {
            return Some(*on);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(on: &[EscalateOn]) -> Escalate {
        Escalate { on: on.to_vec(), refusal_patterns: vec!["i can't help".into()] }
    }

    fn answer(content: &str, finish: &str, completion: u64) -> Value {
        serde_json::json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 10, "completion_tokens": completion}})
    }

    const ALL: [EscalateOn; 4] = [EscalateOn::Length, EscalateOn::Empty, EscalateOn::InvalidJson, EscalateOn::Refusal];

    #[test]
    fn good_answer_is_usable() {
        assert_eq!(unusable(&answer("Paris.", "stop", 3), &esc(&ALL), &Expectation::default()), None);
    }

    #[test]
    fn length_only_when_the_client_limit_was_not_the_cause() {
        let e = esc(&[EscalateOn::Length]);
        let a = answer("Once upon", "length", 100);
        assert_eq!(unusable(&a, &e, &Expectation::default()), Some(EscalateOn::Length));
        assert_eq!(unusable(&a, &e, &Expectation { max_tokens: Some(100), ..Default::default() }), None);
        assert_eq!(
            unusable(&a, &e, &Expectation { max_tokens: Some(4000), ..Default::default() }),
            Some(EscalateOn::Length)
        );
    }

    #[test]
    fn empty_and_refusal() {
        assert_eq!(unusable(&answer("  ", "stop", 0), &esc(&ALL), &Expectation::default()), Some(EscalateOn::Empty));
        assert_eq!(
            unusable(&answer("Sorry, I CAN'T HELP with that.", "stop", 8), &esc(&ALL), &Expectation::default()),
            Some(EscalateOn::Refusal)
        );
        let with_tools = serde_json::json!({"choices": [{"message": {"content": null, "tool_calls": [{"function": {"name": "f", "arguments": "{\"a\":1}"}}]}, "finish_reason": "tool_calls"}]});
        assert_eq!(unusable(&with_tools, &esc(&ALL), &Expectation::default()), None);
    }

    #[test]
    fn invalid_json_content_or_tool_arguments() {
        let e = esc(&[EscalateOn::InvalidJson]);
        let json = Expectation { response_format: Some("json_object".into()), ..Default::default() };
        assert_eq!(unusable(&answer("{\"a\": 1", "stop", 5), &e, &json), Some(EscalateOn::InvalidJson));
        assert_eq!(unusable(&answer("{\"a\": 1}", "stop", 5), &e, &json), None);
        assert_eq!(unusable(&answer("not json", "stop", 5), &e, &Expectation::default()), None);
        let bad_args = serde_json::json!({"choices": [{"message": {"content": null, "tool_calls": [{"function": {"name": "f", "arguments": "{oops"}}]}}]});
        assert_eq!(unusable(&bad_args, &e, &Expectation::default()), Some(EscalateOn::InvalidJson));
    }

    #[test]
    fn error_bodies_never_trigger() {
        let err = serde_json::json!({"error": {"message": "overloaded"}});
        assert_eq!(unusable(&err, &esc(&ALL), &Expectation::default()), None);
    }
}
