//! The raw serde types of the plugin configuration, exactly as users write it (unknown fields
//! rejected); [`super::Config`] is what they validate into.

use serde::Deserialize;

pub use crate::budget::RawBudget;
pub use crate::ceiling::RawCostCeiling;
pub use crate::shadow_config::RawShadow;
pub use crate::share::RawStrongShare;

use super::*;

/// Raw customer configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomer {
    /// Request header carrying the customer id (set by a trusted filter, e.g. auth).
    pub header: String,
    /// Hash the value (SHA-256, first 16 hex digits) before using it as a label.
    #[serde(default)]
    pub hash: bool,
    /// Distinct label values per worker before others become `other`.
    pub max_distinct: Option<usize>,
}

/// Raw tier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    /// Tier name (`cheap`, `mid`, `frontier`, ...).
    pub name: String,
    /// Model id sent upstream; must be in the price table.
    pub model: String,
    /// Envoy cluster that serves the model.
    pub cluster: String,
    /// The provider family the tier belongs to (default: its cluster). A stateful OpenAI
    /// Responses request (`previous_response_id`, `conversation`) stays within one family.
    pub family: Option<String>,
    /// Quality-triggered escalation of this tier's non-streaming answers (opt-in).
    pub escalate: Option<RawEscalate>,
}

/// Raw escalation settings of a tier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEscalate {
    /// Triggers: `length`, `empty`, `invalid_json`, `refusal`.
    pub on: Vec<EscalateOn>,
    /// Case-insensitive substrings of the answer that mark a refusal (for `refusal`).
    #[serde(default)]
    pub refusal_patterns: Vec<String>,
}

/// Raw fallback settings.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFallback {
    /// Re-send on upstream failure (default true).
    pub enabled: Option<bool>,
    /// Upstream statuses that trigger a fallback (default 429, 500, 502, 503, 504; Envoy
    /// answers 503 for resets and 504 for timeouts).
    pub statuses: Option<Vec<u16>>,
    /// Re-sends at most (default 1).
    pub max_attempts: Option<u32>,
    /// Timeout of each re-sent attempt in milliseconds (default 60000).
    pub timeout_ms: Option<u64>,
    /// Tier names in escalation order (default: the tiers in order); a failed tier falls back
    /// to the next one in this list.
    pub order: Option<Vec<String>>,
    /// Also move explicit-model requests (default false: never silently change their model).
    pub explicit: Option<bool>,
}

/// Raw header condition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHeaderMatch {
    /// Header name (case-insensitive).
    pub name: String,
    /// Exact value.
    pub equals: Option<String>,
    /// Any of these values.
    pub one_of: Option<Vec<String>>,
    /// Present (true) or absent (false).
    pub present: Option<bool>,
}

/// Raw rule condition: every given field must hold.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCondition {
    /// A request header condition.
    pub header: Option<RawHeaderMatch>,
    /// Estimated input tokens strictly above.
    pub input_tokens_above: Option<u64>,
    /// Estimated input tokens strictly below.
    pub input_tokens_below: Option<u64>,
    /// Number of messages strictly above.
    pub messages_above: Option<u64>,
    /// Tools present (true) or absent (false).
    pub has_tools: Option<bool>,
    /// `response_format` present (true) or absent (false).
    pub has_response_format: Option<bool>,
}

/// Raw rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// Name used in the decision reason; defaults to `rule<N>`.
    pub name: Option<String>,
    /// Condition.
    pub when: RawCondition,
    /// Send to exactly this tier (first matching `tier` rule wins).
    pub tier: Option<String>,
    /// Never below this tier.
    pub min_tier: Option<String>,
    /// Never above this tier.
    pub max_tier: Option<String>,
}

/// Raw classifier kind.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RawClassifierKind {
    /// The ONNX model embedded in the binary (run with tract).
    #[default]
    Embedded,
    /// An ONNX model carried in the configuration (`onnx_base64`).
    Inline,
    /// The deterministic heuristic (no model).
    Heuristic,
}

/// Raw classifier configuration.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawClassifier {
    /// Which classifier to run.
    #[serde(default)]
    pub kind: RawClassifierKind,
    /// An ONNX model, base64 (standard alphabet), for `kind: inline` (native builds).
    pub onnx_base64: Option<String>,
    /// An MLP model (from `llm-router export-mlp`), base64, for `kind: inline`.
    pub mlp_base64: Option<String>,
}

/// Raw plugin configuration, exactly as written by users.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `route` (default) or `measure`.
    #[serde(default)]
    pub mode: Mode,
    /// Inspected request paths (exact match, query string ignored).
    pub paths: Option<Vec<String>>,
    /// Model names that ask for routing.
    pub aliases: Option<Vec<String>>,
    /// `pass_through` (default) or `route_anyway`.
    #[serde(default)]
    pub explicit_model: ExplicitModel,
    /// Model whose price is the counterfactual baseline; default: the last tier's model.
    pub baseline_model: Option<String>,
    /// Customer label source.
    pub customer: Option<RawCustomer>,
    /// Tiers, cheapest first.
    pub tiers: Vec<RawTier>,
    /// Ascending score thresholds, one fewer than tiers.
    pub thresholds: Vec<f64>,
    /// Rules, evaluated in order.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// Price table; default: the embedded table.
    pub prices: Option<RawPriceTable>,
    /// Largest request body inspected.
    pub max_request_bytes: Option<usize>,
    /// Largest non-streaming response buffered to read usage.
    pub max_response_bytes: Option<usize>,
    /// Characters of prompt text the features read.
    pub max_inspect_chars: Option<usize>,
    /// Reject malformed requests on inspected paths with a JSON 400 instead of passing them.
    #[serde(default)]
    pub fail_closed: bool,
    /// Record the time of every filter callback (`llm_router_callback_time_ns`); costs two
    /// clock reads per callback, off by default.
    #[serde(default)]
    pub profile: bool,
    /// Classifier choice.
    #[serde(default)]
    pub classifier: RawClassifier,
    /// Fallback on upstream failure.
    #[serde(default)]
    pub fallback: RawFallback,
    /// The most one request may cost, estimated before it is forwarded.
    pub cost_ceiling: Option<RawCostCeiling>,
    /// Budgets per customer and period.
    pub budget: Option<RawBudget>,
    /// A target share of scored requests for the strongest tier.
    pub strong_share: Option<RawStrongShare>,
    /// Shadow sampling against a reference tier (off when absent).
    pub shadow: Option<RawShadow>,
    /// Other APIs, each a configuration of this same shape (its own paths, tiers, thresholds,
    /// rules; unset keys take their defaults, not this section's).
    #[serde(default)]
    pub apis: RawApis,
}

/// The `apis` section: one configuration per API other than chat completions.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApis {
    /// Anthropic Messages; `paths` defaults to `["/v1/messages"]`.
    pub messages: Option<Box<RawConfig>>,
    /// OpenAI Responses; `paths` defaults to `["/v1/responses"]`.
    pub responses: Option<Box<RawConfig>>,
}
