//! Word lists of the feature extractor ([`crate::features`]) and the index that finds them.
//!
//! A word is matched on its FNV-1a hash (ASCII-lowercased), computed while the scanner reads
//! it, so a lookup costs one bit test for most words. Version 1's lists feed the `*_words`
//! counts of the first 28 features; the task-kind lists (version 3) feed `*_words` and `lead_*`
//! of the kinds. Changing a list changes the model's input: bump
//! [`crate::features::FEATURE_VERSION`] and retrain.

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
const K_PROOF: u32 = 1 << KIND_SHIFT;
const K_MATH: u32 = 1 << (KIND_SHIFT + 1);
const K_CODE_TASK: u32 = 1 << (KIND_SHIFT + 2);
const K_WRITING: u32 = 1 << (KIND_SHIFT + 3);
const K_ADVICE: u32 = 1 << (KIND_SHIFT + 4);
const K_TRANSFORM: u32 = 1 << (KIND_SHIFT + 5);
const K_SMALLTALK: u32 = 1 << (KIND_SHIFT + 6);
const K_FACT: u32 = 1 << (KIND_SHIFT + 7);
const K_EXAM: u32 = 1 << (KIND_SHIFT + 8);
const K_SYSTEMS: u32 = 1 << (KIND_SHIFT + 9);
const K_DOMAIN: u32 = 1 << (KIND_SHIFT + 10);
const K_BUILD: u32 = 1 << (KIND_SHIFT + 11);
const K_CLOSED: u32 = 1 << (KIND_SHIFT + 12);
/// Words at each edge of the newest message that count as its instruction (`lead_*`).
pub const EDGE_WORDS: usize = 12;

/// Keyword lists behind the version-1 `*_words` features (matched on the lowercased word).
const KEYWORDS: [(&str, u32); 84] = [
    ("explain", K_REASONING),
    ("why", K_REASONING),
    ("analyze", K_REASONING),
    ("analyse", K_REASONING),
    ("compare", K_REASONING),
    ("evaluate", K_REASONING),
    ("reason", K_REASONING),
    ("step", K_REASONING),
    ("justify", K_REASONING),
    ("tradeoffs", K_REASONING),
    ("tradeoff", K_REASONING),
    ("critique", K_REASONING),
    ("discuss", K_REASONING),
    ("implications", K_REASONING),
    ("detailed", K_REASONING),
    ("thoroughly", K_REASONING),
    ("prove", K_HARD),
    ("proof", K_HARD),
    ("theorem", K_HARD),
    ("lemma", K_HARD),
    ("derive", K_HARD),
    ("derivation", K_HARD),
    ("rigorous", K_HARD),
    ("optimize", K_HARD),
    ("optimise", K_HARD),
    ("algorithm", K_HARD),
    ("complexity", K_HARD),
    ("architecture", K_HARD),
    ("concurrency", K_HARD),
    ("distributed", K_HARD),
    ("asymptotic", K_HARD),
    ("integral", K_HARD),
    ("eigenvalue", K_HARD),
    ("polynomial", K_HARD),
    ("recursion", K_HARD),
    ("formally", K_HARD),
    ("invariant", K_HARD),
    ("probability", K_HARD),
    ("combinatorics", K_HARD),
    ("olympiad", K_HARD),
    ("must", K_CONSTRAINT),
    ("exactly", K_CONSTRAINT),
    ("without", K_CONSTRAINT),
    ("only", K_CONSTRAINT),
    ("least", K_CONSTRAINT),
    ("most", K_CONSTRAINT),
    ("ensure", K_CONSTRAINT),
    ("should", K_CONSTRAINT),
    ("format", K_CONSTRAINT),
    ("strictly", K_CONSTRAINT),
    ("constraints", K_CONSTRAINT),
    ("requirements", K_CONSTRAINT),
    ("translate", K_EASY),
    ("summarize", K_EASY),
    ("summarise", K_EASY),
    ("summary", K_EASY),
    ("extract", K_EASY),
    ("list", K_EASY),
    ("classify", K_EASY),
    ("rewrite", K_EASY),
    ("convert", K_EASY),
    ("hello", K_EASY),
    ("hi", K_EASY),
    ("thanks", K_EASY),
    ("thank", K_EASY),
    ("spell", K_EASY),
    ("reformat", K_EASY),
    ("capital", K_EASY),
    ("function", K_CODE),
    ("def", K_CODE),
    ("class", K_CODE),
    ("return", K_CODE),
    ("import", K_CODE),
    ("const", K_CODE),
    ("let", K_CODE),
    ("fn", K_CODE),
    ("struct", K_CODE),
    ("impl", K_CODE),
    ("public", K_CODE),
    ("void", K_CODE),
    ("select", K_CODE),
    ("async", K_CODE),
    ("await", K_CODE),
    ("lambda", K_CODE),
];

/// Task-kind word lists (version 3); a word may be in several lists and in [`KEYWORDS`].
const KIND_WORDS: [(&str, u32); 301] = [
    ("prove", K_PROOF),
    ("proves", K_PROOF),
    ("proving", K_PROOF),
    ("proof", K_PROOF),
    ("proofs", K_PROOF),
    ("derive", K_PROOF),
    ("derivation", K_PROOF),
    ("lemma", K_PROOF),
    ("theorem", K_PROOF),
    ("rigorous", K_PROOF),
    ("rigorously", K_PROOF),
    ("induction", K_PROOF),
    ("contradiction", K_PROOF),
    ("qed", K_PROOF),
    ("iff", K_PROOF),
    ("corollary", K_PROOF),
    ("solve", K_MATH),
    ("equation", K_MATH),
    ("equations", K_MATH),
    ("integer", K_MATH),
    ("integers", K_MATH),
    ("compute", K_MATH),
    ("calculate", K_MATH),
    ("sum", K_MATH),
    ("prime", K_MATH),
    ("primes", K_MATH),
    ("triangle", K_MATH),
    ("circle", K_MATH),
    ("polynomial", K_MATH),
    ("probability", K_MATH),
    ("fraction", K_MATH),
    ("modulo", K_MATH),
    ("divisible", K_MATH),
    ("digits", K_MATH),
    ("area", K_MATH),
    ("perimeter", K_MATH),
    ("radius", K_MATH),
    ("angle", K_MATH),
    ("sqrt", K_MATH),
    ("frac", K_MATH),
    ("matrix", K_MATH),
    ("integral", K_MATH),
    ("derivative", K_MATH),
    ("remainder", K_MATH),
    ("factor", K_MATH),
    ("roots", K_MATH),
    ("real", K_MATH),
    ("positive", K_MATH),
    ("negative", K_MATH),
    ("greatest", K_MATH),
    ("smallest", K_MATH),
    ("largest", K_MATH),
    ("maximum", K_MATH),
    ("minimum", K_MATH),
    ("expected", K_MATH),
    ("value", K_MATH),
    ("code", K_CODE_TASK),
    ("python", K_CODE_TASK),
    ("javascript", K_CODE_TASK),
    ("typescript", K_CODE_TASK),
    ("java", K_CODE_TASK),
    ("rust", K_CODE_TASK),
    ("golang", K_CODE_TASK),
    ("sql", K_CODE_TASK),
    ("bash", K_CODE_TASK),
    ("script", K_CODE_TASK),
    ("bug", K_CODE_TASK),
    ("debug", K_CODE_TASK),
    ("error", K_CODE_TASK),
    ("exception", K_CODE_TASK),
    ("compile", K_CODE_TASK),
    ("api", K_CODE_TASK),
    ("regex", K_CODE_TASK),
    ("implement", K_CODE_TASK),
    ("refactor", K_CODE_TASK),
    ("program", K_CODE_TASK),
    ("library", K_CODE_TASK),
    ("framework", K_CODE_TASK),
    ("docker", K_CODE_TASK),
    ("react", K_CODE_TASK),
    ("django", K_CODE_TASK),
    ("css", K_CODE_TASK),
    ("html", K_CODE_TASK),
    ("assert", K_CODE_TASK),
    ("output", K_CODE_TASK),
    ("write", K_WRITING),
    ("essay", K_WRITING),
    ("story", K_WRITING),
    ("poem", K_WRITING),
    ("blog", K_WRITING),
    ("article", K_WRITING),
    ("draft", K_WRITING),
    ("compose", K_WRITING),
    ("describe", K_WRITING),
    ("imagine", K_WRITING),
    ("create", K_WRITING),
    ("generate", K_WRITING),
    ("letter", K_WRITING),
    ("speech", K_WRITING),
    ("song", K_WRITING),
    ("slogan", K_WRITING),
    ("tweet", K_WRITING),
    ("screenplay", K_WRITING),
    ("narrative", K_WRITING),
    ("plan", K_ADVICE),
    ("strategy", K_ADVICE),
    ("advice", K_ADVICE),
    ("recommend", K_ADVICE),
    ("suggest", K_ADVICE),
    ("ideas", K_ADVICE),
    ("tips", K_ADVICE),
    ("improve", K_ADVICE),
    ("pros", K_ADVICE),
    ("cons", K_ADVICE),
    ("help", K_ADVICE),
    ("guide", K_ADVICE),
    ("approach", K_ADVICE),
    ("summarize", K_TRANSFORM),
    ("summarise", K_TRANSFORM),
    ("summary", K_TRANSFORM),
    ("tldr", K_TRANSFORM),
    ("translate", K_TRANSFORM),
    ("translation", K_TRANSFORM),
    ("extract", K_TRANSFORM),
    ("reformat", K_TRANSFORM),
    ("rewrite", K_TRANSFORM),
    ("paraphrase", K_TRANSFORM),
    ("convert", K_TRANSFORM),
    ("proofread", K_TRANSFORM),
    ("correct", K_TRANSFORM),
    ("fix", K_TRANSFORM),
    ("grammar", K_TRANSFORM),
    ("typo", K_TRANSFORM),
    ("spelling", K_TRANSFORM),
    ("shorten", K_TRANSFORM),
    ("simplify", K_TRANSFORM),
    ("bullet", K_TRANSFORM),
    ("bullets", K_TRANSFORM),
    ("classify", K_TRANSFORM),
    ("categorize", K_TRANSFORM),
    ("sentiment", K_TRANSFORM),
    ("capitalize", K_TRANSFORM),
    ("alphabetize", K_TRANSFORM),
    ("sort", K_TRANSFORM),
    ("json", K_TRANSFORM),
    ("csv", K_TRANSFORM),
    ("table", K_TRANSFORM),
    ("hi", K_SMALLTALK),
    ("hello", K_SMALLTALK),
    ("hey", K_SMALLTALK),
    ("thanks", K_SMALLTALK),
    ("thank", K_SMALLTALK),
    ("morning", K_SMALLTALK),
    ("evening", K_SMALLTALK),
    ("bye", K_SMALLTALK),
    ("goodbye", K_SMALLTALK),
    ("lol", K_SMALLTALK),
    ("cool", K_SMALLTALK),
    ("great", K_SMALLTALK),
    ("nice", K_SMALLTALK),
    ("joke", K_SMALLTALK),
    ("weather", K_SMALLTALK),
    ("who", K_FACT),
    ("what", K_FACT),
    ("when", K_FACT),
    ("where", K_FACT),
    ("capital", K_FACT),
    ("population", K_FACT),
    ("year", K_FACT),
    ("born", K_FACT),
    ("invented", K_FACT),
    ("founded", K_FACT),
    ("meaning", K_FACT),
    ("define", K_FACT),
    ("definition", K_FACT),
    ("synonym", K_FACT),
    ("answer", K_EXAM),
    ("options", K_EXAM),
    ("choices", K_EXAM),
    ("correct", K_EXAM),
    ("following", K_EXAM),
    ("statement", K_EXAM),
    ("statements", K_EXAM),
    ("true", K_EXAM),
    ("false", K_EXAM),
    ("best", K_EXAM),
    ("architecture", K_SYSTEMS),
    ("scalable", K_SYSTEMS),
    ("scalability", K_SYSTEMS),
    ("distributed", K_SYSTEMS),
    ("concurrency", K_SYSTEMS),
    ("concurrent", K_SYSTEMS),
    ("consensus", K_SYSTEMS),
    ("latency", K_SYSTEMS),
    ("throughput", K_SYSTEMS),
    ("race", K_SYSTEMS),
    ("deadlock", K_SYSTEMS),
    ("mutex", K_SYSTEMS),
    ("thread", K_SYSTEMS),
    ("threads", K_SYSTEMS),
    ("lock", K_SYSTEMS),
    ("atomic", K_SYSTEMS),
    ("replication", K_SYSTEMS),
    ("sharding", K_SYSTEMS),
    ("microservices", K_SYSTEMS),
    ("tradeoffs", K_SYSTEMS),
    ("kubernetes", K_SYSTEMS),
    ("legal", K_DOMAIN),
    ("law", K_DOMAIN),
    ("contract", K_DOMAIN),
    ("liability", K_DOMAIN),
    ("jurisdiction", K_DOMAIN),
    ("statute", K_DOMAIN),
    ("clause", K_DOMAIN),
    ("plaintiff", K_DOMAIN),
    ("defendant", K_DOMAIN),
    ("diagnosis", K_DOMAIN),
    ("differential", K_DOMAIN),
    ("symptoms", K_DOMAIN),
    ("patient", K_DOMAIN),
    ("dosage", K_DOMAIN),
    ("contraindications", K_DOMAIN),
    ("treatment", K_DOMAIN),
    ("clinical", K_DOMAIN),
    ("regulatory", K_DOMAIN),
    ("compliance", K_DOMAIN),
    ("php", K_CODE_TASK),
    ("csharp", K_CODE_TASK),
    ("kotlin", K_CODE_TASK),
    ("swift", K_CODE_TASK),
    ("ruby", K_CODE_TASK),
    ("perl", K_CODE_TASK),
    ("scala", K_CODE_TASK),
    ("haskell", K_CODE_TASK),
    ("matlab", K_CODE_TASK),
    ("vba", K_CODE_TASK),
    ("excel", K_CODE_TASK),
    ("powershell", K_CODE_TASK),
    ("linux", K_CODE_TASK),
    ("nginx", K_CODE_TASK),
    ("git", K_CODE_TASK),
    ("npm", K_CODE_TASK),
    ("pandas", K_CODE_TASK),
    ("numpy", K_CODE_TASK),
    ("pytorch", K_CODE_TASK),
    ("tensorflow", K_CODE_TASK),
    ("flask", K_CODE_TASK),
    ("nodejs", K_CODE_TASK),
    ("node", K_CODE_TASK),
    ("angular", K_CODE_TASK),
    ("vue", K_CODE_TASK),
    ("unity", K_CODE_TASK),
    ("query", K_CODE_TASK),
    ("database", K_CODE_TASK),
    ("server", K_CODE_TASK),
    ("class", K_CODE_TASK),
    ("method", K_CODE_TASK),
    ("variable", K_CODE_TASK),
    ("loop", K_CODE_TASK),
    ("array", K_CODE_TASK),
    ("string", K_CODE_TASK),
    ("endpoint", K_CODE_TASK),
    ("backend", K_CODE_TASK),
    ("frontend", K_CODE_TASK),
    ("yaml", K_CODE_TASK),
    ("dockerfile", K_CODE_TASK),
    ("terraform", K_CODE_TASK),
    ("aws", K_CODE_TASK),
    ("azure", K_CODE_TASK),
    ("segfault", K_CODE_TASK),
    ("traceback", K_CODE_TASK),
    ("stacktrace", K_CODE_TASK),
    ("pointer", K_CODE_TASK),
    ("memory", K_CODE_TASK),
    ("leak", K_CODE_TASK),
    ("implement", K_BUILD),
    ("build", K_BUILD),
    ("develop", K_BUILD),
    ("design", K_BUILD),
    ("create", K_BUILD),
    ("make", K_BUILD),
    ("setup", K_BUILD),
    ("configure", K_BUILD),
    ("deploy", K_BUILD),
    ("integrate", K_BUILD),
    ("migrate", K_BUILD),
    ("optimize", K_BUILD),
    ("automate", K_BUILD),
    ("architect", K_BUILD),
    ("scale", K_BUILD),
    ("only", K_CLOSED),
    ("letter", K_CLOSED),
    ("boxed", K_CLOSED),
    ("briefly", K_CLOSED),
    ("concise", K_CLOSED),
    ("yes", K_CLOSED),
    ("choose", K_CLOSED),
    ("select", K_CLOSED),
    ("pick", K_CLOSED),
    ("number", K_CLOSED),
    ("single", K_CLOSED),
];

/// Keyword hashes (sorted, flags of every list merged) and an 8192-bit filter over them so most
/// words are rejected with one bit test. Built once per VM.
/// Open-addressing table of keyword hashes: a word costs one or two probes (a sorted list's
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
