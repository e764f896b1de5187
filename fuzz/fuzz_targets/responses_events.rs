//! OpenAI Responses event stream: arbitrary bytes as an upstream SSE stream read by the
//! Responses scanner (`SseScanner::responses`), fed whole, one byte at a time and in
//! pseudo-random chunks. The result must not depend on the chunking, and any usage found must
//! be consistent (cached tokens inside the input count) and price on every model. The same
//! bytes are also read as a non-streaming Responses answer and as a Responses request body (whose
//! oracle comparison runs in `request_policy`).
//!
//! Input layout: byte 0 picks the event size cap, byte 1 seeds the chunk sizes, the rest is
//! the stream.
#![no_main]

mod event_streams;

use libfuzzer_sys::fuzz_target;
use llm_router::api::Api;
use llm_router::responses;
use llm_router::sse::SseScanner;
use llm_router::usage::{Usage, MAX_TOKENS_PER_FIELD};

const SCANNER: fn(usize) -> SseScanner = SseScanner::responses;

fn check_usage(u: &Usage) {
    assert!(u.completion_tokens <= MAX_TOKENS_PER_FIELD);
    assert!(u.prompt_tokens <= MAX_TOKENS_PER_FIELD);
    assert!(u.cached_tokens <= u.prompt_tokens);
    assert_eq!((u.cache_write_5m_tokens, u.cache_write_1h_tokens), (0, 0), "Responses report no cache writes");
    event_streams::prices_everywhere(u);
}

fuzz_target!(|data: &[u8]| {
    let Some((stream, usage)) = event_streams::scan_every_way(data, SCANNER) else {
        return;
    };
    if let Some(u) = &usage {
        check_usage(u);
    }
    if let Ok(u) = Api::Responses.usage_from_json(stream) {
        check_usage(&u);
    }
    if let Ok(r) = responses::inspect(stream) {
        // Every recorded model span holds a JSON value of the body.
        for span in &r.spans.model {
            assert!(span.end <= stream.len());
        }
    }
});
