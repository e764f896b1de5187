//! The routing policy: rules first, then the classifier score against thresholds.
//!
//! Evaluation, in order:
//! 1. Every rule whose condition holds is collected. The first matching `tier` rule fixes the
//!    tier (later `tier` rules are ignored). `min_tier` rules raise a floor, `max_tier` rules
//!    lower a ceiling (the strictest wins).
//! 2. Without a fixing rule, the classifier's score picks the tier: the first tier `i` with
//!    `score < thresholds[i]`, else the last tier. If scoring fails, the last (strongest) tier
//!    is used with reason `classifier_error`: failing towards quality, never silently cheap.
//! 3. The ceiling, then the floor, is applied (a floor beats a conflicting ceiling).
//!
//! Reasons: `score`, `rule:<name>`, `floor:<name>`, `ceiling:<name>`, `classifier_error`.

use crate::config::{Condition, Config, HeaderTest, RuleAction};

/// What the policy knows about a request.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Request headers the rules look at: lowercase name and value.
    pub headers: Vec<(String, String)>,
    /// Estimated input tokens.
    pub input_tokens: u64,
    /// Number of messages.
    pub messages: u64,
    /// Tools present.
    pub has_tools: bool,
    /// `response_format` present.
    pub has_response_format: bool,
}

impl Facts {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The outcome of the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Index into `Config::tiers`.
    pub tier: usize,
    /// Classifier score, when it was computed.
    pub score: Option<f32>,
    /// Why this tier.
    pub reason: String,
}

/// Whether a rule's condition holds for `f` (every part given must hold). [`decide`] applies the
/// rules whose condition holds; the playground's rule trace (`crate::explain`) calls this too.
pub fn holds(c: &Condition, f: &Facts) -> bool {
    if let Some((name, test)) = &c.header {
        let value = f.header(name);
        let ok = match test {
            HeaderTest::Equals(v) => value == Some(v.as_str()),
            HeaderTest::OneOf(vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
            HeaderTest::Present(p) => value.is_some() == *p,
        };
        if !ok {
            return false;
        }
    }
    c.input_tokens_above.is_none_or(|n| f.input_tokens > n)
        && c.input_tokens_below.is_none_or(|n| f.input_tokens < n)
        && c.messages_above.is_none_or(|n| f.messages > n)
        && c.has_tools.is_none_or(|b| f.has_tools == b)
        && c.has_response_format.is_none_or(|b| f.has_response_format == b)
}

/// Tier index for a score.
pub fn tier_for_score(thresholds: &[f32], score: f32) -> usize {
    thresholds.iter().position(|t| score < *t).unwrap_or(thresholds.len())
}

/// The lowercase header names the configured rules read.
pub fn rule_headers(config: &Config) -> Vec<String> {
    let mut names: Vec<String> =
        config.rules.iter().filter_map(|r| r.when.header.as_ref().map(|(n, _)| n.clone())).collect();
    // The cost ceiling's per-request header is read with them, from the same header copy.
    names.extend(config.cost_ceiling.as_ref().and_then(|c| c.header.clone()));
    names.sort();
    names.dedup();
    names
}

/// Decide a tier. `score` is called only when no rule fixes the tier.
pub fn decide<E>(config: &Config, facts: &Facts, score: impl FnOnce() -> Result<f32, E>) -> Decision {
    decide_at(config, &config.thresholds, facts, score)
}

/// [`decide`] with other thresholds than the configuration's (a budget's raised ones).
pub fn decide_at<E>(
    config: &Config,
    thresholds: &[f32],
    facts: &Facts,
    score: impl FnOnce() -> Result<f32, E>,
) -> Decision {
    let last = config.tiers.len().saturating_sub(1);
    let mut fixed: Option<(usize, &str)> = None;
    let mut floor: Option<(usize, &str)> = None;
    let mut ceiling: Option<(usize, &str)> = None;
    for rule in &config.rules {
        if !holds(&rule.when, facts) {
            continue;
        }
        match rule.action {
            RuleAction::Tier(t) => {
                if fixed.is_none() {
                    fixed = Some((t, &rule.name));
                }
            }
            RuleAction::MinTier(t) => {
                if floor.is_none_or(|(f, _)| t > f) {
                    floor = Some((t, &rule.name));
                }
            }
            RuleAction::MaxTier(t) => {
                if ceiling.is_none_or(|(c, _)| t < c) {
                    ceiling = Some((t, &rule.name));
                }
            }
        }
    }
    let mut d = match fixed {
        Some((t, name)) => Decision { tier: t, score: None, reason: format!("rule:{name}") },
        None => match score() {
            Ok(s) => Decision { tier: tier_for_score(thresholds, s).min(last), score: Some(s), reason: "score".into() },
            Err(_) => Decision { tier: last, score: None, reason: "classifier_error".into() },
        },
    };
    if let Some((c, name)) = ceiling {
        if d.tier > c {
            d.tier = c;
            d.reason = format!("ceiling:{name}");
        }
    }
    if let Some((f, name)) = floor {
        if d.tier < f {
            d.tier = f;
            d.reason = format!("floor:{name}");
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_CONFIG_JSON;

    fn cfg() -> Config {
        Config::from_json(DEFAULT_CONFIG_JSON.as_bytes()).unwrap()
    }

    fn facts(headers: &[(&str, &str)]) -> Facts {
        Facts {
            headers: headers.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(),
            input_tokens: 100,
            messages: 1,
            ..Facts::default()
        }
    }

    fn ok(s: f32) -> impl FnOnce() -> Result<f32, ()> {
        move || Ok(s)
    }

    #[test]
    fn thresholds_pick_tiers() {
        let c = cfg();
        let (lo, hi) = (c.thresholds[0], c.thresholds[1]);
        assert!(0.0 < lo && lo < hi && hi < 1.0);
        assert_eq!(decide(&c, &facts(&[]), ok(0.0)).tier, 0);
        assert_eq!(decide(&c, &facts(&[]), ok(lo - 1e-4)).tier, 0);
        assert_eq!(decide(&c, &facts(&[]), ok(lo)).tier, 1);
        assert_eq!(decide(&c, &facts(&[]), ok(hi - 1e-4)).tier, 1);
        assert_eq!(decide(&c, &facts(&[]), ok(hi)).tier, 2);
        let d = decide(&c, &facts(&[]), ok(1.0));
        assert_eq!((d.tier, d.score, d.reason.as_str()), (2, Some(1.0), "score"));
    }

    #[test]
    fn tier_rule_skips_classifier() {
        let c = cfg();
        let d = decide(&c, &facts(&[("x-feature", "summarization")]), || -> Result<f32, ()> {
            panic!("classifier must not run")
        });
        assert_eq!(d, Decision { tier: 0, score: None, reason: "rule:summarization".into() });
    }

    #[test]
    fn floor_raises_and_beats_tier_rule() {
        let c = cfg();
        let d = decide(&c, &facts(&[("x-user-tier", "enterprise")]), ok(0.1));
        assert_eq!((d.tier, d.reason.as_str()), (1, "floor:enterprise"));
        let d = decide(&c, &facts(&[("x-user-tier", "enterprise")]), ok(0.9));
        assert_eq!((d.tier, d.reason.as_str()), (2, "score"));
        let d = decide(&c, &facts(&[("x-user-tier", "enterprise"), ("x-feature", "summarization")]), ok(0.9));
        assert_eq!((d.tier, d.reason.as_str()), (1, "floor:enterprise"));
    }

    #[test]
    fn size_and_tools_rules() {
        let c = cfg();
        let mut f = facts(&[]);
        f.input_tokens = 30_001;
        assert_eq!(decide(&c, &f, ok(0.0)).reason, "rule:long-context");
        f.input_tokens = 30_000;
        assert_eq!(decide(&c, &f, ok(0.0)).tier, 0);
        f.has_tools = true;
        assert_eq!(decide(&c, &f, ok(0.0)).reason, "floor:tools");
    }

    #[test]
    fn classifier_error_fails_towards_quality() {
        let c = cfg();
        let d = decide(&c, &facts(&[]), || Err("boom"));
        assert_eq!((d.tier, d.score, d.reason.as_str()), (2, None, "classifier_error"));
    }

    #[test]
    fn ceiling_rule() {
        let mut v: serde_json::Value = serde_json::from_str(DEFAULT_CONFIG_JSON).unwrap();
        v["rules"] = serde_json::json!([
            {"name": "free", "when": {"header": {"name": "x-plan", "one_of": ["free", "trial"]}}, "max_tier": "cheap"},
            {"name": "beta", "when": {"header": {"name": "x-beta", "present": true}}, "min_tier": "mid"}
        ]);
        let c = Config::from_json(v.to_string().as_bytes()).unwrap();
        let d = decide(&c, &facts(&[("x-plan", "trial")]), ok(0.95));
        assert_eq!((d.tier, d.reason.as_str()), (0, "ceiling:free"));
        let d = decide(&c, &facts(&[("x-plan", "trial"), ("x-beta", "1")]), ok(0.95));
        assert_eq!((d.tier, d.reason.as_str()), (1, "floor:beta"));
        assert_eq!(rule_headers(&c), vec!["x-beta".to_string(), "x-plan".to_string()]);
    }
}
