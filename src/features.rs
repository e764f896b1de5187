//! Feature extraction: one implementation for the filter, the CLI and training.
//!
//! A request becomes a fixed-length `f32` vector of [`FEATURE_DIM`] values:
//! [`STRUCTURAL_NAMES`] structural signals (lengths, code, math, question and keyword counts,
//! tools, images...) followed by [`HASH_DIM`] hashed word unigrams and bigrams (FNV-1a 32 over
//! ASCII-lowercased words, `log(1 + count)`, L2-normalised).
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
    let mut i = 0;
    while i < bytes.len() {
        // Index is bounded by the loop condition; const fn cannot use iterators.
        #[allow(clippy::indexing_slicing)]
        let b = bytes[i].to_ascii_lowercase();
        h ^= b as u32;
        h = h.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

macro_rules! hashes {
    ($($w:literal),* $(,)?) => { [$(fnv1a_lower($w.as_bytes())),*] };
}

const REASONING: [u32; 16] = hashes!(
    "explain", "why", "analyze", "analyse", "compare", "evaluate", "reason", "step", "justify",
    "tradeoffs", "tradeoff", "critique", "discuss", "implications", "detailed", "thoroughly"
);
const HARD: [u32; 24] = hashes!(
    "prove", "proof", "theorem", "lemma", "derive", "derivation", "rigorous", "optimize",
    "optimise", "algorithm", "complexity", "architecture", "concurrency", "distributed",
    "asymptotic", "integral", "eigenvalue", "polynomial", "recursion", "formally", "invariant",
    "probability", "combinatorics", "olympiad"
);
const CONSTRAINT: [u32; 12] = hashes!(
    "must", "exactly", "without", "only", "least", "most", "ensure", "should", "format", "strictly",
    "constraints", "requirements"
);
const EASY: [u32; 16] = hashes!(
    "translate", "summarize", "summarise", "summary", "extract", "list", "classify", "rewrite",
    "convert", "hello", "hi", "thanks", "thank", "spell", "reformat", "capital"
);
const CODE: [u32; 16] = hashes!(
    "function", "def", "class", "return", "import", "const", "let", "fn", "struct", "impl",
    "public", "void", "select", "async", "await", "lambda"
);

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
    prev_word: Option<u32>,
}

impl Scanner<'_> {
    fn bump(&mut self, h: u32) {
        let idx = (h as usize) % HASH_DIM;
        if let Some(slot) = self.hashed.get_mut(idx) {
            *slot += 1.0;
        }
    }

    fn word(&mut self, w: &str) {
        let h = fnv1a_lower(w.as_bytes());
        let s = &mut self.stats;
        s.words += 1;
        s.word_chars += w.chars().count() as u64;
        if REASONING.contains(&h) {
            s.reasoning += 1;
        }
        if HARD.contains(&h) {
            s.hard += 1;
        }
        if CONSTRAINT.contains(&h) {
            s.constraint += 1;
        }
        if EASY.contains(&h) {
            s.easy += 1;
        }
        if CODE.contains(&h) {
            s.code_words += 1;
        }
        self.bump(h);
        if let Some(p) = self.prev_word {
            self.bump(p.wrapping_mul(FNV_PRIME) ^ h.rotate_left(13) ^ 0x9e37_79b9);
        }
        self.prev_word = Some(h);
    }

    fn line_start(&mut self, line: &str) {
        let t = line.trim_start();
        let s = &mut self.stats;
        s.lines += 1;
        if t.starts_with("```") {
            s.fences += 1;
        }
        let b = t.as_bytes();
        if matches!(b.first(), Some(b'-') | Some(b'*') | Some(b'+'))
            || (b.first().is_some_and(u8::is_ascii_digit) && matches!(b.get(1), Some(b'.') | Some(b')')))
        {
            s.list_lines += 1;
        }
        if matches!(b.first(), Some(b'A'..=b'H')) && matches!(b.get(1), Some(b'.') | Some(b')')) {
            s.choice_lines += 1;
        }
    }

    fn text(&mut self, text: &str) {
        for line in text.split('\n') {
            self.line_start(line);
        }
        let mut word_start: Option<usize> = None;
        for (i, c) in text.char_indices() {
            let s = &mut self.stats;
            s.chars += 1;
            match c {
                '{' | '}' | ';' | '(' | ')' | '[' | ']' | '<' | '>' | '=' => s.code_sym += 1,
                '$' | '^' | '\\' | '∑' | '∫' | '√' | '≤' | '≥' | '≠' | '±' | '×' | '÷' | '∞' | 'π' => {
                    s.math_sym += 1
                }
                '?' => s.questions += 1,
                _ => {}
            }
            if c.is_ascii_digit() {
                s.digits += 1;
            }
            if c.is_ascii_uppercase() {
                s.upper += 1;
            }
            if !c.is_ascii() {
                s.non_ascii += 1;
            }
            let is_word = c.is_alphanumeric() || c == '_';
            match (is_word, word_start) {
                (true, None) => word_start = Some(i),
                (false, Some(st)) => {
                    if let Some(w) = text.get(st..i) {
                        self.word(w);
                    }
                    word_start = None;
                }
                _ => {}
            }
        }
        if let Some(st) = word_start {
            if let Some(w) = text.get(st..) {
                self.word(w);
            }
        }
        self.prev_word = None;
    }
}

/// Cut `s` to at most `max` characters, on a character boundary.
fn take_chars(s: &str, max: usize) -> (&str, usize) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (s.get(..i).unwrap_or(s), max),
        None => (s, s.chars().count()),
    }
}

/// Compute the feature vector of a request, reading at most `max_chars` characters of text.
pub fn extract(req: &ChatRequest<'_>, max_chars: usize) -> Features {
    let mut v = vec![0.0f32; FEATURE_DIM];
    let (structural, hashed) = v.split_at_mut(STRUCTURAL_DIM);
    let mut sc = Scanner { stats: TextStats::default(), hashed, prev_word: None };

    let mut budget = max_chars;
    'outer: for m in req.messages.iter().rev() {
        for piece in m.text.iter().rev() {
            if budget == 0 {
                break 'outer;
            }
            let (t, n) = take_chars(piece, budget);
            budget -= n;
            sc.text(t);
        }
    }

    let norm = sc.hashed.iter().map(|x| x.ln_1p().powi(2)).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in sc.hashed.iter_mut() {
            *x = x.ln_1p() / norm;
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
    fn deterministic() {
        let b = r#"{"model":"auto","messages":[{"role":"user","content":"Summarize this: the cat sat."}]}"#;
        assert_eq!(feats(b, 500), feats(b, 500));
    }
}
