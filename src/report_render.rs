//! Rendering of a [`Report`]: text table, CSV and JSON. Money follows the report's rules: a
//! group without a priced request shows no cost (`-`, empty, `null`), never zero.

use serde_json::{json, Value};

use super::{Dimension, Format, Group, Report};
use crate::money::{format_count, format_signed_usd, format_tenths, format_usd, tenths_json};

impl Report {
    /// Render in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.render_table(),
            Format::Csv => self.render_csv(),
            Format::Json => self.to_json().to_string() + "\n",
        }
    }

    fn price_note(&self) -> String {
        let versions: Vec<&str> = self.price_versions.iter().map(String::as_str).collect();
        match &self.options.reprice {
            Some(rp) => format!("re-priced with price table {} (baseline {})", rp.table.version(), rp.baseline_model),
            None if versions.is_empty() => "as logged".to_string(),
            None => format!("as logged, price table {}", versions.join(", ")),
        }
    }

    fn render_table(&self) -> String {
        let t = &self.total;
        let s = &self.skipped;
        let mut out = format!(
            "llm-router report: {} lines, {} router requests (priced {}, unpriced {}, usage missing {}); skipped: {} not json, {} not router, {} uninspected, {} invalid, {} outside window, {} other mode, {} other api\n",
            self.lines, t.requests, t.priced, t.unpriced, t.usage_missing, s.not_json, s.not_router, s.uninspected, s.invalid, s.outside_window, s.other_mode, s.other_api
        );
        out += &format!(
            "cost {} vs baseline {}: {} saved over {} priced requests ({}); unpriced and usage-missing requests are not priced (never counted as zero)\n",
            format_usd(t.cost_micro_usd),
            format_usd(t.baseline_cost_micro_usd),
            format_tenths(t.savings_tenths()),
            t.priced,
            self.price_note()
        );
        if self.modes.len() > 1 {
            out += "note: requests of both modes (route and measure) are included; use --mode to separate them\n";
        }
        for dim in Dimension::ALL {
            let with_revenue = dim == Dimension::Customer && self.options.revenue.is_some();
            let mut header: Vec<&str> = vec![
                dim.name(),
                "requests",
                "share",
                "input tok",
                "output tok",
                "cached tok",
                "cost",
                "baseline",
                "savings",
                "fallback rate",
                "unpriced",
                "usage missing",
            ];
            if with_revenue {
                header.extend(["revenue", "margin", ""]);
            }
            let rows: Vec<Vec<String>> = self
                .rows(dim)
                .into_iter()
                .map(|(key, g)| {
                    let mut row = vec![
                        key.to_string(),
                        format_count(g.requests),
                        format_tenths(self.share_tenths(&g)),
                        format_count(g.input_tokens),
                        format_count(g.output_tokens),
                        format_count(g.cached_tokens),
                        priced_usd(&g, g.cost_micro_usd),
                        priced_usd(&g, g.baseline_cost_micro_usd),
                        format_tenths(g.savings_tenths()),
                        format_tenths(g.fallback_rate_tenths()),
                        format_count(g.unpriced),
                        format_count(g.usage_missing),
                    ];
                    if with_revenue {
                        match self.revenue_of(dim, key) {
                            Some(r) => {
                                let margin = i128::from(r) - i128::from(g.cost_micro_usd);
                                row.push(format_usd(r));
                                row.push(format_signed_usd(margin));
                                row.push(if margin < 0 { "NEGATIVE MARGIN".into() } else { String::new() });
                            }
                            None => row.extend(["-".to_string(), "-".to_string(), String::new()]),
                        }
                    }
                    row
                })
                .collect();
            out += &format!("\nby {}\n", dim.name());
            out += &align(&header, &rows);
        }
        if let Some((heading, rows)) = self.budget_use.table(self.options.until) {
            out += &format!("\n{heading}\n");
            out += &align(&["customer", "budget", "spent", "used", "remaining"], &rows);
        }
        if self.options.revenue.is_some() {
            let negative = self.negative_margin_customers();
            out += &format!(
                "\nnegative-margin customers: {}\n",
                if negative.is_empty() { "none".to_string() } else { negative.join(", ") }
            );
            let absent = self.revenue_without_traffic();
            if !absent.is_empty() {
                out += &format!("revenue but no requests in this log/window: {}\n", absent.join(", "));
            }
        }
        out
    }

    pub(super) const CSV_HEADER: &'static str = "dimension,key,requests,share_pct,priced,unpriced,usage_missing,input_tokens,output_tokens,cached_tokens,cost_micro_usd,baseline_cost_micro_usd,savings_pct,fallbacks,fallback_rate_pct,revenue_micro_usd,margin_micro_usd,negative_margin";

    fn render_csv(&self) -> String {
        let pct = |t: Option<i64>| {
            t.map_or_else(String::new, |t| {
                format!("{}{}.{}", if t < 0 { "-" } else { "" }, t.unsigned_abs() / 10, t.unsigned_abs() % 10)
            })
        };
        let line = |dim: &str, key: &str, g: &Group, revenue: Option<u64>| {
            let (rev, margin, negative) = match revenue {
                Some(r) => {
                    let m = i128::from(r) - i128::from(g.cost_micro_usd);
                    (r.to_string(), m.to_string(), (m < 0).to_string())
                }
                None => (String::new(), String::new(), String::new()),
            };
            [
                csv_escape(dim),
                csv_escape(key),
                g.requests.to_string(),
                pct(self.share_tenths(g)),
                g.priced.to_string(),
                g.unpriced.to_string(),
                g.usage_missing.to_string(),
                g.input_tokens.to_string(),
                g.output_tokens.to_string(),
                g.cached_tokens.to_string(),
                priced_text(g, g.cost_micro_usd),
                priced_text(g, g.baseline_cost_micro_usd),
                pct(g.savings_tenths()),
                g.fallbacks.to_string(),
                pct(g.fallback_rate_tenths()),
                rev,
                margin,
                negative,
            ]
            .join(",")
                + "\n"
        };
        let mut out = format!("{}\n", Self::CSV_HEADER);
        out += &line("total", "", &self.total, None);
        for dim in Dimension::ALL {
            for (key, g) in self.rows(dim) {
                out += &line(dim.name(), key, &g, self.revenue_of(dim, key));
            }
        }
        out
    }

    fn group_json(&self, key: Option<&str>, g: &Group, revenue: Option<u64>) -> Value {
        let mut v = json!({
            "requests": g.requests,
            "share_pct": tenths_json(self.share_tenths(g)),
            "priced": g.priced,
            "unpriced": g.unpriced,
            "usage_missing": g.usage_missing,
            "input_tokens": g.input_tokens,
            "output_tokens": g.output_tokens,
            "cached_tokens": g.cached_tokens,
            "cost_micro_usd": priced_json(g, json!(g.cost_micro_usd)),
            "cost_usd": priced_json(g, json!(format_usd(g.cost_micro_usd))),
            "baseline_cost_micro_usd": priced_json(g, json!(g.baseline_cost_micro_usd)),
            "baseline_cost_usd": priced_json(g, json!(format_usd(g.baseline_cost_micro_usd))),
            "savings_pct": tenths_json(g.savings_tenths()),
            "fallbacks": g.fallbacks,
            "fallback_rate_pct": tenths_json(g.fallback_rate_tenths()),
        });
        if let (Some(obj), Some(key)) = (v.as_object_mut(), key) {
            obj.insert("key".into(), json!(key));
        }
        if let (Some(obj), Some(r)) = (v.as_object_mut(), revenue) {
            let margin = i128::from(r) - i128::from(g.cost_micro_usd);
            obj.insert("revenue_micro_usd".into(), json!(r));
            obj.insert("margin_micro_usd".into(), json!(i64::try_from(margin).unwrap_or(i64::MIN)));
            obj.insert("margin_usd".into(), json!(format_signed_usd(margin)));
            obj.insert("negative_margin".into(), json!(margin < 0));
        }
        v
    }

    /// The whole report as JSON (money as integer micro-USD plus exact `$` strings).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "lines": self.lines,
            "skipped": self.skipped,
            "invalid_examples": self.invalid_examples.iter().map(|(n, m)| json!({"line": n, "error": m})).collect::<Vec<_>>(),
            "pricing": self.price_note(),
            "price_versions": self.price_versions,
            "modes": self.modes,
            "total": self.group_json(None, &self.total, None),
        });
        if let Some(obj) = v.as_object_mut() {
            for dim in Dimension::ALL {
                let rows: Vec<Value> = self
                    .rows(dim)
                    .into_iter()
                    .map(|(k, g)| self.group_json(Some(k), &g, self.revenue_of(dim, k)))
                    .collect();
                obj.insert(format!("by_{}", dim.name()), Value::Array(rows));
            }
            if let Some(b) = self.budget_use.json(self.options.until) {
                obj.insert("budget_use".into(), b);
            }
            if self.options.revenue.is_some() {
                obj.insert("negative_margin_customers".into(), json!(self.negative_margin_customers()));
                obj.insert("revenue_without_traffic".into(), json!(self.revenue_without_traffic()));
            }
        }
        v
    }
}

// A group without a priced request has no cost: shown as `-` / empty / null, never as zero.
fn priced_usd(g: &Group, micro: u64) -> String {
    if g.priced == 0 {
        "-".to_string()
    } else {
        format_usd(micro)
    }
}

fn priced_text(g: &Group, micro: u64) -> String {
    if g.priced == 0 {
        String::new()
    } else {
        micro.to_string()
    }
}

fn priced_json(g: &Group, v: Value) -> Value {
    if g.priced == 0 {
        Value::Null
    } else {
        v
    }
}

pub(super) fn csv_escape(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Text table: first column left-aligned, the others right-aligned, two spaces apart.
pub fn align(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| if i == 0 { format!("{c:<w$}") } else { format!("{c:>w$}") })
            .collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = render(header.to_vec());
    for row in rows {
        out += &render(row.iter().map(String::as_str).collect());
    }
    out
}
