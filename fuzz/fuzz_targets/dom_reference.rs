//! The request reader the inspect step replaced, kept as the oracle it is checked against: the
//! body parsed into a `serde_json::Value`, then read member by member. `request_policy` (fuzz)
//! and `tests/inspect_reference.rs` (the corpus, natively) compare the two on every input.
//!
//! Only meaning is compared, and a body that is both malformed and nested too deep may get
//! either error: the inspect step stops at depth 64 wherever it finds it, serde_json's tree
//! parser at its own recursion limit (128) or at the first syntax error, whichever comes first,
//! and a raw member value (`model`, `stream_options`) is skipped by serde_json before its depth
//! is checked. Found by this target (seed `deep-and-malformed`).

use llm_router::request::{ChatRequest, RequestError, Role, MAX_DEPTH};
use serde_json::Value;

/// A message as seen: role, text pieces, characters, images, other parts, tool calls.
pub type SeenMessage = (Role, Vec<String>, u64, u32, u32, u32);

/// What a reader saw, in plain owned values, so two readers can be compared.
#[derive(Debug, PartialEq)]
pub struct Seen {
    pub model: String,
    pub messages: Vec<SeenMessage>,
    pub stream: bool,
    pub include_usage: bool,
    pub max_tokens: Option<u64>,
    pub response_format: Option<String>,
    pub tools: u32,
}

impl From<&ChatRequest<'_>> for Seen {
    fn from(r: &ChatRequest<'_>) -> Seen {
        Seen {
            model: r.model.to_string(),
            messages: r
                .messages
                .iter()
                .map(|m| {
                    let text = m.text.iter().map(|t| t.to_string()).collect();
                    (m.role, text, m.chars, m.images, m.other_parts, m.tool_calls)
                })
                .collect(),
            stream: r.stream,
            include_usage: r.include_usage,
            max_tokens: r.max_tokens,
            response_format: r.response_format.as_deref().map(str::to_string),
            tools: r.tools,
        }
    }
}

pub fn depth_ok(v: &Value, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    match v {
        Value::Array(a) => a.iter().all(|x| depth_ok(x, depth + 1)),
        Value::Object(o) => o.values().all(|x| depth_ok(x, depth + 1)),
        _ => true,
    }
}

pub fn role(s: Option<&str>) -> Role {
    match s {
        Some("system") | Some("developer") => Role::System,
        Some("user") => Role::User,
        Some("assistant") => Role::Assistant,
        Some("tool") | Some("function") => Role::Tool,
        _ => Role::Other,
    }
}

fn len(v: Option<&Value>) -> u32 {
    v.and_then(Value::as_array).map_or(0, |a| u32::try_from(a.len()).unwrap_or(u32::MAX))
}

fn message(i: usize, v: &Value) -> Result<SeenMessage, RequestError> {
    let obj = v.as_object().ok_or(RequestError::MessageNotObject(i))?;
    let (mut text, mut images, mut other) = (Vec::new(), 0u32, 0u32);
    match obj.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => text.push(s.clone()),
        Some(Value::Array(parts)) => {
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("text") | Some("input_text") => {
                        if let Some(s) = part.get("text").and_then(Value::as_str) {
                            text.push(s.to_string());
                        }
                    }
                    Some("image_url") | Some("image") | Some("input_image") => images += 1,
                    _ => match part.as_str() {
                        Some(s) => text.push(s.to_string()),
                        None => other += 1,
                    },
                }
            }
        }
        Some(_) => return Err(RequestError::BadContent(i)),
    }
    let chars = text.iter().map(|t| t.chars().count() as u64).sum();
    let r = role(obj.get("role").and_then(Value::as_str));
    Ok((r, text, chars, images, other, len(obj.get("tool_calls"))))
}

/// `body` as a JSON tree within the depth limit, with the errors of the old reader.
pub fn tree(body: &[u8]) -> Result<Value, RequestError> {
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

/// Read `body` the old way.
pub fn read(body: &[u8]) -> Result<Seen, RequestError> {
    let v = tree(body)?;
    let obj = v.as_object().ok_or(RequestError::NotObject)?;
    let model = match obj.get("model") {
        None => return Err(RequestError::MissingModel),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return Err(RequestError::BadModel),
    };
    let messages = match obj.get("messages") {
        None => return Err(RequestError::MissingMessages),
        Some(Value::Array(a)) => a.iter().enumerate().map(|(i, m)| message(i, m)).collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(RequestError::MessagesNotArray),
    };
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(RequestError::BadStream),
    };
    Ok(Seen {
        model,
        messages,
        stream,
        include_usage: obj
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_tokens: obj
            .get("max_completion_tokens")
            .and_then(Value::as_u64)
            .or_else(|| obj.get("max_tokens").and_then(Value::as_u64)),
        response_format: obj
            .get("response_format")
            .and_then(|r| r.get("type"))
            .and_then(Value::as_str)
            .map(str::to_string),
        tools: len(obj.get("tools")).saturating_add(len(obj.get("functions"))),
    })
}

/// The two readers agree on `body` (see the module comment for the one allowed difference).
pub fn check(body: &[u8], new: &Result<ChatRequest<'_>, RequestError>) {
    agree(body, read(body), new.as_ref().map(Seen::from).map_err(Clone::clone));
}

/// A tree reader's result `old` and a one-pass reader's `new` agree on `body`: the same value,
/// or the same error but for the one allowed difference (see the module comment).
pub fn agree<T: PartialEq + std::fmt::Debug>(body: &[u8], old: Result<T, RequestError>, new: Result<T, RequestError>) {
    match (old, new) {
        (Ok(old), Ok(new)) => assert_eq!(old, new, "readers disagree"),
        (Err(RequestError::Json(_)), Err(RequestError::Json(_) | RequestError::TooDeep)) => {}
        (Err(RequestError::TooDeep), Err(RequestError::Json(_))) if serde_json::from_slice::<Value>(body).is_err() => {}
        (Err(old), Err(new)) => assert_eq!(old, new, "readers disagree on the error"),
        (old, new) => panic!("readers disagree: old {old:?}, new {new:?}"),
    }
}
