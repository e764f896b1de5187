//! The `shadow` section of a configuration section (top level for chat completions,
//! `apis.messages.shadow`, `apis.responses.shadow`): which routed requests are also sent to a
//! reference tier, how much that may cost, and where the sample records go. See
//! `docs/shadow.md`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Tier;

/// Default cap on the prompt and answer texts of a record (bytes, cut on a UTF-8 boundary).
pub const DEFAULT_MAX_TEXT_BYTES: usize = 16 * 1024;
/// Default path records are POSTed to on the sink cluster.
pub const DEFAULT_SINK_PATH: &str = "/samples";
/// Default timeout of one sink POST (ms).
pub const DEFAULT_SINK_TIMEOUT_MS: u64 = 5_000;
/// Default timeout of one reference call (ms).
pub const DEFAULT_REFERENCE_TIMEOUT_MS: u64 = 60_000;
/// Default number of sampled requests waiting for or in their reference call, per worker; more are
/// skipped (and counted) rather than held in memory.
pub const DEFAULT_MAX_QUEUED: usize = 64;

/// `shadow` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawShadow {
    /// Sampling rate of every tier below the reference tier, 0..=1 (default 0).
    pub rate: Option<f64>,
    /// Sampling rate per routed tier name, overriding `rate` for that tier.
    #[serde(default)]
    pub rates: BTreeMap<String, f64>,
    /// Tier whose model answers the shadow call (default: the section's last, strongest tier).
    pub reference_tier: Option<String>,
    /// Cap on the prompt and on each answer text in a record (bytes).
    pub max_text_bytes: Option<usize>,
    /// Shadow spend per minute and worker (micro-USD) after which samples are skipped.
    pub budget_micro_usd_per_minute: u64,
    /// Envoy cluster the records are POSTed to.
    pub sink_cluster: String,
    /// Path of the POST (default `/samples`).
    pub sink_path: Option<String>,
    /// `:authority` of the POST (default: the sink cluster name).
    pub sink_authority: Option<String>,
    /// Timeout of one sink POST (ms).
    pub sink_timeout_ms: Option<u64>,
    /// Timeout of one reference call (ms).
    pub reference_timeout_ms: Option<u64>,
    /// Sampled requests waiting for or in their reference call, per worker.
    pub max_queued: Option<usize>,
    /// Leave system prompts (system / developer messages, `system`, `instructions`) out of
    /// the record's prompt.
    #[serde(default)]
    pub drop_system_prompts: bool,
    /// Write a salted SHA-256 of the customer label instead of the label.
    #[serde(default)]
    pub hash_customer: bool,
    /// Salt of `hash_customer`.
    pub customer_salt: Option<String>,
}

/// Why a `shadow` section is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShadowError {
    /// A rate is outside 0..=1 or not a number.
    #[error("rate of `{0}` must be a number from 0 to 1, got {1}")]
    Rate(String, f64),
    /// `rates` or `reference_tier` names a tier the section does not have.
    #[error("{0} names unknown tier `{1}`")]
    UnknownTier(&'static str, String),
    /// `rates` gives a rate to the reference tier or a tier above it, which are never sampled.
    #[error("rates: tier `{0}` is not below the reference tier `{1}` (only cheaper tiers are shadowed)")]
    NotBelowReference(String, String),
    /// A required string is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A number must be above zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// The sink path is not a path.
    #[error("sink_path `{0}` must start with `/`")]
    SinkPath(String),
    /// A salt without hashing is a mistake to point out, not to ignore.
    #[error("customer_salt is set but hash_customer is false")]
    SaltWithoutHash,
}

/// A validated `shadow` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Shadow {
    /// Sampling rate by tier index (0 for the reference tier and above).
    pub rates: Vec<f64>,
    /// Index of the reference tier.
    pub reference: usize,
    /// Text cap (bytes).
    pub max_text_bytes: usize,
    /// Spend cap per minute and worker (micro-USD).
    pub budget_micro_usd_per_minute: u64,
    /// Sink cluster.
    pub sink_cluster: String,
    /// Sink path.
    pub sink_path: String,
    /// Sink `:authority`.
    pub sink_authority: String,
    /// Sink POST timeout (ms).
    pub sink_timeout_ms: u64,
    /// Reference call timeout (ms).
    pub reference_timeout_ms: u64,
    /// Queue cap per worker.
    pub max_queued: usize,
    /// Leave system prompts out of records.
    pub drop_system_prompts: bool,
    /// Salt when the customer is hashed; `None`: the label is written as it is.
    pub customer_salt: Option<String>,
}

impl Shadow {
    /// Validate `raw` against the section's tiers.
    ///
    /// # Errors
    ///
    /// A [`ShadowError`] saying which field is wrong.
    pub fn validate(raw: RawShadow, tiers: &[Tier]) -> Result<Shadow, ShadowError> {
        let index = |what: &'static str, name: &str| {
            tiers.iter().position(|t| t.name == name).ok_or_else(|| ShadowError::UnknownTier(what, name.to_string()))
        };
        let reference = match &raw.reference_tier {
            Some(name) => index("reference_tier", name)?,
            None => tiers.len().saturating_sub(1),
        };
        let check = |name: &str, r: f64| {
            if (0.0..=1.0).contains(&r) {
                Ok(r)
            } else {
                Err(ShadowError::Rate(name.to_string(), r))
            }
        };
        let base = check("every tier", raw.rate.unwrap_or(0.0))?;
        let mut rates: Vec<f64> = (0..tiers.len()).map(|i| if i < reference { base } else { 0.0 }).collect();
        for (name, r) in &raw.rates {
            let i = index("rates", name)?;
            let r = check(name, *r)?;
            if i >= reference && r > 0.0 {
                let reference = tiers.get(reference).map(|t| t.name.clone()).unwrap_or_default();
                return Err(ShadowError::NotBelowReference(name.clone(), reference));
            }
            if let Some(slot) = rates.get_mut(i).filter(|_| i < reference) {
                *slot = r;
            }
        }
        if raw.sink_cluster.trim().is_empty() {
            return Err(ShadowError::Empty("sink_cluster"));
        }
        let sink_path = raw.sink_path.unwrap_or_else(|| DEFAULT_SINK_PATH.to_string());
        if !sink_path.starts_with('/') {
            return Err(ShadowError::SinkPath(sink_path));
        }
        if raw.budget_micro_usd_per_minute == 0 {
            return Err(ShadowError::Zero("budget_micro_usd_per_minute"));
        }
        let positive = |v: Option<u64>, default: u64, what: &'static str| match v {
            Some(0) => Err(ShadowError::Zero(what)),
            v => Ok(v.unwrap_or(default)),
        };
        let max_text_bytes =
            positive(raw.max_text_bytes.map(|v| v as u64), DEFAULT_MAX_TEXT_BYTES as u64, "max_text_bytes")?;
        let max_queued = positive(raw.max_queued.map(|v| v as u64), DEFAULT_MAX_QUEUED as u64, "max_queued")?;
        if raw.customer_salt.is_some() && !raw.hash_customer {
            return Err(ShadowError::SaltWithoutHash);
        }
        let sink_authority = raw.sink_authority.unwrap_or_else(|| raw.sink_cluster.clone());
        if sink_authority.trim().is_empty() {
            return Err(ShadowError::Empty("sink_authority"));
        }
        Ok(Shadow {
            rates,
            reference,
            max_text_bytes: usize::try_from(max_text_bytes).unwrap_or(usize::MAX),
            budget_micro_usd_per_minute: raw.budget_micro_usd_per_minute,
            sink_cluster: raw.sink_cluster,
            sink_path,
            sink_authority,
            sink_timeout_ms: positive(raw.sink_timeout_ms, DEFAULT_SINK_TIMEOUT_MS, "sink_timeout_ms")?,
            reference_timeout_ms: positive(
                raw.reference_timeout_ms,
                DEFAULT_REFERENCE_TIMEOUT_MS,
                "reference_timeout_ms",
            )?,
            max_queued: usize::try_from(max_queued).unwrap_or(usize::MAX),
            drop_system_prompts: raw.drop_system_prompts,
            customer_salt: raw.hash_customer.then(|| raw.customer_salt.unwrap_or_default()),
        })
    }

    /// The sampling rate of requests routed to tier `index`.
    pub fn rate(&self, index: usize) -> f64 {
        self.rates.get(index).copied().unwrap_or(0.0)
    }

    /// Whether any tier is sampled at all.
    pub fn active(&self) -> bool {
        self.rates.iter().any(|r| *r > 0.0)
    }
}
