//! Model price table and the cost of a completion.
//!
//! # Configuration
//!
//! Users write the table as JSON (part of the plugin configuration):
//!
//! ```json
//! {"version": "2026-04", "effective": "2026-04-01",
//!  "models": [ {"id": "gpt-4o", "input_per_mtok": 2.50, "cached_input_per_mtok": 1.25,
//!               "output_per_mtok": 10.00, "aliases": ["gpt-4o-2024-08-06"]} ]}
//! ```
//!
//! Prices are USD per one million tokens. `cached_input_per_mtok` and
//! `aliases` are optional. The JSON is parsed into [`RawPriceTable`] and
//! validated into a [`PriceTable`] with `TryFrom`, which rejects: an empty
//! `version`; an `effective` date that is not `YYYY-MM-DD`; an empty model
//! list; an empty id or alias, or one with leading/trailing whitespace; a name
//! (id or alias) used twice anywhere in the table, compared ASCII
//! case-insensitively (an alias equal to another model's id, or to its own id,
//! is a duplicate); a price that is negative, NaN, infinite or above
//! [`MAX_USD_PER_MTOK`].
//!
//! # Units
//!
//! After validation no float is used for money. Each price is stored as an
//! integer number of **micro-USD per 1M tokens** (equivalently pico-USD per
//! token): `(usd_per_mtok * 1e6).round()`. `$2.50/Mtok` is `2_500_000`.
//! Costs are integer **micro-USD**.
//!
//! # Cost rule
//!
//! With `input`, `cached_rate`, `w5_rate`, `w1_rate` and `output` in micro-USD per 1M tokens,
//! where `cached_rate` is the model's cached-input price if it has one and its input price
//! otherwise, and `w5_rate` / `w1_rate` its 5-minute / 1-hour cache-write prices (Anthropic;
//! the input price if absent), and `w5` / `w1` the input tokens written to those caches
//! (always 0 for OpenAI answers):
//!
//! ```text
//! cost_micro_usd = round_half_up(
//!     ((prompt - cached - w5 - w1) * input + cached * cached_rate
//!      + w5 * w5_rate + w1 * w1_rate + completion * output) / 1_000_000 )
//! ```
//!
//! `prompt` counts every input token (Anthropic's `input_tokens` plus its cache reads and
//! writes, see [`crate::anthropic_usage`]), so each token is billed at exactly one rate.
//! Cache writes above `prompt - cached` are [`PricingError::CacheWritesExceedPrompt`].
//!
//! computed in `u128` with checked arithmetic. Rounding happens once, on the
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

use serde::{Deserialize, Serialize};

use crate::usage::Usage;

/// Highest accepted price, in USD per 1M tokens.
pub const MAX_USD_PER_MTOK: f64 = 1_000_000.0;

/// Micro-USD in one USD, and tokens in one "Mtok".
const MILLION: u128 = 1_000_000;

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
        /// Name of the price field.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// The model is not in the price table.
    #[error("model {0:?} has no price")]
    Unpriced(String),
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
    /// Where and when the prices were read (documentation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Other names of the model (dated snapshots, provider names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A price table as written in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPriceTable {
    /// Version label of the table, e.g. `"2026-04"`.
    pub version: String,
    /// Date from which the prices apply, `YYYY-MM-DD`.
    pub effective: String,
    /// Priced models.
    pub models: Vec<RawModelPrice>,
}

/// Validated price of one model, in micro-USD per 1M tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelPrice {
    /// Canonical model id.
    pub id: String,
    /// Other names of the model.
    pub aliases: Vec<String>,
    /// Micro-USD per 1M uncached input tokens.
    pub input: u64,
    /// Micro-USD per 1M cached input tokens, if the model has a cached rate.
    pub cached_input: Option<u64>,
    /// Micro-USD per 1M output tokens.
    pub output: u64,
    /// Micro-USD per 1M input tokens written to a 5-minute cache, if the model has that rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<u64>,
    /// Micro-USD per 1M input tokens written to a 1-hour cache, if the model has that rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<u64>,
}

/// A validated price table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    version: String,
    effective: String,
    models: Vec<ModelPrice>,
    /// Exact id or alias -> index into `models`.
    by_name: BTreeMap<String, usize>,
}

impl ModelPrice {
    /// Cost of `usage` at this model's prices, in micro-USD (see the module
    /// documentation for the exact rule).
    ///
    /// # Errors
    ///
    /// [`PricingError::CachedExceedsPrompt`] if `cached_tokens >
    /// prompt_tokens`, [`PricingError::Overflow`] if the cost does not fit.
    pub fn cost_micro_usd(&self, usage: &Usage) -> Result<u64, PricingError> {
        let overflow = || PricingError::Overflow { model: self.id.clone() };
        if usage.cached_tokens > usage.prompt_tokens {
            return Err(PricingError::CachedExceedsPrompt { cached: usage.cached_tokens, prompt: usage.prompt_tokens });
        }
        let uncached = usage.uncached_input().ok_or(PricingError::CacheWritesExceedPrompt {
            written: usage.cache_write_5m_tokens.saturating_add(usage.cache_write_1h_tokens),
            prompt: usage.prompt_tokens,
        })?;
        let cached_rate = self.cached_input.unwrap_or(self.input);
        let term = |tokens: u64, rate: u64| u128::from(tokens).checked_mul(u128::from(rate));
        let total = term(uncached, self.input)
            .and_then(|t| t.checked_add(term(usage.cached_tokens, cached_rate)?))
            .and_then(|t| t.checked_add(term(usage.cache_write_5m_tokens, self.cache_write_5m.unwrap_or(self.input))?))
            .and_then(|t| t.checked_add(term(usage.cache_write_1h_tokens, self.cache_write_1h.unwrap_or(self.input))?))
            .and_then(|t| t.checked_add(term(usage.completion_tokens, self.output)?))
            .ok_or_else(overflow)?;
        let rounded = total.checked_add(MILLION / 2).ok_or_else(overflow)? / MILLION;
        u64::try_from(rounded).map_err(|_| overflow())
    }

    fn names(&self) -> impl Iterator<Item = &str> {
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

    /// All models, in configuration order.
    pub fn models(&self) -> impl Iterator<Item = &ModelPrice> {
        self.models.iter()
    }
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
            let price = ModelPrice {
                input: micro_usd(&m.id, "input_per_mtok", m.input_per_mtok)?,
                cached_input: m
                    .cached_input_per_mtok
                    .map(|p| micro_usd(&m.id, "cached_input_per_mtok", p))
                    .transpose()?,
                output: micro_usd(&m.id, "output_per_mtok", m.output_per_mtok)?,
                cache_write_5m: m
                    .cache_write_5m_per_mtok
                    .map(|p| micro_usd(&m.id, "cache_write_5m_per_mtok", p))
                    .transpose()?,
                cache_write_1h: m
                    .cache_write_1h_per_mtok
                    .map(|p| micro_usd(&m.id, "cache_write_1h_per_mtok", p))
                    .transpose()?,
                id: m.id,
                aliases: m.aliases,
            };
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

/// Converts USD per 1M tokens to integer micro-USD per 1M tokens.
fn micro_usd(model: &str, field: &'static str, usd_per_mtok: f64) -> Result<u64, PricingError> {
    // Also rejects NaN and infinities, which no range contains.
    if !(0.0..=MAX_USD_PER_MTOK).contains(&usd_per_mtok) {
        return Err(PricingError::InvalidPrice { model: model.to_string(), field, value: usd_per_mtok });
    }
    // In [0, 1e12]: exactly representable and far below u64::MAX.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let micro = (usd_per_mtok * 1e6).round() as u64;
    Ok(micro)
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

#[cfg(test)]
mod tests {

    use super::*;

    fn usage(prompt: u64, cached: u64, completion: u64) -> Usage {
        Usage { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: cached, ..Usage::ZERO }
    }

    fn model(input: u64, cached_input: Option<u64>, output: u64) -> ModelPrice {
        ModelPrice {
            id: "m".into(),
            aliases: vec![],
            input,
            cached_input,
            output,
            cache_write_5m: None,
            cache_write_1h: None,
        }
    }

    fn raw_model(id: &str, input: f64, output: f64) -> RawModelPrice {
        RawModelPrice {
            id: id.into(),
            input_per_mtok: input,
            cached_input_per_mtok: None,
            output_per_mtok: output,
            cache_write_5m_per_mtok: None,
            cache_write_1h_per_mtok: None,
            source: None,
            aliases: vec![],
        }
    }

    fn raw(models: Vec<RawModelPrice>) -> RawPriceTable {
        RawPriceTable { version: "v1".into(), effective: "2026-04-01".into(), models }
    }

    #[test]
    fn default_table_loads() {
        let t = PriceTable::default_table().unwrap();
        assert_eq!(t.version(), "2026-04");
        assert_eq!(t.effective(), "2026-04-01");
        assert_eq!(t.models().count(), 10);
        let expect = [
            ("gpt-5-nano", 50_000, 5_000, 400_000),
            ("gpt-5-mini", 250_000, 25_000, 2_000_000),
            ("gpt-5", 1_250_000, 125_000, 10_000_000),
            ("gemini-2.5-flash-lite", 100_000, 25_000, 400_000),
            ("deepseek-v3.2", 280_000, 28_000, 420_000),
            ("gpt-4o", 2_500_000, 1_250_000, 10_000_000),
            ("gemini-2.5-pro", 1_000_000, 250_000, 10_000_000),
            ("claude-sonnet-4.6", 3_000_000, 300_000, 15_000_000),
            ("claude-opus-4.6", 5_000_000, 500_000, 25_000_000),
            ("claude-haiku-4.5", 1_000_000, 100_000, 5_000_000),
        ];
        for (id, input, cached, output) in expect {
            let m = t.lookup(id).unwrap();
            assert_eq!(m.id, id);
            assert_eq!((m.input, m.cached_input, m.output), (input, Some(cached), output), "{id}");
        }
        for (alias, id) in [
            ("claude-sonnet-4-6", "claude-sonnet-4.6"),
            ("claude-haiku-4-5", "claude-haiku-4.5"),
            ("claude-opus-4-6", "claude-opus-4.6"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("deepseek-chat", "deepseek-v3.2"),
        ] {
            assert_eq!(t.lookup(alias).unwrap().id, id);
        }
    }

    #[test]
    fn sonnet_one_million_requests() {
        let t = PriceTable::default_table().unwrap();
        let per_request = t.cost_micro_usd("claude-sonnet-4.6", &usage(500, 0, 200)).unwrap();
        assert_eq!(per_request, 4_500);
        assert_eq!(per_request * 1_000_000, 4_500_000_000); // $4,500

        // Same through the alias.
        assert_eq!(t.cost_micro_usd("claude-sonnet-4-6", &usage(500, 0, 200)).unwrap(), 4_500);
    }

    #[test]
    fn haiku_per_request() {
        let t = PriceTable::default_table().unwrap();
        assert_eq!(t.cost_micro_usd("claude-haiku-4.5", &usage(500, 0, 200)).unwrap(), 1_500);
    }

    #[test]
    fn cached_tokens_priced_at_cached_rate() {
        let t = PriceTable::default_table().unwrap();
        // gpt-4o: 1000 uncached * 2.50 + 1000 cached * 1.25 + 100 * 10.00 (per 1M)
        // = 2500 + 1250 + 1000 micro-USD.
        assert_eq!(t.cost_micro_usd("gpt-4o", &usage(2_000, 1_000, 100)).unwrap(), 4_750);
        // Sonnet: 1M prompt fully cached at $0.30/M -> $0.30.
        assert_eq!(t.cost_micro_usd("claude-sonnet-4.6", &usage(1_000_000, 1_000_000, 0)).unwrap(), 300_000);
    }

    #[test]
    fn cached_without_cached_rate_uses_input_rate() {
        let m = model(2_000_000, None, 0);
        assert_eq!(m.cost_micro_usd(&usage(1_000, 600, 0)).unwrap(), 2_000);
        assert_eq!(m.cost_micro_usd(&usage(1_000, 0, 0)).unwrap(), 2_000);
    }

    #[test]
    fn rounds_half_up_once_on_total() {
        // $0.50/Mtok, 1 token = 0.5 micro-USD exactly -> 1.
        assert_eq!(model(500_000, None, 0).cost_micro_usd(&usage(1, 0, 0)).unwrap(), 1);
        // 2.5 -> 3 (half-up, not half-even).
        assert_eq!(model(500_000, None, 0).cost_micro_usd(&usage(5, 0, 0)).unwrap(), 3);
        // 0.499999 -> 0.
        assert_eq!(model(499_999, None, 0).cost_micro_usd(&usage(1, 0, 0)).unwrap(), 0);
        // Total rounding: input 0.4 + output 0.4 = 0.8 -> 1
        // (rounding each component first would give 0).
        assert_eq!(model(400_000, None, 400_000).cost_micro_usd(&usage(1, 0, 1)).unwrap(), 1);
        // Three components summing to exactly 1.5 -> 2.
        let m = model(300_000, Some(200_000), 1_000_000);
        assert_eq!(m.cost_micro_usd(&usage(2, 1, 1)).unwrap(), 2); // 0.3 + 0.2 + 1.0 = 1.5
    }

    #[test]
    fn zero_usage_costs_zero() {
        let t = PriceTable::default_table().unwrap();
        assert_eq!(t.cost_micro_usd("gpt-4o", &Usage::default()).unwrap(), 0);
    }

    #[test]
    fn unknown_model_is_error_not_zero() {
        let t = PriceTable::default_table().unwrap();
        assert_eq!(t.cost_micro_usd("gpt-9", &usage(1, 0, 1)), Err(PricingError::Unpriced("gpt-9".into())));
        assert_eq!(t.cost_micro_usd("", &Usage::default()), Err(PricingError::Unpriced(String::new())));
        assert!(t.lookup("gpt-4").is_none());
        assert!(t.lookup("gpt-4o ").is_none());
    }

    #[test]
    fn lookup_exact_then_case_insensitive() {
        let t = PriceTable::default_table().unwrap();
        assert_eq!(t.lookup("GPT-4o").unwrap().id, "gpt-4o");
        assert_eq!(t.lookup("Claude-Sonnet-4-6").unwrap().id, "claude-sonnet-4.6");
        assert_eq!(t.lookup("DEEPSEEK-CHAT").unwrap().id, "deepseek-v3.2");
    }

    #[test]
    fn cached_exceeding_prompt_is_error() {
        let m = model(1, None, 1);
        assert_eq!(m.cost_micro_usd(&usage(1, 2, 0)), Err(PricingError::CachedExceedsPrompt { cached: 2, prompt: 1 }));
    }

    #[test]
    fn overflow_is_error_not_panic() {
        // Max validated price with u64::MAX tokens: fits u128, not u64.
        let m = model(1_000_000_000_000, Some(1_000_000_000_000), 1_000_000_000_000);
        assert!(matches!(m.cost_micro_usd(&usage(u64::MAX, 0, u64::MAX)), Err(PricingError::Overflow { .. })));
        // Hand-built prices beyond validation: the u128 sum itself overflows.
        let m = model(u64::MAX, Some(u64::MAX), u64::MAX);
        assert!(matches!(m.cost_micro_usd(&usage(u64::MAX, 1, u64::MAX)), Err(PricingError::Overflow { .. })));
        // A single product near the top of u128: the result does not fit u64.
        let m = model(u64::MAX, None, 0);
        assert!(matches!(m.cost_micro_usd(&usage(u64::MAX, 0, 0)), Err(PricingError::Overflow { .. })));
        // Largest cost that still fits.
        let m = model(1_000_000, None, 0);
        assert_eq!(m.cost_micro_usd(&usage(u64::MAX, 0, 0)).unwrap(), u64::MAX);
    }

    #[test]
    fn price_conversion_rounds_to_micro_usd() {
        let t = PriceTable::try_from(raw(vec![
            raw_model("a", 0.0000005, 1_000_000.0), // 0.5 micro-USD/Mtok rounds to 1
            raw_model("b", 0.0000004, 0.1 + 0.2),
        ]))
        .unwrap();
        let a = t.lookup("a").unwrap();
        assert_eq!((a.input, a.output), (1, 1_000_000_000_000));
        let b = t.lookup("b").unwrap();
        assert_eq!((b.input, b.output), (0, 300_000));
        let c = PriceTable::try_from(raw(vec![raw_model("c", 0.0000025, 2.675)])).unwrap();
        let c = c.lookup("c").unwrap();
        assert_eq!((c.input, c.output), (3, 2_675_000));
    }

    #[test]
    fn parses_user_config_shape() {
        let t = PriceTable::from_json(
            r#"{"version": "2026-04", "effective": "2026-04-01",
                "models": [ {"id": "gpt-4o", "input_per_mtok": 2.50, "cached_input_per_mtok": 1.25,
                             "output_per_mtok": 10.00, "aliases": ["gpt-4o-2024-08-06"]},
                            {"id": "local", "input_per_mtok": 0, "output_per_mtok": 0} ]}"#,
        )
        .unwrap();
        let m = t.lookup("gpt-4o-2024-08-06").unwrap();
        assert_eq!(
            *m,
            ModelPrice {
                id: "gpt-4o".into(),
                aliases: vec!["gpt-4o-2024-08-06".into()],
                input: 2_500_000,
                cached_input: Some(1_250_000),
                output: 10_000_000,
                cache_write_5m: None,
                cache_write_1h: None,
            }
        );
        let local = t.lookup("local").unwrap();
        assert_eq!((local.cached_input, local.aliases.len()), (None, 0));
        assert_eq!(t.cost_micro_usd("local", &usage(10, 0, 10)).unwrap(), 0);
    }

    #[test]
    fn rejects_unknown_and_missing_fields() {
        for bad in [
            r#"{"version":"v","effective":"2026-04-01","models":[],"extra":1}"#,
            r#"{"version":"v","effective":"2026-04-01","models":[{"id":"a","input_per_mtok":1,"output_per_mtok":1,"note":""}]}"#,
            r#"{"version":"v","effective":"2026-04-01","models":[{"id":"a","input_per_mtok":1}]}"#,
            r#"{"effective":"2026-04-01","models":[]}"#,
            r#"{"version":"v","effective":"2026-04-01","models":[{"id":"a","input_per_mtok":"1","output_per_mtok":1}]}"#,
            r#"not json"#,
        ] {
            assert!(matches!(PriceTable::from_json(bad), Err(PricingError::Parse(_))), "{bad}");
        }
    }

    #[test]
    fn rejects_bad_table_metadata() {
        let mut r = raw(vec![raw_model("a", 1.0, 1.0)]);
        r.version = String::new();
        assert_eq!(PriceTable::try_from(r.clone()), Err(PricingError::EmptyVersion));
        r.version = "  ".into();
        assert_eq!(PriceTable::try_from(r.clone()), Err(PricingError::EmptyVersion));
        r.version = "v".into();
        for eff in ["", "2026-4-01", "2026-13-01", "2026-04-00", "2026/04/01", "2026-04-01T00:00", "２０２６-04-01"]
        {
            r.effective = eff.into();
            assert_eq!(PriceTable::try_from(r.clone()), Err(PricingError::InvalidEffective(eff.into())), "{eff}");
        }
        assert_eq!(PriceTable::try_from(raw(vec![])), Err(PricingError::NoModels));
    }

    #[test]
    fn rejects_bad_prices() {
        for (value, field) in [
            (-0.01, "input_per_mtok"),
            (f64::NAN, "output_per_mtok"),
            (f64::INFINITY, "input_per_mtok"),
            (f64::NEG_INFINITY, "cached_input_per_mtok"),
            (1_000_000.01, "output_per_mtok"),
        ] {
            let mut m = raw_model("a", 1.0, 1.0);
            match field {
                "input_per_mtok" => m.input_per_mtok = value,
                "output_per_mtok" => m.output_per_mtok = value,
                _ => m.cached_input_per_mtok = Some(value),
            }
            let err = PriceTable::try_from(raw(vec![m])).unwrap_err();
            assert!(
                matches!(&err, PricingError::InvalidPrice { model, field: f, .. } if model == "a" && *f == field),
                "{err:?}"
            );
        }
        // -0.0 is not negative.
        assert!(PriceTable::try_from(raw(vec![raw_model("a", -0.0, 1.0)])).is_ok());
    }

    #[test]
    fn rejects_bad_and_duplicate_names() {
        let mut empty_alias = raw_model("a", 1.0, 1.0);
        empty_alias.aliases = vec![String::new()];
        for (models, err) in [
            (vec![raw_model("", 1.0, 1.0)], PricingError::InvalidName(String::new())),
            (vec![raw_model(" a", 1.0, 1.0)], PricingError::InvalidName(" a".into())),
            (vec![empty_alias], PricingError::InvalidName(String::new())),
            (vec![raw_model("a", 1.0, 1.0), raw_model("a", 2.0, 2.0)], PricingError::DuplicateName("a".into())),
            (vec![raw_model("a", 1.0, 1.0), raw_model("A", 2.0, 2.0)], PricingError::DuplicateName("A".into())),
        ] {
            assert_eq!(PriceTable::try_from(raw(models)), Err(err));
        }
        // Alias equal to another model's id (either order).
        let mut b = raw_model("b", 1.0, 1.0);
        b.aliases = vec!["a".into()];
        assert_eq!(
            PriceTable::try_from(raw(vec![raw_model("a", 1.0, 1.0), b.clone()])),
            Err(PricingError::DuplicateName("a".into()))
        );
        assert_eq!(
            PriceTable::try_from(raw(vec![b, raw_model("a", 1.0, 1.0)])),
            Err(PricingError::DuplicateName("a".into()))
        );
        // Alias repeated, or equal to its own id.
        let mut c = raw_model("c", 1.0, 1.0);
        c.aliases = vec!["c1".into(), "c1".into()];
        assert_eq!(PriceTable::try_from(raw(vec![c])), Err(PricingError::DuplicateName("c1".into())));
        let mut d = raw_model("d", 1.0, 1.0);
        d.aliases = vec!["d".into()];
        assert_eq!(PriceTable::try_from(raw(vec![d])), Err(PricingError::DuplicateName("d".into())));
    }

    #[test]
    fn raw_table_round_trips() {
        let r: RawPriceTable = serde_json::from_str(include_str!("default_prices.json")).unwrap();
        let again: RawPriceTable = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(r, again);
    }

    #[test]
    fn error_messages_are_lowercase() {
        assert_eq!(PricingError::Unpriced("x".into()).to_string(), "model \"x\" has no price");
        assert_eq!(PricingError::NoModels.to_string(), "price table has no models");
    }

    fn anthropic_usage(input: u64, read: u64, w5: u64, w1: u64, output: u64) -> Usage {
        Usage {
            prompt_tokens: input + read + w5 + w1,
            completion_tokens: output,
            cached_tokens: read,
            cache_write_5m_tokens: w5,
            cache_write_1h_tokens: w1,
        }
    }

    #[test]
    fn cache_writes_are_billed_at_their_rates_with_one_rounding() {
        let t = PriceTable::default_table().unwrap();
        let sonnet = t.lookup("claude-sonnet-4-6").unwrap();
        // $3 in, $0.30 read, $3.75 5-minute write, $6 1-hour write, $15 out (per Mtok).
        let u = anthropic_usage(21, 188_086, 1_000, 2_000, 393);
        let expected_pico =
            21 * 3_000_000 + 188_086 * 300_000 + 1_000 * 3_750_000 + 2_000 * 6_000_000 + 393 * 15_000_000;
        assert_eq!(sonnet.cost_micro_usd(&u).unwrap(), (expected_pico + 500_000) / 1_000_000);
        // A cache-heavy request: the read tokens cost a tenth of plain input.
        let heavy = anthropic_usage(10, 100_000, 0, 0, 100);
        let plain = anthropic_usage(100_010, 0, 0, 0, 100);
        assert_eq!(sonnet.cost_micro_usd(&heavy).unwrap(), (10 * 3 + 100_000 * 3 / 10 + 100 * 15) as u64);
        assert_eq!(sonnet.cost_micro_usd(&plain).unwrap(), (100_010 * 3 + 100 * 15) as u64);
    }

    #[test]
    fn missing_cache_write_rates_fall_back_to_input() {
        let m = model(2_000_000, None, 0);
        assert_eq!(m.cost_micro_usd(&anthropic_usage(1, 0, 2, 3, 0)).unwrap(), 12);
    }

    #[test]
    fn cache_writes_beyond_prompt_are_an_error() {
        let m = model(1, None, 1);
        let bad = Usage { prompt_tokens: 10, cached_tokens: 6, cache_write_5m_tokens: 5, ..Usage::ZERO };
        assert_eq!(m.cost_micro_usd(&bad), Err(PricingError::CacheWritesExceedPrompt { written: 5, prompt: 10 }));
    }

    #[test]
    fn cache_write_prices_are_validated() {
        let mut bad = raw_model("a", 1.0, 1.0);
        bad.cache_write_1h_per_mtok = Some(-1.0);
        assert!(matches!(
            PriceTable::try_from(raw(vec![bad])),
            Err(PricingError::InvalidPrice { field: "cache_write_1h_per_mtok", .. })
        ));
    }

    #[test]
    fn every_anthropic_model_has_both_cache_write_rates_and_a_source() {
        let raw: RawPriceTable = serde_json::from_str(DEFAULT_PRICES_JSON).unwrap();
        let claude: Vec<_> = raw.models.iter().filter(|m| m.id.starts_with("claude-")).collect();
        assert_eq!(claude.len(), 3);
        for m in claude {
            // Anthropic's documented multipliers: 1.25x input for 5 minutes, 2x for 1 hour.
            assert_eq!(m.cache_write_5m_per_mtok, Some(m.input_per_mtok * 1.25), "{}", m.id);
            assert_eq!(m.cache_write_1h_per_mtok, Some(m.input_per_mtok * 2.0), "{}", m.id);
            assert!(m.source.as_deref().is_some_and(|s| s.contains("anthropic.com")), "{}", m.id);
        }
    }
}
