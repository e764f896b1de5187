//! Rendering of a simulation: text table, CSV and JSON. Money is integer micro-USD (and exact
//! `$` strings); a traffic that mixes APIs gets one line (row, object) per API under each
//! strategy, a traffic of one API is labelled with it.

use serde_json::{json, Value};

use super::{Projection, Traffic};
use crate::money::{format_count, format_tenths, format_usd, tenths_json, tenths_of_percent};
use crate::pricing::PriceTable;

/// A description of the traffic for the output header.
pub fn describe(traffic: &Traffic) -> String {
    match traffic {
        Traffic::Synthetic { requests, usage, api } => format!(
            "{} requests/month of {} input ({} cached) + {} output tokens (synthetic profile, api {})",
            format_count(*requests),
            format_count(usage.prompt_tokens),
            format_count(usage.cached_tokens),
            format_count(usage.completion_tokens),
            api.label()
        ),
        Traffic::Sample { requests, monthly_requests } => {
            let n = requests.len() as u64;
            let input: u64 = requests.iter().map(|r| r.usage.prompt_tokens).sum();
            let output: u64 = requests.iter().map(|r| r.usage.completion_tokens).sum();
            let apis: Vec<String> = traffic
                .apis()
                .into_iter()
                .map(|a| {
                    format!("{} {}", a.label(), format_count(requests.iter().filter(|r| r.api == a).count() as u64))
                })
                .collect();
            format!(
                "{} requests/month from a sample of {} request bodies ({} input + {} output tokens in the sample; api {})",
                format_count(*monthly_requests),
                format_count(n),
                format_count(input),
                format_count(output),
                apis.join(", ")
            )
        }
    }
}

fn label_of(p: &Projection) -> String {
    let mut label = p.strategy.label();
    if p.baseline {
        label += " (baseline)";
    }
    label
}

/// Aligned text table.
pub fn render_table(traffic: &Traffic, table: &PriceTable, projections: &[Projection]) -> String {
    let show_unpriced = projections.iter().any(|p| p.unpriced_requests > 0);
    let mut header = vec!["strategy", "requests/month", "monthly cost", "savings vs baseline"];
    if show_unpriced {
        header.push("unpriced (sample)");
    }
    let rows: Vec<Vec<String>> = projections
        .iter()
        .map(|p| {
            let mut row = vec![
                label_of(p),
                format_count(p.monthly_requests),
                format_usd(p.monthly_cost_micro_usd),
                format_tenths(p.savings_tenths),
            ];
            if show_unpriced {
                row.push(format_count(p.unpriced_requests));
            }
            row
        })
        .collect();
    let mut out = format!("llm-router simulate: {}; price table {}\n", describe(traffic), table.version());
    out += &crate::report::align(&header, &rows);
    if show_unpriced {
        out += "unpriced: sample requests whose explicit model has no price; their cost is left out, not counted as zero\n";
    }
    for p in projections.iter().filter(|p| !p.routed_models.is_empty()) {
        let n: u64 = p.routed_models.values().sum();
        let mut by_count: Vec<(&String, &u64)> = p.routed_models.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let parts: Vec<String> = by_count
            .iter()
            .map(|(m, c)| {
                format!(
                    "{m} {} ({})",
                    format_count(**c),
                    format_tenths(tenths_of_percent(i128::from(**c), i128::from(n)))
                )
            })
            .collect();
        out += &format!("{} sends the sample to: {}\n", p.strategy.label(), parts.join(", "));
    }
    if traffic.apis().len() > 1 {
        out += "\nby api (each API's share of the month; savings against its share of the baseline)\n";
        let header = ["strategy", "api", "requests/month", "monthly cost", "savings vs baseline"];
        let rows: Vec<Vec<String>> = projections
            .iter()
            .flat_map(|p| {
                p.by_api.iter().map(|part| {
                    vec![
                        label_of(p),
                        part.api.label().to_string(),
                        format_count(part.monthly_requests),
                        format_usd(part.monthly_cost_micro_usd),
                        format_tenths(part.savings_tenths),
                    ]
                })
            })
            .collect();
        out += &crate::report::align(&header, &rows);
    }
    out
}

/// The `api` of a strategy's total: the traffic's one API, or `all` when it mixes APIs.
fn total_api(p: &Projection) -> &'static str {
    match p.by_api.as_slice() {
        [one] => one.api.label(),
        _ => "all",
    }
}

/// CSV with integer micro-USD: one row per strategy (`api`: the traffic's API, or `all`), and
/// when the traffic mixes APIs one more row per API under each.
pub fn render_csv(projections: &[Projection]) -> String {
    let mut out =
        String::from("strategy,baseline,monthly_requests,monthly_cost_micro_usd,savings_pct,unpriced_requests,api\n");
    let pct = |t: Option<i64>| {
        t.map_or_else(String::new, |t| {
            format!("{}{}.{}", if t < 0 { "-" } else { "" }, t.unsigned_abs() / 10, t.unsigned_abs() % 10)
        })
    };
    for p in projections {
        let label = p.strategy.label();
        let label = if label.contains(',') { format!("\"{label}\"") } else { label };
        out += &format!(
            "{label},{},{},{},{},{},{}\n",
            p.baseline,
            p.monthly_requests,
            p.monthly_cost_micro_usd,
            pct(p.savings_tenths),
            p.unpriced_requests,
            total_api(p)
        );
        if p.by_api.len() > 1 {
            for part in &p.by_api {
                out += &format!(
                    "{label},{},{},{},{},{},{}\n",
                    p.baseline,
                    part.monthly_requests,
                    part.monthly_cost_micro_usd,
                    pct(part.savings_tenths),
                    part.unpriced_requests,
                    part.api.label()
                );
            }
        }
    }
    out
}

/// JSON document with integer micro-USD and exact `$` strings.
pub fn render_json(traffic: &Traffic, table: &PriceTable, projections: &[Projection]) -> Value {
    json!({
        "traffic": describe(traffic),
        "price_version": table.version(),
        "strategies": projections.iter().map(|p| json!({
            "strategy": p.strategy.label(),
            "baseline": p.baseline,
            "monthly_requests": p.monthly_requests,
            "monthly_cost_micro_usd": p.monthly_cost_micro_usd,
            "monthly_cost_usd": format_usd(p.monthly_cost_micro_usd),
            "savings_pct": tenths_json(p.savings_tenths),
            "unpriced_requests": p.unpriced_requests,
            "routed_models": p.routed_models,
            "api": total_api(p),
            "by_api": p.by_api.iter().map(|part| json!({
                "api": part.api,
                "monthly_requests": part.monthly_requests,
                "monthly_cost_micro_usd": part.monthly_cost_micro_usd,
                "monthly_cost_usd": format_usd(part.monthly_cost_micro_usd),
                "savings_pct": tenths_json(part.savings_tenths),
                "unpriced_requests": part.unpriced_requests,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
