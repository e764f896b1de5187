//! The texts of a shadow record: the prompt rendered as `role: text` lines, and an answer's
//! text and normalized finish from a whole JSON answer or the raw bytes of an SSE stream, for
//! each API. Nothing here fails: what cannot be read is left out (an unreadable answer is an
//! empty text with an unknown finish).

use serde_json::Value;

use crate::api::Api;

/// An answer's text and normalized finish (`stop`, `length`, `tool_calls`, `content_filter`,
/// `other`; `None` when unknown).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text {
    /// The text (tool calls as `[tool_call name(args)]`).
    pub text: String,
    /// The normalized finish.
    pub finish: Option<&'static str>,
}

/// `s` cut to at most `max` bytes on a UTF-8 boundary, and whether it was cut.
pub fn cap(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_string(), false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (s[..end].to_string(), true)
}

fn tool_call(name: &str, args: &str) -> String {
    format!("[tool_call {name}({args})]")
}

fn push(out: &mut String, part: &str) {
    if part.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(part);
}

/// OpenAI's `finish_reason`.
fn finish_openai(reason: &str) -> &'static str {
    match reason {
        "stop" => "stop",
        "length" => "length",
        "tool_calls" | "function_call" => "tool_calls",
        "content_filter" => "content_filter",
        _ => "other",
    }
}

/// Anthropic's `stop_reason`.
fn finish_anthropic(reason: &str) -> &'static str {
    match reason {
        "end_turn" | "stop_sequence" => "stop",
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "other",
    }
}

/// A Responses object's `status` (and `incomplete_details.reason`); a completed answer with a
/// function call finished for tool calls, as chat's `finish_reason` would say.
fn finish_responses(v: &Value, has_tool_call: bool) -> Option<&'static str> {
    Some(match v.get("status")?.as_str()? {
        "completed" if has_tool_call => "tool_calls",
        "completed" => "stop",
        "incomplete" => match v.pointer("/incomplete_details/reason").and_then(Value::as_str) {
            Some("max_output_tokens") => "length",
            Some("content_filter") => "content_filter",
            _ => "other",
        },
        _ => "other",
    })
}

/// The text of an answer's bytes: a JSON answer, or else an SSE stream.
pub fn answer_of(api: Api, bytes: &[u8]) -> Text {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => from_json(api, &v),
        Err(_) => from_sse(api, bytes),
    }
}

/// The text of a whole JSON answer.
pub fn from_json(api: Api, v: &Value) -> Text {
    let mut text = String::new();
    match api {
        Api::ChatCompletions => {
            let choice = v.pointer("/choices/0");
            let message = choice.and_then(|c| c.get("message"));
            if let Some(m) = message {
                push(&mut text, &content_text(m.get("content")));
                if let Some(r) = m.get("refusal").and_then(Value::as_str) {
                    push(&mut text, r);
                }
                for call in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    let f = call.get("function");
                    let name = f.and_then(|f| f.get("name")).and_then(Value::as_str).unwrap_or_default();
                    let args = f.and_then(|f| f.get("arguments")).and_then(Value::as_str).unwrap_or_default();
                    push(&mut text, &tool_call(name, args));
                }
            }
            let finish = choice.and_then(|c| c.get("finish_reason")).and_then(Value::as_str).map(finish_openai);
            Text { text, finish }
        }
        Api::Messages => {
            for block in v.get("content").and_then(Value::as_array).into_iter().flatten() {
                push(&mut text, &block_text(block));
            }
            let finish = v.get("stop_reason").and_then(Value::as_str).map(finish_anthropic);
            Text { text, finish }
        }
        Api::Responses => {
            let mut has_tool_call = false;
            for item in v.get("output").and_then(Value::as_array).into_iter().flatten() {
                match item.get("type").and_then(Value::as_str) {
                    Some("message") => push(&mut text, &content_text(item.get("content"))),
                    Some("function_call") => {
                        has_tool_call = true;
                        let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
                        let args = item.get("arguments").and_then(Value::as_str).unwrap_or_default();
                        push(&mut text, &tool_call(name, args));
                    }
                    _ => {}
                }
            }
            Text { text, finish: finish_responses(v, has_tool_call) }
        }
    }
}

/// One Anthropic content block as text (text, tool use, tool result, other kinds by name).
fn block_text(block: &Value) -> String {
    match block.get("type").and_then(Value::as_str) {
        Some("text") => block.get("text").and_then(Value::as_str).unwrap_or_default().to_string(),
        Some("tool_use") => {
            let name = block.get("name").and_then(Value::as_str).unwrap_or_default();
            tool_call(name, &block.get("input").map(Value::to_string).unwrap_or_default())
        }
        Some("tool_result") => content_text(block.get("content")),
        Some(other) => format!("[{other}]"),
        None => String::new(),
    }
}

/// A `content` member: a string, or parts with `text` (`text`, `input_text`, `output_text`),
/// `refusal`, or other kinds shown by name (`[image_url]`).
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for p in parts {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    push(&mut out, t);
                } else if let Some(r) = p.get("refusal").and_then(Value::as_str) {
                    push(&mut out, r);
                } else if p.get("type").and_then(Value::as_str) == Some("tool_use") {
                    push(&mut out, &block_text(p));
                } else if let Some(kind) = p.get("type").and_then(Value::as_str) {
                    push(&mut out, &format!("[{kind}]"));
                }
            }
            out
        }
        _ => String::new(),
    }
}

/// The data payloads of an SSE stream's events, parsed (events that are not JSON, such as
/// `[DONE]`, are left out).
fn sse_events(bytes: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    for event in text.split("\n\n") {
        let data: Vec<&str> =
            event.lines().filter_map(|l| l.strip_prefix("data:")).map(|d| d.strip_prefix(' ').unwrap_or(d)).collect();
        if let Ok(v) = serde_json::from_str::<Value>(&data.join("\n")) {
            out.push(v);
        }
    }
    out
}

/// A tool call being streamed: its name and the argument text so far.
#[derive(Default)]
struct StreamedCall {
    name: String,
    args: String,
}

/// The text of an SSE stream's raw bytes.
pub fn from_sse(api: Api, bytes: &[u8]) -> Text {
    let mut text = String::new();
    let mut calls: Vec<StreamedCall> = Vec::new();
    let mut finish = None;
    for ev in sse_events(bytes) {
        match api {
            Api::ChatCompletions => {
                let Some(choice) = ev.pointer("/choices/0") else { continue };
                if let Some(t) = choice.pointer("/delta/content").and_then(Value::as_str) {
                    text.push_str(t);
                }
                for c in choice.pointer("/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    // An index is the upstream's word: one past the calls so far at most, so a
                    // hostile `index` cannot make the list huge.
                    let i = c.get("index").and_then(Value::as_u64).and_then(|i| usize::try_from(i).ok()).unwrap_or(0);
                    if i == calls.len() {
                        calls.push(StreamedCall::default());
                    }
                    let Some(call) = calls.get_mut(i) else { continue };
                    if let Some(n) = c.pointer("/function/name").and_then(Value::as_str) {
                        call.name.push_str(n);
                    }
                    if let Some(a) = c.pointer("/function/arguments").and_then(Value::as_str) {
                        call.args.push_str(a);
                    }
                }
                if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
                    finish = Some(finish_openai(f));
                }
            }
            Api::Messages => match ev.get("type").and_then(Value::as_str) {
                Some("content_block_start")
                    if ev.pointer("/content_block/type").and_then(Value::as_str) == Some("tool_use") =>
                {
                    let name = ev.pointer("/content_block/name").and_then(Value::as_str).unwrap_or_default();
                    calls.push(StreamedCall { name: name.to_string(), args: String::new() });
                }
                Some("content_block_delta") => match ev.pointer("/delta/type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        text.push_str(ev.pointer("/delta/text").and_then(Value::as_str).unwrap_or_default())
                    }
                    Some("input_json_delta") => {
                        if let (Some(c), Some(p)) =
                            (calls.last_mut(), ev.pointer("/delta/partial_json").and_then(Value::as_str))
                        {
                            c.args.push_str(p);
                        }
                    }
                    _ => {}
                },
                Some("message_delta") => {
                    if let Some(r) = ev.pointer("/delta/stop_reason").and_then(Value::as_str) {
                        finish = Some(finish_anthropic(r));
                    }
                }
                _ => {}
            },
            Api::Responses => match ev.get("type").and_then(Value::as_str) {
                Some("response.output_text.delta") => {
                    text.push_str(ev.get("delta").and_then(Value::as_str).unwrap_or_default());
                }
                // The final response object has the whole answer: it wins over the deltas.
                Some("response.completed" | "response.incomplete" | "response.failed") => {
                    if let Some(r) = ev.get("response") {
                        let whole = from_json(Api::Responses, r);
                        if !whole.text.is_empty() || whole.finish.is_some() {
                            return whole;
                        }
                    }
                }
                _ => {}
            },
        }
    }
    for c in &calls {
        push(&mut text, &tool_call(&c.name, &c.args));
    }
    Text { text, finish }
}

/// Whether a request body asks for JSON output: a `json_*` type in chat's `response_format`,
/// Responses' `text.format` or Anthropic's `output_format`.
pub fn json_requested(api: Api, body: &[u8]) -> bool {
    let pointer = match api {
        Api::ChatCompletions => "/response_format/type",
        Api::Responses => "/text/format/type",
        Api::Messages => "/output_format/type",
    };
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer(pointer).and_then(Value::as_str).map(|t| t.starts_with("json")))
        .unwrap_or(false)
}

/// Whether a message role is a system prompt.
fn is_system(role: &str) -> bool {
    matches!(role, "system" | "developer")
}

/// The conversation of a request body as `role: text` lines; system prompts left out with
/// `drop_system`. A body that is not JSON renders as nothing.
pub fn prompt_of(api: Api, body: &[u8], drop_system: bool) -> String {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return String::new();
    };
    let mut out = String::new();
    let mut line = |role: &str, text: &str| {
        if !(drop_system && is_system(role)) {
            push(&mut out, &format!("{role}: {text}"));
        }
    };
    match api {
        Api::ChatCompletions => {
            for m in v.get("messages").and_then(Value::as_array).into_iter().flatten() {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("unknown");
                let mut text = content_text(m.get("content"));
                for call in m.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
                    let name = call.pointer("/function/name").and_then(Value::as_str).unwrap_or_default();
                    let args = call.pointer("/function/arguments").and_then(Value::as_str).unwrap_or_default();
                    push(&mut text, &tool_call(name, args));
                }
                line(role, &text);
            }
        }
        Api::Messages => {
            if let Some(s @ (Value::String(_) | Value::Array(_))) = v.get("system") {
                line("system", &content_text(Some(s)));
            }
            for m in v.get("messages").and_then(Value::as_array).into_iter().flatten() {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("unknown");
                line(role, &content_text(m.get("content")));
            }
        }
        Api::Responses => {
            if let Some(i) = v.get("instructions").and_then(Value::as_str) {
                line("system", i);
            }
            match v.get("input") {
                Some(Value::String(s)) => line("user", s),
                Some(Value::Array(items)) => {
                    for item in items {
                        match item.get("type").and_then(Value::as_str) {
                            Some("function_call") => {
                                let name = item.get("name").and_then(Value::as_str).unwrap_or_default();
                                let args = item.get("arguments").and_then(Value::as_str).unwrap_or_default();
                                line("assistant", &tool_call(name, args));
                            }
                            Some("function_call_output") => {
                                line("tool", item.get("output").and_then(Value::as_str).unwrap_or_default());
                            }
                            _ => {
                                let role = item.get("role").and_then(Value::as_str).unwrap_or("user");
                                line(role, &content_text(item.get("content")));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}
