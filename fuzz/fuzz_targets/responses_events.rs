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

use libfuzzer_sys::fuzz_target;
use llm_router::api::Api;
use llm_router::responses;
use llm_router::pricing::PriceTable;
use llm_router::sse::SseScanner;
use llm_router::usage::{Usage, MAX_TOKENS_PER_FIELD};

fn scan<'a>(max: usize, chunks: impl Iterator<Item = &'a [u8]>) -> (Option<Usage>, u64, u64, u64) {
    let mut s = SseScanner::responses(max);
    for c in chunks {
        s.push(c);
    }
    s.finish();
    (s.usage(), s.events(), s.bad_events(), s.oversized_events())
}

thread_local! {
    static PRICES: PriceTable = PriceTable::default_table().unwrap();
}

fn check_usage(u: &Usage) {
    assert!(u.completion_tokens <= MAX_TOKENS_PER_FIELD);
    assert!(u.prompt_tokens <= MAX_TOKENS_PER_FIELD);
    assert!(u.cached_tokens <= u.prompt_tokens);
    assert_eq!((u.cache_write_5m_tokens, u.cache_write_1h_tokens), (0, 0), "Responses report no cache writes");
    PRICES.with(|p| {
        for m in p.models() {
            m.cost_micro_usd(u).expect("valid usage prices");
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let [ctl, seed, stream @ ..] = data else {
        return;
    };
    let max = match ctl & 3 {
        0 => 1 << 20,
        1 => 64,
        2 => 7,
        _ => 1,
    };
    let whole = scan(max, std::iter::once(stream));
    assert_eq!(whole, scan(max, stream.chunks(1)), "byte-at-a-time feeding changed the result");
    let mut x = u32::from(*seed) | 0x9e37_7900;
    let mut chunks = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let n = (x as usize % 16 + 1).min(rest.len());
        let (head, tail) = rest.split_at(n);
        chunks.push(head);
        rest = tail;
    }
    assert_eq!(whole, scan(max, chunks.iter().copied()), "chunked feeding changed the result");
    if let Some(u) = &whole.0 {
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
