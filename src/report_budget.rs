//! Budget use per customer in `llm-router report --budget CONFIG`: what each customer with a
//! budget (the configuration's top-level `budget` section, see [`crate::budget`]) spent in the
//! budget period that contains the end of the report (`--until`, else the latest request), from
//! the priced requests of the log, against its budget.
//!
//! This is the log's view: it counts what the log holds (re-priced with `--prices` if given),
//! while the filter's own spend value lives in the Envoy process. Lines without a start time
//! cannot be placed in a period and are not counted here.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::budget::{Budget, Window};
use crate::money::{format_tenths, format_usd, tenths_of_percent};

/// Spend of the budgeted customers, by period.
#[derive(Debug, Clone, Default)]
pub struct BudgetUse {
    budget: Option<Budget>,
    /// (customer, period index) -> micro-USD spent.
    spent: BTreeMap<(String, u64), u64>,
    latest_nanos: Option<i64>,
}

/// One customer's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetRow {
    /// Customer label.
    pub customer: String,
    /// Budget of the period, micro-USD.
    pub budget: u64,
    /// Spent in the period, micro-USD.
    pub spent: u64,
}

impl BudgetUse {
    /// Budget use against `budget`.
    pub fn new(budget: Budget) -> BudgetUse {
        BudgetUse { budget: Some(budget), ..BudgetUse::default() }
    }

    /// Count one request: its customer, start time and cost.
    pub fn add(&mut self, customer: &str, start_nanos: Option<i64>, cost: Option<u64>) {
        let (Some(b), Some(t)) = (&self.budget, start_nanos) else {
            return;
        };
        self.latest_nanos = Some(self.latest_nanos.map_or(t, |l| l.max(t)));
        let (Some(cost), Some(_)) = (cost, b.of(customer)) else {
            return;
        };
        let window = b.period.window(seconds(t));
        let entry = self.spent.entry((customer.to_string(), window.index)).or_default();
        *entry = entry.saturating_add(cost);
    }

    /// The period reported and its rows, every named customer first, then the others seen, by
    /// spend; `None` without a budget or a timed request.
    pub fn rows(&self, until_nanos: Option<i64>) -> Option<(Window, Vec<BudgetRow>)> {
        let b = self.budget.as_ref()?;
        // `--until` is exclusive: the period of its last instant.
        let at = until_nanos.map(|u| u.saturating_sub(1)).or(self.latest_nanos)?;
        let window = b.period.window(seconds(at));
        let mut rows: Vec<BudgetRow> = b
            .customers
            .iter()
            .map(|(c, budget)| BudgetRow { customer: c.clone(), budget: *budget, spent: self.of(c, window.index) })
            .collect();
        let mut others: Vec<BudgetRow> = self
            .spent
            .keys()
            .filter(|(c, i)| *i == window.index && !b.customers.contains_key(c))
            .filter_map(|(c, _)| {
                Some(BudgetRow { customer: c.clone(), budget: b.of(c)?, spent: self.of(c, window.index) })
            })
            .collect();
        others.sort_by(|a, b| b.spent.cmp(&a.spent).then(a.customer.cmp(&b.customer)));
        rows.extend(others);
        Some((window, rows))
    }

    fn of(&self, customer: &str, index: u64) -> u64 {
        self.spent.get(&(customer.to_string(), index)).copied().unwrap_or(0)
    }

    /// The table section.
    pub fn table(&self, until_nanos: Option<i64>) -> Option<(String, Vec<Vec<String>>)> {
        let (w, rows) = self.rows(until_nanos)?;
        let heading =
            format!("budget use, period {} .. {} (UTC, Unix s; from this log's priced requests)", w.start, w.end);
        let cells = rows
            .iter()
            .map(|r| {
                vec![
                    r.customer.clone(),
                    format_usd(r.budget),
                    format_usd(r.spent),
                    format_tenths(used_tenths(r)),
                    format_usd(r.budget.saturating_sub(r.spent)),
                ]
            })
            .collect();
        Some((heading, cells))
    }

    /// The JSON section.
    pub fn json(&self, until_nanos: Option<i64>) -> Option<Value> {
        let (w, rows) = self.rows(until_nanos)?;
        let rows: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({"customer": r.customer, "budget_micro_usd": r.budget, "spent_micro_usd": r.spent,
                       "remaining_micro_usd": r.budget.saturating_sub(r.spent),
                       "used_pct": used_tenths(r).map(|t| t as f64 / 10.0)})
            })
            .collect();
        Some(json!({"period_start": w.start, "period_end": w.end, "customers": rows}))
    }
}

fn used_tenths(r: &BudgetRow) -> Option<i64> {
    tenths_of_percent(i128::from(r.spent), i128::from(r.budget))
}

fn seconds(nanos: i64) -> u64 {
    u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0)
}
