//! The price table as users write it (USD per 1M tokens, floats) and its validation into
//! [`PriceTable`] (integer micro-USD per 1M tokens).
//!
//! Validation rejects: an empty `version`; an `effective` date that is not `YYYY-MM-DD`; an
//! empty model list; an empty id or alias, or one with leading/trailing whitespace; a name (id
//! or alias) used twice anywhere in the table, compared ASCII case-insensitively (an alias equal
//! to another model's id, or to its own id, is a duplicate); a price that is negative, NaN,
//! infinite or above [`MAX_USD_PER_MTOK`]; a `long_context.above_input_tokens` of 0; a
//! `service_tiers` key other than `flex`, `priority`, `scale`, `batch`; a tier entry with both or
//! neither of `multiplier` and its own `input_per_mtok` + `output_per_mtok`; a multiplier outside
//! 0..=100. Unknown members are rejected everywhere.
//!
//! In a `long_context` or tier rate set, an absent cached or cache-write rate falls back to that
//! set's own input rate, as in the base rates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::pricing::{LongContext, ModelPrice, PriceTable, PricingError, Rates, TierPrice, MILLION};
use crate::service_tier::ServiceTier;

/// Highest accepted price, in USD per 1M tokens.
pub const MAX_USD_PER_MTOK: f64 = 1_000_000.0;

/// Highest accepted service-tier multiplier.
const MAX_MULTIPLIER: f64 = 100.0;

/// One model as written in the configuration (prices in USD per 1M tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelPrice {
    /// Canonical model id.
    pub id: String,
    /// USD per 1M uncached input tokens.
    pub input_per_mtok: f64,
    /// USD per 1M cached input tokens; the input price applies if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
    /// USD per 1M output tokens.
    pub output_per_mtok: f64,
    /// USD per 1M input tokens written to a 5-minute prompt cache (Anthropic); the input price
    /// applies if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m_per_mtok: Option<f64>,
    /// USD per 1M input tokens written to a 1-hour prompt cache (Anthropic); the input price
    /// applies if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h_per_mtok: Option<f64>,
    /// Rates for the whole request when its input exceeds a threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<RawLongContext>,
    /// Prices of non-standard service tiers, by tier name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_tiers: BTreeMap<String, RawTierPrice>,
    /// The most output tokens one answer of the model can have (the cost ceiling's worst case
    /// for a request without `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Where and when the prices were read (documentation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Other names of the model (dated snapshots, provider names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A model's long-context rates as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLongContext {
    /// Requests with strictly more input tokens than this use these rates.
    pub above_input_tokens: u64,
    /// USD per 1M uncached input tokens.
    pub input_per_mtok: f64,
    /// USD per 1M cached input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
    /// USD per 1M output tokens.
    pub output_per_mtok: f64,
    /// USD per 1M input tokens written to a 5-minute cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m_per_mtok: Option<f64>,
    /// USD per 1M input tokens written to a 1-hour cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h_per_mtok: Option<f64>,
}

/// A service tier's price as written: a `multiplier` of the standard rates, or its own rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTierPrice {
    /// Factor applied to the standard (or long-context) cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    /// USD per 1M uncached input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_per_mtok: Option<f64>,
    /// USD per 1M cached input tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
    /// USD per 1M output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_per_mtok: Option<f64>,
    /// USD per 1M input tokens written to a 5-minute cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m_per_mtok: Option<f64>,
    /// USD per 1M input tokens written to a 1-hour cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h_per_mtok: Option<f64>,
}

/// A price table as written in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriceTable {
    /// Version label of the table, e.g. `"2026-12"`.
    pub version: String,
    /// Date from which the prices apply, `YYYY-MM-DD`.
    pub effective: String,
    /// Priced models.
    pub models: Vec<RawModelPrice>,
}

/// Converts one rate set, naming fields with `prefix` in errors.
struct RateReader<'a> {
    model: &'a str,
    prefix: &'a str,
}

impl RateReader<'_> {
    fn one(&self, field: &str, usd_per_mtok: f64) -> Result<u64, PricingError> {
        micro_usd(self.model, &format!("{}{field}", self.prefix), usd_per_mtok)
    }

    fn opt(&self, field: &str, usd_per_mtok: Option<f64>) -> Result<Option<u64>, PricingError> {
        usd_per_mtok.map(|p| self.one(field, p)).transpose()
    }

    fn rates(
        &self,
        input: f64,
        cached: Option<f64>,
        output: f64,
        w5: Option<f64>,
        w1: Option<f64>,
    ) -> Result<Rates, PricingError> {
        Ok(Rates {
            input: self.one("input_per_mtok", input)?,
            cached_input: self.opt("cached_input_per_mtok", cached)?,
            output: self.one("output_per_mtok", output)?,
            cache_write_5m: self.opt("cache_write_5m_per_mtok", w5)?,
            cache_write_1h: self.opt("cache_write_1h_per_mtok", w1)?,
        })
    }
}

fn long_context(model: &str, raw: &RawLongContext) -> Result<LongContext, PricingError> {
    if raw.above_input_tokens == 0 {
        return Err(PricingError::ZeroLongContextThreshold(model.to_string()));
    }
    let r = RateReader { model, prefix: "long_context." };
    let rates = r.rates(
        raw.input_per_mtok,
        raw.cached_input_per_mtok,
        raw.output_per_mtok,
        raw.cache_write_5m_per_mtok,
        raw.cache_write_1h_per_mtok,
    )?;
    Ok(LongContext { above_input_tokens: raw.above_input_tokens, rates })
}

fn tier_price(model: &str, key: &str, raw: &RawTierPrice) -> Result<(ServiceTier, TierPrice), PricingError> {
    let tier = ServiceTier::priceable(key)
        .ok_or_else(|| PricingError::UnknownServiceTierKey { model: model.to_string(), key: key.to_string() })?;
    let ambiguous = || PricingError::AmbiguousTierPrice { model: model.to_string(), tier: tier.name() };
    let has_rates = raw.input_per_mtok.is_some()
        || raw.output_per_mtok.is_some()
        || raw.cached_input_per_mtok.is_some()
        || raw.cache_write_5m_per_mtok.is_some()
        || raw.cache_write_1h_per_mtok.is_some();
    let price = match (raw.multiplier, has_rates, raw.input_per_mtok, raw.output_per_mtok) {
        (Some(m), false, _, _) => {
            if !(0.0..=MAX_MULTIPLIER).contains(&m) {
                return Err(PricingError::InvalidMultiplier { model: model.to_string(), tier: tier.name(), value: m });
            }
            TierPrice::Multiplier(scaled_by_million(m))
        }
        (None, true, Some(input), Some(output)) => {
            let prefix = format!("service_tiers.{key}.");
            let r = RateReader { model, prefix: &prefix };
            TierPrice::Rates(r.rates(
                input,
                raw.cached_input_per_mtok,
                output,
                raw.cache_write_5m_per_mtok,
                raw.cache_write_1h_per_mtok,
            )?)
        }
        _ => return Err(ambiguous()),
    };
    Ok((tier, price))
}

fn model_price(m: RawModelPrice) -> Result<ModelPrice, PricingError> {
    let base = RateReader { model: &m.id, prefix: "" }.rates(
        m.input_per_mtok,
        m.cached_input_per_mtok,
        m.output_per_mtok,
        m.cache_write_5m_per_mtok,
        m.cache_write_1h_per_mtok,
    )?;
    let long_context = m.long_context.as_ref().map(|lc| long_context(&m.id, lc)).transpose()?;
    let service_tiers =
        m.service_tiers.iter().map(|(key, raw)| tier_price(&m.id, key, raw)).collect::<Result<_, _>>()?;
    Ok(ModelPrice {
        id: m.id,
        aliases: m.aliases,
        base,
        long_context,
        service_tiers,
        max_output_tokens: m.max_output_tokens,
    })
}

impl TryFrom<RawPriceTable> for PriceTable {
    type Error = PricingError;

    fn try_from(raw: RawPriceTable) -> Result<Self, Self::Error> {
        if raw.version.trim().is_empty() {
            return Err(PricingError::EmptyVersion);
        }
        if !is_iso_date(&raw.effective) {
            return Err(PricingError::InvalidEffective(raw.effective));
        }
        if raw.models.is_empty() {
            return Err(PricingError::NoModels);
        }
        let mut models = Vec::with_capacity(raw.models.len());
        let mut by_name = BTreeMap::new();
        // Lower-cased names, to reject names differing only by ASCII case.
        let mut folded = BTreeMap::new();
        for (index, m) in raw.models.into_iter().enumerate() {
            let price = model_price(m)?;
            for name in price.names() {
                if name.is_empty() || name.trim() != name {
                    return Err(PricingError::InvalidName(name.to_string()));
                }
                if folded.insert(name.to_ascii_lowercase(), index).is_some() {
                    return Err(PricingError::DuplicateName(name.to_string()));
                }
                by_name.insert(name.to_string(), index);
            }
            models.push(price);
        }
        Ok(PriceTable { version: raw.version, effective: raw.effective, models, by_name })
    }
}

/// `value * 10^6`, rounded; `value` is already checked to be in `[0, 1e6]`, so the result is
/// exact and far below `u64::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
fn scaled_by_million(value: f64) -> u64 {
    (value * MILLION as f64).round() as u64
}

/// Converts USD per 1M tokens to integer micro-USD per 1M tokens.
fn micro_usd(model: &str, field: &str, usd_per_mtok: f64) -> Result<u64, PricingError> {
    // Also rejects NaN and infinities, which no range contains.
    if !(0.0..=MAX_USD_PER_MTOK).contains(&usd_per_mtok) {
        return Err(PricingError::InvalidPrice {
            model: model.to_string(),
            field: field.to_string(),
            value: usd_per_mtok,
        });
    }
    Ok(scaled_by_million(usd_per_mtok))
}

/// `YYYY-MM-DD` with month 01..=12 and day 01..=31.
fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *b else {
        return false;
    };
    if ![y0, y1, y2, y3, m0, m1, d0, d1].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let month = (m0 - b'0') * 10 + (m1 - b'0');
    let day = (d0 - b'0') * 10 + (d1 - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}
