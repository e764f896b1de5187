//! A tree-based reader of OpenAI Responses request bodies, the oracle the one-pass reader
//! (`llm_router::responses::inspect`) is checked against: the body parsed into a
//! `serde_json::Value`, then read member by member as the README documents it. Used by the
//! `request_policy` fuzz target and `tests/inspect_reference.rs` (the corpus, natively).
//! Needs `dom_reference` as a sibling module (its tree, roles and error agreement).

use llm_router::request::{ChatRequest, RequestError, Role};
use serde_json::Value;

use crate::dom_reference::{agree, role, tree, Seen, SeenMessage};

fn text_message(role: Role, s: &str) -> SeenMessage {
    (role, vec![s.to_string()], s.chars().count() as u64, 0, 0, 0)
}

fn item(i: usize, v: &Value) -> Result<SeenMessage, RequestError> {
    let obj = v.as_object().ok_or(RequestError::InputItemNotObject(i))?;
    match obj.get("type").and_then(Value::as_str) {
        None | Some("message") => {}
        Some("function_call") => return Ok((Role::Assistant, Vec::new(), 0, 0, 0, 1)),
        Some("function_call_output") => {
            return Ok(match obj.get("output") {
                Some(Value::String(s)) => text_message(Role::Tool, s),
                None | Some(Value::Null) => (Role::Tool, Vec::new(), 0, 0, 0, 0),
                Some(_) => (Role::Tool, Vec::new(), 0, 0, 1, 0),
            })
        }
        Some(_) => return Ok((Role::Other, Vec::new(), 0, 0, 1, 0)),
    }
    let (mut text, mut images, mut other) = (Vec::new(), 0u32, 0u32);
    match obj.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => text.push(s.clone()),
        Some(Value::Array(parts)) => {
            for part in parts {
                match part.get("type").and_then(Value::as_str) {
                    Some("input_text" | "output_text") => {
                        if let Some(s) = part.get("text").and_then(Value::as_str) {
                            text.push(s.to_string());
                        }
                    }
                    Some("input_image") => images += 1,
                    _ => match part.as_str() {
                        Some(s) => text.push(s.to_string()),
                        None => other += 1,
                    },
                }
            }
        }
        Some(_) => return Err(RequestError::BadInputContent(i)),
    }
    let chars = text.iter().map(|t| t.chars().count() as u64).sum();
    Ok((role(obj.get("role").and_then(Value::as_str)), text, chars, images, other, 0))
}

/// What the reader saw, and whether the request is stateful.
pub type Read = (Seen, bool);

/// Read a Responses `body` from its tree.
pub fn read(body: &[u8]) -> Result<Read, RequestError> {
    let v = tree(body)?;
    let obj = v.as_object().ok_or(RequestError::NotObject)?;
    let model = match obj.get("model") {
        None => return Err(RequestError::MissingModel),
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(_) => return Err(RequestError::BadModel),
    };
    let mut messages = match obj.get("input") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![text_message(Role::User, s)],
        Some(Value::Array(a)) => a.iter().enumerate().map(|(i, m)| item(i, m)).collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(RequestError::BadInput),
    };
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(RequestError::BadStream),
    };
    match obj.get("instructions") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => messages.insert(0, text_message(Role::System, s)),
        Some(_) => return Err(RequestError::BadInstructions),
    }
    let present = |name: &str| obj.get(name).is_some_and(|v| !v.is_null());
    let seen = Seen {
        model,
        messages,
        stream,
        include_usage: true,
        max_tokens: obj.get("max_output_tokens").and_then(Value::as_u64),
        response_format: obj
            .get("text")
            .and_then(|t| t.get("format"))
            .and_then(|f| f.get("type"))
            .and_then(Value::as_str)
            .map(str::to_string),
        tools: obj.get("tools").and_then(Value::as_array).map_or(0, |a| u32::try_from(a.len()).unwrap_or(u32::MAX)),
    };
    Ok((seen, present("previous_response_id") || present("conversation")))
}

/// The one-pass reader's result on `body` agrees with the tree's.
pub fn check(body: &[u8], new: &Result<ChatRequest<'_>, RequestError>) {
    let new = new.as_ref().map(|r| (Seen::from(r), r.stateful)).map_err(Clone::clone);
    agree(body, read(body), new);
}
