//! The inspect step's reading of one chat message: role, text pieces (borrowed from the body
//! unless escaped), counted non-text parts and tool calls. Kept apart from `inspect.rs`, which
//! reads the top-level members, so each file holds one concern.
//!
//! Only text is read: string contents and the text parts of the message's [`Dialect`]. Images,
//! audio, files and anything else are counted, never read. A message that is not an object, or
//! whose `content` is neither a string, an array nor null, is an error for the whole request
//! (reported after the rest of the body was checked, so a syntax error later on still wins).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::inspect::{scalars_are, skip_map, skip_seq, too_deep, Scalar, Skip, Val};
use crate::request::{Message, RequestError, Role};

fn count_chars(s: &str) -> u64 {
    s.chars().count() as u64
}

/// The wire format a message is read in: which content parts are text, images or tool calls.
/// Each API keeps its own set, so adding one never changes another's features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// OpenAI chat completions: `text` / `input_text` parts read, `image_url` / `image` /
    /// `input_image` counted as images.
    Chat,
    /// Anthropic Messages: as chat, and `tool_use` blocks are the assistant's tool calls.
    Anthropic,
    /// OpenAI Responses input items: `input_text` / `output_text` parts read, `input_image`
    /// counted as an image; an item's `type` says whether it is a message at all.
    Responses,
}

impl Dialect {
    /// A content part of type `kind` whose `text` member was `text`.
    fn part<'a>(self, kind: Option<&str>, text: Option<Cow<'a, str>>) -> Part<'a> {
        match (self, kind) {
            (Dialect::Responses, Some("input_text" | "output_text")) => Part::Text(text),
            (Dialect::Responses, Some("input_image")) => Part::Image,
            (Dialect::Responses, _) => Part::Other,
            (_, Some("text" | "input_text")) => Part::Text(text),
            (_, Some("image_url" | "image" | "input_image")) => Part::Image,
            (Dialect::Anthropic, Some("tool_use")) => Part::ToolUse,
            _ => Part::Other,
        }
    }
}

/// A message of one text piece (a Responses `input` string, `instructions`).
pub(crate) fn text_message(role: Role, text: Cow<'_, str>) -> Message<'_> {
    let chars = count_chars(&text);
    Message { role, text: vec![text], chars, images: 0, other_parts: 0, tool_calls: 0 }
}

/// One element of `messages` (or of a Responses `input`), at `depth`, the `index`-th.
pub(crate) struct MessageSeed {
    pub(crate) index: usize,
    pub(crate) depth: usize,
    pub(crate) dialect: Dialect,
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
        // Responses items only: the item type, and a function call output's `output`.
        let responses = self.dialect == Dialect::Responses;
        let mut item: Option<Cow<'de, str>> = None;
        let mut output = Scalar::Null;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "role" => role = Role::parse(map.next_value_seed(Val(inner))?.string().as_deref()),
                "content" => content = map.next_value_seed(ContentSeed { depth: inner, dialect: self.dialect })?,
                "tool_calls" if !responses => tool_calls = map.next_value_seed(Val(inner))?.len(),
                "type" if responses => item = map.next_value_seed(Val(inner))?.string(),
                "output" if responses => output = map.next_value_seed(Val(inner))?,
                _ => map.next_value_seed(Skip(inner))?,
            }
        }
        if responses {
            if let Some(m) = responses_item(item.as_deref(), output) {
                return Ok(Ok(m));
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

/// A Responses input item that is not a message (`None` for a message: an item of type
/// `message`, or without a type, read like a chat message). A `function_call` is an assistant
/// tool call; a `function_call_output` a tool message whose string `output` is read (any other
/// output is an other part); any other item (`reasoning`, `item_reference`, built-in tool calls
/// and outputs, unknown types) an other part of a message of role `other`.
fn responses_item<'a>(kind: Option<&str>, output: Scalar<'a>) -> Option<Message<'a>> {
    let empty = |role| Message { role, text: Vec::new(), chars: 0, images: 0, other_parts: 0, tool_calls: 0 };
    match kind {
        None | Some("message") => None,
        Some("function_call") => Some(Message { tool_calls: 1, ..empty(Role::Assistant) }),
        Some("function_call_output") => Some(match output {
            Scalar::Str(s) => text_message(Role::Tool, s),
            Scalar::Null => empty(Role::Tool),
            _ => Message { other_parts: 1, ..empty(Role::Tool) },
        }),
        Some(_) => Some(Message { other_parts: 1, ..empty(Role::Other) }),
    }
}

/// A message's `content` (or Anthropic's `system`): a string, an array of parts, or null.
struct ContentSeed {
    depth: usize,
    dialect: Dialect,
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
        Ok(ContentSeed { depth: 1, dialect: Dialect::Anthropic }.deserialize(d)?.map(ContentParts))
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
        while let Some(part) = seq.next_element_seed(PartSeed { depth: self.depth + 1, dialect: self.dialect })? {
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
    dialect: Dialect,
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
        Ok(self.dialect.part(kind.as_deref(), text))
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
