//! The wire formats the router understands, behind one interface: each API reads a request
//! body into the shared [`Inspected`] (facts for routing + rewrite spans), reads an answer's
//! usage from JSON and from an event stream, and has its own error body. The flow picks the
//! API once per request, from the path ([`crate::router::Router::for_path`]), and only calls
//! these methods: it has no branch on the API itself.
//!
//! Adding an API is one module for its wire format (like [`crate::anthropic`] and
//! [`crate::anthropic_usage`], or [`crate::responses`] and [`crate::responses_usage`]), one
//! variant here (an arm in each method, its label value in [`crate::names::value`], an entry in
//! [`Api::ALL`]), and its configuration section. Its label then reaches every stat, the access
//! log, `report` and `simulate` with no other change.

use serde_json::Value;

use crate::config::{DEFAULT_MESSAGES_PATH, DEFAULT_PATH, DEFAULT_RESPONSES_PATH};
use crate::inspect::{self, Inspected};
use crate::names::value;
use crate::request::{self, RequestError};
use crate::sse::SseScanner;
use crate::usage::{self, Usage, UsageError};
use crate::{anthropic, anthropic_usage, responses, responses_usage};

/// One API's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Api {
    /// OpenAI chat completions (`POST /v1/chat/completions`).
    #[default]
    ChatCompletions,
    /// Anthropic Messages (`POST /v1/messages`).
    Messages,
    /// OpenAI Responses (`POST /v1/responses`).
    Responses,
}

impl Api {
    /// Every API, in label order of the outputs that list them.
    pub const ALL: [Api; 3] = [Api::ChatCompletions, Api::Messages, Api::Responses];

    /// The `api` label value of stats, access log, `report` and `simulate`.
    pub fn label(self) -> &'static str {
        match self {
            Api::ChatCompletions => value::API_CHAT_COMPLETIONS,
            Api::Messages => value::API_MESSAGES,
            Api::Responses => value::API_RESPONSES,
        }
    }

    /// The API whose label is `label`.
    pub fn from_label(label: &str) -> Option<Api> {
        Api::ALL.into_iter().find(|a| a.label() == label)
    }

    /// The path the API's section inspects when it names none: how an access-log line written
    /// before the `api` field existed is told apart by its `path`.
    pub fn default_path(self) -> &'static str {
        match self {
            Api::ChatCompletions => DEFAULT_PATH,
            Api::Messages => DEFAULT_MESSAGES_PATH,
            Api::Responses => DEFAULT_RESPONSES_PATH,
        }
    }

    /// Read a request body.
    ///
    /// # Errors
    ///
    /// The API's [`RequestError`] for a body routing cannot use.
    pub fn inspect(self, body: &[u8]) -> Result<Inspected<'_>, RequestError> {
        match self {
            Api::ChatCompletions => inspect::inspect(body),
            Api::Messages => anthropic::inspect(body).map(|r| r.inspected),
            Api::Responses => responses::inspect(body),
        }
    }

    /// The usage of a whole JSON answer, parsed.
    ///
    /// # Errors
    ///
    /// The API's [`UsageError`] for an answer without a usable usage.
    pub fn usage_from_value(self, v: &Value) -> Result<Usage, UsageError> {
        match self {
            Api::ChatCompletions => usage::usage_from_value(v),
            Api::Messages => anthropic_usage::usage_from_value(v),
            Api::Responses => responses_usage::usage_from_value(v),
        }
    }

    /// The usage of a whole JSON answer.
    ///
    /// # Errors
    ///
    /// [`UsageError::NotJson`], or those of [`Api::usage_from_value`].
    pub fn usage_from_json(self, body: &[u8]) -> Result<Usage, UsageError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| UsageError::NotJson(e.to_string()))?;
        self.usage_from_value(&value)
    }

    /// A scanner for this API's event stream.
    pub fn sse_scanner(self, max_event_bytes: usize) -> SseScanner {
        match self {
            Api::ChatCompletions => SseScanner::new(max_event_bytes),
            Api::Messages => SseScanner::anthropic(max_event_bytes),
            Api::Responses => SseScanner::responses(max_event_bytes),
        }
    }

    /// The body of a request rejected with `fail_closed`, in the API's own error shape.
    pub fn error_body(self, message: &str, kind: &str) -> String {
        match self {
            Api::ChatCompletions | Api::Responses => request::openai_error(message, kind),
            Api::Messages => request::anthropic_error(message),
        }
    }
}

// Records that carry the API (the SSE comment's JSON) show its label.
impl serde::Serialize for Api {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_reads_its_own_usage_shape() {
        let openai = br#"{"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
        let anthropic = br#"{"usage":{"input_tokens":3,"output_tokens":4,"cache_read_input_tokens":2}}"#;
        let responses = br#"{"usage":{"input_tokens":3,"output_tokens":4,"input_tokens_details":{"cached_tokens":2}}}"#;
        assert_eq!(Api::ChatCompletions.usage_from_json(openai).unwrap().prompt_tokens, 3);
        assert_eq!(Api::Messages.usage_from_json(anthropic).unwrap().prompt_tokens, 5);
        assert_eq!(Api::Responses.usage_from_json(responses).unwrap().prompt_tokens, 3);
        assert_eq!(Api::Responses.usage_from_json(responses).unwrap().cached_tokens, 2);
        assert!(Api::ChatCompletions.usage_from_json(anthropic).is_err());
        assert!(Api::Messages.usage_from_json(openai).is_err());
        assert!(Api::Responses.usage_from_json(openai).is_err());
    }

    #[test]
    fn each_api_has_its_error_shape() {
        let v: Value = serde_json::from_str(&Api::Messages.error_body("m", "invalid_json")).unwrap();
        assert_eq!(v["type"], "error");
        for api in [Api::ChatCompletions, Api::Responses] {
            let v: Value = serde_json::from_str(&api.error_body("m", "invalid_json")).unwrap();
            assert_eq!(v["error"]["code"], "invalid_json");
        }
    }

    #[test]
    fn labels_are_distinct_and_read_back() {
        let labels: Vec<&str> = Api::ALL.iter().map(|a| a.label()).collect();
        assert_eq!(labels, ["chat_completions", "messages", "responses"]);
        for api in Api::ALL {
            assert_eq!(Api::from_label(api.label()), Some(api));
            assert!(api.default_path().starts_with("/v1/"));
        }
        assert_eq!(Api::from_label("Messages"), None);
        assert_eq!(serde_json::to_string(&Api::Messages).unwrap(), "\"messages\"");
    }
}
