//! The lenient JSON view of one SSE event payload ([`crate::sse`]): it validates the whole
//! payload but keeps only what the scanner needs (`usage`, `service_tier`, and whether `choices` is an
//! empty array), tolerating any type for every member, so content deltas cost no allocation.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The parts of one chunk object the scanner uses.
#[derive(Debug, Default)]
pub(crate) struct ChunkFields {
    /// `usage`, absent when missing or `null`.
    pub(crate) usage: Option<Value>,
    /// `choices` is an empty array.
    pub(crate) no_choices: bool,
    /// `service_tier`, absent when missing or `null`.
    pub(crate) service_tier: Option<Value>,
}

/// A parsed event payload.
#[derive(Debug, Default)]
pub(crate) enum Chunk {
    /// A JSON object, with the members the scanner uses.
    Object(ChunkFields),
    /// Valid JSON that is not an object.
    #[default]
    NotObject,
}

/// Whether a `choices` value is an empty array (anything else: `false`).
#[derive(Debug, Default)]
struct EmptyChoices(bool);

/// Object keys the scanner looks at.
enum Key {
    Choices,
    Usage,
    ServiceTier,
    Other,
}

/// Visitor methods mapping every non-string scalar to the default value.
macro_rules! default_for_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match v {
            "choices" => Key::Choices,
            "usage" => Key::Usage,
            "service_tier" => Key::ServiceTier,
            _ => Key::Other,
        })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

/// Reads whether `choices` is an empty array, skipping its elements.
struct ChoicesVisitor;

impl<'de> Visitor<'de> for ChoicesVisitor {
    type Value = EmptyChoices;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    default_for_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let first = seq.next_element::<IgnoredAny>()?;
        drain_seq(seq)?;
        Ok(EmptyChoices(first.is_none()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map)?;
        Ok(EmptyChoices(false))
    }
}

impl<'de> Deserialize<'de> for EmptyChoices {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChoicesVisitor)
    }
}

struct ChunkVisitor;

impl<'de> Visitor<'de> for ChunkVisitor {
    type Value = Chunk;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any json value")
    }

    default_for_scalars!();

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(Chunk::NotObject)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = ChunkFields::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Choices => fields.no_choices = map.next_value::<EmptyChoices>()?.0,
                Key::Usage => fields.usage = map.next_value::<Option<Value>>()?,
                Key::ServiceTier => fields.service_tier = map.next_value::<Option<Value>>()?,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Chunk::Object(fields))
    }
}

impl<'de> Deserialize<'de> for Chunk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChunkVisitor)
    }
}
