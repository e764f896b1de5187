//! Feature extraction: one implementation for the filter, the CLI and training.
//!
//! A request becomes a fixed-length `f32` vector of [`FEATURE_DIM`] values:
//! [`STRUCTURAL_NAMES`] structural signals (lengths, code, math, question and keyword counts,
//! tools, images...) followed by [`HASH_DIM`] hashed word unigrams and bigrams (FNV-1a 32 over
//! ASCII-lowercased words, `log(1 + count)`, L2-normalised).
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

use crate::request::{ChatRequest, Role};

/// Version of the feature definition; models record the version they were trained on.
pub const FEATURE_VERSION: u32 = 1;
/// Number of hashed n-gram buckets.
pub const HASH_DIM: usize = 1024;
/// Names of the structural features, in order.
pub const STRUCTURAL_NAMES: [&str; 28] = [
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
];
/// Number of structural features.
pub const STRUCTURAL_DIM: usize = STRUCTURAL_NAMES.len();
/// Total feature vector length.
pub const FEATURE_DIM: usize = STRUCTURAL_DIM + HASH_DIM;

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a 32 of ASCII-lowercased bytes (stable across platforms and versions).
pub const fn fnv1a_lower(bytes: &[u8]) -> u32 {
    let mut h = FNV_OFFSET;
    let mut rest = bytes;
    while let [b, tail @ ..] = rest {
        h ^= b.to_ascii_lowercase() as u32;
        h = h.wrapping_mul(FNV_PRIME);
        rest = tail;
    }
    h
}

const K_REASONING: u8 = 1;
const K_HARD: u8 = 2;
const K_CONSTRAINT: u8 = 4;
const K_EASY: u8 = 8;
const K_CODE: u8 = 16;

/// Keyword lists behind the `*_words` features (matched on the lowercased word).
const KEYWORDS: [(&str, u8); 84] = [
    ("explain", K_REASONING), ("why", K_REASONING), ("analyze", K_REASONING), ("analyse", K_REASONING),
    ("compare", K_REASONING), ("evaluate", K_REASONING), ("reason", K_REASONING), ("step", K_REASONING),
    ("justify", K_REASONING), ("tradeoffs", K_REASONING), ("tradeoff", K_REASONING), ("critique", K_REASONING),
    ("discuss", K_REASONING), ("implications", K_REASONING), ("detailed", K_REASONING), ("thoroughly", K_REASONING),
    ("prove", K_HARD), ("proof", K_HARD), ("theorem", K_HARD), ("lemma", K_HARD), ("derive", K_HARD),
    ("derivation", K_HARD), ("rigorous", K_HARD), ("optimize", K_HARD), ("optimise", K_HARD),
    ("algorithm", K_HARD), ("complexity", K_HARD), ("architecture", K_HARD), ("concurrency", K_HARD),
    ("distributed", K_HARD), ("asymptotic", K_HARD), ("integral", K_HARD), ("eigenvalue", K_HARD),
    ("polynomial", K_HARD), ("recursion", K_HARD), ("formally", K_HARD), ("invariant", K_HARD),
    ("probability", K_HARD), ("combinatorics", K_HARD), ("olympiad", K_HARD),
    ("must", K_CONSTRAINT), ("exactly", K_CONSTRAINT), ("without", K_CONSTRAINT), ("only", K_CONSTRAINT),
    ("least", K_CONSTRAINT), ("most", K_CONSTRAINT), ("ensure", K_CONSTRAINT), ("should", K_CONSTRAINT),
    ("format", K_CONSTRAINT), ("strictly", K_CONSTRAINT), ("constraints", K_CONSTRAINT), ("requirements", K_CONSTRAINT),
    ("translate", K_EASY), ("summarize", K_EASY), ("summarise", K_EASY), ("summary", K_EASY), ("extract", K_EASY),
    ("list", K_EASY), ("classify", K_EASY), ("rewrite", K_EASY), ("convert", K_EASY), ("hello", K_EASY),
    ("hi", K_EASY), ("thanks", K_EASY), ("thank", K_EASY), ("spell", K_EASY), ("reformat", K_EASY),
    ("capital", K_EASY),
    ("function", K_CODE), ("def", K_CODE), ("class", K_CODE), ("return", K_CODE), ("import", K_CODE),
    ("const", K_CODE), ("let", K_CODE), ("fn", K_CODE), ("struct", K_CODE), ("impl", K_CODE),
    ("public", K_CODE), ("void", K_CODE), ("select", K_CODE), ("async", K_CODE), ("await", K_CODE),
    ("lambda", K_CODE),
];

/// Keyword hashes with their flags, and a 4096-bit filter over them so most words are
/// rejected with one bit test. Built once per VM.
struct KeywordIndex {
    hashes: Vec<(u32, u8)>,
    filter: [u64; 64],
}

fn keyword_index() -> &'static KeywordIndex {
    static INDEX: std::sync::OnceLock<KeywordIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let hashes: Vec<(u32, u8)> = KEYWORDS.iter().map(|(w, f)| (fnv1a_lower(w.as_bytes()), *f)).collect();
        let mut filter = [0u64; 64];
        for (h, _) in &hashes {
            let b = (h & 4095) as usize;
            if let Some(word) = filter.get_mut(b >> 6) {
                *word |= 1u64 << (b & 63);
            }
        }
        KeywordIndex { hashes, filter }
    })
}

fn keyword_flags(h: u32) -> u8 {
    let index = keyword_index();
    let b = (h & 4095) as usize;
    let word = index.filter.get(b >> 6).copied().unwrap_or(0);
    if word & (1u64 << (b & 63)) == 0 {
        return 0;
    }
    index.hashes.iter().filter(|(kh, _)| *kh == h).fold(0, |acc, (_, f)| acc | f)
}

const C_WORD: u8 = 1;
const C_CODE: u8 = 2;
const C_MATH: u8 = 4;
const C_DIGIT: u8 = 8;
const C_UPPER: u8 = 16;
const C_QUESTION: u8 = 32;
const C_NEWLINE: u8 = 64;

/// The class bits of a byte. Bytes >= 0x80 (any non-ASCII UTF-8 byte) count as word bytes,
/// so words in any script are hashed as wholes; ASCII punctuation separates words.
const fn class_of(c: u8) -> u8 {
    let mut k = 0u8;
    if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
        k |= C_WORD;
    }
    if c.is_ascii_digit() {
        k |= C_DIGIT;
    }
    if c.is_ascii_uppercase() {
        k |= C_UPPER;
    }
    if matches!(c, b'{' | b'}' | b';' | b'(' | b')' | b'[' | b']' | b'<' | b'>' | b'=') {
        k |= C_CODE;
    }
    if matches!(c, b'$' | b'^' | b'\\') {
        k |= C_MATH;
    }
    if c == b'?' {
        k |= C_QUESTION;
    }
    if c == b'\n' {
        k |= C_NEWLINE;
    }
    k
}

/// [`class_of`] for every byte, built once per VM.
fn class_table() -> &'static [u8; 256] {
    static TABLE: std::sync::OnceLock<[u8; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0u8; 256];
        for (b, slot) in t.iter_mut().enumerate() {
            *slot = class_of(b as u8);
        }
        t
    })
}

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
    STRUCTURAL_NAMES
        .iter()
        .map(|s| s.to_string())
        .chain((0..HASH_DIM).map(|i| format!("hash_{i}")))
        .collect()
}

fn ln1p(x: u64) -> f32 {
    (x as f32).ln_1p()
}

fn capped(n: u64, cap: u64) -> f32 {
    n.min(cap) as f32 / cap as f32
}

#[derive(Default)]
struct TextStats {
    chars: u64,
    code_sym: u64,
    math_sym: u64,
    digits: u64,
    questions: u64,
    non_ascii: u64,
    upper: u64,
    lines: u64,
    list_lines: u64,
    choice_lines: u64,
    fences: u64,
    words: u64,
    word_chars: u64,
    reasoning: u64,
    hard: u64,
    constraint: u64,
    easy: u64,
    code_words: u64,
}

struct Scanner<'v> {
    stats: TextStats,
    hashed: &'v mut [f32],
    /// False when the classifier reads no hashed bucket: the buckets stay zero.
    hash_ngrams: bool,
    prev_word: Option<u32>,
}

impl Scanner<'_> {
    fn bump(&mut self, h: u32) {
        let idx = (h as usize) % HASH_DIM;
        if let Some(slot) = self.hashed.get_mut(idx) {
            *slot += 1.0;
        }
    }

    fn word(&mut self, h: u32, chars: u64) {
        let flags = keyword_flags(h);
        let s = &mut self.stats;
        s.words += 1;
        s.word_chars += chars;
        s.reasoning += u64::from(flags & K_REASONING != 0);
        s.hard += u64::from(flags & K_HARD != 0);
        s.constraint += u64::from(flags & K_CONSTRAINT != 0);
        s.easy += u64::from(flags & K_EASY != 0);
        s.code_words += u64::from(flags & K_CODE != 0);
        if !self.hash_ngrams {
            return;
        }
        self.bump(h);
        if let Some(p) = self.prev_word {
            self.bump(p.wrapping_mul(FNV_PRIME) ^ h.rotate_left(13) ^ 0x9e37_79b9);
        }
        self.prev_word = Some(h);
    }

    /// Called at the first non-blank byte of a line.
    fn line_start(&mut self, rest: &[u8]) {
        let s = &mut self.stats;
        if rest.starts_with(b"```") {
            s.fences += 1;
        }
        let first = rest.first().copied();
        let second = rest.get(1).copied();
        if matches!(first, Some(b'-') | Some(b'*') | Some(b'+'))
            || (first.is_some_and(|b| b.is_ascii_digit()) && matches!(second, Some(b'.') | Some(b')')))
        {
            s.list_lines += 1;
        }
        if matches!(first, Some(b'A'..=b'H')) && matches!(second, Some(b'.') | Some(b')')) {
            s.choice_lines += 1;
        }
    }

    /// Scan `text`, reading at most `budget` characters; returns the characters read.
    /// One pass over the bytes: character classes from a table, FNV hashing of each word as
    /// its bytes go by.
    fn text(&mut self, text: &str, budget: usize) -> usize {
        let bytes = text.as_bytes();
        let classes = class_table();
        // Counters live in locals (registers) during the loop and are stored once at the end.
        let (mut chars, mut non_ascii, mut digits, mut upper) = (0usize, 0u64, 0u64, 0u64);
        let (mut code, mut math, mut questions, mut lines) = (0u64, 0u64, 0u64, 1u64);
        let mut hash = FNV_OFFSET;
        let mut word_chars = 0u64;
        let mut at_line_start = true;
        for (i, &b) in bytes.iter().enumerate() {
            let lead = b & 0xC0 != 0x80;
            if lead {
                if chars == budget {
                    break;
                }
                chars += 1;
            }
            let c = classes.get(usize::from(b)).copied().unwrap_or(0);
            if c & C_WORD != 0 {
                hash = (hash ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
                word_chars += u64::from(lead);
                non_ascii += u64::from(b >= 0xC0);
                digits += u64::from(c & C_DIGIT != 0);
                upper += u64::from(c & C_UPPER != 0);
                if at_line_start {
                    at_line_start = false;
                    self.line_start(bytes.get(i..).unwrap_or_default());
                }
                continue;
            }
            if word_chars > 0 {
                self.word(hash, word_chars);
                hash = FNV_OFFSET;
                word_chars = 0;
            }
            if c == 0 {
                // Space and other plain punctuation: only line starts care.
                if at_line_start && b != b' ' && b != b'\t' && b != b'\r' {
                    at_line_start = false;
                    self.line_start(bytes.get(i..).unwrap_or_default());
                }
                continue;
            }
            code += u64::from(c & C_CODE != 0);
            math += u64::from(c & C_MATH != 0);
            questions += u64::from(c & C_QUESTION != 0);
            if c & C_NEWLINE != 0 {
                lines += 1;
                at_line_start = true;
            } else if at_line_start {
                at_line_start = false;
                self.line_start(bytes.get(i..).unwrap_or_default());
            }
        }
        if word_chars > 0 {
            self.word(hash, word_chars);
        }
        let s = &mut self.stats;
        s.chars += chars as u64;
        s.non_ascii += non_ascii;
        s.digits += digits;
        s.upper += upper;
        s.code_sym += code;
        s.math_sym += math;
        s.questions += questions;
        s.lines += lines;
        self.prev_word = None;
        chars
    }
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
    let mut sc = Scanner { stats: TextStats::default(), hashed, hash_ngrams, prev_word: None };

    let mut budget = max_chars;
    'outer: for m in req.messages.iter().rev() {
        for piece in m.text.iter().rev() {
            if budget == 0 {
                break 'outer;
            }
            budget -= sc.text(piece, budget).min(budget);
        }
    }

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

    let values: [f32; STRUCTURAL_DIM] = [
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
        if req.response_format.is_some_and(|f| f.starts_with("json")) { 1.0 } else { 0.0 },
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
    structural.copy_from_slice(&values);
    Features(v)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
    use super::*;
    use crate::request::parse_body;

    fn feats(body: &str, cap: usize) -> Features {
        let v = parse_body(body.as_bytes()).unwrap();
        let r = ChatRequest::try_from(&v).unwrap();
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
        let v = parse_body(body.as_bytes()).unwrap();
        let r = ChatRequest::try_from(&v).unwrap();
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
            let Ok(v) = parse_body(body.as_bytes()) else { continue };
            let Ok(r) = ChatRequest::try_from(&v) else { continue };
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
    fn keyword_table_has_no_collisions_and_the_filter_finds_every_keyword() {
        let mut seen = std::collections::HashSet::new();
        for (w, f) in KEYWORDS {
            let h = fnv1a_lower(w.as_bytes());
            assert!(seen.insert(h), "hash collision on {w}");
            assert_eq!(keyword_flags(h), f, "{w}");
        }
        assert_eq!(keyword_flags(fnv1a_lower(b"banana")), 0);
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
