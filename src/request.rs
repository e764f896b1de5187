//! OpenAI chat-completions requests as routing sees them: [`ChatRequest`], its errors, and the
//! error body a rejected request gets.
//!
//! [`crate::inspect`] reads a body into these types in one pass (strings borrowed from the body
//! unless escaped) and [`crate::splice`] rewrites it; [`parse`] is the short way for callers
//! that only need the request.
//!
//! Only text is inspected: string contents and `text` content parts. Images, audio, files and
//! tool calls are counted, never read. Unknown roles are accepted and counted as `other`.

use std::borrow::Cow;

/// Tokens added per message to the estimate (role and framing overhead).
pub const TOKENS_PER_MESSAGE: u64 = 4;
/// Characters per token in the estimate.
pub const CHARS_PER_TOKEN: u64 = 4;
/// Deepest JSON nesting accepted (serde_json's own recursion limit is 128).
pub const MAX_DEPTH: usize = 64;

/// Why a body is not a usable chat-completions request.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// Not valid JSON (includes invalid UTF-8 and truncated bodies).
    #[error("body is not valid json: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("body is not a json object")]
    NotObject,
    /// `model` missing.
    #[error("`model` is missing")]
    MissingModel,
    /// `model` not a non-empty string.
    #[error("`model` must be a non-empty string")]
    BadModel,
    /// `messages` missing.
    #[error("`messages` is missing")]
    MissingMessages,
    /// `messages` not an array.
    #[error("`messages` must be an array")]
    MessagesNotArray,
    /// A message is not an object.
    #[error("message {0} is not an object")]
    MessageNotObject(usize),
    /// A message content has an unexpected type.
    #[error("message {0} has a `content` that is neither a string, an array nor null")]
    BadContent(usize),
    /// `stream` is not a boolean.
    #[error("`stream` must be a boolean")]
    BadStream,
    /// Anthropic's `system` is neither a string, an array nor null.
    #[error("`system` must be a string or an array of content blocks")]
    BadSystem,
    /// Responses' `input` is neither a string, an array nor null.
    #[error("`input` must be a string or an array of input items")]
    BadInput,
    /// A Responses input item is not an object.
    #[error("input item {0} is not an object")]
    InputItemNotObject(usize),
    /// A Responses message item's `content` has an unexpected type.
    #[error("input item {0} has a `content` that is neither a string, an array nor null")]
    BadInputContent(usize),
    /// Responses' `instructions` is neither a string nor null.
    #[error("`instructions` must be a string")]
    BadInstructions,
    /// The body nests deeper than [`MAX_DEPTH`].
    #[error("body nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

impl RequestError {
    /// A short stable label for stats (`kind` label).
    pub fn kind(&self) -> &'static str {
        match self {
            RequestError::Json(_) => "invalid_json",
            RequestError::TooDeep => "too_deep",
            RequestError::NotObject => "not_object",
            RequestError::MissingModel | RequestError::BadModel => "bad_model",
            RequestError::MissingMessages
            | RequestError::MessagesNotArray
            | RequestError::MessageNotObject(_)
            | RequestError::BadContent(_)
            | RequestError::BadSystem => "bad_messages",
            RequestError::BadStream => "bad_stream",
            RequestError::BadInput
            | RequestError::InputItemNotObject(_)
            | RequestError::BadInputContent(_)
            | RequestError::BadInstructions => "bad_input",
        }
    }
}

/// A message role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `system` or `developer`.
    System,
    /// `user`.
    User,
    /// `assistant`.
    Assistant,
    /// `tool` or `function`.
    Tool,
    /// Anything else.
    Other,
}

impl Role {
    pub(crate) fn parse(s: Option<&str>) -> Role {
        match s {
            Some("system") | Some("developer") => Role::System,
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("tool") | Some("function") => Role::Tool,
            _ => Role::Other,
        }
    }
}

/// One message, as far as routing cares.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<'a> {
    /// Role.
    pub role: Role,
    /// Text pieces, in order.
    pub text: Vec<Cow<'a, str>>,
    /// Total characters of text (Unicode scalar values).
    pub chars: u64,
    /// Image parts.
    pub images: u32,
    /// Audio, file and other non-text parts.
    pub other_parts: u32,
    /// Tool calls made by an assistant message.
    pub tool_calls: u32,
}

/// The parts of a chat-completions request the router reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest<'a> {
    /// `model` as sent.
    pub model: Cow<'a, str>,
    /// Messages.
    pub messages: Vec<Message<'a>>,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true` already set.
    pub include_usage: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
    /// `response_format.type`, when present.
    pub response_format: Option<Cow<'a, str>>,
    /// Number of tools.
    pub tools: u32,
    /// The request continues a response stored at the provider (Responses'
    /// `previous_response_id` or `conversation`), so it must stay with that provider.
    pub stateful: bool,
}

impl ChatRequest<'_> {
    /// Estimated input tokens: `ceil(chars / 4) + 4` per message.
    pub fn estimated_input_tokens(&self) -> u64 {
        self.messages.iter().map(|m| m.chars.div_ceil(CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE).sum()
    }

    /// Total characters of text across messages.
    pub fn total_chars(&self) -> u64 {
        self.messages.iter().map(|m| m.chars).sum()
    }
}

/// Read a body into a request (see [`crate::inspect::inspect`] for what it checks).
pub fn parse(body: &[u8]) -> Result<ChatRequest<'_>, RequestError> {
    crate::inspect::inspect(body).map(|i| i.request)
}

/// The Anthropic-shaped error body of a rejected Messages request (`fail_closed: true`):
/// what Anthropic itself answers to an invalid request, so its SDKs raise their usual
/// `BadRequestError`.
pub fn anthropic_error(message: &str) -> String {
    serde_json::json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}}).to_string()
}

/// The OpenAI-shaped error body of a request rejected because it cannot be inspected
/// (`fail_closed: true`), so OpenAI clients report it like any invalid request.
pub fn openai_error(message: &str, code: &str) -> String {
    serde_json::json!({
        "error": {"message": message, "type": "invalid_request_error", "param": null, "code": code}
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_string_and_part_contents() {
        let body = r#"{"model":"auto","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"héllo"},{"type":"image_url","image_url":{"url":"data:x"}},{"type":"input_audio","input_audio":{}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1"}]},
            {"role":"wizard","content":"?"}],
            "stream":true,"max_tokens":50,"response_format":{"type":"json_object"},"tools":[{},{}]}"#;
        let r = parse(body.as_bytes()).unwrap();
        assert_eq!(r.model, "auto");
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[0].role, Role::System);
        assert_eq!(r.messages[1].text, vec!["héllo"]);
        assert_eq!(r.messages[1].chars, 5);
        assert_eq!(r.messages[1].images, 1);
        assert_eq!(r.messages[1].other_parts, 1);
        assert_eq!(r.messages[2].tool_calls, 1);
        assert_eq!(r.messages[3].role, Role::Other);
        assert!(r.stream);
        assert!(!r.include_usage);
        assert_eq!(r.max_tokens, Some(50));
        assert_eq!(r.response_format.as_deref(), Some("json_object"));
        assert_eq!(r.tools, 2);
        // ceil(8/4)+4 + ceil(5/4)+4 + 0+4 + ceil(1/4)+4
        assert_eq!(r.estimated_input_tokens(), 6 + 6 + 4 + 5);
    }

    #[test]
    fn strings_are_borrowed_unless_escaped_and_the_last_duplicate_counts() {
        let body = r#"{"model":"a","messages":[{"role":"user","content":"plain"},
            {"content":"line\none","role":"user","content":[{"text":"x\u00e9","type":"text"},"bare",7,null]}],
            "model":"b","stream":null,"max_completion_tokens":1.5,"max_tokens":9,"functions":[1],"tools":{}}"#;
        let r = parse(body.as_bytes()).unwrap();
        assert_eq!(r.model, "b");
        assert!(matches!(r.messages[0].text[0], Cow::Borrowed("plain")));
        // The second `content` replaces the first; `text` may come before `type`.
        assert_eq!(r.messages[1].text, vec!["xé", "bare"]);
        assert!(matches!(r.messages[1].text[0], Cow::Owned(_)));
        assert_eq!(r.messages[1].other_parts, 2);
        assert!(!r.stream);
        assert_eq!(r.max_tokens, Some(9));
        assert_eq!(r.tools, 1);
    }

    #[test]
    fn errors_are_specific() {
        let cases = [
            ("{", "invalid_json"),
            ("[1]", "not_object"),
            ("3", "not_object"),
            ("[1", "invalid_json"),
            (r#"{"messages":[]}"#, "bad_model"),
            (r#"{"model":3,"messages":[]}"#, "bad_model"),
            (r#"{"model":"","messages":[]}"#, "bad_model"),
            (r#"{"model":" ","messages":[]}"#, "bad_model"),
            (r#"{"model":"auto"}"#, "bad_messages"),
            (r#"{"model":"auto","messages":"hi"}"#, "bad_messages"),
            (r#"{"model":"auto","messages":null}"#, "bad_messages"),
            (r#"{"model":"auto","messages":[1]}"#, "bad_messages"),
            (r#"{"model":"auto","messages":[{"role":"user","content":5}]}"#, "bad_messages"),
            (r#"{"model":"auto","messages":[{"role":"user","content":{}}]}"#, "bad_messages"),
            (r#"{"model":"auto","messages":[],"stream":"yes"}"#, "bad_stream"),
            // A syntax error anywhere wins over a wrong member before it.
            (r#"{"model":3,"messages":[1],"stream":"yes","x":tru}"#, "invalid_json"),
            (r#"{"model":"a","messages":[]} x"#, "invalid_json"),
        ];
        for (body, kind) in cases {
            assert_eq!(parse(body.as_bytes()).unwrap_err().kind(), kind, "{body}");
        }
        // The first bad message is the one named.
        let e = parse(br#"{"model":"a","messages":[{"content":"x"},2,{"content":1}]}"#).unwrap_err();
        assert_eq!(e, RequestError::MessageNotObject(1));
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_errors() {
        assert_eq!(parse(b"{\"model\":\"\xff\"}").unwrap_err().kind(), "invalid_json");
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse(deep.as_bytes()).unwrap_err(), RequestError::TooDeep);
        let very_deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse(very_deep.as_bytes()).unwrap_err(), RequestError::TooDeep);
        // Depth counts everywhere: under unknown members, in model and in stream_options.
        let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        for (at, limit) in [("x", MAX_DEPTH), ("model", MAX_DEPTH), ("stream_options", MAX_DEPTH)] {
            let ok = format!(r#"{{"model":"a","messages":[],"{at}":{}}}"#, nest(limit - 1));
            let deep = format!(r#"{{"model":"a","messages":[],"{at}":{}}}"#, nest(limit));
            assert_ne!(parse(ok.as_bytes()).err(), Some(RequestError::TooDeep), "{at}");
            assert_eq!(parse(deep.as_bytes()).unwrap_err(), RequestError::TooDeep, "{at}");
        }
        // A part's member sits at depth 5: messages, message, content, part, member.
        let in_part = |n: usize| {
            format!(r#"{{"model":"a","messages":[{{"role":"user","content":[{{"type":"text","y":{}}}]}}]}}"#, nest(n))
        };
        assert!(parse(in_part(MAX_DEPTH - 5).as_bytes()).is_ok());
        assert_eq!(parse(in_part(MAX_DEPTH - 4).as_bytes()).unwrap_err(), RequestError::TooDeep);
    }
}
