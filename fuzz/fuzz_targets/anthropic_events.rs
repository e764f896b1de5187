//! Anthropic Messages event stream: arbitrary bytes as an upstream SSE stream read by the
//! Anthropic scanner (`SseScanner::anthropic`), fed whole, one byte at a time and in
//! pseudo-random chunks. The result must not depend on the chunking, and any usage found must
//! be consistent (reads and cache writes inside the input count) and price on every model. The
//! same bytes are also read as a non-streaming Anthropic answer and as a Messages request body.
//!
//! Input layout: byte 0 picks the event size cap, byte 1 seeds the chunk sizes, the rest is
//! the stream.
#![no_main]

mod event_streams;

use libfuzzer_sys::fuzz_target;
use llm_router::anthropic;
use llm_router::anthropic_usage;
use llm_router::sse::SseScanner;
use llm_router::usage::{Usage, MAX_TOKENS_PER_FIELD};

const SCANNER: fn(usize) -> SseScanner = SseScanner::anthropic;

fn check_usage(u: &Usage) {
    assert!(u.completion_tokens <= MAX_TOKENS_PER_FIELD);
    assert!(u.prompt_tokens <= 4 * MAX_TOKENS_PER_FIELD);
    assert!(u.cached_tokens <= u.prompt_tokens);
    assert!(u.uncached_input().is_some(), "cache parts exceed the input: {u:?}");
    event_streams::prices_everywhere(u);
}

fuzz_target!(|data: &[u8]| {
    let Some((stream, usage)) = event_streams::scan_every_way(data, SCANNER) else {
        return;
    };
    if let Some(u) = &usage {
        check_usage(u);
    }
    if let Ok(u) = anthropic_usage::usage_from_json(stream) {
        check_usage(&u);
    }
    if let Ok(r) = anthropic::inspect(stream) {
        // Every recorded model span holds a JSON value of the body.
        for span in &r.inspected.spans.model {
            assert!(span.end <= stream.len());
        }
    }
});
