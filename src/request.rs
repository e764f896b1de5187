//! OpenAI chat-completions request bodies: parse, read what routing needs, rewrite.
//!
//! The body is parsed once into a `serde_json::Value` (key order preserved) and viewed through
//! [`ChatRequest`] (borrowing strings from that value). When the route changes,
//! [`rewrite_body`] splices the new top-level values into the original bytes (every other byte
//! kept as the client sent it); only when that is not possible (duplicate `model` keys, an
//! existing `stream_options` to edit) is the parsed value edited and serialized again
//! ([`rewrite`]), which also keeps fields this filter does not know.
//!
//! Only text is inspected: string contents and `text` content parts. Images, audio, files and
//! tool calls are counted, never read. Unknown roles are accepted and counted as `other`.

use serde_json::{Map, Value};

/// Tokens added per message to the estimate (role and framing overhead).
pub const TOKENS_PER_MESSAGE: u64 = 4;
/// Characters per token in the estimate.
pub const CHARS_PER_TOKEN: u64 = 4;
/// Deepest JSON nesting accepted (serde_json's own recursion limit is 128).
pub const MAX_DEPTH: usize = 64;

/// Why a body is not a usable chat-completions request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
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
            | RequestError::BadContent(_) => "bad_messages",
            RequestError::BadStream => "bad_stream",
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
    fn parse(s: Option<&str>) -> Role {
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
    pub text: Vec<&'a str>,
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
    pub model: &'a str,
    /// Messages.
    pub messages: Vec<Message<'a>>,
    /// `stream: true`.
    pub stream: bool,
    /// `stream_options.include_usage: true` already set.
    pub include_usage: bool,
    /// `max_completion_tokens`, else `max_tokens`.
    pub max_tokens: Option<u64>,
    /// `response_format.type`, when present.
    pub response_format: Option<&'a str>,
    /// Number of tools.
    pub tools: u32,
}

impl<'a> ChatRequest<'a> {
    /// Estimated input tokens: `ceil(chars / 4) + 4` per message.
    pub fn estimated_input_tokens(&self) -> u64 {
        self.messages.iter().map(|m| m.chars.div_ceil(CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE).sum()
    }

    /// Total characters of text across messages.
    pub fn total_chars(&self) -> u64 {
        self.messages.iter().map(|m| m.chars).sum()
    }
}

fn depth_ok(v: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match v {
        Value::Array(a) => a.iter().all(|x| depth_ok(x, depth + 1)),
        Value::Object(o) => o.values().all(|x| depth_ok(x, depth + 1)),
        _ => true,
    }
}

/// Parse a body into a JSON value (checking nesting depth).
pub fn parse_body(body: &[u8]) -> Result<Value, RequestError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        if e.to_string().contains("recursion limit") {
            RequestError::TooDeep
        } else {
            RequestError::Json(e.to_string())
        }
    })?;
    if !depth_ok(&v, 0) {
        return Err(RequestError::TooDeep);
    }
    Ok(v)
}

fn count_chars(s: &str) -> u64 {
    s.chars().count() as u64
}

fn parse_message(i: usize, v: &Value) -> Result<Message<'_>, RequestError> {
    let obj = v.as_object().ok_or(RequestError::MessageNotObject(i))?;
    let role = Role::parse(obj.get("role").and_then(Value::as_str));
    let mut msg = Message { role, text: Vec::new(), chars: 0, images: 0, other_parts: 0, tool_calls: 0 };
    match obj.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            msg.chars += count_chars(s);
            msg.text.push(s.as_str());
        }
        Some(Value::Array(parts)) => {
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") | Some("input_text") => {
                        if let Some(s) = part.get("text").and_then(Value::as_str) {
                            msg.chars += count_chars(s);
                            msg.text.push(s);
                        }
                    }
                    Some("image_url") | Some("image") | Some("input_image") => msg.images += 1,
                    _ => {
                        // A bare string part is tolerated as text; anything else is counted.
                        if let Some(s) = part.as_str() {
                            msg.chars += count_chars(s);
                            msg.text.push(s);
                        } else {
                            msg.other_parts += 1;
                        }
                    }
                }
            }
        }
        Some(_) => return Err(RequestError::BadContent(i)),
    }
    if let Some(Value::Array(calls)) = obj.get("tool_calls") {
        msg.tool_calls = u32::try_from(calls.len()).unwrap_or(u32::MAX);
    }
    Ok(msg)
}

impl<'a> TryFrom<&'a Value> for ChatRequest<'a> {
    type Error = RequestError;

    fn try_from(v: &'a Value) -> Result<Self, Self::Error> {
        let obj = v.as_object().ok_or(RequestError::NotObject)?;
        let model = match obj.get("model") {
            None => return Err(RequestError::MissingModel),
            Some(Value::String(s)) if !s.trim().is_empty() => s.as_str(),
            Some(_) => return Err(RequestError::BadModel),
        };
        let messages = match obj.get("messages") {
            None => return Err(RequestError::MissingMessages),
            Some(Value::Array(a)) => {
                a.iter().enumerate().map(|(i, m)| parse_message(i, m)).collect::<Result<Vec<_>, _>>()?
            }
            Some(_) => return Err(RequestError::MessagesNotArray),
        };
        let stream = match obj.get("stream") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(RequestError::BadStream),
        };
        let include_usage =
            obj.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool).unwrap_or(false);
        let max_tokens = obj
            .get("max_completion_tokens")
            .and_then(Value::as_u64)
            .or_else(|| obj.get("max_tokens").and_then(Value::as_u64));
        let response_format = obj.get("response_format").and_then(|r| r.get("type")).and_then(Value::as_str);
        let tools = match obj.get("tools") {
            Some(Value::Array(a)) => u32::try_from(a.len()).unwrap_or(u32::MAX),
            _ => 0,
        } + match obj.get("functions") {
            Some(Value::Array(a)) => u32::try_from(a.len()).unwrap_or(u32::MAX),
            _ => 0,
        };
        Ok(ChatRequest { model, messages, stream, include_usage, max_tokens, response_format, tools })
    }
}

/// Edit a parsed request body: set `model` (when given) and, for streaming requests, force
/// `stream_options.include_usage = true`. Returns the new body, or `None` when nothing changed.
pub fn rewrite(body: &mut Value, model: Option<&str>, force_include_usage: bool) -> Option<Vec<u8>> {
    let obj = body.as_object_mut()?;
    let mut changed = false;
    if let Some(m) = model {
        if obj.get("model").and_then(Value::as_str) != Some(m) {
            obj.insert("model".to_string(), Value::String(m.to_string()));
            changed = true;
        }
    }
    if force_include_usage {
        let opts = obj.entry("stream_options").or_insert_with(|| Value::Object(Map::new()));
        if !opts.is_object() {
            *opts = Value::Object(Map::new());
        }
        if let Some(o) = opts.as_object_mut() {
            if o.get("include_usage").and_then(Value::as_bool) != Some(true) {
                o.insert("include_usage".to_string(), Value::Bool(true));
                changed = true;
            }
        }
    }
    if !changed {
        return None;
    }
    serde_json::to_vec(body).ok()
}

/// The top-level members of a JSON object as (key, raw value) pairs, borrowed from the input.
struct TopLevel<'a>(Vec<(std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue)>);

impl<'de> serde::Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TopLevel<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a json object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) =
                    map.next_entry::<std::borrow::Cow<'de, str>, &'de serde_json::value::RawValue>()?
                {
                    out.push(entry);
                }
                Ok(TopLevel(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Byte range of `part` inside `whole`, if `part` is a sub-slice of it.
fn span_in(whole: &[u8], part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (whole.get(start..end)? == part.as_bytes()).then_some(start..end)
}

/// The splice: `model`'s value replaced, and/or `"stream_options":{"include_usage":true}`
/// added as the last member. `None` when the body's shape needs the general path.
fn splice(raw: &[u8], model: Option<&str>, add_usage: bool) -> Option<Vec<u8>> {
    let top: TopLevel<'_> = serde_json::from_slice(raw).ok()?;
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    if let Some(m) = model {
        let mut found = top.0.iter().filter(|(k, _)| k == "model");
        let (_, value) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        edits.push((span_in(raw, value.get())?, serde_json::to_string(m).ok()?));
    }
    if add_usage {
        if top.0.iter().any(|(k, _)| k == "stream_options") {
            return None;
        }
        let close = raw.iter().rposition(|b| !b.is_ascii_whitespace())?;
        if raw.get(close) != Some(&b'}') {
            return None;
        }
        let member = r#""stream_options":{"include_usage":true}"#;
        let text = if top.0.is_empty() { member.to_string() } else { format!(",{member}") };
        edits.push((close..close, text));
    }
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut at = 0;
    for (range, text) in edits {
        out.extend_from_slice(raw.get(at..range.start)?);
        out.extend_from_slice(text.as_bytes());
        at = range.end;
    }
    out.extend_from_slice(raw.get(at..)?);
    Some(out)
}

/// The body to send upstream after a routing decision: `raw` (whose parse is `parsed`) with
/// `model` set and, for streams, `stream_options.include_usage = true`. Returns `None` when
/// nothing changes. Usually the original bytes with the new values spliced in (whitespace,
/// number spellings and key order all kept); otherwise [`rewrite`] of the parsed value.
pub fn rewrite_body(raw: &[u8], parsed: &mut Value, model: Option<&str>, force_include_usage: bool) -> Option<Vec<u8>> {
    let obj = parsed.as_object()?;
    let model = model.filter(|m| obj.get("model").and_then(Value::as_str) != Some(*m));
    let add_usage = force_include_usage
        && obj.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool) != Some(true);
    if model.is_none() && !add_usage {
        return None;
    }
    splice(raw, model, add_usage).or_else(|| rewrite(parsed, model, add_usage))
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

    fn parse(s: &str) -> Result<Value, RequestError> {
        parse_body(s.as_bytes())
    }

    #[test]
    fn parses_string_and_part_contents() {
        let v = parse(r#"{"model":"auto","messages":[
            {"role":"system","content":"be brief"},
            {"role":"user","content":[{"type":"text","text":"héllo"},{"type":"image_url","image_url":{"url":"data:x"}},{"type":"input_audio","input_audio":{}}]},
            {"role":"assistant","content":null,"tool_calls":[{"id":"1"}]},
            {"role":"wizard","content":"?"}],
            "stream":true,"max_tokens":50,"response_format":{"type":"json_object"},"tools":[{},{}]}"#).unwrap();
        let r = ChatRequest::try_from(&v).unwrap();
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
        assert_eq!(r.response_format, Some("json_object"));
        assert_eq!(r.tools, 2);
        // ceil(8/4)+4 + ceil(5/4)+4 + 0+4 + ceil(1/4)+4
        assert_eq!(r.estimated_input_tokens(), 6 + 6 + 4 + 5);
    }

    #[test]
    fn errors_are_specific() {
        let cases = [
            ("{", "invalid_json"),
            ("[1]", "not_object"),
            (r#"{"messages":[]}"#, "bad_model"),
            (r#"{"model":3,"messages":[]}"#, "bad_model"),
            (r#"{"model":"","messages":[]}"#, "bad_model"),
            (r#"{"model":"auto"}"#, "bad_messages"),
            (r#"{"model":"auto","messages":"hi"}"#, "bad_messages"),
            (r#"{"model":"auto","messages":[1]}"#, "bad_messages"),
            (r#"{"model":"auto","messages":[{"role":"user","content":5}]}"#, "bad_messages"),
            (r#"{"model":"auto","messages":[],"stream":"yes"}"#, "bad_stream"),
        ];
        for (body, kind) in cases {
            let err = parse(body).and_then(|v| ChatRequest::try_from(&v).map(|_| ()));
            assert_eq!(err.unwrap_err().kind(), kind, "{body}");
        }
    }

    #[test]
    fn invalid_utf8_and_deep_nesting_are_errors() {
        assert_eq!(parse_body(b"{\"model\":\"\xff\"}").unwrap_err().kind(), "invalid_json");
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse(&deep).unwrap_err(), RequestError::TooDeep);
        let very_deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse(&very_deep).unwrap_err(), RequestError::TooDeep);
    }

    #[test]
    fn rewrite_sets_model_and_usage_keeping_other_fields_in_order() {
        let mut v =
            parse(r#"{"model":"auto","temperature":0.2,"messages":[],"stream":true,"x_custom":{"a":1}}"#).unwrap();
        let out = rewrite(&mut v, Some("gpt-5-nano"), true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"model":"gpt-5-nano","temperature":0.2,"messages":[],"stream":true,"x_custom":{"a":1},"stream_options":{"include_usage":true}}"#
        );
    }

    /// The splice path and the re-serialising path give the same JSON value.
    fn both_ways(body: &str, model: Option<&str>, usage: bool) -> Option<String> {
        let mut a = parse(body).unwrap();
        let mut b = a.clone();
        let spliced = rewrite_body(body.as_bytes(), &mut a, model, usage);
        let general = rewrite(&mut b, model, usage);
        assert_eq!(spliced.is_some(), general.is_some(), "{body}");
        let (s, g) = (spliced?, general?);
        assert_eq!(parse_body(&s).unwrap(), parse_body(&g).unwrap(), "{body}");
        Some(String::from_utf8(s).unwrap())
    }

    #[test]
    fn rewrite_body_splices_and_keeps_every_other_byte() {
        let body = "{ \"model\" : \"auto\",\n  \"temperature\": 1.00, \"n\": 123456789012345678901234567890, \"messages\": [] }\n";
        assert_eq!(
            both_ways(body, Some("gpt-5-nano"), false).unwrap(),
            "{ \"model\" : \"gpt-5-nano\",\n  \"temperature\": 1.00, \"n\": 123456789012345678901234567890, \"messages\": [] }\n"
        );
        assert_eq!(
            both_ways(r#"{"messages":[],"stream":true,"model":"auto"}"#, Some("m\"x"), true).unwrap(),
            r#"{"messages":[],"stream":true,"model":"m\"x","stream_options":{"include_usage":true}}"#
        );
        // A key spelled with an escape is still the model key.
        assert_eq!(
            both_ways(r#"{"mod\u0065l":"auto","messages":[]}"#, Some("x"), false).unwrap(),
            r#"{"mod\u0065l":"x","messages":[]}"#
        );
        // Nothing to do.
        assert!(both_ways(r#"{"model":"x","messages":[]}"#, Some("x"), false).is_none());
        // Found by fuzzing: a long decimal must keep its value on both paths (serde_json's
        // `float_roundtrip`); the splice keeps its digits too.
        let long = format!(r#"{{"model":"auto","messages":[],"x":{}}}"#, "6".repeat(107));
        assert!(both_ways(&long, Some("y"), false).unwrap().contains(&"6".repeat(107)));
    }

    #[test]
    fn rewrite_body_falls_back_where_a_splice_cannot_say_it() {
        // Duplicate keys: the parsed value keeps the last one; the general path rewrites that.
        let out = both_ways(r#"{"model":"a","model":"b","messages":[]}"#, Some("x"), false).unwrap();
        assert_eq!(out, r#"{"model":"x","messages":[]}"#);
        // An existing stream_options is edited in place by the general path.
        let out = both_ways(
            r#"{"model":"a","stream":true,"stream_options":{"include_usage":false},"messages":[]}"#,
            None,
            true,
        )
        .unwrap();
        assert!(out.contains(r#""stream_options":{"include_usage":true}"#));
        let out = both_ways(r#"{"model":"a","stream_options":"bogus","messages":[]}"#, Some("x"), true).unwrap();
        assert!(out.contains(r#""model":"x""#));
    }

    #[test]
    fn rewrite_is_none_when_nothing_changes() {
        let mut v = parse(r#"{"model":"gpt-4o","messages":[]}"#).unwrap();
        assert!(rewrite(&mut v, Some("gpt-4o"), false).is_none());
        let mut v = parse(r#"{"model":"gpt-4o","messages":[],"stream_options":{"include_usage":true}}"#).unwrap();
        assert!(rewrite(&mut v, None, true).is_none());
        let mut v = parse(r#"{"model":"gpt-4o","messages":[],"stream_options":"bogus"}"#).unwrap();
        let out = rewrite(&mut v, None, true).unwrap();
        assert!(String::from_utf8(out).unwrap().ends_with(r#""stream_options":{"include_usage":true}}"#));
    }
}
