//! Feature extraction: one implementation for the filter, the CLI and training.
//!
//! A request becomes a fixed-length `f32` vector of [`FEATURE_DIM`] values:
//! [`STRUCTURAL_NAMES`] structural signals (lengths, code, math, question and keyword counts,
//! tools, images...) and, from version 3, task-kind detectors, followed by [`HASH_DIM`] hashed
//! word unigrams and bigrams (FNV-1a 32 over ASCII-lowercased words, `log(1 + count)`,
//! L2-normalised).
//!
//! Task kind (version 3) is what transfers between sources of traffic: which exam question is
//! hard does not show in its words, but whether a request asks for a proof, competition math,
//! code, open-ended writing, a transformation of pasted text or small talk does. Each kind has a
//! word list ([`KIND_WORDS`]); a kind counts in the whole inspected text (`*_words`) and in the
//! *instruction* of the newest message, its first and last [`EDGE_WORDS`] words (`lead_*`):
//! "Summarise this:" before pasted text, or "Prove that ..." at the start.
//!
//! Words are maximal runs of ASCII letters, digits, `_` and any non-ASCII bytes (so words in
//! other scripts hash whole); math symbols counted are ASCII `$ ^ \`.
//!
//! Inspection cap: the features read at most `max_chars` characters of text, taken from the
//! newest message backwards (the last message first). Lengths and token estimates still cover
//! the whole request. Cost is therefore linear in the prompt up to the cap and flat beyond it
//! (parsing the JSON body remains linear in its size).
//!
//! Changing anything here changes the model's input: bump [`FEATURE_VERSION`] and retrain.

pub use crate::keywords::fnv1a_lower;
use crate::keywords::{is_question_word, KINDS, KIND_SHIFT};
use crate::request::{ChatRequest, Role};
use crate::scan::Scanner;

/// Version of the feature definition; models record the version they were trained on.
pub const FEATURE_VERSION: u32 = 3;
/// Number of hashed n-gram buckets.
pub const HASH_DIM: usize = 1024;
/// Names of the structural features, in order.
pub const STRUCTURAL_NAMES: [&str; 59] = [
    "log_chars",
    "log_est_tokens",
    "log_messages",
    "log_user_turns",
    "log_system_chars",
    "log_last_user_chars",
    "code_fences",
    "code_symbol_ratio",
    "math_symbol_ratio",
    "digit_ratio",
    "questions",
    "reasoning_words",
    "hard_words",
    "constraint_words",
    "easy_task_words",
    "has_tools",
    "json_response_format",
    "images",
    "non_ascii_ratio",
    "log_lines",
    "avg_word_len",
    "list_line_ratio",
    "choice_lines",
    "log_max_tokens",
    "uppercase_ratio",
    "log_words",
    "tool_messages",
    "code_words",
    // version 3: task kind (see the module comment)
    "proof_words",
    "math_words",
    "code_task_words",
    "writing_words",
    "advice_words",
    "transform_words",
    "smalltalk_words",
    "fact_words",
    "exam_words",
    "systems_words",
    "domain_words",
    "build_words",
    "closed_answer_words",
    "lead_proof",
    "lead_math",
    "lead_code_task",
    "lead_writing",
    "lead_advice",
    "lead_transform",
    "lead_smalltalk",
    "lead_fact",
    "lead_exam",
    "lead_systems",
    "lead_domain",
    "lead_build",
    "lead_closed_answer",
    "answer_cue",
    "latex_commands",
    "indented_line_ratio",
    "first_line_share",
    "lead_question",
];
/// Number of structural features.
pub const STRUCTURAL_DIM: usize = STRUCTURAL_NAMES.len();
// The 28 version-1 values, then per kind a count and an instruction flag, then 5 more
// (`extract_with` fills them in this order).
const _: () = assert!(STRUCTURAL_DIM == 28 + 2 * KINDS + 5);
/// Total feature vector length.
pub const FEATURE_DIM: usize = STRUCTURAL_DIM + HASH_DIM;

/// A feature vector of length [`FEATURE_DIM`].
#[derive(Debug, Clone, PartialEq)]
pub struct Features(pub Vec<f32>);

impl Features {
    /// The values.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }
}

/// All feature names, structural then `hash_<i>`.
pub fn feature_names() -> Vec<String> {
    STRUCTURAL_NAMES.iter().map(|s| s.to_string()).chain((0..HASH_DIM).map(|i| format!("hash_{i}"))).collect()
}

fn ln1p(x: u64) -> f32 {
    (x as f32).ln_1p()
}

fn capped(n: u64, cap: u64) -> f32 {
    n.min(cap) as f32 / cap as f32
}

/// Compute the feature vector of a request, reading at most `max_chars` characters of text.
pub fn extract(req: &ChatRequest<'_>, max_chars: usize) -> Features {
    extract_with(req, max_chars, true)
}

/// [`extract`], optionally without the hashed n-gram buckets (left at zero). The structural
/// values are identical either way; a classifier that reads no bucket (see
/// [`crate::classifier::Classifier::reads_hashed`]) skips the bucket updates.
pub fn extract_with(req: &ChatRequest<'_>, max_chars: usize, hash_ngrams: bool) -> Features {
    let mut v = vec![0.0f32; FEATURE_DIM];
    let (structural, hashed) = v.split_at_mut(STRUCTURAL_DIM);
    let mut sc = Scanner::new(hashed, hash_ngrams);

    let mut budget = max_chars;
    'outer: for m in req.messages.iter().rev() {
        for piece in m.text.iter().rev() {
            if budget == 0 {
                break 'outer;
            }
            budget -= sc.text(piece, budget).min(budget);
        }
    }
    sc.finish();

    // Most buckets are zero: transform only the counts that are set.
    let mut sum_sq = 0.0f32;
    for x in sc.hashed.iter_mut().filter(|x| **x > 0.0) {
        *x = x.ln_1p();
        sum_sq += *x * *x;
    }
    if sum_sq > 0.0 {
        let inv = 1.0 / sum_sq.sqrt();
        for x in sc.hashed.iter_mut().filter(|x| **x > 0.0) {
            *x *= inv;
        }
    }

    let s = &sc.stats;
    let inspected = s.chars.max(1) as f32;
    let system_chars: u64 = req.messages.iter().filter(|m| m.role == Role::System).map(|m| m.chars).sum();
    let last_user = req.messages.iter().rev().find(|m| m.role == Role::User).map_or(0, |m| m.chars);
    let users = req.messages.iter().filter(|m| m.role == Role::User).count() as u64;
    let tool_msgs = req.messages.iter().filter(|m| m.role == Role::Tool).count() as u64;
    let images: u64 = req.messages.iter().map(|m| u64::from(m.images)).sum();
    let avg_word = if s.words > 0 { s.word_chars as f32 / s.words as f32 } else { 0.0 };

    let values: [f32; 28] = [
        ln1p(req.total_chars()) / 10.0,
        ln1p(req.estimated_input_tokens()) / 10.0,
        ln1p(req.messages.len() as u64) / 3.0,
        ln1p(users) / 3.0,
        ln1p(system_chars) / 10.0,
        ln1p(last_user) / 10.0,
        capped(s.fences, 10),
        s.code_sym as f32 / inspected,
        s.math_sym as f32 / inspected,
        s.digits as f32 / inspected,
        capped(s.questions, 10),
        capped(s.reasoning, 20),
        capped(s.hard, 10),
        capped(s.constraint, 20),
        capped(s.easy, 10),
        if req.tools > 0 { 1.0 } else { 0.0 },
        if req.response_format.as_deref().is_some_and(|f| f.starts_with("json")) { 1.0 } else { 0.0 },
        capped(images, 5),
        s.non_ascii as f32 / inspected,
        ln1p(s.lines) / 5.0,
        avg_word.min(20.0) / 20.0,
        if s.lines > 0 { s.list_lines as f32 / s.lines as f32 } else { 0.0 },
        capped(s.choice_lines, 6),
        ln1p(req.max_tokens.unwrap_or(0)) / 10.0,
        s.upper as f32 / inspected,
        ln1p(s.words) / 10.0,
        capped(tool_msgs, 10),
        capped(s.code_words, 20),
    ];
    let newest = req.messages.last().and_then(|m| m.text.last()).map_or("", |t| t.as_ref());
    // Version 3: each kind's count, then whether the instruction has it, then the rest.
    let lead = sc.edges.kinds() >> KIND_SHIFT;
    let counts = s.kinds.iter().map(|n| capped(*n, 10));
    let leads = (0..KINDS).map(|k| if lead & (1 << k) != 0 { 1.0 } else { 0.0 });
    let rest = [
        if ends_with_answer_cue(newest) { 1.0 } else { 0.0 },
        capped(s.latex, 10),
        if s.lines > 0 { s.indented_lines as f32 / s.lines as f32 } else { 0.0 },
        first_line_share(newest, max_chars),
        if sc.edges.first_word.is_some_and(is_question_word) { 1.0 } else { 0.0 },
    ];
    let (head, tail) = structural.split_at_mut(28);
    head.copy_from_slice(&values);
    for (slot, x) in tail.iter_mut().zip(counts.chain(leads).chain(rest)) {
        *slot = x;
    }
    Features(v)
}

/// Exam layout: the text ends with "Answer:" (MMLU-style prompts, "... Answer:").
fn ends_with_answer_cue(text: &str) -> bool {
    let t = text.trim_end().as_bytes();
    t.len() >= 7 && t.get(t.len() - 7..).is_some_and(|end| end.eq_ignore_ascii_case(b"answer:"))
}

/// Share of the newest message in its first line: near 0 when a short instruction precedes
/// pasted text or code, 1 for a one-line request. Reads at most `max_chars` bytes.
fn first_line_share(text: &str, max_chars: usize) -> f32 {
    let bytes = text.as_bytes();
    let window = bytes.get(..bytes.len().min(max_chars.max(1))).unwrap_or_default();
    match memchr::memchr(b'\n', window) {
        Some(first) if !window.is_empty() => first as f32 / window.len() as f32,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse;

    fn feats(body: &str, cap: usize) -> Features {
        let r = parse(body.as_bytes()).unwrap();
        extract(&r, cap)
    }

    fn idx(name: &str) -> usize {
        STRUCTURAL_NAMES.iter().position(|n| *n == name).unwrap()
    }

    #[test]
    fn dimension_and_names_agree() {
        assert_eq!(feature_names().len(), FEATURE_DIM);
        let f = feats(r#"{"model":"auto","messages":[{"role":"user","content":"hi"}]}"#, 1000);
        assert_eq!(f.0.len(), FEATURE_DIM);
        assert!(f.0.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn known_hash_values_are_stable() {
        // FNV-1a 32 reference values; Python training relies on the CLI, but pin them anyway.
        assert_eq!(fnv1a_lower(b""), 0x811c9dc5);
        assert_eq!(fnv1a_lower(b"a"), 0xe40c292c);
        assert_eq!(fnv1a_lower(b"Prove"), fnv1a_lower(b"prove"));
    }

    #[test]
    fn structural_signals_fire() {
        let f = feats(
            r#"{"model":"auto","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Prove the theorem step by step. Why?\n```rust\nfn main() { let x = 1; }\n```\n$\\int_0^1 x^2 dx$"}],"tools":[{}],"max_tokens":100}"#,
            10_000,
        );
        assert!(f.0[idx("hard_words")] > 0.0);
        assert!(f.0[idx("reasoning_words")] > 0.0);
        assert!(f.0[idx("code_fences")] > 0.0);
        assert!(f.0[idx("math_symbol_ratio")] > 0.0);
        assert!(f.0[idx("questions")] > 0.0);
        assert_eq!(f.0[idx("has_tools")], 1.0);
        assert!(f.0[idx("log_system_chars")] > 0.0);
        let hashed = &f.0[STRUCTURAL_DIM..];
        let norm: f32 = hashed.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn without_ngrams_the_structural_part_is_identical() {
        let body = r#"{"model":"auto","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Prove it step by step. Why? 1) a\n2) b\n```py\nx = 1\n```"}]}"#;
        let r = parse(body.as_bytes()).unwrap();
        let full = extract(&r, 1_000);
        let lean = extract_with(&r, 1_000, false);
        assert_eq!(full.0.len(), lean.0.len());
        assert_eq!(full.0[..STRUCTURAL_DIM], lean.0[..STRUCTURAL_DIM]);
        assert!(full.0[STRUCTURAL_DIM..].iter().any(|x| *x > 0.0));
        assert!(lean.0[STRUCTURAL_DIM..].iter().all(|x| *x == 0.0));
    }

    /// The lean scan (no n-gram buckets, the filter's path when the model reads no bucket)
    /// gives exactly the structural values of the full scan. Rows: the parity sample, plus
    /// every line of `$LLM_ROUTER_FEATURE_CHECK` (JSON Lines of request bodies) when set.
    #[test]
    fn lean_scan_matches_full_scan_on_samples() {
        let mut bodies: Vec<String> = include_str!("../tests/data/parity_sample.jsonl")
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["request"].to_string())
            .collect();
        if let Ok(path) = std::env::var("LLM_ROUTER_FEATURE_CHECK") {
            bodies.extend(std::fs::read_to_string(path).unwrap().lines().map(str::to_string));
        }
        let mut checked = 0;
        for body in &bodies {
            let Ok(r) = parse(body.as_bytes()) else { continue };
            for cap in [16_384, 100] {
                let full = extract(&r, cap);
                let lean = extract_with(&r, cap, false);
                assert_eq!(full.0[..STRUCTURAL_DIM], lean.0[..STRUCTURAL_DIM], "{body}");
            }
            checked += 1;
        }
        assert!(checked >= 50, "{checked}");
        eprintln!("lean == full on {checked} requests");
    }

    #[test]
    fn inspection_cap_bounds_text_but_not_length() {
        let long = "word ".repeat(10_000);
        let body = format!(r#"{{"model":"auto","messages":[{{"role":"user","content":"{long}"}}]}}"#);
        let small = feats(&body, 100);
        let big = feats(&body, 100_000);
        assert_eq!(small.0[idx("log_chars")], big.0[idx("log_chars")]);
        assert!(small.0[idx("log_words")] < big.0[idx("log_words")]);
    }

    #[test]
    fn cap_cuts_on_char_boundaries() {
        let body = r#"{"model":"auto","messages":[{"role":"user","content":"ééééé日本語"}]}"#;
        for cap in 0..10 {
            let f = feats(body, cap);
            assert!(f.0.iter().all(|x| x.is_finite()));
        }
    }

    #[test]
    fn task_kinds_are_detected_at_the_edges_of_the_newest_message() {
        let pasted = "The quarterly report shows revenue grew in every region. ".repeat(40);
        let body = format!(
            r#"{{"model":"auto","messages":[{{"role":"user","content":"Summarize the following text in two sentences:\n\n{pasted}"}}]}}"#
        );
        let f = feats(&body, 16_384);
        assert_eq!(f.0[idx("lead_transform")], 1.0);
        assert_eq!(f.0[idx("lead_proof")], 0.0);
        assert!(f.0[idx("first_line_share")] < 0.1);
        // The instruction may also come last, after the pasted text.
        let body = format!(
            r#"{{"model":"auto","messages":[{{"role":"user","content":"{pasted}\n\nTranslate that into French."}}]}}"#
        );
        assert_eq!(feats(&body, 16_384).0[idx("lead_transform")], 1.0);

        let f = feats(
            r#"{"model":"auto","messages":[{"role":"user","content":"Prove that there are infinitely many primes."}]}"#,
            1000,
        );
        assert_eq!(f.0[idx("lead_proof")], 1.0);
        assert!(f.0[idx("proof_words")] > 0.0);
        assert!(f.0[idx("math_words")] > 0.0);
        assert_eq!(f.0[idx("first_line_share")], 1.0);

        let f = feats(r#"{"model":"auto","messages":[{"role":"user","content":"hi there, thanks!"}]}"#, 1000);
        assert_eq!(f.0[idx("lead_smalltalk")], 1.0);
        assert_eq!(f.0[idx("lead_question")], 0.0);
        let f =
            feats(r#"{"model":"auto","messages":[{"role":"user","content":"What is the capital of Peru?"}]}"#, 1000);
        assert_eq!(f.0[idx("lead_question")], 1.0);
        assert_eq!(f.0[idx("lead_fact")], 1.0);
    }

    #[test]
    fn exam_layout_latex_and_indentation() {
        let user = |text: &str| {
            serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": text}]}).to_string()
        };
        let f = feats(&user("Which is prime?\nA. 4\nB. 6\nC. 7\nD. 9\nAnswer:"), 1000);
        assert_eq!(f.0[idx("answer_cue")], 1.0);
        assert!(f.0[idx("lead_exam")] > 0.0);
        // \frac and \sqrt count; \[ is not a command
        let f = feats(&user(r"Find $\frac{1}{2} + \sqrt{x}$ where \[x=4\]"), 1000);
        assert_eq!(f.0[idx("latex_commands")], 0.2);
        assert_eq!(f.0[idx("answer_cue")], 0.0);
        let f = feats(&user("Why?\n    x = 1\n\ty = 2\nz"), 1000);
        assert_eq!(f.0[idx("indented_line_ratio")], 0.5);
    }

    #[test]
    fn only_the_newest_message_gives_the_instruction() {
        let f = feats(
            r#"{"model":"auto","messages":[{"role":"user","content":"Prove Fermat's little theorem."},{"role":"assistant","content":"Sure."},{"role":"user","content":"thanks!"}]}"#,
            1000,
        );
        assert_eq!(f.0[idx("lead_proof")], 0.0);
        assert_eq!(f.0[idx("lead_smalltalk")], 1.0);
        assert!(f.0[idx("proof_words")] > 0.0);
    }

    #[test]
    fn words_split_on_ascii_punctuation_and_keep_other_scripts_whole() {
        let f = feats(r#"{"model":"auto","messages":[{"role":"user","content":"Prove,theorem; 日本語 x"}]}"#, 1000);
        assert_eq!(f.0[idx("hard_words")], 0.2);
        // 4 words: prove, theorem, 日本語, x
        assert!((f.0[idx("log_words")] - (5.0f32).ln() / 10.0).abs() < 1e-6);
        assert!(f.0[idx("non_ascii_ratio")] > 0.0);
    }

    #[test]
    fn deterministic() {
        let b = r#"{"model":"auto","messages":[{"role":"user","content":"Summarize this: the cat sat."}]}"#;
        assert_eq!(feats(b, 500), feats(b, 500));
    }
}
