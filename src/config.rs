//! Plugin configuration: the JSON users put in the Envoy wasm `configuration`.
//!
//! Parsed into raw serde types ([`RawConfig`], unknown fields rejected), then validated into
//! [`Config`]. Every validation failure is a [`ConfigError`] whose message says exactly what is
//! wrong, so `on_configure` can log it and refuse the plugin.

use serde::Deserialize;

use crate::budget::{Budget, BudgetError};
use crate::ceiling::{CeilingError, CostCeiling};
use crate::pricing::{PriceTable, PricingError, RawPriceTable};
use crate::shadow_config::{Shadow, ShadowError};
use crate::share::{ShareError, StrongShare};

// The raw serde types live in their own file.
#[path = "config_raw.rs"]
mod raw;
pub use raw::{
    RawClassifier, RawClassifierKind, RawCondition, RawConfig, RawCustomer, RawEscalate, RawFallback, RawHeaderMatch,
    RawRule, RawTier,
};

/// Default inspected path.
pub const DEFAULT_PATH: &str = "/v1/chat/completions";
/// Default inspected path of the Anthropic Messages section (`apis.messages`).
pub const DEFAULT_MESSAGES_PATH: &str = "/v1/messages";
/// Default inspected path of the OpenAI Responses section (`apis.responses`).
pub const DEFAULT_RESPONSES_PATH: &str = "/v1/responses";
/// Default model alias that asks for routing.
pub const DEFAULT_ALIAS: &str = "auto";
/// Default largest request body the filter inspects (bytes). Larger bodies pass through.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Default largest non-streaming response body the filter buffers to read usage (bytes).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Default number of characters of prompt text the features read.
pub const DEFAULT_MAX_INSPECT_CHARS: usize = 16 * 1024;
/// Default cap on distinct customer label values per Envoy worker.
pub const DEFAULT_MAX_CUSTOMERS: usize = 1000;

/// Errors found while parsing or validating the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration is not valid JSON of the expected shape.
    #[error("invalid configuration json: {0}")]
    Json(#[from] serde_json::Error),
    /// The price table is invalid.
    #[error("invalid price table: {0}")]
    Prices(#[from] PricingError),
    /// No tiers were configured.
    #[error("`tiers` must name at least one tier")]
    NoTiers,
    /// Two tiers share a name.
    #[error("duplicate tier name `{0}`")]
    DuplicateTier(String),
    /// A required string is empty.
    #[error("{0} must not be empty")]
    Empty(String),
    /// A tier names a model the price table does not know.
    #[error("tier `{tier}` uses model `{model}`, which the price table does not price")]
    UnpricedTierModel {
        /// Tier name.
        tier: String,
        /// Model id.
        model: String,
    },
    /// The baseline model is not in the price table.
    #[error("baseline_model `{0}` is not in the price table")]
    UnpricedBaseline(String),
    /// Wrong number of thresholds.
    #[error("`thresholds` must have one entry fewer than `tiers` ({expected}), got {got}")]
    ThresholdCount {
        /// Expected count.
        expected: usize,
        /// Count given.
        got: usize,
    },
    /// A threshold is outside (0, 1) or not finite.
    #[error("threshold {0} must be a number strictly between 0 and 1")]
    ThresholdRange(f64),
    /// Thresholds are not strictly ascending.
    #[error("thresholds must be strictly ascending, got {0:?}")]
    ThresholdOrder(Vec<f64>),
    /// A rule names an unknown tier.
    #[error("rule `{rule}` names unknown tier `{tier}`")]
    UnknownTier {
        /// Rule name.
        rule: String,
        /// Tier name given.
        tier: String,
    },
    /// A rule has zero or several actions.
    #[error("rule `{0}` must have exactly one of `tier`, `min_tier`, `max_tier`")]
    RuleAction(String),
    /// A rule has no condition.
    #[error("rule `{0}` has an empty `when`: give at least one condition")]
    RuleCondition(String),
    /// A header condition is malformed.
    #[error("rule `{0}`: header condition needs `name` and exactly one of `equals`, `one_of`, `present`")]
    HeaderCondition(String),
    /// A path does not start with `/`.
    #[error("path `{0}` must start with `/`")]
    BadPath(String),
    /// A path has a character that request paths are never compared with.
    #[error("path `{0}` must not contain `?`, `#`, `;` or whitespace (query strings and parameters are ignored when matching)")]
    PathChars(String),
    /// A limit is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    /// The classifier section is invalid.
    #[error("classifier: {0}")]
    Classifier(String),
    /// A tier's escalation settings are invalid.
    #[error("tier `{0}` escalate: {1}")]
    Escalate(String, String),
    /// The fallback settings are invalid.
    #[error("fallback: {0}")]
    Fallback(String),
    /// The cost ceiling is invalid.
    #[error("cost_ceiling: {0}")]
    CostCeiling(#[from] CeilingError),
    /// The budget section is invalid.
    #[error("budget: {0}")]
    Budget(#[from] BudgetError),
    /// The strong-share controller is invalid.
    #[error("strong_share: {0}")]
    StrongShare(#[from] ShareError),
    /// The shadow section is invalid.
    #[error("shadow: {0}")]
    Shadow(#[from] ShadowError),
    /// An `apis` section is invalid.
    #[error("apis.{api}: {error}")]
    Api {
        /// The section (`messages`, `responses`).
        api: &'static str,
        /// What is wrong in it.
        error: Box<ConfigError>,
    },
    /// An `apis` section has its own `apis`.
    #[error("`apis` sections cannot nest")]
    NestedApis,
    /// An `apis` section inspects a path another API inspects.
    #[error("path `{0}` is also a {1} path (each path belongs to one api)")]
    SharedPath(String, &'static str),
    /// A label value source would produce an unusable label.
    #[error("customer.header `{0}` is not a valid lowercase header name")]
    BadHeaderName(String),
}

/// Whether the filter rewrites requests or only measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decide, rewrite the model and pick the cluster.
    #[default]
    Route,
    /// Decide and account as if routing, but leave the request untouched.
    Measure,
}

impl Mode {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Route => "route",
            Mode::Measure => "measure",
        }
    }
}

/// What to do with a request that names an explicit model (not an alias).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExplicitModel {
    /// Leave the model as sent; still priced and counted.
    #[default]
    PassThrough,
    /// Route it as if it were an alias.
    RouteAnyway,
}

/// What makes an answer unusable.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum EscalateOn {
    /// `finish_reason: "length"` while the client's own token limit was not the cause.
    Length,
    /// No content and no tool calls.
    Empty,
    /// Content that is not JSON although `response_format` asked for JSON, or tool-call
    /// arguments that are not JSON.
    InvalidJson,
    /// A configured refusal pattern in the content, or a non-null `refusal`.
    Refusal,
}

impl EscalateOn {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalateOn::Length => "length",
            EscalateOn::Empty => "empty",
            EscalateOn::InvalidJson => "invalid_json",
            EscalateOn::Refusal => "refusal",
        }
    }
}

/// The validated classifier choice.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum ClassifierKind {
    /// The embedded ONNX model.
    #[default]
    Embedded,
    /// An ONNX model from the configuration (decoded bytes).
    InlineOnnx(Vec<u8>),
    /// An MLP model from the configuration (decoded bytes).
    InlineMlp(Vec<u8>),
    /// The heuristic.
    Heuristic,
}

impl std::fmt::Debug for ClassifierKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassifierKind::Embedded => write!(f, "Embedded"),
            ClassifierKind::InlineOnnx(b) => write!(f, "InlineOnnx({} bytes)", b.len()),
            ClassifierKind::InlineMlp(b) => write!(f, "InlineMlp({} bytes)", b.len()),
            ClassifierKind::Heuristic => write!(f, "Heuristic"),
        }
    }
}

fn decode_model(b64: &str, field: &str) -> Result<Vec<u8>, ConfigError> {
    use base64::Engine as _;
    let cleaned: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| ConfigError::Classifier(format!("{field} is not valid base64: {e}")))?;
    if bytes.is_empty() {
        return Err(ConfigError::Classifier(format!("{field} is empty")));
    }
    Ok(bytes)
}

fn validate_classifier(raw: RawClassifier) -> Result<ClassifierKind, ConfigError> {
    match (raw.kind, raw.onnx_base64, raw.mlp_base64) {
        (RawClassifierKind::Inline, Some(b64), None) => {
            Ok(ClassifierKind::InlineOnnx(decode_model(&b64, "onnx_base64")?))
        }
        (RawClassifierKind::Inline, None, Some(b64)) => {
            Ok(ClassifierKind::InlineMlp(decode_model(&b64, "mlp_base64")?))
        }
        (RawClassifierKind::Inline, _, _) => {
            Err(ConfigError::Classifier("kind `inline` needs exactly one of `mlp_base64`, `onnx_base64`".into()))
        }
        (_, Some(_), _) | (_, _, Some(_)) => {
            Err(ConfigError::Classifier("`onnx_base64`/`mlp_base64` are only allowed with kind `inline`".into()))
        }
        (RawClassifierKind::Embedded, None, None) => Ok(ClassifierKind::Embedded),
        (RawClassifierKind::Heuristic, None, None) => Ok(ClassifierKind::Heuristic),
    }
}

/// Validated escalation settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalate {
    /// Triggers.
    pub on: Vec<EscalateOn>,
    /// Lowercased refusal patterns.
    pub refusal_patterns: Vec<String>,
}

/// Validated fallback settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// Enabled.
    pub enabled: bool,
    /// Trigger statuses.
    pub statuses: Vec<u16>,
    /// Re-sends at most.
    pub max_attempts: u32,
    /// Per-attempt timeout, ms.
    pub timeout_ms: u64,
    /// Tier indices in escalation order.
    pub order: Vec<usize>,
    /// Also explicit-model requests.
    pub explicit: bool,
}

impl Fallback {
    /// The tier after `tier` in the escalation order.
    pub fn next_tier(&self, tier: usize) -> Option<usize> {
        let pos = self.order.iter().position(|t| *t == tier)?;
        self.order.get(pos + 1).copied()
    }
}

/// A validated tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Tier name.
    pub name: String,
    /// Model id.
    pub model: String,
    /// Envoy cluster.
    pub cluster: String,
    /// Provider family (default: the cluster): stateful Responses requests stay within one.
    pub family: String,
    /// Quality escalation, when enabled for this tier.
    pub escalate: Option<Escalate>,
}

/// What a header condition checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderTest {
    /// Exact value.
    Equals(String),
    /// One of these values.
    OneOf(Vec<String>),
    /// Present or absent.
    Present(bool),
}

/// A validated condition (all parts must hold).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Condition {
    /// Header name (lowercase) and test.
    pub header: Option<(String, HeaderTest)>,
    /// Estimated input tokens strictly above.
    pub input_tokens_above: Option<u64>,
    /// Estimated input tokens strictly below.
    pub input_tokens_below: Option<u64>,
    /// Message count strictly above.
    pub messages_above: Option<u64>,
    /// Tools present / absent.
    pub has_tools: Option<bool>,
    /// `response_format` present / absent.
    pub has_response_format: Option<bool>,
}

/// What a matching rule does, with tier indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleAction {
    /// Exactly this tier.
    Tier(usize),
    /// At least this tier.
    MinTier(usize),
    /// At most this tier.
    MaxTier(usize),
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Name used in the reason.
    pub name: String,
    /// Condition.
    pub when: Condition,
    /// Action.
    pub action: RuleAction,
}

/// Validated customer label configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerConfig {
    /// Lowercase header name.
    pub header: String,
    /// Hash values before use.
    pub hash: bool,
    /// Distinct values per worker.
    pub max_distinct: usize,
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// Mode.
    pub mode: Mode,
    /// Inspected paths.
    pub paths: Vec<String>,
    /// Routing aliases.
    pub aliases: Vec<String>,
    /// Explicit-model behaviour.
    pub explicit_model: ExplicitModel,
    /// Baseline model id (priced).
    pub baseline_model: String,
    /// Customer label source.
    pub customer: Option<CustomerConfig>,
    /// Tiers, cheapest first (non-empty).
    pub tiers: Vec<Tier>,
    /// Thresholds (`tiers.len() - 1`, ascending, in (0,1)).
    pub thresholds: Vec<f32>,
    /// Rules in order.
    pub rules: Vec<Rule>,
    /// Price table.
    pub prices: PriceTable,
    /// Largest inspected request body.
    pub max_request_bytes: usize,
    /// Largest buffered response body.
    pub max_response_bytes: usize,
    /// Characters of text the features read.
    pub max_inspect_chars: usize,
    /// Fail closed on malformed requests.
    pub fail_closed: bool,
    /// Record per-callback times.
    pub profile: bool,
    /// Classifier choice.
    pub classifier: ClassifierKind,
    /// Fallback on upstream failure.
    pub fallback: Fallback,
    /// The most one request may cost ([`crate::ceiling`]).
    pub cost_ceiling: Option<CostCeiling>,
    /// Budgets per customer ([`crate::budget`]).
    pub budget: Option<Budget>,
    /// Target share of the strongest tier ([`crate::share`]).
    pub strong_share: Option<StrongShare>,
    /// Shadow sampling against a reference tier ([`crate::shadow`]); `None`: off.
    pub shadow: Option<Shadow>,
    /// The Anthropic Messages section (`apis.messages`), validated like this one.
    pub messages: Option<Box<Config>>,
    /// The OpenAI Responses section (`apis.responses`), validated like this one.
    pub responses: Option<Box<Config>>,
}

impl Config {
    /// Parse and validate a configuration from JSON bytes.
    pub fn from_json(bytes: &[u8]) -> Result<Config, ConfigError> {
        let raw: RawConfig = serde_json::from_slice(bytes)?;
        Config::try_from(raw)
    }

    /// Index of the first tier whose model is `model` (by id or price-table alias).
    pub fn tier_for_model(&self, model: &str) -> Option<usize> {
        let canonical = self.prices.lookup(model).map(|p| p.id.as_str());
        self.tiers.iter().position(|t| t.model == model || Some(t.model.as_str()) == canonical)
    }

    /// Whether `path` (query string ignored) is inspected.
    ///
    /// The query string, a fragment, `;` path parameters and trailing slashes are ignored on
    /// both sides, so `/v1/chat/completions/` or `/v1/chat/completions;x` (which some servers
    /// serve as the chat endpoint) cannot slip past accounting. Dot segments, repeated and
    /// percent-encoded slashes are left to Envoy's `normalize_path`/`merge_slashes`.
    pub fn inspects_path(&self, path: &str) -> bool {
        let path = canonical_path(path);
        self.paths.iter().any(|p| canonical_path(p) == path)
    }

    /// Whether `model` asks for routing.
    pub fn is_alias(&self, model: &str) -> bool {
        self.aliases.iter().any(|a| a == model)
    }

    /// The family a stateful request for `model` must stay in: that of the tier serving
    /// `model`, or for an alias the one family every tier shares. `None` when it cannot be
    /// known (a model no tier serves, an alias over several families): such a request is not
    /// routed.
    pub fn stateful_family(&self, model: &str) -> Option<&str> {
        if let Some(t) = self.tier_for_model(model).and_then(|i| self.tiers.get(i)) {
            return Some(&t.family);
        }
        let first = &self.tiers.first()?.family;
        (self.is_alias(model) && self.tiers.iter().all(|t| &t.family == first)).then_some(first.as_str())
    }
}

/// A path without query string, fragment, `;` parameters and trailing slashes (`/` stays `/`).
fn canonical_path(path: &str) -> &str {
    let path = path.split(['?', '#', ';']).next().unwrap_or(path);
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

// Raw -> validated (`TryFrom<RawConfig> for Config`) lives in its own file.
#[path = "config_validate.rs"]
mod validate;

/// The example configuration shipped in `envoy-config/` and used by the CLI by default.
pub const DEFAULT_CONFIG_JSON: &str = include_str!("default_config.json");

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap()
    }

    fn err_of(v: serde_json::Value) -> String {
        Config::from_json(v.to_string().as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn default_config_is_valid() {
        let c = Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
        assert_eq!(c.tiers.len(), 3);
        assert_eq!(c.thresholds, vec![0.4677, 0.5992]);
        assert_eq!(c.mode, Mode::Route);
        assert!(c.inspects_path("/v1/chat/completions?x=1"));
        assert!(!c.inspects_path("/v1/completions"));
    }

    #[test]
    fn path_spellings_a_server_may_treat_as_the_same_are_inspected() {
        let c = Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
        for p in [
            "/v1/chat/completions/",
            "/v1/chat/completions//",
            "/v1/chat/completions;x=1",
            "/v1/chat/completions#f",
            "/v1/chat/completions/?a=/",
        ] {
            assert!(c.inspects_path(p), "{p}");
        }
        for p in
            ["/v1/chat/completion", "/v1/chat/completions/x", "/V1/chat/completions", "/", "", "?/v1/chat/completions"]
        {
            assert!(!c.inspects_path(p), "{p}");
        }
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
        v["paths"] = serde_json::json!(["/chat/"]);
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        assert!(c.inspects_path("/chat") && c.inspects_path("/chat/"));
        v["paths"] = serde_json::json!(["/"]);
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        assert!(c.inspects_path("/") && c.inspects_path("//") && !c.inspects_path("/x"));
        assert!(c.is_alias("auto"));
        assert_eq!(c.tier_for_model("claude-sonnet-4-6"), Some(2));
    }

    #[test]
    fn rejects_unknown_fields() {
        let mut v = base();
        v["tierz"] = serde_json::json!([]);
        assert!(err_of(v).contains("unknown field `tierz`"));
    }

    #[test]
    fn rejects_empty_tiers() {
        let mut v = base();
        v["tiers"] = serde_json::json!([]);
        v["thresholds"] = serde_json::json!([]);
        assert_eq!(err_of(v), "`tiers` must name at least one tier");
    }

    #[test]
    fn rejects_thresholds_out_of_order_or_range_or_count() {
        let mut v = base();
        v["thresholds"] = serde_json::json!([0.7, 0.35]);
        assert!(err_of(v).starts_with("thresholds must be strictly ascending"));
        let mut v = base();
        v["thresholds"] = serde_json::json!([0.0, 0.5]);
        assert!(err_of(v).contains("strictly between 0 and 1"));
        let mut v = base();
        v["thresholds"] = serde_json::json!([0.5]);
        assert!(err_of(v).contains("one entry fewer than `tiers` (2), got 1"));
    }

    #[test]
    fn rejects_unpriced_tier_model_and_missing_cluster() {
        let mut v = base();
        v["tiers"][0]["model"] = serde_json::json!("no-such-model");
        assert_eq!(err_of(v), "tier `cheap` uses model `no-such-model`, which the price table does not price");
        let mut v = base();
        v["tiers"][1]["cluster"] = serde_json::json!("");
        assert_eq!(err_of(v), "cluster of tier `mid` must not be empty");
        let mut v = base();
        v["tiers"][1].as_object_mut().unwrap().remove("cluster");
        assert!(err_of(v).contains("missing field `cluster`"));
    }

    #[test]
    fn rejects_bad_rules() {
        let mut v = base();
        v["rules"] = serde_json::json!([{"name": "x", "when": {"has_tools": true}, "tier": "nope"}]);
        assert_eq!(err_of(v), "rule `x` names unknown tier `nope`");
        let mut v = base();
        v["rules"] =
            serde_json::json!([{"name": "x", "when": {"has_tools": true}, "tier": "cheap", "min_tier": "mid"}]);
        assert!(err_of(v).contains("exactly one of"));
        let mut v = base();
        v["rules"] = serde_json::json!([{"name": "x", "when": {}, "tier": "cheap"}]);
        assert!(err_of(v).contains("empty `when`"));
        let mut v = base();
        v["rules"] = serde_json::json!([{"name": "x", "when": {"header": {"name": "a", "equals": "b", "present": true}}, "tier": "cheap"}]);
        assert!(err_of(v).contains("header condition"));
    }

    #[test]
    fn rejects_unpriced_baseline_and_bad_paths() {
        let mut v = base();
        v["baseline_model"] = serde_json::json!("mystery");
        assert_eq!(err_of(v), "baseline_model `mystery` is not in the price table");
        let mut v = base();
        v["paths"] = serde_json::json!(["v1/chat"]);
        assert_eq!(err_of(v), "path `v1/chat` must start with `/`");
        for bad in ["/v1/chat?completions", "/v1/chat#x", "/v1;x", "/v1/chat completions", "/v1\t"] {
            let mut v = base();
            v["paths"] = serde_json::json!([bad]);
            assert!(err_of(v).contains("must not contain `?`, `#`, `;` or whitespace"), "{bad}");
        }
        let mut v = base();
        v["max_request_bytes"] = serde_json::json!(0);
        assert_eq!(err_of(v), "max_request_bytes must be greater than zero");
    }

    #[test]
    fn not_json_is_an_error_not_a_panic() {
        let e = Config::from_json(b"{not json").unwrap_err().to_string();
        assert!(e.starts_with("invalid configuration json"));
        let e = Config::from_json(b"").unwrap_err().to_string();
        assert!(e.starts_with("invalid configuration json"));
    }

    #[test]
    fn classifier_section_is_validated() {
        let mut v = base();
        v["classifier"] = serde_json::json!({"kind": "inline"});
        assert_eq!(err_of(v), "classifier: kind `inline` needs exactly one of `mlp_base64`, `onnx_base64`");
        let mut v = base();
        v["classifier"] = serde_json::json!({"kind": "inline", "onnx_base64": "***"});
        assert!(err_of(v).starts_with("classifier: onnx_base64 is not valid base64"));
        let mut v = base();
        v["classifier"] = serde_json::json!({"kind": "heuristic", "onnx_base64": "AAAA"});
        assert!(err_of(v).contains("are only allowed with kind `inline`"));
        let mut v = base();
        v["classifier"] = serde_json::json!({"kind": "inline", "onnx_base64": "AAEC\nAw=="});
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.classifier, ClassifierKind::InlineOnnx(vec![0, 1, 2, 3]));
    }

    #[test]
    fn fallback_and_escalation_are_validated() {
        let c = Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap();
        assert!(c.fallback.enabled);
        assert_eq!(c.fallback.next_tier(0), Some(1));
        assert_eq!(c.fallback.next_tier(2), None);
        let mut v = base();
        v["fallback"] = serde_json::json!({"order": ["cheap", "frontier"]});
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.fallback.next_tier(0), Some(2));
        assert_eq!(c.fallback.next_tier(1), None);
        let mut v = base();
        v["fallback"] = serde_json::json!({"order": ["cheap", "nope"]});
        assert_eq!(err_of(v), "fallback: order names unknown tier `nope`");
        let mut v = base();
        v["fallback"] = serde_json::json!({"statuses": [200]});
        assert_eq!(err_of(v), "fallback: status 200 is not a 4xx or 5xx status");
        let mut v = base();
        v["tiers"][0]["escalate"] = serde_json::json!({"on": ["refusal"]});
        assert_eq!(err_of(v), "tier `cheap` escalate: `refusal` needs non-empty `refusal_patterns`");
        let mut v = base();
        v["tiers"][0]["escalate"] = serde_json::json!({"on": ["length", "refusal"], "refusal_patterns": ["I CAN'T"]});
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.tiers[0].escalate.as_ref().unwrap().refusal_patterns, vec!["i can't".to_string()]);
    }

    #[test]
    fn baseline_defaults_to_last_tier() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("baseline_model");
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.baseline_model, "claude-sonnet-4.6");
    }

    #[test]
    fn messages_section_is_validated_with_its_own_defaults() {
        let c = Config::from_json(base().to_string().as_bytes()).unwrap();
        let m = c.messages.as_deref().unwrap();
        assert_eq!(m.paths, ["/v1/messages"]);
        assert_eq!(m.tiers[0].model, "claude-haiku-4-5");
        assert!(!m.fail_closed && m.messages.is_none());
        let mut v = base();
        v["apis"]["messages"].as_object_mut().unwrap().remove("paths");
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        assert_eq!(c.messages.unwrap().paths, [DEFAULT_MESSAGES_PATH]);
    }

    #[test]
    fn responses_section_has_its_own_path_and_tier_families() {
        let c = Config::from_json(base().to_string().as_bytes()).unwrap();
        let r = c.responses.as_deref().unwrap();
        assert_eq!(r.paths, [DEFAULT_RESPONSES_PATH]);
        assert!(r.tiers.iter().all(|t| t.family == "openai"));
        // Without `family`, a tier's family is its cluster; chat tiers too.
        assert_eq!(c.tiers[0].family, c.tiers[0].cluster);
        let mut v = base();
        v["apis"]["responses"]["tiers"][0].as_object_mut().unwrap().remove("family");
        v["apis"]["responses"].as_object_mut().unwrap().remove("paths");
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        let r = c.responses.unwrap();
        assert_eq!(
            (r.tiers[0].family.as_str(), r.paths.clone()),
            ("llm_cheap", vec![DEFAULT_RESPONSES_PATH.to_string()])
        );
        // The family of a stateful request: the serving tier's, or for an alias the shared one.
        assert_eq!(r.stateful_family("gpt-5"), Some("openai"));
        assert_eq!(r.stateful_family("gpt-5-nano-2025-08-07"), Some("llm_cheap"));
        assert_eq!(r.stateful_family("auto"), None, "tiers of two families");
        assert_eq!(r.stateful_family("gpt-4o"), None);
        let c = Config::from_json(base().to_string().as_bytes()).unwrap();
        assert_eq!(c.responses.unwrap().stateful_family("auto"), Some("openai"));
    }

    #[test]
    fn responses_section_errors_name_the_section() {
        let mut v = base();
        v["apis"]["responses"]["paths"] = serde_json::json!(["/v1/chat/completions"]);
        assert_eq!(
            err_of(v),
            "apis.responses: path `/v1/chat/completions` is also a chat-completions path (each path belongs to one api)"
        );
        let mut v = base();
        v["apis"]["responses"]["paths"] = serde_json::json!(["/v1/messages/"]);
        assert_eq!(
            err_of(v),
            "apis.responses: path `/v1/messages/` is also a Messages path (each path belongs to one api)"
        );
        let mut v = base();
        v["apis"]["responses"]["tiers"][1]["escalate"] = serde_json::json!({"on": ["empty"]});
        assert_eq!(
            err_of(v),
            "apis.responses: tier `openai-mid` escalate: escalation reads chat-completions answers only; remove it from Responses tiers"
        );
        let mut v = base();
        v["apis"]["responses"]["tiers"][1]["family"] = serde_json::json!(" ");
        assert_eq!(err_of(v), "apis.responses: family of tier `openai-mid` must not be empty");
        let mut v = base();
        let inner = v["apis"]["messages"].clone();
        v["apis"]["responses"]["apis"] = serde_json::json!({"messages": inner});
        assert_eq!(err_of(v), "apis.responses: `apis` sections cannot nest");
    }

    #[test]
    fn messages_section_errors_name_the_section() {
        let mut v = base();
        v["apis"]["messages"]["paths"] = serde_json::json!(["/v1/chat/completions/"]);
        assert_eq!(
            err_of(v),
            "apis.messages: path `/v1/chat/completions/` is also a chat-completions path (each path belongs to one api)"
        );
        let mut v = base();
        v["apis"]["messages"]["tiers"][0]["escalate"] = serde_json::json!({"on": ["length"]});
        assert_eq!(
            err_of(v),
            "apis.messages: tier `claude-cheap` escalate: escalation reads chat-completions answers only; remove it from Messages tiers"
        );
        let mut v = base();
        let inner = v["apis"]["messages"].clone();
        v["apis"]["messages"]["apis"] = serde_json::json!({"messages": inner});
        assert_eq!(err_of(v), "apis.messages: `apis` sections cannot nest");
        let mut v = base();
        v["apis"]["messages"]["thresholds"] = serde_json::json!([0.5]);
        assert!(err_of(v).starts_with("apis.messages: "));
        let mut v = base();
        v["apis"]["other"] = serde_json::json!({});
        assert!(err_of(v).contains("unknown field `other`"));
    }
}
