//! Rendering of a [`QualityReport`]: text table and JSON. Shares are printed as percentages with
//! one decimal, APGR and CPT with three decimals; money as exact `$` amounts (integer micro-USD
//! in JSON). A value that is undefined (no judged record, no priced pair, no loss) is `-` / null.

use serde_json::{json, Value};

use super::{QualityReport, Tally};
use crate::money::{format_signed_usd, format_usd};
use crate::report::{align, Format};

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn ci(v: Option<(f64, f64)>) -> String {
    v.map_or_else(|| "-".into(), |(lo, hi)| format!("{:.1}-{:.1}%", 100.0 * lo, 100.0 * hi))
}

fn three(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

fn money(t: &Tally, micro: u64) -> String {
    if t.priced_pairs == 0 {
        "-".into()
    } else {
        format_usd(micro)
    }
}

fn cells(t: &Tally) -> Vec<String> {
    let apgr = t.apgr_cpt50();
    vec![
        t.samples.to_string(),
        t.reference_failed.to_string(),
        t.not_judged.to_string(),
        t.judge_errors.to_string(),
        t.judged().to_string(),
        t.win.to_string(),
        t.tie.to_string(),
        t.loss.to_string(),
        pct(t.quality_gap()),
        ci(t.quality_gap_ci95()),
        pct(t.net_gap()),
        t.priced_pairs.to_string(),
        money(t, t.routed_cost_micro_usd),
        money(t, t.reference_cost_micro_usd),
        t.saved_micro_usd().map_or_else(|| "-".into(), format_signed_usd),
        t.saved_per_1k_per_point_micro_usd().map_or_else(|| "-".into(), format_signed_usd),
        t.scored().to_string(),
        three(apgr.map(|a| a.0)),
        three(apgr.map(|a| a.1)),
    ]
}

const HEADER: [&str; 22] = [
    "route",
    "tier",
    "model",
    "samples",
    "ref failed",
    "not judged",
    "judge err",
    "judged",
    "win",
    "tie",
    "loss",
    "gap",
    "gap 95% CI",
    "net gap",
    "priced",
    "routed cost",
    "ref cost",
    "saved",
    "saved/1k req/pt",
    "scored",
    "APGR",
    "CPT50",
];

fn micro_json(v: Option<i128>) -> Value {
    v.and_then(|m| i64::try_from(m).ok()).map_or(Value::Null, |m| json!(m))
}

fn tally_json(t: &Tally) -> Value {
    let apgr = t.apgr_cpt50();
    let priced = |m: u64| if t.priced_pairs == 0 { Value::Null } else { json!(m) };
    json!({
        "samples": t.samples,
        "reference_failed": t.reference_failed,
        "not_judged": t.not_judged,
        "judge_errors": t.judge_errors,
        "judged": t.judged(),
        "win": t.win,
        "tie": t.tie,
        "loss": t.loss,
        "quality_gap": t.quality_gap(),
        "quality_gap_ci95": t.quality_gap_ci95().map(|(lo, hi)| [lo, hi]),
        "net_gap": t.net_gap(),
        "priced_pairs": t.priced_pairs,
        "routed_cost_micro_usd": priced(t.routed_cost_micro_usd),
        "reference_cost_micro_usd": priced(t.reference_cost_micro_usd),
        "saved_micro_usd": micro_json(t.saved_micro_usd()),
        "saved_per_1k_requests_per_point_micro_usd": micro_json(t.saved_per_1k_per_point_micro_usd()),
        "scored": t.scored(),
        "apgr": apgr.map(|a| a.0),
        "cpt50": apgr.map(|a| a.1),
        "pgr_curve": t.pgr_curve().map(|c| c.iter().map(|(x, y)| [*x, *y]).collect::<Vec<_>>()),
    })
}

impl QualityReport {
    /// Render as a table or JSON (CSV is refused by the CLI).
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => self.to_json().to_string() + "\n",
            Format::Table | Format::Csv => self.render_table(),
        }
    }

    fn render_table(&self) -> String {
        let mut out = format!(
            "llm-router report --quality: {} lines, {} records; skipped: {} invalid, {} duplicate id, {} outside window or other api\n",
            self.lines, self.total.samples, self.invalid, self.duplicates, self.filtered
        );
        out += "gap = losses / judged (95% Wilson interval); net gap = (losses - wins) / judged; costs over records with both answers priced; saved/1k req/pt = saved per 1,000 requests per point of gap; APGR/CPT50 = the router's score finding the losses (docs/quality.md)\n\n";
        let mut rows: Vec<Vec<String>> = self
            .rows()
            .into_iter()
            .map(|((route, tier, model), t)| {
                let mut row = vec![route.clone(), tier.clone(), model.clone()];
                row.extend(cells(t));
                row
            })
            .collect();
        let mut total = vec!["(all)".to_string(), String::new(), String::new()];
        total.extend(cells(&self.total));
        rows.push(total);
        out += &align(&HEADER, &rows);
        if let Some(line) = self.position_line() {
            out += &line;
        }
        out
    }

    fn position_line(&self) -> Option<String> {
        let [a, b] = self.position;
        (a.judged + b.judged > 0).then(|| {
            let gap = |p: super::PositionTally| pct(super::ratio(p.loss, p.judged));
            format!(
                "\nposition check (judge-model verdicts): gap {} with the routed answer shown first (n {}), {} shown second (n {}); a large difference means the judge prefers a slot\n",
                gap(a),
                a.judged,
                gap(b),
                b.judged
            )
        })
    }

    /// The whole report as JSON.
    pub fn to_json(&self) -> Value {
        let groups: Vec<Value> = self
            .rows()
            .into_iter()
            .map(|((route, tier, model), t)| {
                let mut v = tally_json(t);
                if let Some(o) = v.as_object_mut() {
                    o.insert("route".into(), json!(route));
                    o.insert("tier".into(), json!(tier));
                    o.insert("model".into(), json!(model));
                }
                v
            })
            .collect();
        json!({
            "lines": self.lines,
            "records": self.total.samples,
            "skipped": {"invalid": self.invalid, "duplicate": self.duplicates, "filtered": self.filtered},
            "invalid_examples": self.invalid_examples.iter().map(|(n, m)| json!({"line": n, "error": m})).collect::<Vec<_>>(),
            "groups": groups,
            "total": tally_json(&self.total),
            "position_check": self.position.iter().zip(["routed_first", "routed_second"]).map(|(p, slot)| {
                json!({"slot": slot, "judged": p.judged, "loss": p.loss, "quality_gap": super::ratio(p.loss, p.judged)})
            }).collect::<Vec<_>>(),
        })
    }
}
