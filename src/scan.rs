//! The byte scanner behind [`crate::features`]: one pass over the inspected text that classifies
//! each byte from a table, hashes each word as its bytes go by (FNV-1a, for the keyword lookup
//! and the n-gram buckets) and counts the structural signals. Kept apart from the feature
//! definitions so each file holds one concern; the values it counts are turned into features
//! (and documented) in `features.rs`.

use crate::features::HASH_DIM;
use crate::keywords::{
    keyword_flags, EDGE_WORDS, FNV_OFFSET, FNV_PRIME, KINDS, KIND_SHIFT, K_CODE, K_CONSTRAINT, K_EASY, K_HARD,
    K_REASONING,
};

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

#[derive(Default)]
pub(crate) struct TextStats {
    pub(crate) chars: u64,
    pub(crate) code_sym: u64,
    pub(crate) math_sym: u64,
    pub(crate) digits: u64,
    pub(crate) questions: u64,
    pub(crate) non_ascii: u64,
    pub(crate) upper: u64,
    pub(crate) lines: u64,
    pub(crate) list_lines: u64,
    pub(crate) choice_lines: u64,
    pub(crate) fences: u64,
    pub(crate) words: u64,
    pub(crate) word_chars: u64,
    pub(crate) reasoning: u64,
    pub(crate) hard: u64,
    pub(crate) constraint: u64,
    pub(crate) easy: u64,
    pub(crate) code_words: u64,
    /// Words of each task kind (version 3), in [`KIND_SHIFT`] bit order.
    pub(crate) kinds: [u64; KINDS],
    /// LaTeX commands: a backslash followed by a letter (`\frac`, `\sqrt`, `\[` does not count).
    pub(crate) latex: u64,
    /// Lines that start with a space or a tab (code, quoted blocks).
    pub(crate) indented_lines: u64,
}

/// The instruction of the newest message: kind flags of its first and last [`EDGE_WORDS`]
/// words and its first word.
#[derive(Default)]
pub(crate) struct Edges {
    pub(crate) words: usize,
    pub(crate) lead: u32,
    pub(crate) tail: [u32; EDGE_WORDS],
    pub(crate) first_word: Option<u32>,
}

impl Edges {
    pub(crate) fn kinds(&self) -> u32 {
        self.tail.iter().fold(self.lead, |acc, f| acc | f)
    }
}

pub(crate) struct Scanner<'v> {
    pub(crate) stats: TextStats,
    /// How often each byte value was read: the per-byte counts (digits, capitals, code and
    /// math symbols, question marks, lines, non-ASCII) are sums over it, taken once in
    /// [`Scanner::finish`], so the loop does one increment per byte instead of six tests.
    hist: [u32; 256],
    pub(crate) hashed: &'v mut [f32],
    /// False when the classifier reads no hashed bucket: the buckets stay zero.
    pub(crate) hash_ngrams: bool,
    pub(crate) prev_word: Option<u32>,
    /// True while the newest message's text is scanned (it is scanned first).
    pub(crate) newest: bool,
    pub(crate) edges: Edges,
}

impl<'v> Scanner<'v> {
    pub(crate) fn new(hashed: &'v mut [f32], hash_ngrams: bool) -> Self {
        Scanner {
            stats: TextStats::default(),
            hist: [0; 256],
            hashed,
            hash_ngrams,
            prev_word: None,
            newest: true,
            edges: Edges::default(),
        }
    }

    fn bump(&mut self, h: u32) {
        let idx = (h as usize) % HASH_DIM;
        if let Some(slot) = self.hashed.get_mut(idx) {
            *slot += 1.0;
        }
    }

    fn word(&mut self, h: u32) {
        let flags = keyword_flags(h);
        let s = &mut self.stats;
        s.words += 1;
        s.reasoning += u64::from(flags & K_REASONING != 0);
        s.hard += u64::from(flags & K_HARD != 0);
        s.constraint += u64::from(flags & K_CONSTRAINT != 0);
        s.easy += u64::from(flags & K_EASY != 0);
        s.code_words += u64::from(flags & K_CODE != 0);
        let kinds = flags >> KIND_SHIFT;
        if kinds != 0 {
            for (k, count) in s.kinds.iter_mut().enumerate() {
                *count += u64::from(kinds & (1 << k) != 0);
            }
        }
        if self.newest {
            let e = &mut self.edges;
            if e.words == 0 {
                e.first_word = Some(h);
            }
            if e.words < EDGE_WORDS {
                e.lead |= flags;
            }
            if let Some(slot) = e.tail.get_mut(e.words % EDGE_WORDS) {
                *slot = flags;
            }
            e.words += 1;
        }
        if !self.hash_ngrams {
            return;
        }
        self.bump(h);
        if let Some(p) = self.prev_word {
            self.bump(p.wrapping_mul(FNV_PRIME) ^ h.rotate_left(13) ^ 0x9e37_79b9);
        }
        self.prev_word = Some(h);
    }

    /// Called at the first non-blank byte of a line; `indented` when blanks came before it.
    fn line_start(&mut self, rest: &[u8], indented: bool) {
        let s = &mut self.stats;
        s.indented_lines += u64::from(indented);
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
    /// its bytes go by, a byte histogram for everything that is only counted.
    pub(crate) fn text(&mut self, text: &str, budget: usize) -> usize {
        let bytes = text.as_bytes();
        // The window: every byte before the (budget + 1)-th character.
        let (end, chars) = if bytes.len() <= budget {
            (bytes.len(), text.chars().count())
        } else {
            match text.char_indices().nth(budget) {
                Some((i, _)) => (i, budget),
                None => (bytes.len(), text.chars().count()),
            }
        };
        let window = bytes.get(..end).unwrap_or_default();
        let classes = class_table();
        let mut latex = 0u64;
        let mut indented = false;
        let mut hash = FNV_OFFSET;
        let mut in_word = false;
        let mut at_line_start = true;
        for (i, &b) in window.iter().enumerate() {
            if let Some(n) = self.hist.get_mut(usize::from(b)) {
                *n += 1;
            }
            let c = classes.get(usize::from(b)).copied().unwrap_or(0);
            if c & C_WORD != 0 {
                hash = (hash ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(FNV_PRIME);
                in_word = true;
                if at_line_start {
                    at_line_start = false;
                    self.line_start(bytes.get(i..).unwrap_or_default(), indented);
                }
                continue;
            }
            if in_word {
                self.word(hash);
                hash = FNV_OFFSET;
                in_word = false;
            }
            if c == 0 {
                // Space and other plain punctuation: only line starts care.
                if at_line_start {
                    if b == b' ' || b == b'\t' {
                        indented = true;
                    } else if b != b'\r' {
                        at_line_start = false;
                        self.line_start(bytes.get(i..).unwrap_or_default(), indented);
                    }
                }
                continue;
            }
            // A LaTeX command may start on the last byte of the window: its letter is looked at.
            latex += u64::from(b == b'\\' && bytes.get(i + 1).is_some_and(u8::is_ascii_alphabetic));
            if c & C_NEWLINE != 0 {
                at_line_start = true;
                indented = false;
            } else if at_line_start {
                at_line_start = false;
                self.line_start(bytes.get(i..).unwrap_or_default(), indented);
            }
        }
        if in_word {
            self.word(hash);
        }
        let s = &mut self.stats;
        s.chars += chars as u64;
        // Each piece starts a line.
        s.lines += 1;
        s.latex += latex;
        self.prev_word = None;
        self.newest = false;
        chars
    }

    /// Fold the byte histogram into the stats; call once, after the last [`Scanner::text`].
    pub(crate) fn finish(&mut self) {
        let classes = class_table();
        let s = &mut self.stats;
        for (b, n) in self.hist.iter().enumerate() {
            let (n, c) = (u64::from(*n), classes.get(b).copied().unwrap_or(0));
            if n == 0 {
                continue;
            }
            // Continuation bytes (0x80..0xC0) belong to the character their lead byte started.
            let char_in_word = c & C_WORD != 0 && !(0x80..0xC0).contains(&b);
            s.word_chars += if char_in_word { n } else { 0 };
            s.non_ascii += if b >= 0xC0 { n } else { 0 };
            s.digits += if c & C_DIGIT != 0 { n } else { 0 };
            s.upper += if c & C_UPPER != 0 { n } else { 0 };
            s.code_sym += if c & C_CODE != 0 { n } else { 0 };
            s.math_sym += if c & C_MATH != 0 { n } else { 0 };
            s.questions += if c & C_QUESTION != 0 { n } else { 0 };
            s.lines += if c & C_NEWLINE != 0 { n } else { 0 };
        }
        self.hist = [0; 256];
    }
}
