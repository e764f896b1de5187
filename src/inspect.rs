//! The inspect step: one streaming pass over a chat-completions request body that returns what
//! routing needs ([`ChatRequest`]) and where the members a rewrite edits sit in the bytes
//! ([`Spans`]), with no JSON tree built.
//!
//! serde_json drives the pass; the visitors below keep only what the router reads. Strings are
//! borrowed from the body unless they hold escapes. Everything else is skipped while it is
//! checked: the whole body must be valid JSON (a syntax error anywhere wins over a wrong member,
//! as with a full parse), and no value may sit deeper than [`MAX_DEPTH`], which is checked as
//! the pass goes down, so a hostile body cannot make it recurse further.
//!
//! Duplicate members: the last one counts (what serde_json's map, Python's `json` and most
//! providers do); every `model` and `stream_options` occurrence is recorded so a rewrite edits
//! them all and no reader can see the old value.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::inspect_message::{Dialect, MessageSeed};
use crate::request::{ChatRequest, Message, RequestError, MAX_DEPTH};

/// Where the members a rewrite edits sit in the body (byte ranges of their values).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Spans {
    /// Every `model` value, in body order.
    pub model: Vec<Range<usize>>,
    /// Every `stream_options` value, in body order.
    pub stream_options: Vec<Range<usize>>,
    /// The top-level object's closing brace.
    pub close: usize,
    /// The top-level object has no member.
    pub empty: bool,
}

/// A request body read by [`inspect`]: the request, and where its editable members are.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspected<'a> {
    /// What routing reads.
    pub request: ChatRequest<'a>,
    /// Where a rewrite edits.
    pub spans: Spans,
}

/// The error text that marks the depth limit inside serde's error type.
const TOO_DEEP: &str = "llm-router: nesting too deep";

/// The six scalar `visit_*` methods of a visitor to which every scalar means the same:
/// `scalars_are!(|v| value)` binds the visitor to `v` for `value`.
macro_rules! scalars_are {
    (|$this:ident| $value:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            let $this = self;
            Ok($value)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            let $this = self;
            Ok($value)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            let $this = self;
            Ok($value)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            let $this = self;
            Ok($value)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            let $this = self;
            Ok($value)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            let $this = self;
            Ok($value)
        }
    };
}
pub(crate) use scalars_are;

pub(crate) fn too_deep<E: de::Error>(depth: usize) -> Result<(), E> {
    if depth > MAX_DEPTH {
        Err(E::custom(TOO_DEEP))
    } else {
        Ok(())
    }
}

/// Read a request body in one pass.
pub fn inspect(body: &[u8]) -> Result<Inspected<'_>, RequestError> {
    let (fields, close) = top_members(body, Top { body })?;
    fields.into_inspected(close)
}

/// The one pass of every API's reader: `top` reads the top-level value (`None` when it is not
/// an object), the whole body must be one JSON value. Returns what `top` read and where the
/// object closes.
pub(crate) fn top_members<'de, T>(
    body: &'de [u8],
    top: impl DeserializeSeed<'de, Value = Option<T>>,
) -> Result<(T, usize), RequestError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let read =
        top.deserialize(&mut de).and_then(|t| de.end().map(|()| t)).map_err(|e| request_error(&e.to_string()))?;
    let fields = read.ok_or(RequestError::NotObject)?;
    let close = body.iter().rposition(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    Ok((fields, close))
}

/// A `model` member's value (the last occurrence's, as read by [`model_member`]), checked: a
/// non-empty string.
pub(crate) fn required_model(model: Option<Option<Cow<'_, str>>>) -> Result<Cow<'_, str>, RequestError> {
    match model {
        None => Err(RequestError::MissingModel),
        Some(Some(m)) if !m.trim().is_empty() => Ok(m),
        Some(_) => Err(RequestError::BadModel),
    }
}

/// A `stream` member's value, checked: a boolean or null (false), or absent (false).
pub(crate) fn stream_flag(stream: Option<Option<bool>>) -> Result<bool, RequestError> {
    match stream {
        None => Ok(false),
        Some(Some(b)) => Ok(b),
        Some(None) => Err(RequestError::BadStream),
    }
}

/// Reads one `model` member's value: its span goes to `spans` (a rewrite edits every
/// occurrence), the string it holds (if it is one) is returned.
pub(crate) fn model_member<'de, A: MapAccess<'de>>(
    map: &mut A,
    body: &'de [u8],
    spans: &mut Vec<Range<usize>>,
) -> Result<Option<Option<Cow<'de, str>>>, A::Error> {
    let raw: &'de RawValue = map.next_value()?;
    spans.push(span_in(body, raw.get()));
    Ok(Some(small(raw, 1)?.and_then(Scalar::string)))
}

/// The request error of a failed pass: the depth limit (ours or serde's), else a JSON error.
pub(crate) fn request_error(text: &str) -> RequestError {
    if text.starts_with(TOO_DEEP) || text.contains("recursion limit") {
        RequestError::TooDeep
    } else {
        RequestError::Json(text.to_string())
    }
}

/// Members of the top-level object as read (the last occurrence of each).
#[derive(Default)]
struct Fields<'a> {
    members: usize,
    model: Option<Option<Cow<'a, str>>>,
    model_spans: Vec<Range<usize>>,
    messages: Option<Option<Result<Vec<Message<'a>>, RequestError>>>,
    stream: Option<Option<bool>>,
    stream_options: Vec<Range<usize>>,
    include_usage: bool,
    max_completion_tokens: Option<u64>,
    max_tokens: Option<u64>,
    response_format: Option<Cow<'a, str>>,
    tools: u32,
    functions: u32,
}

impl<'a> Fields<'a> {
    /// The checks of a full parse, in its order: model, messages, stream.
    fn into_inspected(self, close: usize) -> Result<Inspected<'a>, RequestError> {
        let model = required_model(self.model)?;
        let messages = match self.messages {
            None => return Err(RequestError::MissingMessages),
            Some(None) => return Err(RequestError::MessagesNotArray),
            Some(Some(m)) => m?,
        };
        let stream = stream_flag(self.stream)?;
        let request = ChatRequest {
            model,
            messages,
            stream,
            include_usage: self.include_usage,
            max_tokens: self.max_completion_tokens.or(self.max_tokens),
            response_format: self.response_format,
            tools: self.tools.saturating_add(self.functions),
            stateful: false,
        };
        let spans =
            Spans { model: self.model_spans, stream_options: self.stream_options, close, empty: self.members == 0 };
        Ok(Inspected { request, spans })
    }
}

/// The body: `Some` fields for an object, `None` for any other JSON value.
struct Top<'b> {
    body: &'b [u8],
}

impl<'de> DeserializeSeed<'de> for Top<'de> {
    type Value = Option<Fields<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Byte range of `part` inside `whole` (it is always a sub-slice: raw values borrow the body).
pub(crate) fn span_in(whole: &[u8], part: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.len()
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
                "model" => f.model = model_member(&mut map, self.body, &mut f.model_spans)?,
                "messages" => f.messages = Some(map.next_value_seed(Messages { dialect: Dialect::Chat })?),
                "stream" => f.stream = Some(map.next_value_seed(Val(1))?.bool()),
                "stream_options" => {
                    let raw: &'de RawValue = map.next_value()?;
                    f.stream_options.push(span_in(self.body, raw.get()));
                    f.include_usage = include_usage(raw)?;
                }
                "max_completion_tokens" => f.max_completion_tokens = map.next_value_seed(Val(1))?.u64(),
                "max_tokens" => f.max_tokens = map.next_value_seed(Val(1))?.u64(),
                "response_format" => f.response_format = map.next_value_seed(Member { name: "type", depth: 1 })?,
                "tools" => f.tools = map.next_value_seed(Val(1))?.len(),
                "functions" => f.functions = map.next_value_seed(Val(1))?.len(),
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

/// A raw member value read again as a scalar (it is small: `model`), with the depth check a
/// raw value skips.
pub(crate) fn small<E: de::Error>(raw: &RawValue, depth: usize) -> Result<Option<Scalar<'_>>, E> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Val(depth).deserialize(&mut de).map(Some).map_err(|e| {
        if e.to_string().starts_with(TOO_DEEP) {
            E::custom(TOO_DEEP)
        } else {
            E::custom(e)
        }
    })
}

/// `stream_options.include_usage` is `true` (last occurrence counts), with the depth check.
fn include_usage<E: de::Error>(raw: &RawValue) -> Result<bool, E> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    Member { name: "include_usage", depth: 1 }.deserialize_bool(&mut de).map_err(|e| {
        if e.to_string().starts_with(TOO_DEEP) {
            E::custom(TOO_DEEP)
        } else {
            E::custom(e)
        }
    })
}

/// Skip a value, checking depth. serde's `IgnoredAny` would not look inside containers.
#[derive(Clone, Copy)]
pub(crate) struct Skip(pub(crate) usize);

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        too_deep(self.0)?;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any json value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        skip_map(map, self.0 + 1)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        skip_seq(seq, self.0 + 1).map(|_| ())
    }
    scalars_are!(|_v| ());
}

/// Skip every member of a map whose values sit at `depth`.
pub(crate) fn skip_map<'de, A: MapAccess<'de>>(mut map: A, depth: usize) -> Result<(), A::Error> {
    while map.next_key::<IgnoredAny>()?.is_some() {
        map.next_value_seed(Skip(depth))?;
    }
    Ok(())
}

/// Skip every element of a sequence whose elements sit at `depth`; returns how many there were.
pub(crate) fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A, depth: usize) -> Result<u32, A::Error> {
    let mut n = 0u32;
    while seq.next_element_seed(Skip(depth))?.is_some() {
        n = n.saturating_add(1);
    }
    Ok(n)
}

/// A value whose type matters but whose inside does not (beyond a string or an array's length).
#[derive(Debug)]
pub(crate) enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    U64(u64),
    Array(u32),
    Null,
    Other,
}

impl<'a> Scalar<'a> {
    pub(crate) fn string(self) -> Option<Cow<'a, str>> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }
    /// `null` reads as `false` (what a full parse did with `stream: null`).
    pub(crate) fn bool(self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(b),
            Scalar::Null => Some(false),
            _ => None,
        }
    }
    pub(crate) fn u64(self) -> Option<u64> {
        match self {
            Scalar::U64(n) => Some(n),
            _ => None,
        }
    }
    pub(crate) fn len(self) -> u32 {
        match self {
            Scalar::Array(n) => n,
            _ => 0,
        }
    }
}

/// Read a value as a [`Scalar`], checking depth.
#[derive(Clone, Copy)]
pub(crate) struct Val(pub(crate) usize);

impl<'de> DeserializeSeed<'de> for Val {
    type Value = Scalar<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        too_deep(self.0)?;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Val {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any json value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map, self.0 + 1).map(|()| Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq, self.0 + 1).map(Scalar::Array)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(b))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Scalar::U64(n))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Other)
    }
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(s.to_string())))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(s)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
}

/// One string member of an object value (`response_format.type`, `stream_options.include_usage`):
/// `None` when the value is not an object or the member is missing or not of the type read.
#[derive(Clone, Copy)]
pub(crate) struct Member {
    pub(crate) name: &'static str,
    pub(crate) depth: usize,
}

impl Member {
    fn deserialize_bool<'de, D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        Ok(matches!(self.read(d)?, Some(Scalar::Bool(true))))
    }
    fn read<'de, D: Deserializer<'de>>(self, d: D) -> Result<Option<Scalar<'de>>, D::Error> {
        too_deep(self.depth)?;
        d.deserialize_any(self)
    }
}

impl<'de> DeserializeSeed<'de> for Member {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(self.read(d)?.and_then(Scalar::string))
    }
}

impl<'de> Visitor<'de> for Member {
    type Value = Option<Scalar<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any json value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == self.name {
                found = Some(map.next_value_seed(Val(self.depth + 1))?);
            } else {
                map.next_value_seed(Skip(self.depth + 1))?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq, self.depth + 1).map(|_| None)
    }
    scalars_are!(|_v| None);
}

/// A string member one object further in (`text.format.type` of a Responses body): the
/// [`Member`] `inner` of the object value of member `outer`; `None` when any step is missing or
/// not an object.
#[derive(Clone, Copy)]
pub(crate) struct Nested {
    pub(crate) outer: &'static str,
    pub(crate) inner: Member,
}

impl<'de> DeserializeSeed<'de> for Nested {
    type Value = Option<Cow<'de, str>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        too_deep(self.inner.depth - 1)?;
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Nested {
    type Value = Option<Cow<'de, str>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any json value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == self.outer {
                found = map.next_value_seed(self.inner)?;
            } else {
                map.next_value_seed(Skip(self.inner.depth))?;
            }
        }
        Ok(found)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        skip_seq(seq, self.inner.depth).map(|_| None)
    }
    scalars_are!(|_v| None);
}

/// `messages`: `None` when it is not an array; inside, the first message error. Each message is
/// read in `dialect` (see [`MessageSeed`]).
pub(crate) struct Messages {
    pub(crate) dialect: Dialect,
}

impl<'de> DeserializeSeed<'de> for Messages {
    type Value = Option<Result<Vec<Message<'de>>, RequestError>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Messages {
    type Value = Option<Result<Vec<Message<'de>>, RequestError>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any json value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Ok(Vec::new());
        let mut i = 0;
        while let Some(m) = seq.next_element_seed(MessageSeed { index: i, depth: 2, dialect: self.dialect })? {
            if let Ok(list) = &mut out {
                match m {
                    Ok(m) => list.push(m),
                    Err(e) => out = Err(e),
                }
            }
            i += 1;
        }
        Ok(Some(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        skip_map(map, 2).map(|()| None)
    }
    scalars_are!(|_v| None);
}
