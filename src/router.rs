//! The router: a validated configuration plus a classifier, shared by all requests of a VM.

use std::cell::RefCell;
use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::api::Api;
use crate::classifier::{self, Classifier, ClassifierError};
use crate::config::{Config, ConfigError};
use crate::features::{self, Features};
use crate::policy::{self, Decision, Facts};
use crate::request::{ChatRequest, RequestError};
use crate::share::ShareController;

/// Errors building a router.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The classifier could not be built.
    #[error("classifier: {0}")]
    Classifier(#[from] ClassifierError),
}

// The customer label values live with the other names.
pub use crate::names::value::{CUSTOMER_OTHER, CUSTOMER_UNKNOWN};
/// Longest label value kept (longer ones are cut).
pub const MAX_LABEL_LEN: usize = 64;

/// Make a string safe as a label value encoded in an Envoy stat name: only ASCII letters,
/// digits, `-`, `_`, `:` and `.` are kept (others become `_`), at most [`MAX_LABEL_LEN`]
/// characters, never empty.
pub fn sanitize_label(value: &str) -> String {
    let mut out: String = value
        .chars()
        .take(MAX_LABEL_LEN)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.') { c } else { '_' })
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    out
}

/// Configuration, classifier and per-VM state (the customer label set).
pub struct Router {
    /// The validated configuration.
    pub config: Config,
    classifier: Box<dyn Classifier>,
    rule_headers: Vec<String>,
    customers: RefCell<HashSet<String>>,
    /// The API this router's section serves: the `api` label of everything it accounts.
    api: Api,
    /// The router of the Anthropic Messages section (`apis.messages`), with its own tiers,
    /// classifier and customer label set.
    messages: Option<Box<Router>>,
    /// The router of the OpenAI Responses section (`apis.responses`), likewise.
    responses: Option<Box<Router>>,
    /// Recent scores, for `strong_share`.
    share: ShareController,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("classifier", &self.classifier.name()).finish_non_exhaustive()
    }
}

impl Router {
    /// Build from configuration JSON, loading the configured classifier.
    pub fn from_json(bytes: &[u8]) -> Result<Router, RouterError> {
        Router::from_config(Config::from_json(bytes)?)
    }

    /// Build from a validated configuration, loading the classifier of each API section.
    pub fn from_config(mut config: Config) -> Result<Router, RouterError> {
        let messages = config.messages.take().map(|m| Router::from_config(*m)).transpose()?;
        let responses = config.responses.take().map(|r| Router::from_config(*r)).transpose()?;
        let classifier = classifier::build(&config.classifier)?;
        let mut router = Router::new(config, classifier);
        router.messages = messages.map(|mut m| {
            m.api = Api::Messages;
            Box::new(m)
        });
        router.responses = responses.map(|mut r| {
            r.api = Api::Responses;
            Box::new(r)
        });
        Ok(router)
    }

    /// The API a request path is inspected as, and the router of that API's section; `None`
    /// for a path no section inspects.
    pub fn for_path(&self, path: &str) -> Option<(Api, &Router)> {
        if self.config.inspects_path(path) {
            return Some((Api::ChatCompletions, self));
        }
        [(Api::Messages, &self.messages), (Api::Responses, &self.responses)]
            .into_iter()
            .find_map(|(api, section)| section.as_deref().filter(|r| r.config.inspects_path(path)).map(|r| (api, r)))
    }

    /// The router of `api`'s section (this one for chat completions, or when the section is
    /// missing, which [`Router::for_path`] never returns).
    pub fn for_api(&self, api: Api) -> &Router {
        self.section(api).unwrap_or(self)
    }

    /// The router of `api`'s section, `None` when the configuration has no such section.
    pub fn section(&self, api: Api) -> Option<&Router> {
        match api {
            Api::ChatCompletions => Some(self),
            Api::Messages => self.messages.as_deref(),
            Api::Responses => self.responses.as_deref(),
        }
    }

    /// The API this router's section serves.
    pub fn api(&self) -> Api {
        self.api
    }

    /// Build from parts. `config.messages` and `config.responses` are not built here (their
    /// classifiers are loaded by [`Router::from_config`]): a router made with `new` inspects
    /// chat-completions paths only.
    pub fn new(config: Config, classifier: Box<dyn Classifier>) -> Router {
        let rule_headers = policy::rule_headers(&config);
        Router {
            config,
            classifier,
            rule_headers,
            customers: RefCell::new(HashSet::new()),
            api: Api::ChatCompletions,
            messages: None,
            responses: None,
            share: ShareController::default(),
        }
    }

    /// The shared-data keys of the customers named in the budgets of every section.
    pub fn budget_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = std::iter::once(self)
            .chain(self.messages.as_deref())
            .chain(self.responses.as_deref())
            .filter_map(|r| r.config.budget.as_ref())
            .flat_map(|b| b.customers.keys().map(|c| crate::budget::key(c)))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Whether any section samples shadow calls ([`crate::shadow`]).
    pub fn shadows(&self) -> bool {
        std::iter::once(self)
            .chain(self.messages.as_deref())
            .chain(self.responses.as_deref())
            .any(|r| r.config.shadow.as_ref().is_some_and(crate::shadow_config::Shadow::active))
    }

    /// Name of the classifier in use.
    pub fn classifier_name(&self) -> &'static str {
        self.classifier.name()
    }

    /// Request headers the rules read (lowercase).
    pub fn rule_headers(&self) -> &[String] {
        &self.rule_headers
    }

    /// The feature vector the classifier scores (hashed buckets left at zero when it reads none).
    pub fn features(&self, req: &ChatRequest<'_>) -> Features {
        features::extract_with(req, self.config.max_inspect_chars, self.classifier.reads_hashed())
    }

    /// Score a request with the classifier (features + inference).
    pub fn score(&self, req: &ChatRequest<'_>) -> Result<f32, ClassifierError> {
        self.classifier.score(self.features(req).as_slice())
    }

    /// What the rules see of a parsed request with the given rule headers.
    pub fn facts(&self, req: &ChatRequest<'_>, headers: Vec<(String, String)>) -> Facts {
        Facts {
            headers,
            input_tokens: req.estimated_input_tokens(),
            messages: req.messages.len() as u64,
            has_tools: req.tools > 0,
            has_response_format: req.response_format.is_some(),
        }
    }

    /// Decide a tier for a parsed request with the given rule headers.
    pub fn decide(&self, req: &ChatRequest<'_>, headers: Vec<(String, String)>) -> Decision {
        policy::decide(&self.config, &self.facts(req, headers), || self.score(req))
    }

    /// [`Router::decide`] with the thresholds raised by a budget's `pace` (0 ..= 1, see
    /// [`crate::budget`]); a tier the raise moved has reason `budget_pace`.
    ///
    /// With `strong_share`, the last threshold is the one the share controller sets from this
    /// worker's recent scores ([`crate::share`]), and each scored request is remembered.
    pub fn decide_paced(&self, req: &ChatRequest<'_>, headers: Vec<(String, String)>, pace: f64) -> Decision {
        let share = self.config.strong_share.as_ref();
        if pace <= 0.0 && share.is_none() {
            return self.decide(req, headers);
        }
        let base =
            share.map_or_else(|| self.config.thresholds.clone(), |c| self.share.thresholds(c, &self.config.thresholds));
        let facts = self.facts(req, headers);
        let paced = if pace > 0.0 { crate::budget::raised(&base, pace) } else { base.clone() };
        let mut d = policy::decide_at(&self.config, &paced, &facts, || self.score(req));
        if let Some(s) = d.score {
            if let Some(c) = share {
                self.share.observe(c, s);
            }
            if pace > 0.0 && policy::decide_at(&self.config, &base, &facts, || Ok::<f32, ()>(s)).tier != d.tier {
                d.reason = crate::names::value::REASON_BUDGET_PACE.to_string();
            }
        }
        d
    }

    /// Read a body and decide, as the CLI does (no headers).
    pub fn decide_body(&self, body: &[u8]) -> Result<Decision, RequestError> {
        let req = crate::request::parse(body)?;
        Ok(self.decide(&req, Vec::new()))
    }

    /// The customer label for a header value: hashed if configured, sanitized, and capped.
    /// Returns the label and whether the cap folded it into `other`.
    pub fn customer_label(&self, raw: Option<&str>) -> (String, bool) {
        let Some(cfg) = &self.config.customer else {
            return (CUSTOMER_UNKNOWN.to_string(), false);
        };
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            return (CUSTOMER_UNKNOWN.to_string(), false);
        };
        let value = if cfg.hash {
            let digest = Sha256::digest(raw.as_bytes());
            digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
        } else {
            sanitize_label(raw)
        };
        let mut seen = self.customers.borrow_mut();
        if seen.contains(&value) {
            return (value, false);
        }
        if seen.len() < cfg.max_distinct {
            seen.insert(value.clone());
            return (value, false);
        }
        (CUSTOMER_OTHER.to_string(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classifier::HeuristicClassifier;
    use crate::config::DEFAULT_CONFIG_JSON;

    fn router(max: usize, hash: bool) -> Router {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
        v["customer"] = serde_json::json!({"header": "x-customer-id", "hash": hash, "max_distinct": max});
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        Router::new(c, Box::new(HeuristicClassifier::default()))
    }

    #[test]
    fn sanitizes_labels() {
        assert_eq!(sanitize_label("claude-sonnet-4.6"), "claude-sonnet-4.6");
        assert_eq!(sanitize_label("a;b=c d/é"), "a_b_c_d__");
        assert_eq!(sanitize_label(""), "_");
        assert_eq!(sanitize_label(&"x".repeat(200)).len(), MAX_LABEL_LEN);
    }

    #[test]
    fn customer_cardinality_is_capped() {
        let r = router(3, false);
        for i in 0..3 {
            assert_eq!(r.customer_label(Some(&format!("c{i}"))), (format!("c{i}"), false));
        }
        assert_eq!(r.customer_label(Some("c4")), ("other".to_string(), true));
        assert_eq!(r.customer_label(Some("c1")), ("c1".to_string(), false));
        assert_eq!(r.customer_label(None), ("unknown".to_string(), false));
        for i in 0..10_000 {
            r.customer_label(Some(&format!("many{i}")));
        }
        assert_eq!(r.customers.borrow().len(), 3);
    }

    #[test]
    fn customer_hashing_hides_the_value() {
        let r = router(10, true);
        let (label, _) = r.customer_label(Some("sk-secret-key"));
        assert_eq!(label.len(), 16);
        assert!(!label.contains("secret"));
        assert_eq!(r.customer_label(Some("sk-secret-key")).0, label);
    }
}
