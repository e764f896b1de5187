//! SSE/usage scanner: arbitrary bytes as an upstream SSE stream, fed whole, one byte at a time
//! and in pseudo-random chunks. The result must not depend on the chunking. Edit mode
//! (`push_edit`, removing the usage-only chunk) must scan exactly as `push` does, forward the same
//! bytes however the stream is chunked, and only ever remove bytes. The same bytes are also read
//! as a non-streaming JSON answer, and any usage found is priced.
//!
//! Input layout: byte 0 picks the event size cap, byte 1 seeds the chunk sizes, the rest is
//! the stream.
#![no_main]

// This target shares the input layout and the pricing check; it scans with its own summary
// (which also compares `saw_done` and the edit mode), so the shared scan goes unused here.
#[allow(dead_code)]
mod event_streams;

use libfuzzer_sys::fuzz_target;
use llm_router::sse::SseScanner;
use llm_router::usage::{self, Usage, MAX_TOKENS_PER_FIELD};

#[derive(Debug, PartialEq)]
struct Summary {
    usage: Option<Usage>,
    saw_done: bool,
    events: u64,
    bad_events: u64,
    oversized_events: u64,
}

fn summary(s: &SseScanner) -> Summary {
    Summary {
        usage: s.usage(),
        saw_done: s.saw_done(),
        events: s.events(),
        bad_events: s.bad_events(),
        oversized_events: s.oversized_events(),
    }
}

/// Edit mode: the summary, the forwarded bytes and the number of removed events.
fn edit<'a>(max: usize, chunks: impl Iterator<Item = &'a [u8]>) -> (Summary, Vec<u8>, u64) {
    let mut s = SseScanner::new(max);
    let mut out = Vec::new();
    for c in chunks {
        s.push_edit(c, &mut out);
    }
    s.finish_edit(&mut out);
    (summary(&s), out, s.removed_events())
}

fn scan<'a>(max: usize, chunks: impl Iterator<Item = &'a [u8]>) -> Summary {
    let mut s = SseScanner::new(max);
    for c in chunks {
        s.push(c);
    }
    s.finish();
    summary(&s)
}

fn check_usage(u: &Usage) {
    assert!(u.prompt_tokens <= MAX_TOKENS_PER_FIELD);
    assert!(u.completion_tokens <= MAX_TOKENS_PER_FIELD);
    assert!(u.cached_tokens <= u.prompt_tokens);
    event_streams::prices_everywhere(u);
}

fuzz_target!(|data: &[u8]| {
    let [ctl, seed, stream @ ..] = data else {
        return;
    };
    let max = event_streams::event_cap(*ctl);
    let whole = scan(max, std::iter::once(stream));
    let bytewise = scan(max, stream.chunks(1));
    assert_eq!(whole, bytewise, "byte-at-a-time feeding changed the result");

    let chunks = event_streams::random_chunks(*seed, stream);
    let chunked = scan(max, chunks.iter().copied());
    assert_eq!(whole, chunked, "chunked feeding changed the result");

    let edited = edit(max, std::iter::once(stream));
    assert_eq!(edited.0, whole, "edit mode scanned differently");
    assert_eq!(edit(max, stream.chunks(1)), edited, "byte-at-a-time feeding changed the edit");
    assert_eq!(edit(max, chunks.iter().copied()), edited, "chunked feeding changed the edit");
    assert!(edited.1.len() <= stream.len(), "edit mode added bytes");
    if edited.2 == 0 {
        assert_eq!(edited.1, stream, "nothing removed but the bytes changed");
    }
    if let Some(u) = &whole.usage {
        check_usage(u);
    }
    if let Ok(u) = usage::usage_from_json(stream) {
        check_usage(&u);
    }
});
