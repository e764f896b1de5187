//! `llm-router report --quality FILE`: what routing did to quality, per route x tier x routed
//! model, from judged sample records (the output of `llm-router judge`; plain sample records
//! count as samples not judged yet). Every column is defined in docs/quality.md; in short:
//!
//! - `judged` = records with a verdict (win, tie or loss from the routed answer's view);
//! - quality gap = losses / judged, with a 95% Wilson score interval; net gap =
//!   (losses - wins) / judged (wins offset losses);
//! - costs sum `cost_micro_usd` of the records where both answers are priced (like with like,
//!   the report's money rule), `saved` = reference - routed; saved per 1k requests per point of
//!   quality lost = (saved / priced records x 1000) / (100 x quality gap), one rounding;
//! - production APGR and CPT(50%): the judged records with a score, ordered by the router's
//!   score (highest first); sending the top share x of them to the reference tier recovers the
//!   losses among them; PGR(x) = losses recovered / all losses (ties in score count in
//!   expectation, the curve is linear inside a block of equal scores, as in
//!   scripts/train/common.py `quality_curve`); APGR = the area under PGR(x) for x in 0..1
//!   (0.5 = no better than random, 1 = every loss first); CPT(50%) = the smallest x with
//!   PGR(x) >= 0.5. Undefined (`-`, null) without a scored loss.
//!
//! Bad lines are skipped and counted with their line numbers; a record id seen before is
//! skipped as a duplicate (a resumed or concatenated file), never counted twice.

use std::collections::{BTreeMap, HashSet};

use crate::sample::{read_judged, Judgement, Sample, Verdict};

/// z of a two-sided 95% interval.
const Z95: f64 = 1.959_963_984_540_054;

/// Which records count.
#[derive(Debug, Clone, Default)]
pub struct QualityOptions {
    /// Keep records at or after this instant (Unix nanoseconds, the record's `time`).
    pub since: Option<i64>,
    /// Keep records before this instant.
    pub until: Option<i64>,
    /// Keep only this API label.
    pub api: Option<String>,
}

/// Counts and sums of one group (or of all records).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Sample records.
    pub samples: u64,
    /// Records whose reference answer failed (no comparison possible).
    pub reference_failed: u64,
    /// Records with a successful reference and no judgement yet.
    pub not_judged: u64,
    /// Records with a successful reference whose judgement has no verdict (judge failure).
    pub judge_errors: u64,
    /// Verdicts.
    pub win: u64,
    /// Verdicts.
    pub tie: u64,
    /// Verdicts.
    pub loss: u64,
    /// Records where both answers are priced.
    pub priced_pairs: u64,
    /// Routed cost of the priced pairs, micro-USD.
    pub routed_cost_micro_usd: u64,
    /// Reference cost of the priced pairs, micro-USD.
    pub reference_cost_micro_usd: u64,
    /// (score, was a loss) of the judged records with a score.
    scored: Vec<(f64, bool)>,
}

impl Tally {
    fn add(&mut self, s: &Sample, j: Option<&Judgement>) {
        self.samples += 1;
        if let (Some(r), Some(f)) = (s.routed.cost_micro_usd, s.reference.cost_micro_usd) {
            self.priced_pairs += 1;
            self.routed_cost_micro_usd = self.routed_cost_micro_usd.saturating_add(r);
            self.reference_cost_micro_usd = self.reference_cost_micro_usd.saturating_add(f);
        }
        if !s.reference.succeeded() {
            self.reference_failed += 1;
            return;
        }
        let verdict = match j {
            None => {
                self.not_judged += 1;
                return;
            }
            Some(Judgement { verdict: None, .. }) => {
                self.judge_errors += 1;
                return;
            }
            Some(Judgement { verdict: Some(v), .. }) => *v,
        };
        match verdict {
            Verdict::Win => self.win += 1,
            Verdict::Tie => self.tie += 1,
            Verdict::Loss => self.loss += 1,
        }
        if let Some(score) = s.score {
            self.scored.push((score, verdict == Verdict::Loss));
        }
    }

    /// Records with a verdict.
    pub fn judged(&self) -> u64 {
        self.win + self.tie + self.loss
    }

    /// Judged records with a score (the APGR's population).
    pub fn scored(&self) -> u64 {
        self.scored.len() as u64
    }

    /// Losses / judged.
    pub fn quality_gap(&self) -> Option<f64> {
        ratio(self.loss, self.judged())
    }

    /// The 95% Wilson score interval of [`Tally::quality_gap`].
    pub fn quality_gap_ci95(&self) -> Option<(f64, f64)> {
        wilson(self.loss, self.judged(), Z95)
    }

    /// (losses - wins) / judged.
    pub fn net_gap(&self) -> Option<f64> {
        let n = self.judged();
        (n > 0).then(|| (self.loss as f64 - self.win as f64) / n as f64)
    }

    /// Reference cost - routed cost of the priced pairs, micro-USD (negative: routing cost more).
    pub fn saved_micro_usd(&self) -> Option<i128> {
        (self.priced_pairs > 0)
            .then(|| i128::from(self.reference_cost_micro_usd) - i128::from(self.routed_cost_micro_usd))
    }

    /// Saved per 1,000 requests per percentage point of quality gap, micro-USD:
    /// `saved x 1000 / priced_pairs / (100 x loss / judged)` = `saved x 10 x judged / (priced_pairs x loss)`,
    /// rounded half away from zero once. `None` without priced pairs or without a loss.
    pub fn saved_per_1k_per_point_micro_usd(&self) -> Option<i128> {
        let saved = self.saved_micro_usd()?;
        let num = saved.checked_mul(10)?.checked_mul(i128::from(self.judged()))?;
        let den = i128::from(self.priced_pairs).checked_mul(i128::from(self.loss))?;
        div_round(num, den)
    }

    /// Production APGR and CPT(50%) of the router's score on the judged records.
    pub fn apgr_cpt50(&self) -> Option<(f64, f64)> {
        apgr_cpt50(&self.scored)
    }

    /// The production PGR curve: (share sent to the reference, PGR) at the block boundaries.
    pub fn pgr_curve(&self) -> Option<Vec<(f64, f64)>> {
        pgr_curve(&self.scored)
    }
}

fn ratio(k: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| k as f64 / n as f64)
}

fn div_round(num: i128, den: i128) -> Option<i128> {
    if den == 0 {
        return None;
    }
    let (q, r) = (num / den, num % den);
    Some(if r.checked_mul(2)?.abs() >= den.abs() { q + if (num < 0) == (den < 0) { 1 } else { -1 } } else { q })
}

/// The Wilson score interval of `k` successes in `n` trials at `z`.
pub fn wilson(k: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}

/// (share, PGR) at the boundaries of blocks of equal scores, highest score first, from 0 to 1.
fn pgr_curve(scored: &[(f64, bool)]) -> Option<Vec<(f64, f64)>> {
    let losses = scored.iter().filter(|(_, l)| *l).count();
    if losses == 0 {
        return None;
    }
    let mut sorted = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let n = sorted.len() as f64;
    let mut points = vec![(0.0, 0.0)];
    let mut recovered = 0usize;
    for (i, (score, loss)) in sorted.iter().enumerate() {
        recovered += usize::from(*loss);
        let block_ends = sorted.get(i + 1).is_none_or(|next| next.0 != *score);
        if block_ends {
            points.push(((i + 1) as f64 / n, recovered as f64 / losses as f64));
        }
    }
    Some(points)
}

/// Production APGR (trapezoid area under the PGR curve) and CPT(50%) (linear interpolation to
/// the first share where PGR reaches 0.5).
pub fn apgr_cpt50(scored: &[(f64, bool)]) -> Option<(f64, f64)> {
    let points = pgr_curve(scored)?;
    let mut area = 0.0;
    let mut cpt = None;
    for pair in points.windows(2) {
        let [(x0, y0), (x1, y1)] = pair else { continue };
        area += (x1 - x0) * (y0 + y1) / 2.0;
        if cpt.is_none() && *y1 >= 0.5 {
            let t = if y1 == y0 { 0.0 } else { (0.5 - y0) / (y1 - y0) };
            cpt = Some(x0 + t.max(0.0) * (x1 - x0));
        }
    }
    Some((area, cpt.unwrap_or(1.0)))
}

/// Group key: (route, tier, routed model).
pub type GroupKey = (String, String, String);

/// The quality report being built, line by line.
#[derive(Debug, Clone, Default)]
pub struct QualityReport {
    options: QualityOptions,
    /// Lines read (blank lines excluded).
    pub lines: u64,
    /// Lines that are not valid records.
    pub invalid: u64,
    /// Records whose id was seen before.
    pub duplicates: u64,
    /// Records outside `--since` / `--until` or of another API.
    pub filtered: u64,
    /// The first invalid lines: (line number, message), at most 10.
    pub invalid_examples: Vec<(u64, String)>,
    /// All counted records.
    pub total: Tally,
    groups: BTreeMap<GroupKey, Tally>,
    ids: HashSet<String>,
    /// Position check of the judge-model verdicts: [routed shown as A, routed shown as B].
    pub position: [PositionTally; 2],
}

/// Verdicts of a judge model by the slot the routed answer was shown in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PositionTally {
    /// Judged records.
    pub judged: u64,
    /// Of which losses.
    pub loss: u64,
}

impl QualityReport {
    /// An empty report.
    pub fn new(options: QualityOptions) -> QualityReport {
        QualityReport { options, ..QualityReport::default() }
    }

    /// Read one line of judged (or plain) sample records.
    pub fn add_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        self.lines += 1;
        let (sample, judgement) = match read_judged(line) {
            Ok(r) => r,
            Err(e) => {
                self.invalid += 1;
                if self.invalid_examples.len() < 10 {
                    self.invalid_examples.push((self.lines, e.to_string()));
                }
                return;
            }
        };
        let t = sample.time_unix_nanos;
        let outside = self.options.since.is_some_and(|s| t < s) || self.options.until.is_some_and(|u| t >= u);
        if outside || self.options.api.as_ref().is_some_and(|a| a != sample.api.label()) {
            self.filtered += 1;
            return;
        }
        if !self.ids.insert(sample.id.clone()) {
            self.duplicates += 1;
            return;
        }
        self.total.add(&sample, judgement.as_ref());
        // The swap cancels a judge's slot preference only on average: the two halves' gaps
        // should agree within their noise; a large difference means a biased judge.
        if let Some(j @ Judgement { verdict: Some(v), .. }) = &judgement {
            if j.judge != "heuristic" {
                if let Some(slot) = self.position.get_mut(usize::from(j.swapped)) {
                    slot.judged += 1;
                    slot.loss += u64::from(*v == Verdict::Loss);
                }
            }
        }
        let key = (sample.route.clone(), sample.tier.clone(), sample.routed.model.clone());
        self.groups.entry(key).or_default().add(&sample, judgement.as_ref());
    }

    /// Groups, most samples first (then by key).
    pub fn rows(&self) -> Vec<(&GroupKey, &Tally)> {
        let mut rows: Vec<(&GroupKey, &Tally)> = self.groups.iter().collect();
        rows.sort_by(|a, b| b.1.samples.cmp(&a.1.samples).then(a.0.cmp(b.0)));
        rows
    }
}

#[path = "report_quality_render.rs"]
mod render;

#[cfg(test)]
#[path = "report_quality_tests.rs"]
mod tests;
