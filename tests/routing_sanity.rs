//! Routing sanity (issue #10, "Routing quality"): a guard every shipped model must pass.
//!
//! `tests/data/routing_sanity.jsonl` holds hand-written prompts, each obviously easy (greeting,
//! one-fact lookup, translating a sentence, extracting a field...) or obviously hard (proof,
//! competition math, distributed-system design, concurrency bug hunt...). They were written for
//! this test, are not taken from a benchmark and must never be trained on: they measure whether
//! the model learnt "how hard is this request" rather than the quirks of its training sources.
//! The set is deliberately not separable by length (short hard prompts, long pasted easy ones).
//!
//! Scores come from exactly what the CLI's `score` runs and the filter embeds: a [`Router`]
//! built from the default configuration, hence the embedded model, the configured
//! `max_inspect_chars` and the real policy. Whatever model ships is the one tested.
// The whole crate is test code, helpers included, so clippy.toml's allow-*-in-tests covers it.
// Two attributes, not `cfg(all(test, ...))`: clippy recognises test code by a plain `cfg(test)`.
#![cfg(test)]
#![cfg(feature = "tract")]

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use llm_router::config::DEFAULT_CONFIG_JSON;
use llm_router::policy::Decision;
use llm_router::request::parse;
use llm_router::router::Router;

/// Compiled in, so editing the set rebuilds the test.
const SANITY_SET: &str = include_str!("data/routing_sanity.jsonl");

/// Least share of (hard, easy) pairs the shipped model must order correctly.
const MIN_PAIR_SHARE: f64 = 0.90;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum Difficulty {
    Easy,
    Hard,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    kind: String,
    difficulty: Difficulty,
    request: serde_json::Value,
}

struct Scored {
    row: Row,
    score: f32,
    tier: usize,
}

/// The router the CLI builds without `--config`: default configuration, embedded model.
fn shipped_router() -> Router {
    Router::from_json(DEFAULT_CONFIG_JSON.as_bytes()).expect("the default configuration and the embedded model load")
}

/// Parse a request body as the filter does and decide with the given (rule) headers.
fn decide(router: &Router, body: &[u8], headers: Vec<(String, String)>) -> Decision {
    let req = parse(body).unwrap();
    router.decide(&req, headers)
}

fn load_set() -> Vec<Row> {
    let rows: Vec<Row> = SANITY_SET
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("routing_sanity.jsonl line {}: {e}", i + 1)))
        .collect();
    assert!(rows.len() >= 200, "the sanity set needs at least 200 prompts, has {}", rows.len());
    let mut ids = HashSet::new();
    let mut kinds: BTreeMap<&str, Difficulty> = BTreeMap::new();
    for r in &rows {
        assert!(ids.insert(r.id.as_str()), "duplicate id {}", r.id);
        assert!(
            r.id.strip_prefix(&format!("{}/", r.kind)).is_some_and(|n| n.parse::<u32>().is_ok()),
            "id {} is not <kind>/<n>",
            r.id
        );
        // A kind is one sort of task, so it is all easy or all hard.
        let d = *kinds.entry(r.kind.as_str()).or_insert(r.difficulty);
        assert_eq!(d, r.difficulty, "kind {} mixes difficulties ({})", r.kind, r.id);
        assert_eq!(r.request["model"], "auto", "{}: the set is about routed requests", r.id);
        let last =
            r.request["messages"].as_array().and_then(|m| m.last()).unwrap_or_else(|| panic!("{}: no messages", r.id));
        assert_eq!(last["role"], "user", "{}: the last message must be the user's request", r.id);
    }
    assert!(kinds.len() >= 10, "the sanity set needs at least 10 kinds, has {}", kinds.len());
    for d in [Difficulty::Easy, Difficulty::Hard] {
        let n = rows.iter().filter(|r| r.difficulty == d).count();
        assert!(n * 4 >= rows.len(), "{d:?} prompts are {n} of {}: the set must be roughly balanced", rows.len());
    }
    rows
}

fn score_set(router: &Router, rows: Vec<Row>) -> Vec<Scored> {
    rows.into_iter()
        .map(|row| {
            let body = serde_json::to_vec(&row.request).unwrap();
            let d = decide(router, &body, Vec::new());
            // No rule may decide these prompts (no tools, nowhere near the long-context rule):
            // the set measures the classifier, whose score is what picks their tier.
            assert_eq!(d.reason, "score", "{}: routed by {} instead of the classifier", row.id, d.reason);
            let score = d.score.unwrap_or_else(|| panic!("{}: no score", row.id));
            Scored { row, score, tier: d.tier }
        })
        .collect()
}

/// 1 when the hard prompt scores above the easy one, 1/2 on a tie, else 0.
fn pair_credit(hard: f32, easy: f32) -> f64 {
    match hard.partial_cmp(&easy) {
        Some(Ordering::Greater) => 1.0,
        Some(Ordering::Equal) => 0.5,
        _ => 0.0,
    }
}

/// The request's last message, on one line and cut, to show in diagnostics.
fn snippet(row: &Row) -> String {
    let text =
        row.request["messages"].as_array().and_then(|m| m.last()).and_then(|m| m["content"].as_str()).unwrap_or("");
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = flat.chars().take(70).collect();
    if cut.len() < flat.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

#[test]
fn shipped_model_orders_hard_above_easy() {
    let router = shipped_router();
    let scored = score_set(&router, load_set());
    let hard: Vec<&Scored> = scored.iter().filter(|s| s.row.difficulty == Difficulty::Hard).collect();
    let easy: Vec<&Scored> = scored.iter().filter(|s| s.row.difficulty == Difficulty::Easy).collect();

    let mut credit = 0.0;
    // Per kind: its prompts' scores and the credit of its pairs with the other difficulty.
    let mut by_kind: BTreeMap<&str, (Difficulty, Vec<f32>, f64, usize)> = BTreeMap::new();
    let mut pairs: Vec<(f32, &Scored, &Scored)> = Vec::with_capacity(hard.len() * easy.len());
    for h in &hard {
        for e in &easy {
            let c = pair_credit(h.score, e.score);
            credit += c;
            for s in [h, e] {
                let k = by_kind.entry(s.row.kind.as_str()).or_insert((s.row.difficulty, Vec::new(), 0.0, 0));
                k.2 += c;
                k.3 += 1;
            }
            pairs.push((e.score - h.score, h, e));
        }
    }
    for s in &scored {
        if let Some(k) = by_kind.get_mut(s.row.kind.as_str()) {
            k.1.push(s.score);
        }
    }
    let share = credit / pairs.len() as f64;

    eprintln!(
        "routing sanity: {} prompts ({} hard, {} easy, {} kinds), classifier {}",
        scored.len(),
        hard.len(),
        easy.len(),
        by_kind.len(),
        router.classifier_name()
    );
    eprintln!("share of (hard, easy) pairs ordered correctly: {share:.4} (minimum {MIN_PAIR_SHARE})");
    eprintln!("{:<22} {:<5} {:>3} {:>7} {:>7} {:>7} {:>11}", "kind", "diff", "n", "mean", "min", "max", "pair share");
    let mut kinds: Vec<_> = by_kind.iter().collect();
    kinds.sort_by(|a, b| {
        let mean = |v: &Vec<f32>| v.iter().sum::<f32>() / v.len() as f32;
        mean(&b.1 .1).total_cmp(&mean(&a.1 .1))
    });
    for (kind, (d, scores, c, n)) in kinds {
        let mean = scores.iter().sum::<f32>() / scores.len() as f32;
        let min = scores.iter().copied().fold(f32::INFINITY, f32::min);
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let d = if *d == Difficulty::Hard { "hard" } else { "easy" };
        eprintln!("{kind:<22} {d:<5} {:>3} {mean:>7.4} {min:>7.4} {max:>7.4} {:>11.3}", scores.len(), c / *n as f64);
    }
    // Where the default thresholds send each difficulty (informative, not asserted).
    let names: Vec<&str> = router.config.tiers.iter().map(|t| t.name.as_str()).collect();
    for (label, group) in [("hard", &hard), ("easy", &easy)] {
        let counts: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name} {}", group.iter().filter(|s| s.tier == i).count()))
            .collect();
        eprintln!("{label} prompts by tier (thresholds {:?}): {}", router.config.thresholds, counts.join(", "));
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    eprintln!("worst-ordered pairs (easy score - hard score):");
    for (margin, h, e) in pairs.iter().take(10) {
        eprintln!("  {margin:+.4}  hard {} {:.4} \"{}\"", h.row.id, h.score, snippet(&h.row));
        eprintln!("           easy {} {:.4} \"{}\"", e.row.id, e.score, snippet(&e.row));
    }

    assert!(
        share >= MIN_PAIR_SHARE,
        "the shipped model orders {share:.4} of (hard, easy) pairs correctly, below {MIN_PAIR_SHARE} (details above)"
    );
}

/// The demo script, compiled in: the test reads the demo's prompt from it, so the two cannot drift.
const DEMO_TRAFFIC: &str = include_str!("../scripts/demo_traffic.py");

/// `HARD_PROOF` of `scripts/demo_traffic.py`, the demo's "hard math proof + code" prompt.
fn demo_hard_proof() -> &'static str {
    const OPEN: &str = "HARD_PROOF = r\"\"\"";
    let start = DEMO_TRAFFIC.find(OPEN).expect("scripts/demo_traffic.py defines HARD_PROOF = r\"\"\"...") + OPEN.len();
    let rest = &DEMO_TRAFFIC[start..];
    &rest[..rest.find("\"\"\"").expect("HARD_PROOF's closing quotes")]
}

/// The headers the demo sends with that case (`scripts/demo_traffic.py`, `run_case`).
const DEMO_HARD_PROOF_HEADERS: [(&str, &str); 2] = [("x-test-completion-tokens", "1500"), ("x-customer-id", "initech")];

#[test]
fn demo_case_sends_the_prompt_and_headers_used_here() {
    assert!(demo_hard_proof().starts_with("Prove rigorously that for every prime p > 3"), "{}", demo_hard_proof());
    assert!(DEMO_TRAFFIC
        .contains(r#"Case("hard math proof + code", "auto", HARD_PROOF, 1500, {"x-customer-id": "initech"})"#));
}

#[test]
fn demo_hard_proof_goes_to_the_top_tier_and_a_greeting_to_the_cheapest() {
    let router = shipped_router();
    let top = router.config.tiers.len() - 1;
    assert_eq!(router.config.tiers[top].name, "frontier");

    // The body the OpenAI client sends for that case, and the headers the filter hands the
    // policy: only those the rules read, as `flow.rs` collects them.
    let body = serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": demo_hard_proof()}]});
    let headers: Vec<(String, String)> = router
        .rule_headers()
        .iter()
        .filter_map(|n| DEMO_HARD_PROOF_HEADERS.iter().find(|(k, _)| k == n).map(|(_, v)| (n.clone(), v.to_string())))
        .collect();
    let proof = decide(&router, &serde_json::to_vec(&body).unwrap(), headers);
    let hi = serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]});
    let hi = decide(&router, &serde_json::to_vec(&hi).unwrap(), Vec::new());
    // Both decisions are shown before either is checked, so one failure does not hide the other.
    eprintln!("thresholds {:?}", router.config.thresholds);
    eprintln!("demo hard proof + code: {proof:?}");
    eprintln!("\"hi\": {hi:?}");

    // The classifier, not a rule, must make both calls.
    assert_eq!(proof.reason, "score", "{proof:?}");
    assert_eq!(hi.reason, "score", "{hi:?}");
    assert_eq!(
        proof.tier, top,
        "the demo's hard proof + code request went to `{}` (score {:?}), not `{}`",
        router.config.tiers[proof.tier].name, proof.score, router.config.tiers[top].name
    );
    assert_eq!(
        hi.tier, 0,
        "\"hi\" went to `{}` (score {:?}), not the cheapest tier",
        router.config.tiers[hi.tier].name, hi.score
    );
}
