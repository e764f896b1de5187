//! What the event-stream targets (`sse_usage`, `anthropic_events`, `responses_events`) share: the
//! input layout (byte 0 picks the event size cap, byte 1 seeds the chunk sizes, the rest is the
//! stream), the three feedings whose results must agree, and pricing a usage on every model.

use llm_router::pricing::PriceTable;
use llm_router::sse::SseScanner;
use llm_router::usage::Usage;

/// What a scan found: usage, events, bad events, oversized events.
type Scan = (Option<Usage>, u64, u64, u64);

fn scan<'a>(make: fn(usize) -> SseScanner, max: usize, chunks: impl Iterator<Item = &'a [u8]>) -> Scan {
    let mut s = make(max);
    for c in chunks {
        s.push(c);
    }
    s.finish();
    (s.usage(), s.events(), s.bad_events(), s.oversized_events())
}

/// Scans the stream of `data` with scanners from `make`, fed whole, one byte at a time and in
/// pseudo-random chunks, asserts the three agree, and returns the stream and its usage.
pub fn scan_every_way(data: &[u8], make: fn(usize) -> SseScanner) -> Option<(&[u8], Option<Usage>)> {
    let [ctl, seed, stream @ ..] = data else {
        return None;
    };
    let max = event_cap(*ctl);
    let whole = scan(make, max, std::iter::once(stream));
    assert_eq!(whole, scan(make, max, stream.chunks(1)), "byte-at-a-time feeding changed the result");
    let chunks = random_chunks(*seed, stream);
    assert_eq!(whole, scan(make, max, chunks.iter().copied()), "chunked feeding changed the result");
    Some((stream, whole.0))
}

/// The event size cap byte 0 of the input picks.
pub fn event_cap(ctl: u8) -> usize {
    match ctl & 3 {
        0 => 1 << 20,
        1 => 64,
        2 => 7,
        _ => 1,
    }
}

/// `stream` cut in pseudo-random chunks of 1..=16 bytes, from an xorshift seeded by `seed`.
pub fn random_chunks(seed: u8, stream: &[u8]) -> Vec<&[u8]> {
    let mut x = u32::from(seed) | 0x9e37_7900;
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
    chunks
}

thread_local! {
    static PRICES: PriceTable = PriceTable::default_table().unwrap();
}

/// A usage a reader accepted prices on every model of the embedded table (as a counterfactual:
/// at standard rates where the model is not sold on the answer's service tier, which a fuzzed
/// answer may name).
pub fn prices_everywhere(u: &Usage) {
    PRICES.with(|p| {
        for m in p.models() {
            p.counterfactual_cost_micro_usd(&m.id, u).expect("valid usage prices");
        }
    });
}
