//! Validation of the raw configuration ([`RawConfig`]) into a [`Config`]: every failure is a
//! [`ConfigError`] whose message says exactly what is wrong.

use super::*;

fn non_empty(value: &str, what: impl Into<String>) -> Result<(), ConfigError> {
    if value.trim().is_empty() {
        Err(ConfigError::Empty(what.into()))
    } else {
        Ok(())
    }
}

fn positive(value: Option<usize>, default: usize, what: &'static str) -> Result<usize, ConfigError> {
    match value {
        Some(0) => Err(ConfigError::Zero(what)),
        Some(v) => Ok(v),
        None => Ok(default),
    }
}

fn valid_header_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn validate_condition(rule: &str, raw: RawCondition) -> Result<Condition, ConfigError> {
    let header = match raw.header {
        None => None,
        Some(h) => {
            let name = h.name.to_ascii_lowercase();
            if !valid_header_name(&name) {
                return Err(ConfigError::HeaderCondition(rule.to_string()));
            }
            let test = match (h.equals, h.one_of, h.present) {
                (Some(v), None, None) => HeaderTest::Equals(v),
                (None, Some(v), None) if !v.is_empty() => HeaderTest::OneOf(v),
                (None, None, Some(p)) => HeaderTest::Present(p),
                _ => return Err(ConfigError::HeaderCondition(rule.to_string())),
            };
            Some((name, test))
        }
    };
    let cond = Condition {
        header,
        input_tokens_above: raw.input_tokens_above,
        input_tokens_below: raw.input_tokens_below,
        messages_above: raw.messages_above,
        has_tools: raw.has_tools,
        has_response_format: raw.has_response_format,
    };
    if cond == Condition::default() {
        return Err(ConfigError::RuleCondition(rule.to_string()));
    }
    Ok(cond)
}

impl TryFrom<RawConfig> for Config {
    type Error = ConfigError;

    fn try_from(mut raw: RawConfig) -> Result<Self, Self::Error> {
        let messages = raw.apis.messages.take().map(|m| api_section(*m, &MESSAGES)).transpose()?;
        let responses = raw.apis.responses.take().map(|r| api_section(*r, &RESPONSES)).transpose()?;
        let mut config = validate(raw)?;
        // One path, one wire format: the flow picks the API from the path alone.
        let shared = |section: &Config, other: &Config| section.paths.iter().find(|p| other.inspects_path(p)).cloned();
        let chat = "chat-completions";
        let clash = messages
            .as_ref()
            .and_then(|m| shared(m, &config).map(|p| (MESSAGES.name, p, chat)))
            .or_else(|| responses.as_ref().and_then(|r| shared(r, &config).map(|p| (RESPONSES.name, p, chat))))
            .or_else(|| match (&messages, &responses) {
                (Some(m), Some(r)) => shared(r, m).map(|p| (RESPONSES.name, p, MESSAGES.label)),
                _ => None,
            });
        if let Some((api, path, other)) = clash {
            return Err(ConfigError::Api { api, error: Box::new(ConfigError::SharedPath(path, other)) });
        }
        config.messages = messages.map(Box::new);
        config.responses = responses.map(Box::new);
        Ok(config)
    }
}

/// What differs between the `apis` sections.
struct Section {
    /// The key under `apis`.
    name: &'static str,
    /// The API in messages.
    label: &'static str,
    default_path: &'static str,
}

const MESSAGES: Section = Section { name: "messages", label: "Messages", default_path: DEFAULT_MESSAGES_PATH };
const RESPONSES: Section = Section { name: "responses", label: "Responses", default_path: DEFAULT_RESPONSES_PATH };

/// An `apis` section: a configuration of the same shape, with its own default path; it cannot
/// nest further, and its tiers cannot escalate (escalation reads chat-completions answers).
fn api_section(mut raw: RawConfig, section: &Section) -> Result<Config, ConfigError> {
    let wrap = |error: ConfigError| ConfigError::Api { api: section.name, error: Box::new(error) };
    if raw.apis.messages.is_some() || raw.apis.responses.is_some() {
        return Err(wrap(ConfigError::NestedApis));
    }
    raw.paths.get_or_insert_with(|| vec![section.default_path.to_string()]);
    if let Some(t) = raw.tiers.iter().find(|t| t.escalate.is_some()) {
        return Err(wrap(ConfigError::Escalate(
            t.name.clone(),
            format!("escalation reads chat-completions answers only; remove it from {} tiers", section.label),
        )));
    }
    validate(raw).map_err(wrap)
}

fn validate(raw: RawConfig) -> Result<Config, ConfigError> {
    {
        let prices = match raw.prices {
            Some(p) => PriceTable::try_from(p)?,
            None => PriceTable::default_table()?,
        };

        if raw.tiers.is_empty() {
            return Err(ConfigError::NoTiers);
        }
        let mut tiers: Vec<Tier> = Vec::with_capacity(raw.tiers.len());
        for t in raw.tiers {
            non_empty(&t.name, "tier name")?;
            non_empty(&t.model, format!("model of tier `{}`", t.name))?;
            non_empty(&t.cluster, format!("cluster of tier `{}`", t.name))?;
            if let Some(f) = &t.family {
                non_empty(f, format!("family of tier `{}`", t.name))?;
            }
            if tiers.iter().any(|x| x.name == t.name) {
                return Err(ConfigError::DuplicateTier(t.name));
            }
            if prices.lookup(&t.model).is_none() {
                return Err(ConfigError::UnpricedTierModel { tier: t.name, model: t.model });
            }
            let escalate = match t.escalate {
                None => None,
                Some(e) => {
                    if e.on.is_empty() {
                        return Err(ConfigError::Escalate(t.name, "`on` must list at least one trigger".into()));
                    }
                    if e.on.contains(&EscalateOn::Refusal) && e.refusal_patterns.iter().all(|p| p.trim().is_empty()) {
                        return Err(ConfigError::Escalate(
                            t.name,
                            "`refusal` needs non-empty `refusal_patterns`".into(),
                        ));
                    }
                    Some(Escalate {
                        on: e.on,
                        refusal_patterns: e.refusal_patterns.iter().map(|p| p.to_lowercase()).collect(),
                    })
                }
            };
            let family = t.family.unwrap_or_else(|| t.cluster.clone());
            tiers.push(Tier { name: t.name, model: t.model, cluster: t.cluster, family, escalate });
        }

        let expected = tiers.len() - 1;
        if raw.thresholds.len() != expected {
            return Err(ConfigError::ThresholdCount { expected, got: raw.thresholds.len() });
        }
        for &t in &raw.thresholds {
            if !(t.is_finite() && t > 0.0 && t < 1.0) {
                return Err(ConfigError::ThresholdRange(t));
            }
        }
        if raw.thresholds.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
            return Err(ConfigError::ThresholdOrder(raw.thresholds));
        }
        let thresholds = raw.thresholds.iter().map(|&t| t as f32).collect();

        let tier_idx = |rule: &str, name: &str| {
            tiers
                .iter()
                .position(|t| t.name == name)
                .ok_or_else(|| ConfigError::UnknownTier { rule: rule.to_string(), tier: name.to_string() })
        };
        let mut rules = Vec::with_capacity(raw.rules.len());
        for (i, r) in raw.rules.into_iter().enumerate() {
            let name = r.name.unwrap_or_else(|| format!("rule{i}"));
            non_empty(&name, "rule name")?;
            let action = match (&r.tier, &r.min_tier, &r.max_tier) {
                (Some(t), None, None) => RuleAction::Tier(tier_idx(&name, t)?),
                (None, Some(t), None) => RuleAction::MinTier(tier_idx(&name, t)?),
                (None, None, Some(t)) => RuleAction::MaxTier(tier_idx(&name, t)?),
                _ => return Err(ConfigError::RuleAction(name)),
            };
            let when = validate_condition(&name, r.when)?;
            rules.push(Rule { name, when, action });
        }

        let baseline_model = match raw.baseline_model {
            Some(m) => m,
            None => tiers.last().map(|t| t.model.clone()).unwrap_or_default(),
        };
        if prices.lookup(&baseline_model).is_none() {
            return Err(ConfigError::UnpricedBaseline(baseline_model));
        }

        let paths = raw.paths.unwrap_or_else(|| vec![DEFAULT_PATH.to_string()]);
        for p in &paths {
            if !p.starts_with('/') {
                return Err(ConfigError::BadPath(p.clone()));
            }
            // Such a path could never match a request (found by fuzz/config).
            if p.contains(['?', '#', ';']) || p.chars().any(char::is_whitespace) {
                return Err(ConfigError::PathChars(p.clone()));
            }
        }
        let aliases = raw.aliases.unwrap_or_else(|| vec![DEFAULT_ALIAS.to_string()]);
        for a in &aliases {
            non_empty(a, "alias")?;
        }

        let customer = match raw.customer {
            None => None,
            Some(c) => {
                let header = c.header.to_ascii_lowercase();
                if !valid_header_name(&header) {
                    return Err(ConfigError::BadHeaderName(c.header));
                }
                Some(CustomerConfig {
                    header,
                    hash: c.hash,
                    max_distinct: positive(c.max_distinct, DEFAULT_MAX_CUSTOMERS, "customer.max_distinct")?,
                })
            }
        };

        let fallback = {
            let f = raw.fallback;
            let statuses = f.statuses.unwrap_or_else(|| vec![429, 500, 502, 503, 504]);
            if let Some(bad) = statuses.iter().find(|s| !(400..=599).contains(*s)) {
                return Err(ConfigError::Fallback(format!("status {bad} is not a 4xx or 5xx status")));
            }
            let order = match f.order {
                None => (0..tiers.len()).collect(),
                Some(names) => {
                    let mut idx = Vec::with_capacity(names.len());
                    for n in &names {
                        let i = tiers
                            .iter()
                            .position(|t| &t.name == n)
                            .ok_or_else(|| ConfigError::Fallback(format!("order names unknown tier `{n}`")))?;
                        if idx.contains(&i) {
                            return Err(ConfigError::Fallback(format!("order names tier `{n}` twice")));
                        }
                        idx.push(i);
                    }
                    idx
                }
            };
            let timeout_ms = f.timeout_ms.unwrap_or(60_000);
            if timeout_ms == 0 {
                return Err(ConfigError::Zero("fallback.timeout_ms"));
            }
            Fallback {
                enabled: f.enabled.unwrap_or(true),
                statuses,
                max_attempts: f.max_attempts.unwrap_or(1),
                timeout_ms,
                order,
                explicit: f.explicit.unwrap_or(false),
            }
        };

        let budget = match raw.budget {
            None => None,
            Some(_) if customer.is_none() => return Err(BudgetError::NoCustomer.into()),
            Some(b) => Some(Budget::try_from(b)?),
        };

        let strong_share = match raw.strong_share {
            None => None,
            Some(_) if tiers.len() < 2 => return Err(ShareError::OneTier.into()),
            Some(s) => Some(StrongShare::try_from(s)?),
        };

        let shadow = raw.shadow.map(|s| Shadow::validate(s, &tiers)).transpose()?;

        Ok(Config {
            mode: raw.mode,
            paths,
            aliases,
            explicit_model: raw.explicit_model,
            baseline_model,
            customer,
            tiers,
            thresholds,
            rules,
            prices,
            max_request_bytes: positive(raw.max_request_bytes, DEFAULT_MAX_REQUEST_BYTES, "max_request_bytes")?,
            max_response_bytes: positive(raw.max_response_bytes, DEFAULT_MAX_RESPONSE_BYTES, "max_response_bytes")?,
            max_inspect_chars: positive(raw.max_inspect_chars, DEFAULT_MAX_INSPECT_CHARS, "max_inspect_chars")?,
            fail_closed: raw.fail_closed,
            profile: raw.profile,
            classifier: validate_classifier(raw.classifier)?,
            fallback,
            cost_ceiling: raw.cost_ceiling.map(CostCeiling::try_from).transpose()?,
            budget,
            strong_share,
            shadow,
            messages: None,
            responses: None,
        })
    }
}
