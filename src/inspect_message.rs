//! The inspect step's reading of one chat message: role, text pieces (borrowed from the body
//! unless escaped), counted non-text parts and tool calls. Kept apart from `inspect.rs`, which
//! reads the top-level members, so each file holds one concern.
//!
//! Only text is read: string contents and `text` / `input_text` parts. Images, audio, files and
//! anything else are counted, never read. A message that is not an object, or whose `content`
//! is neither a string, an array nor null, is an error for the whole request (reported after
//! the rest of the body was checked, so a syntax error later on still wins).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::inspect::{scalars_are, skip_map, skip_seq, too_deep, Skip, Val};
use crate::request::{Message, RequestError, Role};

fn count_chars(s: &str) -> u64 {
    s.chars().count() as u64
}

/// One element of `messages`, at `depth`, the `index`-th. `anthropic`: an Anthropic Messages
/// body, whose `tool_use` content blocks are the assistant's tool calls (OpenAI bodies keep
/// counting any such part as an other part, so their features do not change).
pub(crate) struct MessageSeed {
    pub(crate) index: usize,
    pub(crate) depth: usize,
    pub(crate) anthropic: bool,
}

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = Result<Message<'de>, RequestError>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        too_deep(self.depth)?;
        d.deserialize_any(self)
    }
}

/// A message content as read: `Err(())` when its type is not allowed.
type ContentRead<'a> = Result<Content<'a>, ()>;

#[derive(Default)]
struct Content<'a> {
    text: Vec<Cow<'a, str>>,
    chars: u64,
    images: u32,
    other_parts: u32,
    tool_uses: u32,
}

impl<'a> Content<'a> {
    fn push(&mut self, s: Cow<'a, str>) {
        self.chars += count_chars(&s);
        self.text.push(s);
    }
}

impl<'de> Visitor<'de> for MessageSeed {
    type Value = Result<Message<'de>, RequestError>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let inner = self.depth + 1;
        let mut role = Role::Other;
        let mut content: ContentRead<'de> = Ok(Content::default());
        let mut tool_calls = 0u32;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "role" => role = Role::parse(map.next_value_seed(Val(inner))?.string().as_deref()),
                "content" => content = map.next_value_seed(ContentSeed { depth: inner, anthropic: self.anthropic })?,
                "tool_calls" => tool_calls = map.next_value_seed(Val(inner))?.len(),
                _ => map.next_value_seed(Skip(inner))?,
            }
        }
        let Ok(c) = content else {
            return Ok(Err(RequestError::BadContent(self.index)));
        };
        let tool_calls = tool_calls.saturating_add(c.tool_uses);
        Ok(Ok(Message { role, text: c.text, chars: c.chars, images: c.images, other_parts: c.other_parts, tool_calls }))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq, self.depth + 1).map(|_| Err(RequestError::MessageNotObject(self.index)))
    }
    scalars_are!(|v| Err(RequestError::MessageNotObject(v.index)));
}

/// A message's `content` (or Anthropic's `system`): a string, an array of parts, or null.
struct ContentSeed {
    depth: usize,
    anthropic: bool,
}

/// A content read into a system message (Anthropic's `system`); `None` when its type is not
/// allowed.
pub(crate) fn system_message<'a>(content: Result<ContentParts<'a>, ()>) -> Option<Message<'a>> {
    let c = content.ok()?.0;
    Some(Message {
        role: Role::System,
        text: c.text,
        chars: c.chars,
        images: c.images,
        other_parts: c.other_parts,
        tool_calls: c.tool_uses,
    })
}

/// A content as read, opaque outside this file.
pub(crate) struct ContentParts<'a>(Content<'a>);

impl<'de> DeserializeSeed<'de> for ContentSeed {
    type Value = ContentRead<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        too_deep(self.depth)?;
        d.deserialize_any(self)
    }
}

/// Anthropic's top-level `system`: read like a message content, at depth 1.
pub(crate) struct SystemSeed;

impl<'de> DeserializeSeed<'de> for SystemSeed {
    type Value = Result<ContentParts<'de>, ()>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(ContentSeed { depth: 1, anthropic: true }.deserialize(d)?.map(ContentParts))
    }
}

impl<'de> Visitor<'de> for ContentSeed {
    type Value = ContentRead<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a message content")
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        let mut c = Content::default();
        c.push(Cow::Borrowed(s));
        Ok(Ok(c))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        let mut c = Content::default();
        c.push(Cow::Owned(s.to_string()));
        Ok(Ok(c))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(Content::default()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut c = Content::default();
        while let Some(part) = seq.next_element_seed(PartSeed { depth: self.depth + 1, anthropic: self.anthropic })? {
            match part {
                Part::Text(Some(s)) => c.push(s),
                Part::Text(None) => {}
                Part::Image => c.images = c.images.saturating_add(1),
                Part::ToolUse => c.tool_uses = c.tool_uses.saturating_add(1),
                Part::Other => c.other_parts = c.other_parts.saturating_add(1),
            }
        }
        Ok(Ok(c))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map, self.depth + 1).map(|()| Err(()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(()))
    }
}

/// One content part, as far as routing cares.
enum Part<'a> {
    /// A text part (its `text`, when that is a string) or a bare string.
    Text(Option<Cow<'a, str>>),
    Image,
    /// An Anthropic `tool_use` block: a tool call.
    ToolUse,
    /// Audio, files, documents, tool results, anything else, including parts that are not
    /// objects.
    Other,
}

struct PartSeed {
    depth: usize,
    anthropic: bool,
}

impl<'de> DeserializeSeed<'de> for PartSeed {
    type Value = Part<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        too_deep(self.depth)?;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PartSeed {
    type Value = Part<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a content part")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // `type` and `text` may come in either order: both are kept until the part ends.
        let (mut kind, mut text) = (None, None);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "type" => kind = map.next_value_seed(Val(self.depth + 1))?.string(),
                "text" => text = map.next_value_seed(Val(self.depth + 1))?.string(),
                _ => map.next_value_seed(Skip(self.depth + 1))?,
            }
        }
        Ok(match kind.as_deref() {
            Some("text") | Some("input_text") => Part::Text(text),
            Some("image_url") | Some("image") | Some("input_image") => Part::Image,
            Some("tool_use") if self.anthropic => Part::ToolUse,
            _ => Part::Other,
        })
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Part::Text(Some(Cow::Borrowed(s))))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Part::Text(Some(Cow::Owned(s.to_string()))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq, self.depth + 1).map(|_| Part::Other)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Part::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Part::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Part::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Part::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Part::Other)
    }
}
