//! Budgets per customer that move the router: spend shared by every Envoy worker, a pace that
//! raises the classifier's thresholds as a customer spends ahead of plan, and a hard cap.
//!
//! **Spend** is kept in proxy-wasm shared data (one value per customer label, shared by every
//! VM of the Envoy process, so by all its workers), updated with compare-and-swap after each
//! priced answer: read `(value, version)`, write `value + cost` only if the version is
//! unchanged, retry otherwise ([`MAX_CAS_ATTEMPTS`]). The value is `"<period>:<micro-USD>"`: a
//! value of an earlier period reads as 0 spent, and the first write of a new period replaces
//! it. Keys of the customers named in `customers` are created when the plugin is configured,
//! before any traffic; a customer known only through `default_micro_usd` gets its key on its
//! first priced answer, and two workers creating it at the same instant can lose one of those
//! two costs (shared data has no create-if-absent). Shared data lives as long as the Envoy
//! process: it survives configuration reloads and is lost on a restart.
//!
//! **Pace**: with `B` the customer's budget for the period, `f` the elapsed fraction of the
//! period and `S` the spend so far, the allowance is `B * (f + BURST)` and the ratio
//! `r = S / allowance`. The pace `p = clamp((r - 1) / (pace_full_at - 1), 0, 1)` raises every
//! threshold `t` of the section to `t + (1 - t) * p`: on or under pace nothing changes; at
//! `pace_full_at` times the allowance every scored request goes to the cheapest tier. Rules
//! are not moved (a `min_tier` rule still holds).
//!
//! **Cap**: at `S >= B`, routed requests get `at_cap` (`reject`: 429 in the API's error shape
//! with `retry-after` until the period ends; `cheapest`: the first tier), explicit-model
//! requests get `explicit_at_cap` (`reject` or `allow`). No upstream is called on a rejection.
//!
//! Periods are UTC: hours, days, or calendar months. The labels `unknown` and `other` (no
//! customer header, customers beyond the distinct-customer cap) have no budget.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::names::value;

/// Attempts of one compare-and-swap update before it is given up (and counted).
pub const MAX_CAS_ATTEMPTS: u32 = 32;

/// Share of the budget spendable at once at any time on top of the even pace.
pub const BURST: f64 = 0.05;

/// Prefix of the shared-data keys (one per customer label).
pub const KEY_PREFIX: &str = "llm_router.spend.";

/// The budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// UTC hours.
    Hour,
    /// UTC days.
    #[default]
    Day,
    /// UTC calendar months.
    Month,
}

/// What a routed request at the cap gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AtCap {
    /// 429 with `retry-after`.
    #[default]
    Reject,
    /// The cheapest tier.
    Cheapest,
}

/// What an explicit-model request at the cap gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplicitAtCap {
    /// 429 with `retry-after`.
    #[default]
    Reject,
    /// Passed as usual (still counted).
    Allow,
}

/// `budget` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    /// `hour`, `day` (default) or `month`.
    #[serde(default)]
    pub period: Period,
    /// Budget of customers not named in `customers`, micro-USD per period.
    pub default_micro_usd: Option<u64>,
    /// Budgets by customer label, micro-USD per period.
    #[serde(default)]
    pub customers: BTreeMap<String, u64>,
    /// Spend-to-allowance ratio at which every scored request goes to the cheapest tier.
    pub pace_full_at: Option<f64>,
    /// `reject` (default) or `cheapest`.
    #[serde(default)]
    pub at_cap: AtCap,
    /// `reject` (default) or `allow`.
    #[serde(default)]
    pub explicit_at_cap: ExplicitAtCap,
}

/// Why a `budget` section is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// Neither a default nor any customer.
    #[error("set default_micro_usd or customers")]
    Empty,
    /// `pace_full_at` is not above 1.
    #[error("pace_full_at must be a number above 1, got {0}")]
    PaceFullAt(f64),
    /// Budgets need customer labels.
    #[error("budgets are per customer: configure `customer` as well")]
    NoCustomer,
}

/// A validated budget section.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// The period.
    pub period: Period,
    /// Budget of customers not named.
    pub default_micro_usd: Option<u64>,
    /// Budgets by customer label.
    pub customers: BTreeMap<String, u64>,
    /// See [`RawBudget::pace_full_at`].
    pub pace_full_at: f64,
    /// At the cap, routed requests.
    pub at_cap: AtCap,
    /// At the cap, explicit-model requests.
    pub explicit_at_cap: ExplicitAtCap,
}

impl TryFrom<RawBudget> for Budget {
    type Error = BudgetError;

    fn try_from(raw: RawBudget) -> Result<Self, BudgetError> {
        if raw.default_micro_usd.is_none() && raw.customers.is_empty() {
            return Err(BudgetError::Empty);
        }
        let pace_full_at = raw.pace_full_at.unwrap_or(2.0);
        if !(pace_full_at > 1.0 && pace_full_at.is_finite()) {
            return Err(BudgetError::PaceFullAt(pace_full_at));
        }
        Ok(Budget {
            period: raw.period,
            default_micro_usd: raw.default_micro_usd,
            customers: raw.customers,
            pace_full_at,
            at_cap: raw.at_cap,
            explicit_at_cap: raw.explicit_at_cap,
        })
    }
}

/// One period: its index (the spend value's tag) and its bounds in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Index of the period (hours or days since the epoch, or `year * 12 + month - 1`).
    pub index: u64,
    /// First second.
    pub start: u64,
    /// First second of the next period.
    pub end: u64,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u64, d: u64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    #[allow(clippy::cast_possible_wrap)]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i64;
    era * 146_097 + doe - 719_468
}

/// The civil (year, month) of a day count since the epoch.
pub(crate) fn civil_month(days: i64) -> (i64, u64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    #[allow(clippy::cast_sign_loss)]
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

impl Period {
    /// The period containing `now` (Unix seconds).
    pub fn window(self, now: u64) -> Window {
        let fixed = |len: u64| Window { index: now / len, start: now / len * len, end: now / len * len + len };
        match self {
            Period::Hour => fixed(3_600),
            Period::Day => fixed(86_400),
            Period::Month => {
                #[allow(clippy::cast_possible_wrap)]
                let (y, m) = civil_month((now / 86_400) as i64);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                #[allow(clippy::cast_sign_loss)]
                let at = |y: i64, m: u64| (days_from_civil(y, m, 1) * 86_400) as u64;
                #[allow(clippy::cast_sign_loss)]
                let index = (y as u64) * 12 + m - 1;
                Window { index, start: at(y, m), end: at(ny, nm) }
            }
        }
    }
}

/// A customer's spend value as stored: `"<period index>:<micro-USD>"`.
pub fn encode(index: u64, spent: u64) -> Vec<u8> {
    format!("{index}:{spent}").into_bytes()
}

/// The spend of period `index` in a stored value: 0 for another period, a missing or an
/// unreadable value.
pub fn spent_in(stored: Option<&[u8]>, index: u64) -> u64 {
    let Some(text) = stored.and_then(|b| std::str::from_utf8(b).ok()) else {
        return 0;
    };
    match text.split_once(':') {
        Some((i, s)) if i.parse() == Ok(index) => s.parse().unwrap_or(0),
        _ => 0,
    }
}

/// The shared-data key of a customer label.
pub fn key(customer: &str) -> String {
    format!("{KEY_PREFIX}{customer}")
}

/// Where a customer stands in the period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Standing {
    /// The customer's budget this period, micro-USD.
    pub budget: u64,
    /// Spent so far, micro-USD.
    pub spent: u64,
    /// Threshold raise, 0 ..= 1.
    pub pace: f64,
    /// The period.
    pub window: Window,
}

impl Standing {
    /// Budget left, micro-USD.
    pub fn remaining(&self) -> u64 {
        self.budget.saturating_sub(self.spent)
    }

    /// The cap is reached.
    pub fn at_cap(&self) -> bool {
        self.spent >= self.budget
    }
}

impl Budget {
    /// The budget of a customer label, if it has one.
    pub fn of(&self, customer: &str) -> Option<u64> {
        if customer == value::CUSTOMER_UNKNOWN || customer == value::CUSTOMER_OTHER {
            return None;
        }
        self.customers.get(customer).copied().or(self.default_micro_usd)
    }

    /// Where `customer` stands at `now` (Unix seconds) with `stored` its shared value.
    pub fn standing(&self, customer: &str, stored: Option<&[u8]>, now: u64) -> Option<Standing> {
        let budget = self.of(customer)?;
        let window = self.period.window(now);
        let spent = spent_in(stored, window.index);
        #[allow(clippy::cast_precision_loss)]
        let pace = {
            let len = (window.end - window.start) as f64;
            let elapsed = (now - window.start) as f64 / len;
            let allowance = budget as f64 * (elapsed + BURST);
            let ratio = if allowance > 0.0 { spent as f64 / allowance } else { f64::INFINITY };
            ((ratio - 1.0) / (self.pace_full_at - 1.0)).clamp(0.0, 1.0)
        };
        Some(Standing { budget, spent, pace, window })
    }
}

/// Thresholds raised by `pace`: `t + (1 - t) * pace`.
pub fn raised(thresholds: &[f32], pace: f64) -> Vec<f32> {
    #[allow(clippy::cast_possible_truncation)]
    let p = pace.clamp(0.0, 1.0) as f32;
    thresholds.iter().map(|t| t + (1.0 - t) * p).collect()
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
