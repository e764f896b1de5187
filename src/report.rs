//! `llm-router report`: per API, model, route, tier and customer totals from the Envoy JSON
//! access log written with the shipped format.
//!
//! Every line is read with [`AccessRecord::from_line`]. Lines that are not JSON, not router
//! requests (no `router_status`), not inspected (`router_status: "error"`), invalid, outside the
//! time window, of another mode or of another API are skipped and counted by kind, never folded
//! into the totals.
//!
//! Money rules, the same as the filter's Prometheus counters so the two agree to the micro-USD:
//! - `cost` sums `cost_micro_usd` of priced requests;
//! - `baseline` sums `baseline_cost_micro_usd` of the same priced requests only, so
//!   `savings = 1 - cost / baseline` compares like with like;
//! - unpriced and usage-missing requests are counted in their own columns and never add a
//!   cost of zero; their tokens (unpriced) are counted. A group with no priced request shows
//!   no cost at all (`-` in tables, empty in CSV, `null` in JSON), not `$0.00`.
//!
//! With a re-pricing table ([`Reprice`]), each request that has usage is priced again from its
//! tokens and model with the filter's rule ([`crate::pricing`]); a model the new table does not
//! know becomes unpriced. The baseline is re-priced on the given baseline model.
//!
//! With revenue per customer ([`Revenue`]), the customer table gains revenue and
//! `margin = revenue - cost` (cost of priced requests only: a customer with unpriced or
//! usage-missing requests has an optimistic margin, visible in those columns); customers whose
//! margin is negative are flagged.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::accesslog::{AccessLogError, AccessRecord, RecordStatus};
use crate::money::{parse_usd, savings_tenths, tenths_of_percent, MoneyError};
use crate::pricing::PriceTable;

/// Errors reading report inputs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The revenue file is not a JSON object or CSV of customer to USD.
    #[error("revenue file: {0}")]
    Revenue(String),
    /// An unknown output format.
    #[error("unknown format {0:?}: use table, csv or json")]
    Format(String),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text tables.
    Table,
    /// One CSV with a `dimension` column.
    Csv,
    /// One JSON document.
    Json,
}

impl std::str::FromStr for Format {
    type Err = ReportError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(ReportError::Format(other.to_string())),
        }
    }
}

/// Re-price logged tokens with another table.
#[derive(Debug, Clone)]
pub struct Reprice {
    /// The table.
    pub table: PriceTable,
    /// Model the baseline is priced on.
    pub baseline_model: String,
}

/// Revenue per customer label, integer micro-USD.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revenue(pub BTreeMap<String, u64>);

/// Split one CSV line into fields (double-quoted fields, `""` escapes).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let Some(field) = fields.last_mut() else { break };
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(String::new()),
            (c, _) => field.push(c),
        }
    }
    fields.into_iter().map(|f| f.trim().to_string()).collect()
}

impl Revenue {
    /// Parse a JSON object (`{"acme": 120.5, "globex": "80"}`) or CSV (`customer,revenue_usd`
    /// lines; an optional header line, blank lines and `#` comments are skipped). Amounts are
    /// USD with at most 6 decimals, parsed without floats.
    ///
    /// # Errors
    ///
    /// [`ReportError::Revenue`] naming the customer or line that is wrong.
    pub fn parse(text: &str) -> Result<Revenue, ReportError> {
        let err = |m: String| ReportError::Revenue(m);
        let money = |who: &str, v: &str| parse_usd(v).map_err(|e: MoneyError| err(format!("customer {who:?}: {e}")));
        let mut out = BTreeMap::new();
        let mut first = true;
        if text.trim_start().starts_with('{') {
            let v: serde_json::Map<String, Value> =
                serde_json::from_str(text).map_err(|e| err(format!("invalid json: {e}")))?;
            for (customer, amount) in v {
                let text = match &amount {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) => s.clone(),
                    other => return Err(err(format!("customer {customer:?}: {other} is not an amount"))),
                };
                out.insert(customer.clone(), money(&customer, &text)?);
            }
            return Ok(Revenue(out));
        }
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let fields = csv_fields(line);
            let [customer, amount] = fields.as_slice() else {
                return Err(err(format!("line {}: expected `customer,revenue_usd`", i + 1)));
            };
            if std::mem::replace(&mut first, false) && parse_usd(amount).is_err() {
                continue; // header line
            }
            if customer.is_empty() {
                return Err(err(format!("line {}: empty customer", i + 1)));
            }
            if out.insert(customer.clone(), money(customer, amount)?).is_some() {
                return Err(err(format!("line {}: customer {customer:?} appears twice", i + 1)));
            }
        }
        Ok(Revenue(out))
    }
}

/// What the report reads and how.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// Keep requests starting at or after this instant (Unix nanoseconds).
    pub since: Option<i64>,
    /// Keep requests starting before this instant (Unix nanoseconds).
    pub until: Option<i64>,
    /// Keep only this mode (`route` or `measure`).
    pub mode: Option<String>,
    /// Keep only this API (`chat_completions`, `messages`, ...; see [`AccessRecord::api`]).
    pub api: Option<String>,
    /// Re-price with another table.
    pub reprice: Option<Reprice>,
    /// Revenue per customer.
    pub revenue: Option<Revenue>,
    /// Budgets, for the budget-use table ([`crate::report_budget`]).
    pub budget: Option<crate::budget::Budget>,
}

/// Totals of a group of requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Group {
    /// Router requests.
    pub requests: u64,
    /// Priced requests.
    pub priced: u64,
    /// Requests whose model has no price.
    pub unpriced: u64,
    /// Requests without usage.
    pub usage_missing: u64,
    /// Prompt tokens (requests with usage).
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Cached prompt tokens.
    pub cached_tokens: u64,
    /// Cost of priced requests, micro-USD.
    pub cost_micro_usd: u64,
    /// Baseline cost of the same priced requests, micro-USD.
    pub baseline_cost_micro_usd: u64,
    /// Requests answered after a fallback.
    pub fallbacks: u64,
}

impl Group {
    fn add(&mut self, status: RecordStatus, r: &AccessRecord, cost: Option<u64>, baseline: Option<u64>) {
        self.requests += 1;
        match status {
            RecordStatus::Priced => self.priced += 1,
            RecordStatus::Unpriced => self.unpriced += 1,
            RecordStatus::UsageMissing => self.usage_missing += 1,
        }
        if let Some(u) = r.usage {
            self.input_tokens = self.input_tokens.saturating_add(u.prompt_tokens);
            self.output_tokens = self.output_tokens.saturating_add(u.completion_tokens);
            self.cached_tokens = self.cached_tokens.saturating_add(u.cached_tokens);
        }
        if let Some(c) = cost {
            self.cost_micro_usd = self.cost_micro_usd.saturating_add(c);
            self.baseline_cost_micro_usd = self.baseline_cost_micro_usd.saturating_add(baseline.unwrap_or(0));
        }
        if r.fallback {
            self.fallbacks += 1;
        }
    }

    /// Savings `1 - cost / baseline`, tenths of a percent.
    pub fn savings_tenths(&self) -> Option<i64> {
        savings_tenths(self.cost_micro_usd, self.baseline_cost_micro_usd)
    }

    /// Fallbacks per request, tenths of a percent (0 without fallbacks).
    pub fn fallback_rate_tenths(&self) -> Option<i64> {
        tenths_of_percent(i128::from(self.fallbacks), i128::from(self.requests))
    }
}

/// Lines skipped, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// Not JSON objects.
    pub not_json: u64,
    /// JSON, but not a router request (no `router_status`).
    pub not_router: u64,
    /// `router_status: "error"`: passed through uninspected.
    pub uninspected: u64,
    /// Router lines with invalid or inconsistent fields (or no time while a window is set).
    pub invalid: u64,
    /// Outside `--since` / `--until`.
    pub outside_window: u64,
    /// Another mode than `--mode`.
    pub other_mode: u64,
    /// Another API than `--api`.
    pub other_api: u64,
}

/// A table dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// API (wire format) of the request.
    Api,
    /// Model priced (sent, or projected in measure mode).
    Model,
    /// Envoy route.
    Route,
    /// Tier.
    Tier,
    /// Customer label.
    Customer,
}

impl Dimension {
    /// All, in output order.
    pub const ALL: [Dimension; 5] =
        [Dimension::Api, Dimension::Model, Dimension::Route, Dimension::Tier, Dimension::Customer];

    /// Name used in headings, CSV and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Dimension::Api => "api",
            Dimension::Model => "model",
            Dimension::Route => "route",
            Dimension::Tier => "tier",
            Dimension::Customer => "customer",
        }
    }

    fn key(self, r: &AccessRecord) -> &str {
        match self {
            Dimension::Api => &r.api,
            Dimension::Model => &r.model,
            Dimension::Route => &r.route,
            Dimension::Tier => &r.tier,
            Dimension::Customer => &r.customer,
        }
    }
}

/// The report being built, line by line.
#[derive(Debug, Clone, Default)]
pub struct Report {
    options: ReportOptions,
    /// Lines read (blank lines excluded).
    pub lines: u64,
    /// Lines skipped, by kind.
    pub skipped: Skipped,
    /// The first invalid lines: (line number, message), at most 10.
    pub invalid_examples: Vec<(u64, String)>,
    /// All counted requests.
    pub total: Group,
    groups: [BTreeMap<String, Group>; 5],
    /// Price table versions in the log (or the re-pricing version).
    pub price_versions: BTreeSet<String>,
    /// Modes of the counted requests.
    pub modes: BTreeSet<String>,
    budget_use: BudgetUse,
}

impl Report {
    /// An empty report.
    pub fn new(options: ReportOptions) -> Report {
        let budget_use = options.budget.clone().map(BudgetUse::new).unwrap_or_default();
        Report { options, budget_use, ..Report::default() }
    }

    /// Read one access-log line.
    pub fn add_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        self.lines += 1;
        let record = match AccessRecord::from_line(line) {
            Ok(r) => r,
            Err(e) => {
                match e {
                    AccessLogError::NotJson(_) | AccessLogError::NotObject => self.skipped.not_json += 1,
                    AccessLogError::NotRouter => self.skipped.not_router += 1,
                    AccessLogError::Uninspected => self.skipped.uninspected += 1,
                    AccessLogError::Invalid { .. } | AccessLogError::BadTime(_) => self.invalid(e.to_string()),
                }
                return;
            }
        };
        if self.options.since.is_some() || self.options.until.is_some() {
            let Some(t) = record.start_unix_nanos else {
                return self.invalid("no start_time, needed for --since/--until".into());
            };
            if self.options.since.is_some_and(|s| t < s) || self.options.until.is_some_and(|u| t >= u) {
                self.skipped.outside_window += 1;
                return;
            }
        }
        if self.options.mode.as_ref().is_some_and(|m| *m != record.mode) {
            self.skipped.other_mode += 1;
            return;
        }
        if self.options.api.as_ref().is_some_and(|a| *a != record.api) {
            self.skipped.other_api += 1;
            return;
        }
        let (status, cost, baseline) = match (&self.options.reprice, record.usage) {
            (Some(rp), Some(u)) => match rp.table.cost_micro_usd(&record.model, &u) {
                Ok(c) => {
                    (RecordStatus::Priced, Some(c), rp.table.counterfactual_cost_micro_usd(&rp.baseline_model, &u).ok())
                }
                Err(_) => (RecordStatus::Unpriced, None, None),
            },
            _ => (record.status, record.cost_micro_usd, record.baseline_cost_micro_usd),
        };
        let version = match &self.options.reprice {
            Some(rp) => rp.table.version().to_string(),
            None => record.price_version.clone(),
        };
        if !version.is_empty() {
            self.price_versions.insert(version);
        }
        self.modes.insert(record.mode.clone());
        self.total.add(status, &record, cost, baseline);
        self.budget_use.add(&record.customer, record.start_unix_nanos, cost);
        for (dim, groups) in Dimension::ALL.iter().zip(self.groups.iter_mut()) {
            groups.entry(dim.key(&record).to_string()).or_default().add(status, &record, cost, baseline);
        }
    }

    fn invalid(&mut self, message: String) {
        self.skipped.invalid += 1;
        if self.invalid_examples.len() < 10 {
            self.invalid_examples.push((self.lines, message));
        }
    }

    /// Rows of a dimension, most expensive first (then most requests, then key).
    pub fn rows(&self, dim: Dimension) -> Vec<(&str, Group)> {
        let index = Dimension::ALL.iter().position(|d| *d == dim).unwrap_or(0);
        let mut rows: Vec<(&str, Group)> =
            self.groups.get(index).map(|g| g.iter().map(|(k, v)| (k.as_str(), *v)).collect()).unwrap_or_default();
        rows.sort_by(|a, b| {
            b.1.cost_micro_usd.cmp(&a.1.cost_micro_usd).then(b.1.requests.cmp(&a.1.requests)).then(a.0.cmp(b.0))
        });
        rows
    }

    fn revenue_of(&self, dim: Dimension, key: &str) -> Option<u64> {
        (dim == Dimension::Customer).then_some(())?;
        self.options.revenue.as_ref()?.0.get(key).copied()
    }

    /// Customers with revenue but no counted request.
    pub fn revenue_without_traffic(&self) -> Vec<&str> {
        let customers = Dimension::ALL.iter().position(|d| *d == Dimension::Customer);
        let seen = customers.and_then(|i| self.groups.get(i));
        self.options
            .revenue
            .iter()
            .flat_map(|r| r.0.keys())
            .filter(|c| !seen.is_some_and(|g| g.contains_key(*c)))
            .map(String::as_str)
            .collect()
    }

    /// Customers whose margin is negative.
    pub fn negative_margin_customers(&self) -> Vec<&str> {
        self.rows(Dimension::Customer)
            .into_iter()
            .filter(|(k, g)| self.revenue_of(Dimension::Customer, k).is_some_and(|r| r < g.cost_micro_usd))
            .map(|(k, _)| k)
            .collect()
    }

    fn share_tenths(&self, g: &Group) -> Option<i64> {
        tenths_of_percent(i128::from(g.requests), i128::from(self.total.requests))
    }
}

use crate::report_budget::BudgetUse;

// Rendering (table, CSV, JSON) lives in its own file.
#[path = "report_render.rs"]
mod render;
pub use render::align;

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
