//! Word lists of the feature extractor ([`crate::features`]) and the index that finds them.
//!
//! A word is matched on its FNV-1a hash (ASCII-lowercased), computed while the scanner reads
//! it, so a lookup is one or two probes of a table built once per VM. The lists themselves are
//! in `keyword_lists.rs`. Version 1's lists feed the `*_words`
//! counts of the first 28 features; the task-kind lists (version 3) feed `*_words` and `lead_*`
//! of the kinds. Changing a list changes the model's input: bump
//! [`crate::features::FEATURE_VERSION`] and retrain.

use crate::keyword_lists::{KEYWORDS, KIND_WORDS};

pub(crate) const FNV_OFFSET: u32 = 0x811c_9dc5;
pub(crate) const FNV_PRIME: u32 = 0x0100_0193;

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

pub(crate) const K_REASONING: u32 = 1;
pub(crate) const K_HARD: u32 = 1 << 1;
pub(crate) const K_CONSTRAINT: u32 = 1 << 2;
pub(crate) const K_EASY: u32 = 1 << 3;
pub(crate) const K_CODE: u32 = 1 << 4;
/// Task kinds (version 3), in the order of the `*_words` and `lead_*` features.
pub(crate) const KIND_SHIFT: u32 = 8;
pub(crate) const KINDS: usize = 13;
pub(crate) const K_PROOF: u32 = 1 << KIND_SHIFT;
pub(crate) const K_MATH: u32 = 1 << (KIND_SHIFT + 1);
pub(crate) const K_CODE_TASK: u32 = 1 << (KIND_SHIFT + 2);
pub(crate) const K_WRITING: u32 = 1 << (KIND_SHIFT + 3);
pub(crate) const K_ADVICE: u32 = 1 << (KIND_SHIFT + 4);
pub(crate) const K_TRANSFORM: u32 = 1 << (KIND_SHIFT + 5);
pub(crate) const K_SMALLTALK: u32 = 1 << (KIND_SHIFT + 6);
pub(crate) const K_FACT: u32 = 1 << (KIND_SHIFT + 7);
pub(crate) const K_EXAM: u32 = 1 << (KIND_SHIFT + 8);
pub(crate) const K_SYSTEMS: u32 = 1 << (KIND_SHIFT + 9);
pub(crate) const K_DOMAIN: u32 = 1 << (KIND_SHIFT + 10);
pub(crate) const K_BUILD: u32 = 1 << (KIND_SHIFT + 11);
pub(crate) const K_CLOSED: u32 = 1 << (KIND_SHIFT + 12);
/// Words at each edge of the newest message that count as its instruction (`lead_*`).
pub const EDGE_WORDS: usize = 12;

/// The keyword hashes (flags of every list merged) in an open-addressing table of keyword hashes: a word costs one or two probes (a sorted list's
/// binary search was a third of the feature pass). Slots hold (hash, flags); flags 0 = empty,
/// which no keyword has.
struct KeywordIndex {
    slots: Vec<(u32, u32)>,
    mask: usize,
}

impl KeywordIndex {
    fn slot(h: u32, mask: usize) -> usize {
        // Fibonacci hashing spreads FNV's low bits, which alone cluster.
        (h.wrapping_mul(0x9E37_79B1) >> 16) as usize & mask
    }
}

fn keyword_index() -> &'static KeywordIndex {
    static INDEX: std::sync::OnceLock<KeywordIndex> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut merged: std::collections::BTreeMap<u32, u32> = std::collections::BTreeMap::new();
        for (w, f) in KEYWORDS.iter().chain(KIND_WORDS.iter()) {
            *merged.entry(fnv1a_lower(w.as_bytes())).or_default() |= *f;
        }
        // At most a quarter full: probes stay short.
        let size = (merged.len() * 4).next_power_of_two().max(64);
        let mask = size - 1;
        let mut slots = vec![(0u32, 0u32); size];
        for (h, f) in merged.into_iter().filter(|(_, f)| *f != 0) {
            let mut i = KeywordIndex::slot(h, mask);
            while slots.get(i).is_some_and(|(_, sf)| *sf != 0) {
                i = (i + 1) & mask;
            }
            if let Some(slot) = slots.get_mut(i) {
                *slot = (h, f);
            }
        }
        KeywordIndex { slots, mask }
    })
}

pub(crate) fn keyword_flags(h: u32) -> u32 {
    let index = keyword_index();
    let mut i = KeywordIndex::slot(h, index.mask);
    loop {
        match index.slots.get(i) {
            Some((sh, f)) if *f != 0 => {
                if *sh == h {
                    return *f;
                }
                i = (i + 1) & index.mask;
            }
            _ => return 0,
        }
    }
}

const QUESTION_WORDS: [u32; 16] = [
    fnv1a_lower(b"what"),
    fnv1a_lower(b"who"),
    fnv1a_lower(b"how"),
    fnv1a_lower(b"why"),
    fnv1a_lower(b"when"),
    fnv1a_lower(b"where"),
    fnv1a_lower(b"which"),
    fnv1a_lower(b"is"),
    fnv1a_lower(b"are"),
    fnv1a_lower(b"can"),
    fnv1a_lower(b"could"),
    fnv1a_lower(b"does"),
    fnv1a_lower(b"do"),
    fnv1a_lower(b"should"),
    fnv1a_lower(b"would"),
    fnv1a_lower(b"will"),
];

pub(crate) fn is_question_word(h: u32) -> bool {
    QUESTION_WORDS.contains(&h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_tables_have_no_collisions_and_the_filter_finds_every_keyword() {
        let mut seen = std::collections::HashMap::new();
        for (w, f) in KEYWORDS.iter().chain(KIND_WORDS.iter()) {
            let h = fnv1a_lower(w.as_bytes());
            let first = *seen.entry(h).or_insert(*w);
            assert_eq!(first, *w, "hash collision between {first} and {w}");
            assert_eq!(keyword_flags(h) & f, *f, "{w}");
        }
        assert_eq!(keyword_flags(fnv1a_lower(b"banana")), 0);
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;

    /// The probe table answers exactly what a plain map of the word lists answers, for every
    /// listed word and for a spread of other hashes.
    #[test]
    fn lookup_equals_the_word_lists() {
        let mut map: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
        for (w, f) in KEYWORDS.iter().chain(KIND_WORDS.iter()) {
            *map.entry(fnv1a_lower(w.as_bytes())).or_default() |= *f;
        }
        for (h, f) in &map {
            assert_eq!(keyword_flags(*h), *f, "{h:#x}");
        }
        let mut h = 0x1234_5678u32;
        for _ in 0..200_000 {
            h = h.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            assert_eq!(keyword_flags(h), map.get(&h).copied().unwrap_or(0), "{h:#x}");
        }
    }
}
