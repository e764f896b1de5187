//! The inspect step for OpenAI Responses bodies (`POST /v1/responses`): one streaming pass that
//! returns the same [`Inspected`] as the chat-completions reader ([`crate::inspect`]), so
//! features, the classifier, routing and the `model` splice read it unchanged.
//!
//! How the body maps onto [`ChatRequest`]: `instructions` (a string) becomes a first message
//! with role `system`; `input` is either a string (one `user` message) or an array of items,
//! each one message: a `message` item (or an item without `type`) is read like a chat message
//! (`role`; `content` a string or parts, `input_text` / `output_text` read, `input_image`
//! counted as an image, `input_file` and any other part as other parts), a `function_call` is an
//! assistant tool call, a `function_call_output` a tool message (its string `output` read), and
//! any other item (`reasoning`, `item_reference`, built-in tool calls, unknown types) one other
//! part of a message of role `other`. `max_output_tokens`, `stream` and the length of `tools` as
//! for chat; `text.format.type` (structured output) as chat's `response_format.type`, so
//! `has_response_format` rules and the JSON feature read it. Responses streams always end with the whole response and its usage, so
//! `include_usage` is `true` and routing never asks for a `stream_options` edit. A non-null
//! `previous_response_id` or `conversation` makes the request stateful ([`ChatRequest::stateful`]):
//! the response it continues is stored at the provider that produced it.
//!
//! Checks, in the chat reader's order: valid JSON within the depth limit, an object, `model` a
//! non-empty string, `input` a string, an array of objects whose message contents are strings,
//! arrays or null, or null (or missing: a request may carry only instructions, or a stored
//! prompt), `stream` a boolean or null, `instructions` a string or null. Duplicate members: the
//! last one counts; every `model` occurrence is recorded so a rewrite edits them all.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::inspect::{
    self, scalars_are, skip_map, skip_seq, Inspected, Member, Messages, Nested, Scalar, Skip, Spans, Val,
};
use crate::inspect_message::{text_message, Dialect};
use crate::request::{ChatRequest, Message, RequestError, Role};

/// Read an OpenAI Responses body in one pass.
pub fn inspect(body: &[u8]) -> Result<Inspected<'_>, RequestError> {
    let (fields, close) = inspect::top_members(body, Top { body })?;
    fields.into_inspected(close)
}

/// `input` as read: its messages, or the first error in it.
type Input<'a> = Result<Vec<Message<'a>>, RequestError>;

#[derive(Default)]
struct Fields<'a> {
    members: usize,
    model: Option<Option<Cow<'a, str>>>,
    model_spans: Vec<Range<usize>>,
    input: Option<Input<'a>>,
    /// `Some(None)`: present but neither a string nor null.
    instructions: Option<Option<Scalar<'a>>>,
    stream: Option<Option<bool>>,
    max_output_tokens: Option<u64>,
    /// `text.format.type` (structured output), read like chat's `response_format.type`.
    text_format: Option<Cow<'a, str>>,
    tools: u32,
    previous_response: bool,
    conversation: bool,
}

impl<'a> Fields<'a> {
    fn into_inspected(self, close: usize) -> Result<Inspected<'a>, RequestError> {
        let model = inspect::required_model(self.model)?;
        let mut messages = self.input.unwrap_or(Ok(Vec::new()))?;
        let stream = inspect::stream_flag(self.stream)?;
        match self.instructions {
            None | Some(Some(Scalar::Null)) => {}
            Some(Some(Scalar::Str(s))) => messages.insert(0, text_message(Role::System, s)),
            Some(_) => return Err(RequestError::BadInstructions),
        }
        let request = ChatRequest {
            model,
            messages,
            stream,
            include_usage: true,
            max_tokens: self.max_output_tokens,
            response_format: self.text_format,
            tools: self.tools,
            stateful: self.previous_response || self.conversation,
        };
        let spans = Spans { model: self.model_spans, stream_options: Vec::new(), close, empty: self.members == 0 };
        Ok(Inspected { request, spans })
    }
}

struct Top<'b> {
    body: &'b [u8],
}

impl<'de> DeserializeSeed<'de> for Top<'de> {
    type Value = Option<Fields<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Any value but `null`: present for a stateful request (even of a type the provider rejects:
/// such a request is kept on its provider all the same).
fn not_null(v: Scalar<'_>) -> bool {
    !matches!(v, Scalar::Null)
}

impl<'de> Visitor<'de> for Top<'de> {
    type Value = Option<Fields<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a json value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut f = Fields::default();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            f.members += 1;
            match key.as_ref() {
                "model" => f.model = inspect::model_member(&mut map, self.body, &mut f.model_spans)?,
                "input" => f.input = Some(map.next_value_seed(InputSeed)?),
                "instructions" => {
                    let v = map.next_value_seed(Val(1))?;
                    f.instructions = Some(matches!(v, Scalar::Str(_) | Scalar::Null).then_some(v));
                }
                "stream" => f.stream = Some(map.next_value_seed(Val(1))?.bool()),
                "max_output_tokens" => f.max_output_tokens = map.next_value_seed(Val(1))?.u64(),
                "text" => {
                    f.text_format =
                        map.next_value_seed(Nested { outer: "format", inner: Member { name: "type", depth: 2 } })?;
                }
                "tools" => f.tools = map.next_value_seed(Val(1))?.len(),
                "previous_response_id" => f.previous_response = not_null(map.next_value_seed(Val(1))?),
                "conversation" => f.conversation = not_null(map.next_value_seed(Val(1))?),
                _ => map.next_value_seed(Skip(1))?,
            }
        }
        Ok(Some(f))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq, 1).map(|_| None)
    }
    scalars_are!(|_v| None);
}

/// `input`: a string (one user message), an array of items, or null (no message).
struct InputSeed;

impl<'de> DeserializeSeed<'de> for InputSeed {
    type Value = Input<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// The chat reader's message errors, renamed for input items.
fn item_error(e: RequestError) -> RequestError {
    match e {
        RequestError::MessageNotObject(i) => RequestError::InputItemNotObject(i),
        RequestError::BadContent(i) => RequestError::BadInputContent(i),
        other => other,
    }
}

impl<'de> Visitor<'de> for InputSeed {
    type Value = Input<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string or an array of input items")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let read = Messages { dialect: Dialect::Responses }.visit_seq(seq)?;
        Ok(read.unwrap_or(Err(RequestError::BadInput)).map_err(item_error))
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Ok(vec![text_message(Role::User, Cow::Borrowed(s))]))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Ok(vec![text_message(Role::User, Cow::Owned(s.to_string()))]))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Vec::new()))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map, 2).map(|()| Err(RequestError::BadInput))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(RequestError::BadInput))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(RequestError::BadInput))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(RequestError::BadInput))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(RequestError::BadInput))
    }
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
