//! Model price table and the cost of a completion, as providers bill it.
//!
//! # Configuration
//!
//! Users write the table as JSON (part of the plugin configuration):
//!
//! ```json
//! {"version": "2026-12", "effective": "2026-12-02",
//!  "models": [ {"id": "gpt-5", "input_per_mtok": 1.25, "cached_input_per_mtok": 0.125,
//!               "output_per_mtok": 10.00, "aliases": ["gpt-5-2025-08-07"],
//!               "service_tiers": {"flex": {"multiplier": 0.5},
//!                                 "priority": {"input_per_mtok": 2.50, "cached_input_per_mtok": 0.25,
//!                                              "output_per_mtok": 20.00}}},
//!              {"id": "gemini-2.5-pro", "input_per_mtok": 1.25, "cached_input_per_mtok": 0.125,
//!               "output_per_mtok": 10.00,
//!               "long_context": {"above_input_tokens": 200000, "input_per_mtok": 2.50,
//!                                "cached_input_per_mtok": 0.25, "output_per_mtok": 15.00}} ]}
//! ```
//!
//! Prices are USD per one million tokens. Every member but `id`, `input_per_mtok` and
//! `output_per_mtok` is optional; the raw form and its validation are in
//! [`crate::pricing_raw`].
//!
//! # Units
//!
//! After validation no float is used for money. Each price is stored as an
//! integer number of **micro-USD per 1M tokens** (equivalently pico-USD per
//! token): `(usd_per_mtok * 1e6).round()`. `$2.50/Mtok` is `2_500_000`. A service-tier
//! multiplier is stored in parts per million. Costs are integer **micro-USD**.
//!
//! # Which rates
//!
//! One rate set prices the whole request, chosen from the answer's usage:
//! 1. **Long context**: when the request's input tokens (`prompt_tokens`: every input token,
//!    cache reads and writes included) exceed the model's `long_context.above_input_tokens`,
//!    the long-context rates replace the base rates for every token of the request, input and
//!    output (how Google and Anthropic bill their long-context tiers).
//! 2. **Service tier** ([`ServiceTier`], read from the answer): standard processing uses the
//!    rates of step 1; a tier priced with a `multiplier` multiplies them (flex at 0.5); a tier
//!    priced with its own rates uses those, and is [`PricingError::NoLongContextTierRates`]
//!    above the long-context threshold (`OpenAI`'s priority rates exclude long context). A
//!    tier the model has no entry for, or one this build does not know, is
//!    [`PricingError::UnpricedServiceTier`]: never billed at standard rates by guess.
//!
//! # Cost rule
//!
//! With `input`, `cached_rate`, `w5_rate`, `w1_rate` and `output` the chosen rates in micro-USD
//! per 1M tokens, where `cached_rate` is the cached-input price if the rate set has one and its
//! input price otherwise, and `w5_rate` / `w1_rate` its 5-minute / 1-hour cache-write prices
//! (Anthropic; the input price if absent), `w5` / `w1` the input tokens written to those caches
//! (always 0 for `OpenAI` answers), and `m` the tier multiplier in parts per million (1,000,000
//! without one):
//!
//! ```text
//! cost_micro_usd = round_half_up(
//!     ((prompt - cached - w5 - w1) * input + cached * cached_rate
//!      + w5 * w5_rate + w1 * w1_rate + completion * output) * m / 10^12 )
//! ```
//!
//! `prompt` counts every input token (Anthropic's `input_tokens` plus its cache reads and
//! writes, see [`crate::anthropic_usage`]), so each token is billed at exactly one rate.
//! Cache writes above `prompt - cached` are [`PricingError::CacheWritesExceedPrompt`].
//!
//! Computed in `u128` with checked arithmetic. Rounding happens once, on the
//! total (never per component), and a total of exactly `.5` micro-USD rounds
//! up. A result that does not fit in `u64`, or any arithmetic overflow, is
//! [`PricingError::Overflow`]; `cached > prompt` is
//! [`PricingError::CachedExceedsPrompt`]. A model missing from the table is
//! [`PricingError::Unpriced`], never a cost of zero.
//!
//! # Lookup
//!
//! [`PriceTable::lookup`] matches a model name against ids and aliases: exact
//! match first, then ASCII case-insensitive match. Because names are unique
//! case-insensitively, at most one model can match.

use std::collections::BTreeMap;

pub use crate::pricing_raw::{RawLongContext, RawModelPrice, RawPriceTable, RawTierPrice, MAX_USD_PER_MTOK};
use crate::service_tier::ServiceTier;
use crate::usage::Usage;

/// Micro-USD in one USD, tokens in one "Mtok", and parts per million in 1.
pub(crate) const MILLION: u128 = 1_000_000;

/// The price table compiled into the plugin.
pub const DEFAULT_PRICES_JSON: &str = include_str!("default_prices.json");

/// Why a price table is invalid or a cost could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PricingError {
    /// The price table JSON could not be parsed.
    #[error("price table is not valid: {0}")]
    Parse(String),
    /// `version` is empty.
    #[error("price table version is empty")]
    EmptyVersion,
    /// `effective` is not a `YYYY-MM-DD` date.
    #[error("price table effective date {0:?} is not a yyyy-mm-dd date")]
    InvalidEffective(String),
    /// `models` is empty.
    #[error("price table has no models")]
    NoModels,
    /// An id or alias is empty or has leading/trailing whitespace.
    #[error("model name {0:?} is empty or has surrounding whitespace")]
    InvalidName(String),
    /// An id or alias is used more than once (ASCII case-insensitively).
    #[error("model name {0:?} is used more than once")]
    DuplicateName(String),
    /// A price is negative, not finite, or above [`MAX_USD_PER_MTOK`].
    #[error(
        "price {field} of model {model:?} is {value}, expected a number between 0 and 1000000 usd per million tokens"
    )]
    InvalidPrice {
        /// Model id.
        model: String,
        /// Name of the price field (`long_context.` or `service_tiers.<tier>.` prefixed).
        field: String,
        /// The rejected value.
        value: f64,
    },
    /// `long_context.above_input_tokens` is 0.
    #[error("long_context.above_input_tokens of model {0:?} must be above 0")]
    ZeroLongContextThreshold(String),
    /// A `service_tiers` key that is not a priceable tier.
    #[error("service tier {key:?} of model {model:?} is not one of flex, priority, scale, batch")]
    UnknownServiceTierKey {
        /// Model id.
        model: String,
        /// The rejected key.
        key: String,
    },
    /// A service-tier entry with both, or neither, a multiplier and rates.
    #[error(
        "service tier {tier} of model {model:?} needs either a multiplier or input_per_mtok and output_per_mtok, not both"
    )]
    AmbiguousTierPrice {
        /// Model id.
        model: String,
        /// Tier name.
        tier: &'static str,
    },
    /// A service-tier multiplier that is negative, not finite or above 100.
    #[error("multiplier of service tier {tier} of model {model:?} is {value}, expected a number between 0 and 100")]
    InvalidMultiplier {
        /// Model id.
        model: String,
        /// Tier name.
        tier: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// The model is not in the price table.
    #[error("model {0:?} has no price")]
    Unpriced(String),
    /// The answer reports a service tier the model has no price for.
    #[error("model {model:?} has no price for service tier {tier}")]
    UnpricedServiceTier {
        /// Model id.
        model: String,
        /// Tier name as reported (`unknown` for a value this build does not know).
        tier: &'static str,
    },
    /// A service tier with its own rates, on a request above the long-context threshold.
    #[error("model {model:?} has no {tier} rates above its long-context threshold")]
    NoLongContextTierRates {
        /// Model id.
        model: String,
        /// Tier name.
        tier: &'static str,
    },
    /// The usage reports more cached tokens than prompt tokens.
    #[error("cached tokens ({cached}) exceed prompt tokens ({prompt})")]
    CachedExceedsPrompt {
        /// Cached tokens.
        cached: u64,
        /// Prompt tokens.
        prompt: u64,
    },
    /// The usage reports more cache-write tokens than input tokens left after cache reads.
    #[error("cache-write tokens ({written}) exceed the input tokens not read from the cache (of {prompt})")]
    CacheWritesExceedPrompt {
        /// Tokens written to a cache (5-minute and 1-hour).
        written: u64,
        /// Prompt tokens.
        prompt: u64,
    },
    /// The cost does not fit in the integer arithmetic.
    #[error("cost of model {model:?} overflows")]
    Overflow {
        /// Model id.
        model: String,
    },
}

/// One set of rates, in micro-USD per 1M tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// Uncached input tokens.
    pub input: u64,
    /// Cached input tokens, if the set has a cached rate (the input rate applies otherwise).
    pub cached_input: Option<u64>,
    /// Output tokens.
    pub output: u64,
    /// Input tokens written to a 5-minute cache, if the set has that rate.
    pub cache_write_5m: Option<u64>,
    /// Input tokens written to a 1-hour cache, if the set has that rate.
    pub cache_write_1h: Option<u64>,
}

/// Rates that replace the base rates for a whole request above an input-token threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongContext {
    /// Requests with strictly more input tokens than this use `rates`.
    pub above_input_tokens: u64,
    /// The long-context rates.
    pub rates: Rates,
}

/// The price of one service tier of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierPrice {
    /// The standard (or long-context) rates times this many parts per million.
    Multiplier(u64),
    /// The tier's own rates.
    Rates(Rates),
}

/// Validated price of one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPrice {
    /// Canonical model id.
    pub id: String,
    /// Other names of the model.
    pub aliases: Vec<String>,
    /// Standard-processing rates.
    pub base: Rates,
    /// Long-context rates, if the model has them.
    pub long_context: Option<LongContext>,
    /// Prices of the non-standard service tiers the model is sold on.
    pub service_tiers: BTreeMap<ServiceTier, TierPrice>,
    /// The most output tokens one answer can have, if the table says.
    pub max_output_tokens: Option<u64>,
}

/// A validated price table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    pub(crate) version: String,
    pub(crate) effective: String,
    pub(crate) models: Vec<ModelPrice>,
    /// Exact id or alias -> index into `models`.
    pub(crate) by_name: BTreeMap<String, usize>,
}

impl Rates {
    /// The undivided cost (micro-USD times 10^6) of `usage`, whose uncached input is `uncached`;
    /// `None` on overflow.
    fn total(&self, usage: &Usage, uncached: u64) -> Option<u128> {
        let term = |tokens: u64, rate: u64| u128::from(tokens).checked_mul(u128::from(rate));
        term(uncached, self.input)?
            .checked_add(term(usage.cached_tokens, self.cached_input.unwrap_or(self.input))?)?
            .checked_add(term(usage.cache_write_5m_tokens, self.cache_write_5m.unwrap_or(self.input))?)?
            .checked_add(term(usage.cache_write_1h_tokens, self.cache_write_1h.unwrap_or(self.input))?)?
            .checked_add(term(usage.completion_tokens, self.output)?)
    }
}

impl ModelPrice {
    /// The rates and multiplier (parts per million) that price `usage` (see "Which rates" in
    /// the module documentation).
    ///
    /// # Errors
    ///
    /// [`PricingError::UnpricedServiceTier`] and [`PricingError::NoLongContextTierRates`].
    pub fn rates_for(&self, usage: &Usage) -> Result<(Rates, u64), PricingError> {
        let long = self.long_context.filter(|lc| usage.prompt_tokens > lc.above_input_tokens);
        let standard = long.map_or(self.base, |lc| lc.rates);
        let tier = usage.service_tier;
        if tier == ServiceTier::Standard {
            return Ok((standard, 1_000_000));
        }
        let unpriced = || PricingError::UnpricedServiceTier { model: self.id.clone(), tier: tier.name() };
        match self.service_tiers.get(&tier).ok_or_else(unpriced)? {
            TierPrice::Multiplier(ppm) => Ok((standard, *ppm)),
            TierPrice::Rates(_) if long.is_some() => {
                Err(PricingError::NoLongContextTierRates { model: self.id.clone(), tier: tier.name() })
            }
            TierPrice::Rates(rates) => Ok((*rates, 1_000_000)),
        }
    }

    /// Cost of `usage` at this model's prices, in micro-USD (see the module
    /// documentation for the exact rule).
    ///
    /// # Errors
    ///
    /// [`PricingError::CachedExceedsPrompt`] and [`PricingError::CacheWritesExceedPrompt`] for
    /// an inconsistent usage, those of [`ModelPrice::rates_for`], and
    /// [`PricingError::Overflow`] if the cost does not fit.
    pub fn cost_micro_usd(&self, usage: &Usage) -> Result<u64, PricingError> {
        let overflow = || PricingError::Overflow { model: self.id.clone() };
        if usage.cached_tokens > usage.prompt_tokens {
            return Err(PricingError::CachedExceedsPrompt { cached: usage.cached_tokens, prompt: usage.prompt_tokens });
        }
        let uncached = usage.uncached_input().ok_or(PricingError::CacheWritesExceedPrompt {
            written: usage.cache_write_5m_tokens.saturating_add(usage.cache_write_1h_tokens),
            prompt: usage.prompt_tokens,
        })?;
        let (rates, ppm) = self.rates_for(usage)?;
        let scaled = rates.total(usage, uncached).and_then(|t| t.checked_mul(u128::from(ppm))).ok_or_else(overflow)?;
        let divisor = MILLION * MILLION;
        let rounded = scaled.checked_add(divisor / 2).ok_or_else(overflow)? / divisor;
        u64::try_from(rounded).map_err(|_| overflow())
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

impl PriceTable {
    /// The table compiled into the plugin (`src/default_prices.json`).
    ///
    /// # Errors
    ///
    /// Only if the embedded table is invalid (a test guards against it).
    pub fn default_table() -> Result<PriceTable, PricingError> {
        Self::from_json(DEFAULT_PRICES_JSON)
    }

    /// Parses and validates a price table from its JSON form.
    ///
    /// # Errors
    ///
    /// [`PricingError::Parse`] for malformed JSON or unknown/missing fields,
    /// otherwise the validation errors of `TryFrom<RawPriceTable>`.
    pub fn from_json(json: &str) -> Result<PriceTable, PricingError> {
        let raw: RawPriceTable = serde_json::from_str(json).map_err(|e| PricingError::Parse(e.to_string()))?;
        PriceTable::try_from(raw)
    }

    /// Version label of the table.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Date from which the prices apply (`YYYY-MM-DD`).
    pub fn effective(&self) -> &str {
        &self.effective
    }

    /// Finds a model by id or alias: exact match first, then ASCII
    /// case-insensitive.
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(price) = self.by_name.get(model).and_then(|&i| self.models.get(i)) {
            return Some(price);
        }
        self.models.iter().find(|m| m.names().any(|n| n.eq_ignore_ascii_case(model)))
    }

    /// Cost of `usage` on `model`, in micro-USD.
    ///
    /// # Errors
    ///
    /// [`PricingError::Unpriced`] for a model not in the table (never a cost
    /// of zero), otherwise those of [`ModelPrice::cost_micro_usd`].
    pub fn cost_micro_usd(&self, model: &str, usage: &Usage) -> Result<u64, PricingError> {
        self.lookup(model).ok_or_else(|| PricingError::Unpriced(model.to_string()))?.cost_micro_usd(usage)
    }

    /// Cost of `usage` on a model that did not answer (the baseline, a simulated strategy): on
    /// the answer's service tier when that model is sold on it, else at its standard rates,
    /// the processing a client could have had there.
    ///
    /// # Errors
    ///
    /// Those of [`PriceTable::cost_micro_usd`] but the service-tier ones.
    pub fn counterfactual_cost_micro_usd(&self, model: &str, usage: &Usage) -> Result<u64, PricingError> {
        match self.cost_micro_usd(model, usage) {
            Err(PricingError::UnpricedServiceTier { .. } | PricingError::NoLongContextTierRates { .. }) => {
                self.cost_micro_usd(model, &Usage { service_tier: ServiceTier::Standard, ..*usage })
            }
            other => other,
        }
    }

    /// All models, in configuration order.
    pub fn models(&self) -> impl Iterator<Item = &ModelPrice> {
        self.models.iter()
    }
}

#[cfg(test)]
#[path = "pricing_tests.rs"]
mod tests;
