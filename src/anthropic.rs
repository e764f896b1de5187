//! The inspect step for Anthropic Messages bodies (`POST /v1/messages`): one streaming pass
//! that returns the same [`Inspected`] as the chat-completions reader ([`crate::inspect`]), so
//! features, the classifier, routing and the `model` splice read it unchanged.
//!
//! How the body maps onto [`ChatRequest`]: `system` (a string or an array of text blocks)
//! becomes a first message with role `system`; each of `messages` is read like a chat message
//! (a string or an array of content blocks; `text` blocks read, `image` blocks counted as
//! images, `tool_use` blocks as tool calls, `document`, `tool_result` and any other block as
//! other parts); `max_tokens`, `stream` and the length of `tools` as for chat. Anthropic
//! streams always report usage, so `include_usage` is `true` and routing never asks for a
//! `stream_options` edit. `metadata.user_id` is returned next to the request.
//!
//! Checks, in the chat reader's order: valid JSON within the depth limit, an object, `model` a
//! non-empty string, `messages` an array of objects whose contents are strings, arrays or
//! null, `stream` a boolean or null; then `system` a string, an array or null
//! ([`RequestError::BadSystem`]). Duplicate members: the last one counts; every `model`
//! occurrence is recorded so a rewrite edits them all.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::inspect::{self, scalars_are, skip_seq, Inspected, Member, Messages, Skip, Spans, Val};
use crate::inspect_message::{system_message, ContentParts, Dialect, SystemSeed};
use crate::request::{ChatRequest, Message, RequestError};

/// An Anthropic Messages body as read: what routing reads and the `metadata.user_id` sent.
#[derive(Debug, Clone, PartialEq)]
pub struct MessagesRequest<'a> {
    /// The request and its rewrite spans.
    pub inspected: Inspected<'a>,
    /// `metadata.user_id`, when it is a string.
    pub user_id: Option<Cow<'a, str>>,
}

/// Read an Anthropic Messages body in one pass.
pub fn inspect(body: &[u8]) -> Result<MessagesRequest<'_>, RequestError> {
    let (fields, close) = inspect::top_members(body, Top { body })?;
    fields.into_request(close)
}

type System<'a> = Result<ContentParts<'a>, ()>;

#[derive(Default)]
struct Fields<'a> {
    members: usize,
    model: Option<Option<Cow<'a, str>>>,
    model_spans: Vec<Range<usize>>,
    messages: Option<Option<Result<Vec<Message<'a>>, RequestError>>>,
    system: Option<System<'a>>,
    stream: Option<Option<bool>>,
    max_tokens: Option<u64>,
    tools: u32,
    user_id: Option<Cow<'a, str>>,
}

impl<'a> Fields<'a> {
    fn into_request(self, close: usize) -> Result<MessagesRequest<'a>, RequestError> {
        let model = inspect::required_model(self.model)?;
        let mut messages = match self.messages {
            None => return Err(RequestError::MissingMessages),
            Some(None) => return Err(RequestError::MessagesNotArray),
            Some(Some(m)) => m?,
        };
        let stream = inspect::stream_flag(self.stream)?;
        if let Some(system) = self.system {
            messages.insert(0, system_message(system).ok_or(RequestError::BadSystem)?);
        }
        let request = ChatRequest {
            model,
            messages,
            stream,
            include_usage: true,
            max_tokens: self.max_tokens,
            response_format: None,
            tools: self.tools,
            stateful: false,
        };
        let spans = Spans { model: self.model_spans, stream_options: Vec::new(), close, empty: self.members == 0 };
        Ok(MessagesRequest { inspected: Inspected { request, spans }, user_id: self.user_id })
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
                "messages" => f.messages = Some(map.next_value_seed(Messages { dialect: Dialect::Anthropic })?),
                "system" => f.system = Some(map.next_value_seed(SystemSeed)?),
                "stream" => f.stream = Some(map.next_value_seed(Val(1))?.bool()),
                "max_tokens" => f.max_tokens = map.next_value_seed(Val(1))?.u64(),
                "tools" => f.tools = map.next_value_seed(Val(1))?.len(),
                "metadata" => f.user_id = map.next_value_seed(Member { name: "user_id", depth: 1 })?,
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

#[cfg(test)]
#[path = "anthropic_tests.rs"]
mod tests;
