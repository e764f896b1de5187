//! The processing tier an answer says it was served on (`service_tier`), which changes what
//! the provider bills for the same tokens: `OpenAI` bills `flex` at half its standard rates and
//! `priority` at its own higher rates; Anthropic reports `standard`, `priority` or `batch`.
//!
//! The tier is read from the answer, never from the request: a request's `service_tier` is a
//! wish (`auto` may resolve to either), and `OpenAI` documents that the answer carries the tier
//! actually used. Standard processing is reported as `default` (`OpenAI`) or `standard`
//! (Anthropic); an answer that reports no tier, or `null`, was served on standard processing.
//!
//! A reported value this build does not know is [`ServiceTier::Unknown`]: the price table has
//! no rates for it, so the answer is `unpriced` rather than billed at standard rates that may
//! be wrong.

use serde::Serialize;
use serde_json::Value;

/// A processing tier, as reported by an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceTier {
    /// Standard processing (`default`, `standard`, or no tier reported): the model's base rates.
    #[default]
    Standard,
    /// `OpenAI` flex processing (slower, cheaper).
    Flex,
    /// Priority processing (`OpenAI`, Anthropic).
    Priority,
    /// `OpenAI` scale tier (prepaid capacity).
    Scale,
    /// Batch processing (Anthropic reports it on batch results).
    Batch,
    /// Any other reported value.
    Unknown,
}

impl ServiceTier {
    /// Tiers a price table may give rates for (every tier but standard, whose rates are the
    /// model's base rates, and unknown).
    pub const PRICEABLE: [ServiceTier; 4] =
        [ServiceTier::Flex, ServiceTier::Priority, ServiceTier::Scale, ServiceTier::Batch];

    /// The tier an answer's `service_tier` value names (`None` is a missing or `null` value).
    pub fn reported(value: Option<&str>) -> ServiceTier {
        match value {
            None | Some("default" | "standard") => ServiceTier::Standard,
            Some(other) => Self::PRICEABLE.into_iter().find(|t| t.name() == other).unwrap_or(ServiceTier::Unknown),
        }
    }

    /// The tier a `service_tier` member names: a string as in [`ServiceTier::reported`], `null`
    /// or absent as standard, any other JSON value as unknown.
    pub fn from_member(value: Option<&Value>) -> ServiceTier {
        match value {
            None | Some(Value::Null) => ServiceTier::Standard,
            Some(Value::String(s)) => ServiceTier::reported(Some(s)),
            Some(_) => ServiceTier::Unknown,
        }
    }

    /// The tier a price-table key names, if rates can be given for it.
    pub fn priceable(key: &str) -> Option<ServiceTier> {
        Self::PRICEABLE.into_iter().find(|t| t.name() == key)
    }

    /// The tier's name in price tables, headers and the access log.
    pub fn name(self) -> &'static str {
        match self {
            ServiceTier::Standard => "standard",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
            ServiceTier::Scale => "scale",
            ServiceTier::Batch => "batch",
            ServiceTier::Unknown => "unknown",
        }
    }

    /// Whether this is standard processing (serde's `skip_serializing_if` passes a reference).
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub fn is_standard(&self) -> bool {
        *self == ServiceTier::Standard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reported_values() {
        for (value, tier) in [
            (None, ServiceTier::Standard),
            (Some("default"), ServiceTier::Standard),
            (Some("standard"), ServiceTier::Standard),
            (Some("flex"), ServiceTier::Flex),
            (Some("priority"), ServiceTier::Priority),
            (Some("scale"), ServiceTier::Scale),
            (Some("batch"), ServiceTier::Batch),
            (Some("auto"), ServiceTier::Unknown),
            (Some("Flex"), ServiceTier::Unknown),
            (Some(""), ServiceTier::Unknown),
        ] {
            assert_eq!(ServiceTier::reported(value), tier, "{value:?}");
        }
    }

    #[test]
    fn members() {
        use serde_json::json;
        assert_eq!(ServiceTier::from_member(None), ServiceTier::Standard);
        assert_eq!(ServiceTier::from_member(Some(&json!(null))), ServiceTier::Standard);
        assert_eq!(ServiceTier::from_member(Some(&json!("flex"))), ServiceTier::Flex);
        assert_eq!(ServiceTier::from_member(Some(&json!(1))), ServiceTier::Unknown);
        assert_eq!(ServiceTier::from_member(Some(&json!({"tier": "flex"}))), ServiceTier::Unknown);
    }

    #[test]
    fn only_non_standard_known_tiers_are_priceable() {
        assert_eq!(ServiceTier::priceable("flex"), Some(ServiceTier::Flex));
        for key in ["standard", "default", "unknown", "auto", "FLEX"] {
            assert_eq!(ServiceTier::priceable(key), None, "{key}");
        }
        for t in ServiceTier::PRICEABLE {
            assert_eq!(ServiceTier::priceable(t.name()), Some(t));
        }
    }
}
