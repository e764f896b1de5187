//! The rewrite step: the body sent upstream is the client's bytes with new values spliced in at
//! the spans the inspect step found, so whitespace, number spellings, key order and fields this
//! filter does not know all reach the provider as the client sent them, and nothing is parsed
//! again. A re-send to another tier splices the model again at the spans the first rewrite
//! returned.
//!
//! Every occurrence of a duplicated `model` (or `stream_options`) is edited, so whichever one a
//! provider's parser keeps, it reads the routed value.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::inspect::{scalars_are, Spans};

/// What to change; the caller leaves out what already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Edit<'m> {
    /// Write this model into every `model` member.
    pub model: Option<&'m str>,
    /// Make `stream_options.include_usage` true (adding the member or the object if missing).
    pub add_usage: bool,
}

/// A rewritten body and where its `model` values now sit (for a later re-send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The body to send.
    pub body: Vec<u8>,
    /// Every `model` value of `body`.
    pub model: Vec<Range<usize>>,
}

const USAGE_MEMBER: &str = r#""stream_options":{"include_usage":true}"#;

/// Apply `edit` to `raw` (whose spans are `spans`); `None` when the edit changes nothing.
pub fn rewrite(raw: &[u8], spans: &Spans, edit: Edit<'_>) -> Option<Rewritten> {
    if edit.model.is_none() && !edit.add_usage {
        return None;
    }
    let mut edits: Vec<(Range<usize>, Cow<'_, [u8]>, bool)> = Vec::new();
    for span in &spans.model {
        let text = match edit.model {
            Some(m) => Cow::Owned(json_string(m)),
            None => Cow::Borrowed(raw.get(span.clone())?),
        };
        edits.push((span.clone(), text, true));
    }
    if edit.add_usage {
        if spans.stream_options.is_empty() {
            let text = if spans.empty { USAGE_MEMBER.to_string() } else { format!(",{USAGE_MEMBER}") };
            edits.push((spans.close..spans.close, Cow::Owned(text.into_bytes()), false));
        }
        for span in &spans.stream_options {
            edits.extend(usage_edits(raw, span.clone())?.into_iter().map(|(r, t)| (r, Cow::Owned(t), false)));
        }
    }
    Some(apply(raw, edits))
}

/// The request as re-sent to another tier: `model` set at `model_spans` of `raw`.
pub fn with_model(raw: &[u8], model_spans: &[Range<usize>], model: &str) -> Rewritten {
    let text = json_string(model);
    let edits = model_spans.iter().map(|s| (s.clone(), Cow::Borrowed(text.as_slice()), true)).collect();
    apply(raw, edits)
}

fn json_string(s: &str) -> Vec<u8> {
    // Serializing a string cannot fail.
    serde_json::to_vec(s).unwrap_or_default()
}

/// Splice non-overlapping `edits` (range, new bytes, is a model value) into `raw`.
fn apply(raw: &[u8], mut edits: Vec<(Range<usize>, Cow<'_, [u8]>, bool)>) -> Rewritten {
    edits.sort_by_key(|(r, _, _)| r.start);
    let extra: usize = edits.iter().map(|(_, t, _)| t.len()).sum();
    let mut body = Vec::with_capacity(raw.len() + extra);
    let mut model = Vec::new();
    let mut at = 0;
    for (range, text, is_model) in edits {
        body.extend_from_slice(raw.get(at..range.start).unwrap_or_default());
        let start = body.len();
        body.extend_from_slice(&text);
        if is_model {
            model.push(start..body.len());
        }
        at = range.end.max(at);
    }
    body.extend_from_slice(raw.get(at..).unwrap_or_default());
    Rewritten { body, model }
}

/// The edits that make the `stream_options` value at `span` say `include_usage: true`:
/// each `include_usage` value set to `true`, or the member added first, or (not an object) the
/// whole value replaced.
fn usage_edits(raw: &[u8], span: Range<usize>) -> Option<Vec<(Range<usize>, Vec<u8>)>> {
    let value = raw.get(span.clone())?;
    let whole = || vec![(span.clone(), br#"{"include_usage":true}"#.to_vec())];
    let mut de = serde_json::Deserializer::from_slice(value);
    let Ok(Some(members)) = de.deserialize_any(Members) else {
        return Some(whole());
    };
    let found: Vec<_> = members.iter().filter(|(k, _)| k == "include_usage").collect();
    if found.is_empty() {
        let open = span.start + value.iter().position(|b| *b == b'{')? + 1;
        let text = if members.is_empty() { r#""include_usage":true"# } else { r#""include_usage":true,"# };
        return Some(vec![(open..open, text.as_bytes().to_vec())]);
    }
    found
        .into_iter()
        .map(|(_, v)| {
            let start = (v.get().as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
            Some((start..start + v.get().len(), b"true".to_vec()))
        })
        .collect()
}

/// The members of an object value, as (key, raw value); `None` for any other value.
struct Members;

type MemberList<'a> = Vec<(Cow<'a, str>, &'a RawValue)>;

impl<'de> Visitor<'de> for Members {
    type Value = Option<MemberList<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a json value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(entry) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
            out.push(entry);
        }
        Ok(Some(out))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    scalars_are!(|_v| None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::inspect;
    use serde_json::Value;

    /// Rewrite `body` and check the result means the client's JSON with only `model` and
    /// `stream_options.include_usage` changed.
    fn check(body: &str, model: Option<&str>, add_usage: bool) -> Option<String> {
        let spans = inspect(body.as_bytes()).unwrap().spans;
        let out = rewrite(body.as_bytes(), &spans, Edit { model, add_usage })?;
        let text = String::from_utf8(out.body.clone()).unwrap();
        let mut want: Value = serde_json::from_str(body).unwrap();
        if let Some(m) = model {
            want["model"] = Value::String(m.to_string());
        }
        if add_usage {
            if !want["stream_options"].is_object() {
                want["stream_options"] = serde_json::json!({});
            }
            want["stream_options"]["include_usage"] = Value::Bool(true);
        }
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), want, "{body} -> {text}");
        // The returned spans are where the model now is, and what the inspect step would find.
        assert_eq!(out.model, inspect(&out.body).unwrap().spans.model, "{text}");
        Some(text)
    }

    #[test]
    fn splices_and_keeps_every_other_byte() {
        let body = "{ \"model\" : \"auto\",\n  \"temperature\": 1.00, \"n\": 123456789012345678901234567890, \"messages\": [] }\n";
        assert_eq!(
            check(body, Some("gpt-5-nano"), false).unwrap(),
            "{ \"model\" : \"gpt-5-nano\",\n  \"temperature\": 1.00, \"n\": 123456789012345678901234567890, \"messages\": [] }\n"
        );
        assert_eq!(
            check(r#"{"messages":[],"stream":true,"model":"auto"}"#, Some("m\"x"), true).unwrap(),
            r#"{"messages":[],"stream":true,"model":"m\"x","stream_options":{"include_usage":true}}"#
        );
        // A key spelled with an escape is still the model key.
        assert_eq!(
            check(r#"{"mod\u0065l":"auto","messages":[]}"#, Some("x"), false).unwrap(),
            r#"{"mod\u0065l":"x","messages":[]}"#
        );
        assert!(check(r#"{"model":"x","messages":[]}"#, None, false).is_none());
        let long = format!(r#"{{"model":"auto","messages":[],"x":{}}}"#, "6".repeat(107));
        assert!(check(&long, Some("y"), false).unwrap().contains(&"6".repeat(107)));
    }

    #[test]
    fn edits_every_duplicate_and_existing_stream_options() {
        assert_eq!(
            check(r#"{"model":"a","model":"b","messages":[]}"#, Some("x"), false).unwrap(),
            r#"{"model":"x","model":"x","messages":[]}"#
        );
        assert_eq!(
            check(r#"{"model":"a","stream":true,"stream_options":{"include_usage":false},"messages":[]}"#, None, true)
                .unwrap(),
            r#"{"model":"a","stream":true,"stream_options":{"include_usage":true},"messages":[]}"#
        );
        assert_eq!(
            check(r#"{"stream_options":{ "include_obfuscation" : false },"model":"a","messages":[]}"#, Some("b"), true)
                .unwrap(),
            r#"{"stream_options":{"include_usage":true, "include_obfuscation" : false },"model":"b","messages":[]}"#
        );
        assert_eq!(
            check(r#"{"model":"a","stream_options":{ },"messages":[]}"#, None, true).unwrap(),
            r#"{"model":"a","stream_options":{"include_usage":true },"messages":[]}"#
        );
        assert_eq!(
            check(r#"{"model":"a","stream_options":"bogus","messages":[]}"#, Some("x"), true).unwrap(),
            r#"{"model":"x","stream_options":{"include_usage":true},"messages":[]}"#
        );
        // The member is added to every occurrence, so no reader keeps a `false`.
        let twice = r#"{"model":"a","stream_options":{"include_usage":false},"messages":[],"stream_options":{}}"#;
        let out =
            rewrite(twice.as_bytes(), &inspect(twice.as_bytes()).unwrap().spans, Edit { model: None, add_usage: true });
        assert_eq!(
            String::from_utf8(out.unwrap().body).unwrap(),
            r#"{"model":"a","stream_options":{"include_usage":true},"messages":[],"stream_options":{"include_usage":true}}"#
        );
    }

    #[test]
    fn a_resend_splices_at_the_returned_spans() {
        let body = br#"{"stream_options":{},"model" : "auto","messages":[]}"#;
        let first =
            rewrite(body, &inspect(body).unwrap().spans, Edit { model: Some("cheap-1"), add_usage: true }).unwrap();
        for model in ["mid", "a-much-longer-frontier-model-name", "é\"q"] {
            let again = with_model(&first.body, &first.model, model);
            let read = inspect(&again.body).unwrap();
            assert_eq!(read.request.model, model);
            assert!(read.request.include_usage);
            assert_eq!(again.model, read.spans.model);
        }
    }
}
