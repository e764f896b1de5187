//! `report --quality` on tests/data/quality_judged.jsonl, every expected value worked out by
//! hand below from the fixture's records:
//!
//! ```text
//! id   route    tier   model   score verdict        routed ref cost  note
//! a1   chat     cheap  small   0.9   loss           100    1000
//! a2   chat     cheap  small   0.8   tie            100    1000
//! a3   chat     cheap  small   0.7   loss           100    1000
//! a4   chat     cheap  small   0.6   win            100    1000
//! a5   chat     cheap  small   0.5   tie            100    1000
//! a6   chat     cheap  small   0.4   tie            null   1000      not a priced pair
//! a7   chat     cheap  small   0.3   tie            100    1000
//! a8   chat     cheap  small   null  loss           100    1000      judged, not scored
//! a9   chat     cheap  small   0.35  (null)         100    null      reference failed (timeout)
//! a10  chat     cheap  small   0.45  null + error   100    1000      judge error
//! a11  chat     cheap  small   0.55  (none)         100    1000      not judged
//! b1   chat     mid    medium  0.5   loss           300    1000
//! b2   chat     mid    medium  0.5   tie            300    1000
//! b3   chat     mid    medium  0.2   win            300    1000
//! b4   chat     mid    medium  0.2   loss           300    1000
//! c1   support  cheap  small   0.1   tie            500    400       routing cost more
//! + a line that is not json, a version-2 record (invalid) and a1 again (duplicate id): 19 lines.
//! ```

use super::*;
use crate::report::Format;

fn fixture() -> QualityReport {
    let mut r = QualityReport::new(QualityOptions::default());
    for line in include_str!("../tests/data/quality_judged.jsonl").lines() {
        r.add_line(line);
    }
    r
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn group<'a>(r: &'a QualityReport, route: &str, tier: &str) -> &'a Tally {
    r.rows().into_iter().find(|(k, _)| k.0 == route && k.1 == tier).map(|(_, t)| t).unwrap()
}

#[test]
fn counts_skips_and_duplicates() {
    let r = fixture();
    assert_eq!((r.lines, r.invalid, r.duplicates, r.filtered), (19, 2, 1, 0));
    assert_eq!(r.invalid_examples[0].0, 4);
    assert!(r.invalid_examples[0].1.starts_with("not json"));
    assert_eq!(r.invalid_examples[1], (11, "unsupported record version 2 (this reader knows version 1)".into()));
    let keys: Vec<_> = r.rows().into_iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys[0], ("chat".into(), "cheap".into(), "small".into()));
    assert_eq!(keys.len(), 3);
}

#[test]
fn group_chat_cheap_by_hand() {
    let r = fixture();
    let a = group(&r, "chat", "cheap");
    // 11 records: a9 reference failed, a11 not judged, a10 judge error; judged a1..a8 = 8:
    // win a4; tie a2 a5 a6 a7; loss a1 a3 a8.
    assert_eq!((a.samples, a.reference_failed, a.not_judged, a.judge_errors), (11, 1, 1, 1));
    assert_eq!((a.judged(), a.win, a.tie, a.loss), (8, 1, 4, 3));
    // gap 3/8; net (3 - 1)/8.
    close(a.quality_gap().unwrap(), 0.375);
    close(a.net_gap().unwrap(), 0.25);
    // Wilson, n 8, p 0.375, z 1.96 (z^2 = 3.8415): centre (0.375 + 3.8415/16) / (1 + 3.8415/8)
    // = 0.61509 / 1.48018 = 0.41555; half 1.96 sqrt(0.375 x 0.625/8 + 3.8415/256) / 1.48018
    // = 1.96 x 0.21048 / 1.48018 = 0.27871: 0.1368 .. 0.6943.
    let (lo, hi) = a.quality_gap_ci95().unwrap();
    assert!((lo - 0.1368).abs() < 1e-4 && (hi - 0.6943).abs() < 1e-4, "{lo} {hi}");
    // Priced pairs: all but a6 (routed unpriced) and a9 (reference failed) = 9; 9 x 100 vs 9 x 1000.
    assert_eq!((a.priced_pairs, a.routed_cost_micro_usd, a.reference_cost_micro_usd), (9, 900, 9000));
    assert_eq!(a.saved_micro_usd(), Some(8100));
    // 8100 / 9 = 900 micro-USD saved per request = $0.90 per 1k requests, over 37.5 points:
    // $0.024 = 24,000 micro-USD per point (8100 x 10 x 8 / (9 x 3) = 24,000 exactly).
    assert_eq!(a.saved_per_1k_per_point_micro_usd(), Some(24_000));
    // Scored judged records a1..a7 (a8 has no score) = 7, losses a1 (0.9) and a3 (0.7):
    // PGR points (0,0) (1/7,.5) (2/7,.5) (3/7,1) then 1 to share 1. Area =
    // (0.25 + 0.5 + 0.75 + 4 x 1) / 7 = 5.5/7; PGR reaches 0.5 at share 1/7.
    assert_eq!(a.scored(), 7);
    let (apgr, cpt) = a.apgr_cpt50().unwrap();
    close(apgr, 5.5 / 7.0);
    close(cpt, 1.0 / 7.0);
}

#[test]
fn tied_scores_count_in_expectation() {
    let r = fixture();
    let b = group(&r, "chat", "mid");
    assert_eq!((b.judged(), b.win, b.tie, b.loss), (4, 1, 1, 2));
    close(b.quality_gap().unwrap(), 0.5);
    close(b.net_gap().unwrap(), 0.25);
    // 2800 saved over 4 pairs = 700 per request = $0.70 per 1k, over 50 points: $0.014.
    assert_eq!(b.saved_micro_usd(), Some(2800));
    assert_eq!(b.saved_per_1k_per_point_micro_usd(), Some(14_000));
    // Blocks {0.5: loss, tie} and {0.2: win, loss}: points (0,0) (0.5,0.5) (1,1): a straight
    // line, APGR 0.5 (the score does no better than random), CPT50 0.5.
    let (apgr, cpt) = b.apgr_cpt50().unwrap();
    close(apgr, 0.5);
    close(cpt, 0.5);
}

#[test]
fn no_loss_no_ratio_and_negative_savings() {
    let r = fixture();
    let c = group(&r, "support", "cheap");
    close(c.quality_gap().unwrap(), 0.0);
    // Wilson for 0 of 1: centre (0 + 3.8415/2) / 4.8415 = 0.39672 = half: 0 .. 0.7935.
    let (lo, hi) = c.quality_gap_ci95().unwrap();
    close(lo, 0.0);
    assert!((hi - 0.7935).abs() < 1e-4, "{hi}");
    assert_eq!(c.saved_micro_usd(), Some(-100));
    assert_eq!(c.saved_per_1k_per_point_micro_usd(), None);
    assert_eq!(c.apgr_cpt50(), None);
}

#[test]
fn the_total_pools_every_group() {
    let t = fixture().total;
    assert_eq!((t.samples, t.reference_failed, t.not_judged, t.judge_errors), (16, 1, 1, 1));
    assert_eq!((t.judged(), t.win, t.tie, t.loss), (13, 2, 6, 5));
    assert_eq!((t.priced_pairs, t.routed_cost_micro_usd, t.reference_cost_micro_usd), (14, 2600, 13_400));
    // 10,800 x 10 x 13 / (14 x 5) = 1,404,000 / 70 = 20,057.14 -> 20,057.
    assert_eq!(t.saved_per_1k_per_point_micro_usd(), Some(20_057));
    // 12 scored, losses at 0.9, 0.7, in the 0.5 block of 3 (a5, b1, b2) and the 0.2 block of 2:
    // points (0,0) (1,.25) (2,.25) (3,.5) (4,.5) (7,.75) (8,.75) (9,.75) (11,1) (12,1) in
    // twelfths; area = (0.125 + 0.25 + 0.375 + 0.5 + 3 x 0.625 + 0.75 + 0.75 + 2 x 0.875 + 1) / 12
    // = 7.375 / 12; PGR reaches 0.5 at 3/12.
    assert_eq!(t.scored(), 12);
    let (apgr, cpt) = t.apgr_cpt50().unwrap();
    close(apgr, 7.375 / 12.0);
    close(cpt, 0.25);
}

#[test]
fn wilson_and_curve_edges() {
    assert_eq!(wilson(0, 0, Z95), None);
    let (lo, hi) = wilson(10, 10, Z95).unwrap();
    close(hi, 1.0);
    assert!(lo > 0.69 && lo < 0.73, "{lo}");
    // The perfect order: every loss first.
    let (apgr, cpt) = apgr_cpt50(&[(0.9, true), (0.1, false), (0.2, false), (0.3, false)]).unwrap();
    close(apgr, 1.0 - 0.5 * 0.25);
    close(cpt, 0.125);
    // All scores equal: the diagonal.
    close(apgr_cpt50(&[(0.5, true), (0.5, false), (0.5, false)]).unwrap().0, 0.5);
}

#[test]
fn filters_by_window_and_api() {
    let mut r = QualityReport::new(QualityOptions { since: Some(i64::MAX), ..QualityOptions::default() });
    let mut other_api =
        QualityReport::new(QualityOptions { api: Some("messages".into()), ..QualityOptions::default() });
    for line in include_str!("../tests/data/quality_judged.jsonl").lines() {
        r.add_line(line);
        other_api.add_line(line);
    }
    assert_eq!((r.filtered, r.total.samples), (17, 0));
    assert_eq!((other_api.filtered, other_api.total.samples), (17, 0));
}

#[test]
fn renders_table_and_json() {
    let r = fixture();
    let table = r.render(Format::Table);
    let row = table.lines().find(|l| l.starts_with("chat ") && l.contains(" mid ")).unwrap();
    assert!(row.contains("50.0%") && row.contains("$0.014") && row.contains("0.500"), "{row}");
    let v = r.to_json();
    assert_eq!(v["records"], 16);
    assert_eq!(v["skipped"]["duplicate"], 1);
    assert_eq!(v["groups"][0]["saved_per_1k_requests_per_point_micro_usd"], 24_000);
    assert_eq!(v["groups"][2]["apgr"], serde_json::Value::Null);
    // chat/mid: blocks {0.5: loss, tie} and {0.2: win, loss}.
    assert_eq!(v["groups"][1]["pgr_curve"], serde_json::json!([[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]));
    assert_eq!(v["total"]["loss"], 5);
}

#[test]
fn the_position_check_splits_judge_model_verdicts_by_slot() {
    let mut r = fixture();
    // The fixture's 13 verdicts are all from "judge-model", routed answer first: 5 losses.
    assert_eq!(r.position, [PositionTally { judged: 13, loss: 5 }, PositionTally::default()]);
    for (id, verdict, judge) in
        [("s1", "loss", "judge-model"), ("s2", "tie", "judge-model"), ("h1", "loss", "heuristic")]
    {
        let mut v = crate::sample::tests::record();
        v["id"] = serde_json::json!(id);
        v["judgement"] =
            serde_json::json!({"verdict": verdict, "judge": judge, "reason": "", "swapped": true, "attempts": 1});
        r.add_line(&v.to_string());
    }
    // The heuristic's verdict does not count: it sees no slots.
    assert_eq!(r.position[1], PositionTally { judged: 2, loss: 1 });
    let table = r.render(Format::Table);
    assert!(table.contains("gap 38.5% with the routed answer shown first (n 13), 50.0% shown second (n 2)"), "{table}");
    assert_eq!(r.to_json()["position_check"][1]["quality_gap"], 0.5);
}
