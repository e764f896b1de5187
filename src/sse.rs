//! Incremental scanner that extracts usage accounting from a streamed
//! (Server-Sent Events) OpenAI chat completion.
//!
//! Bytes are fed with [`SseScanner::push`] exactly as they arrive, split
//! anywhere (mid-line, mid-UTF-8 sequence, between `\r` and `\n`), and
//! [`SseScanner::finish`] is called at the end of the stream.
//!
//! # Parsing
//!
//! Lines and events follow the WHATWG "event stream interpretation" rules:
//!
//! - a line ends with CRLF, LF or CR; a CR at the end of one chunk followed
//!   by an LF at the start of the next is a single line end;
//! - a line starting with `:` is a comment and is ignored;
//! - `data:value` (or `data: value`, one leading space removed; or a bare
//!   `data`, an empty value) appends to the event's data, several data lines
//!   being joined with `\n`;
//! - every other field (`event`, `id`, `retry`, unknown names) is ignored;
//! - a blank line dispatches the event if it has data;
//! - a single UTF-8 byte order mark at the very start of the stream is skipped.
//!
//! Unlike WHATWG (which discards an unterminated last event),
//! [`SseScanner::finish`] treats the stream end as the end of the current
//! line and dispatches any pending data, so a stream missing its final blank
//! line still yields its usage, while a stream cut in the middle of a JSON
//! payload yields a bad event.
//!
//! # What is extracted
//!
//! Each dispatched event whose data is `[DONE]` sets [`SseScanner::saw_done`].
//! Any other data is parsed as JSON; data that is not valid JSON or not a JSON
//! object is counted in [`SseScanner::bad_events`], never an error. From each
//! object the scanner takes `usage` (what the flow prices) and whether `choices` is an empty
//! array (what makes a usage-only chunk, below). A `usage` present and not `null` is validated
//! like a non-streaming body ([`crate::usage`]) and replaces the previous usage. An invalid
//! usage object (e.g. a negative count) is counted as a bad event and clears the usage: the
//! last reported usage is the one that counts, and if it is unusable the stream's usage is
//! unknown.
//!
//! # Removing the usage-only chunk
//!
//! When the router itself asked the upstream for usage (`stream_options.include_usage`), the
//! final usage-only chunk (`"choices": []` with a non-null `usage`, valid or not) is an answer
//! shape the client did not ask for: OpenAI's documented loop `chunk.choices[0].delta.content`
//! fails on it.
//! [`SseScanner::push_edit`] scans a chunk like [`SseScanner::push`] and writes the bytes to
//! forward instead of it: every block (the lines up to and including a blank line) goes on
//! unchanged except a block whose event is usage-only, which is dropped. Only the bytes of the
//! current, unfinished block are withheld between chunks, at most [`WITHHELD_MAX`]; a block
//! longer than that is forwarded as it comes and is never dropped (a usage-only chunk is a few
//! hundred bytes), so what is forwarded does not depend on the chunking.
//! [`SseScanner::finish_edit`] forwards whatever is still withheld.
//!
//! # Cost
//!
//! Memory is bounded: the only buffer holds the pending event's data, at most
//! `max_event_bytes` bytes (capacity included). An event whose data would
//! exceed it is dropped as soon as the limit is crossed and counted in
//! [`SseScanner::oversized_events`]; later events are unaffected. Non-data
//! lines (comments, `id`, ...) are skipped without buffering whatever their
//! length. Line scanning works on whole runs of bytes, not byte by byte, and
//! payloads are parsed with a visitor that skips everything except `usage`
//! and the emptiness of `choices`, so content deltas cost no allocation.

use crate::anthropic_usage::{EventRead, EventUsage};
use crate::service_tier::ServiceTier;
use crate::sse_chunk::Chunk;
use crate::usage::{usage_from_usage_object, Usage};

/// The only field name the scanner keeps.
const DATA: &[u8] = b"data";
/// UTF-8 byte order mark.
const BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
/// Smallest capacity allocated for the event buffer.
const MIN_CAPACITY: usize = 256;
/// Most bytes of an unfinished block [`SseScanner::push_edit`] withholds from the client.
pub const WITHHELD_MAX: usize = 64 * 1024;

/// A block end found while scanning one chunk (edit mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cut {
    /// Offset in the chunk just past the blank line (and past the LF of a CRLF in the chunk).
    end: usize,
    /// The blank line ended with a CR that is the chunk's last byte: an LF starting the next
    /// chunk still belongs to this block.
    open_cr: bool,
    /// The block's event was usage-only.
    usage_only: bool,
}

/// Where the scanner is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    /// At the start of the line, or the first `n` bytes of the line are a
    /// prefix of `data` (`Name(0)` is the start of the line).
    Name(u8),
    /// Just after `data:`: one space here is dropped.
    ValueStart,
    /// Inside a data value: bytes go to the event buffer.
    Value,
    /// The rest of the line is ignored (comment, other field, oversized).
    Skip,
}

/// Progress through a possible byte order mark at the start of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bom {
    /// The stream so far consists of the first `n` bytes of a BOM.
    Matched(u8),
    /// Past the start of the stream.
    Done,
}

/// Incremental SSE scanner collecting the usage and stream statistics of a
/// streamed chat completion.
#[derive(Debug, Clone)]
pub struct SseScanner {
    max_event_bytes: usize,
    line: Line,
    /// The last byte was a CR ending a line: an LF right after it is part of
    /// the same line end.
    after_cr: bool,
    bom: Bom,
    /// Data of the pending event (data lines joined with `\n`).
    data: Vec<u8>,
    /// The pending event has at least one data field.
    has_data: bool,
    /// The pending event went over `max_event_bytes` and is being dropped.
    oversized: bool,
    usage: Option<Usage>,
    saw_done: bool,
    events: u64,
    bad_events: u64,
    oversized_events: u64,
    /// The event dispatched last was usage-only (`choices: []` and a valid `usage`); taken at
    /// the block end that dispatched it.
    dispatched_usage_only: bool,
    /// Edit mode: bytes of the current block not forwarded yet.
    withheld: Vec<u8>,
    /// Edit mode: part of the current block was already forwarded, so it cannot be dropped.
    block_forwarded: bool,
    /// Edit mode: the last block ended with a CR at the end of a chunk, so an LF at the start of
    /// the next chunk is its line end: `Some(true)` forwards it, `Some(false)` drops it with
    /// the dropped block.
    leading_lf: Option<bool>,
    /// Edit mode: usage-only events removed.
    removed_events: u64,
    /// An Anthropic Messages stream: its events are folded here instead of read as OpenAI
    /// chunks (see [`crate::anthropic_usage`]).
    anthropic: Option<EventUsage>,
}

impl SseScanner {
    /// Creates a scanner that drops (and counts) any event whose data is
    /// longer than `max_event_bytes` instead of buffering it.
    pub fn new(max_event_bytes: usize) -> Self {
        SseScanner {
            max_event_bytes,
            line: Line::Name(0),
            after_cr: false,
            bom: Bom::Matched(0),
            data: Vec::new(),
            has_data: false,
            oversized: false,
            usage: None,
            saw_done: false,
            events: 0,
            bad_events: 0,
            oversized_events: 0,
            dispatched_usage_only: false,
            withheld: Vec::new(),
            block_forwarded: false,
            leading_lf: None,
            removed_events: 0,
            anthropic: None,
        }
    }

    /// A scanner for an Anthropic Messages event stream (same framing and limits as
    /// [`SseScanner::new`]; usage from `message_start` / `message_delta`).
    pub fn anthropic(max_event_bytes: usize) -> Self {
        SseScanner { anthropic: Some(EventUsage::default()), ..Self::new(max_event_bytes) }
    }

    /// Feeds the next bytes of the stream; chunk boundaries may fall anywhere.
    pub fn push(&mut self, chunk: &[u8]) {
        self.scan(chunk, None);
    }

    /// Feeds the next bytes of the stream like [`SseScanner::push`] and appends to `out` the
    /// bytes to forward in their place: the chunk without usage-only events, with the current
    /// unfinished block withheld until it ends (see the module documentation).
    pub fn push_edit(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let mut cuts = Vec::new();
        self.scan(chunk, Some(&mut cuts));
        let mut start = 0;
        if let (Some(forward), Some(b'\n')) = (self.leading_lf.take(), chunk.first()) {
            if forward {
                out.push(b'\n');
            }
            start = 1;
        }
        for cut in cuts {
            let block = chunk.get(start..cut.end).unwrap_or_default();
            // The length test makes the outcome independent of how the stream was chunked: a
            // block over the limit is never removed, whether it came whole or in pieces.
            let remove = cut.usage_only
                && !self.block_forwarded
                && self.withheld.len().saturating_add(block.len()) <= WITHHELD_MAX;
            if remove {
                self.withheld.clear();
                self.removed_events = self.removed_events.saturating_add(1);
            } else {
                out.append(&mut self.withheld);
                out.extend_from_slice(block);
            }
            if cut.open_cr {
                self.leading_lf = Some(!remove);
            }
            self.block_forwarded = false;
            start = cut.end.max(start);
        }
        let rest = chunk.get(start..).unwrap_or_default();
        if self.block_forwarded || self.withheld.len().saturating_add(rest.len()) > WITHHELD_MAX {
            self.block_forwarded |= !self.withheld.is_empty() || !rest.is_empty();
            out.append(&mut self.withheld);
            out.extend_from_slice(rest);
        } else {
            self.withheld.extend_from_slice(rest);
        }
    }

    /// Ends the stream like [`SseScanner::finish`] and appends to `out` what
    /// [`SseScanner::push_edit`] still withheld, unless it is a usage-only event.
    pub fn finish_edit(&mut self, out: &mut Vec<u8>) {
        self.finish();
        if std::mem::take(&mut self.dispatched_usage_only) && !self.block_forwarded && !self.withheld.is_empty() {
            self.withheld.clear();
            self.removed_events = self.removed_events.saturating_add(1);
        } else {
            out.append(&mut self.withheld);
        }
        self.block_forwarded = false;
        self.leading_lf = None;
    }

    /// Usage-only events [`SseScanner::push_edit`] and [`SseScanner::finish_edit`] removed.
    pub fn removed_events(&self) -> u64 {
        self.removed_events
    }

    fn scan(&mut self, chunk: &[u8], mut cuts: Option<&mut Vec<Cut>>) {
        let mut rest = self.skip_bom(chunk);
        while let Some((&byte, tail)) = rest.split_first() {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                rest = tail;
                continue;
            }
            match self.line {
                Line::Value | Line::Skip => {
                    let end = rest.iter().position(|&b| b == b'\n' || b == b'\r').unwrap_or(rest.len());
                    let (segment, after) = rest.split_at_checked(end).unwrap_or((rest, &[]));
                    if self.line == Line::Value {
                        self.append(segment);
                    }
                    rest = match after.split_first() {
                        Some((&eol, tail)) => {
                            self.end_line(eol == b'\r');
                            tail
                        }
                        None => after,
                    };
                }
                Line::ValueStart => {
                    // The byte is processed again in `Value` unless it is the
                    // one optional space.
                    self.line = Line::Value;
                    if byte == b' ' {
                        rest = tail;
                    }
                }
                Line::Name(n) => {
                    rest = tail;
                    match byte {
                        b'\n' | b'\r' => {
                            self.end_line(byte == b'\r');
                            if let (0, Some(cuts)) = (n, cuts.as_deref_mut()) {
                                // A blank line: the block ends here (with the LF of a CRLF).
                                let mut end = chunk.len().saturating_sub(rest.len());
                                let mut open_cr = false;
                                if byte == b'\r' {
                                    match rest.first() {
                                        Some(b'\n') => end = end.saturating_add(1),
                                        Some(_) => {}
                                        None => open_cr = true,
                                    }
                                }
                                let usage_only = std::mem::take(&mut self.dispatched_usage_only);
                                cuts.push(Cut { end, open_cr, usage_only });
                            }
                        }
                        b':' if usize::from(n) == DATA.len() => self.start_data_field(),
                        // A comment (n == 0) or a field other than `data`.
                        b':' => self.line = Line::Skip,
                        _ if DATA.get(usize::from(n)) == Some(&byte) => {
                            self.line = Line::Name(n.saturating_add(1));
                        }
                        _ => self.line = Line::Skip,
                    }
                }
            }
        }
    }

    /// Ends the stream: an unterminated last line is treated as complete and
    /// a pending event with data is dispatched. The scanner can then be fed
    /// again as if a new stream started (results accumulate).
    pub fn finish(&mut self) {
        if self.line != Line::Name(0) {
            self.end_line(false);
        }
        self.dispatch();
        self.after_cr = false;
    }

    /// Usage of the last data event whose JSON has a non-null `usage`
    /// object; `None` if there was none or the last one was invalid.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// Whether a `data: [DONE]` event was seen.
    pub fn saw_done(&self) -> bool {
        self.saw_done
    }

    /// Number of dispatched events with data, including `[DONE]`, bad and
    /// oversized ones.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Number of events whose data was not a JSON object, or whose `usage`
    /// object was invalid.
    pub fn bad_events(&self) -> u64 {
        self.bad_events
    }

    /// Number of events dropped because their data exceeded `max_event_bytes`.
    pub fn oversized_events(&self) -> u64 {
        self.oversized_events
    }

    /// Drops a UTF-8 BOM at the very start of the stream, possibly split over
    /// several chunks.
    fn skip_bom<'c>(&mut self, mut chunk: &'c [u8]) -> &'c [u8] {
        while let Bom::Matched(n) = self.bom {
            let Some((&byte, tail)) = chunk.split_first() else {
                break;
            };
            if BOM.get(usize::from(n)) == Some(&byte) {
                chunk = tail;
                self.bom = if usize::from(n) + 1 == BOM.len() { Bom::Done } else { Bom::Matched(n.saturating_add(1)) };
            } else {
                if n > 0 {
                    // The partial BOM bytes began a line that is not a field
                    // we keep.
                    self.line = Line::Skip;
                }
                self.bom = Bom::Done;
            }
        }
        chunk
    }

    fn end_line(&mut self, cr: bool) {
        self.after_cr = cr;
        match self.line {
            Line::Name(0) => self.dispatch(),
            // `data` alone on its line: a data field with an empty value.
            Line::Name(n) if usize::from(n) == DATA.len() => self.start_data_field(),
            _ => {}
        }
        self.line = Line::Name(0);
    }

    fn start_data_field(&mut self) {
        if self.has_data {
            self.append(b"\n");
        }
        self.has_data = true;
        self.line = if self.oversized { Line::Skip } else { Line::ValueStart };
    }

    fn append(&mut self, bytes: &[u8]) {
        if self.oversized || bytes.is_empty() {
            return;
        }
        let needed = self.data.len().saturating_add(bytes.len());
        if needed > self.max_event_bytes {
            self.oversized = true;
            self.data.clear();
            return;
        }
        if needed > self.data.capacity() {
            // Grow geometrically, but never past the limit.
            let target = needed.max(self.data.capacity().saturating_mul(2)).max(MIN_CAPACITY).min(self.max_event_bytes);
            self.data.reserve_exact(target.saturating_sub(self.data.len()));
        }
        self.data.extend_from_slice(bytes);
    }

    fn dispatch(&mut self) {
        if !self.has_data && !self.oversized {
            return;
        }
        self.events = self.events.saturating_add(1);
        if self.oversized {
            self.oversized_events = self.oversized_events.saturating_add(1);
        } else {
            let data = std::mem::take(&mut self.data);
            self.handle_payload(&data);
            self.data = data;
        }
        self.data.clear();
        self.has_data = false;
        self.oversized = false;
    }

    fn handle_payload(&mut self, data: &[u8]) {
        if let Some(events) = &mut self.anthropic {
            if events.on_event(data) == EventRead::Bad {
                self.bad_events = self.bad_events.saturating_add(1);
            }
            self.usage = events.usage();
            return;
        }
        if data.trim_ascii() == b"[DONE]" {
            self.saw_done = true;
            return;
        }
        let fields = match serde_json::from_slice::<Chunk>(data) {
            Ok(Chunk::Object(fields)) => fields,
            Ok(Chunk::NotObject) | Err(_) => {
                self.bad_events = self.bad_events.saturating_add(1);
                return;
            }
        };
        if let Some(usage) = fields.usage {
            // The chunk that answers `include_usage`, whether or not its counts are usable.
            self.dispatched_usage_only = fields.no_choices;
            match usage_from_usage_object(&usage) {
                Ok(usage) => {
                    let service_tier = ServiceTier::from_member(fields.service_tier.as_ref());
                    self.usage = Some(Usage { service_tier, ..usage });
                }
                Err(_) => {
                    self.usage = None;
                    self.bad_events = self.bad_events.saturating_add(1);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    const MAX: usize = 64 * 1024;

    const ROLE: &str = r#"{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#;
    const FINISH: &str = r#"{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#;
    const USAGE: &str = r#"{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[],"usage":{"prompt_tokens":1219,"completion_tokens":10,"total_tokens":1229,"prompt_tokens_details":{"cached_tokens":1024,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}"#;

    const EXPECTED_USAGE: Usage =
        Usage { prompt_tokens: 1219, completion_tokens: 10, cached_tokens: 1024, ..Usage::ZERO };

    /// A content delta chunk; `text` is already JSON-escaped.
    fn content(text: &str) -> String {
        format!(
            r#"{{"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_f9f4fb6dbf","choices":[{{"index":0,"delta":{{"content":"{text}"}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#
        )
    }

    /// Payloads of a realistic OpenAI stream with `stream_options.include_usage`.
    fn payloads() -> Vec<String> {
        vec![
            ROLE.to_string(),
            content("Hello"),
            content(" w\u{f6}rld \u{1f30d}"),
            content(r#" \"usage\": {\"prompt_tokens\": 1}, \"finish_reason\": \"length\""#),
            content(r"line\nbreak\r\ndata: [DONE]\n\n"),
            content(r#": \u00e9\ud83c\udf0d"#),
            FINISH.to_string(),
            USAGE.to_string(),
            "[DONE]".to_string(),
        ]
    }

    fn stream_with(payloads: &[String], eol: &str) -> Vec<u8> {
        let mut s = String::new();
        for p in payloads {
            s.push_str("data: ");
            s.push_str(p);
            s.push_str(eol);
            s.push_str(eol);
        }
        s.into_bytes()
    }

    fn stream(eol: &str) -> Vec<u8> {
        stream_with(&payloads(), eol)
    }

    #[derive(Debug, PartialEq)]
    struct Outcome {
        usage: Option<Usage>,
        saw_done: bool,
        events: u64,
        bad: u64,
        oversized: u64,
    }

    fn outcome(s: &SseScanner) -> Outcome {
        Outcome {
            usage: s.usage(),
            saw_done: s.saw_done(),
            events: s.events(),
            bad: s.bad_events(),
            oversized: s.oversized_events(),
        }
    }

    fn scan<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, max: usize) -> Outcome {
        let mut s = SseScanner::new(max);
        for c in chunks {
            s.push(c);
            assert!(s.data.capacity() <= max, "buffer grew past the limit");
        }
        s.finish();
        outcome(&s)
    }

    fn expected_full() -> Outcome {
        Outcome { usage: Some(EXPECTED_USAGE), saw_done: true, events: 9, bad: 0, oversized: 0 }
    }

    /// Feeds `bytes` whole, split in two at every boundary, one byte at a
    /// time, and in pseudo-random pieces; every way must give `expected`.
    fn check_every_split(bytes: &[u8], max: usize, expected: &Outcome) {
        assert_eq!(&scan([bytes], max), expected, "whole");
        for i in 0..=bytes.len() {
            let (a, b) = bytes.split_at(i);
            assert_eq!(&scan([a, b], max), expected, "split at {i}");
        }
        assert_eq!(&scan(bytes.chunks(1), max), expected, "byte by byte");
        let mut seed = 0x2545_f491_u32;
        for round in 0..50 {
            let mut chunks = Vec::new();
            let mut rest = bytes;
            while !rest.is_empty() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let n = ((seed >> 16) as usize % 97 + 1).min(rest.len());
                let (a, b) = rest.split_at(n);
                chunks.push(a);
                rest = b;
            }
            assert_eq!(&scan(chunks, max), expected, "random round {round}");
        }
    }

    #[test]
    fn openai_stream_lf() {
        check_every_split(&stream("\n"), MAX, &expected_full());
    }

    #[test]
    fn openai_stream_crlf() {
        check_every_split(&stream("\r\n"), MAX, &expected_full());
    }

    #[test]
    fn openai_stream_cr() {
        check_every_split(&stream("\r"), MAX, &expected_full());
    }

    #[test]
    fn openai_stream_mixed_line_ends() {
        let mut s = String::new();
        for (i, p) in payloads().iter().enumerate() {
            let (a, b) = [("\n", "\r\n"), ("\n", "\r"), ("\r\n", "\r"), ("\r", "\r")][i % 4];
            s.push_str(&format!("data: {p}{a}{b}"));
        }
        check_every_split(s.as_bytes(), MAX, &expected_full());
    }

    #[test]
    fn comments_and_other_fields_interleaved() {
        let mut s = String::from(": this is a comment\n:\n\n");
        for (i, p) in payloads().iter().enumerate() {
            s.push_str(&format!(
                "event: message\nid: {i}\n: keep-alive\nretry: 1000\ndata: {p}\nunknown: x\n:{p}\n\n: ping\n\n"
            ));
        }
        s.push_str("event: end\nid: 99\n\n");
        check_every_split(s.as_bytes(), MAX, &expected_full());
    }

    #[test]
    fn missing_done() {
        let mut p = payloads();
        p.pop();
        let expected = Outcome { saw_done: false, events: 8, ..expected_full() };
        check_every_split(&stream_with(&p, "\n"), MAX, &expected);
    }

    #[test]
    fn missing_final_blank_line_is_dispatched_by_finish() {
        let mut p = payloads();
        p.pop();
        let mut bytes = stream_with(&p, "\n");
        bytes.pop(); // ends with one "\n"
        let expected = Outcome { saw_done: false, events: 8, ..expected_full() };
        check_every_split(&bytes, MAX, &expected);
        bytes.pop(); // no line end at all
        check_every_split(&bytes, MAX, &expected);
    }

    #[test]
    fn stream_cut_mid_event() {
        let mut p = payloads();
        p.truncate(8); // up to and including the usage chunk
        let bytes = stream_with(&p, "\n");
        let cut = bytes.len() - 40; // inside the usage JSON
        let bytes = &bytes[..cut];
        let expected = Outcome { usage: None, saw_done: false, events: 8, bad: 1, ..expected_full() };
        check_every_split(bytes, MAX, &expected);

        // Without finish() the partial event is simply pending.
        let mut s = SseScanner::new(MAX);
        s.push(bytes);
        assert_eq!(s.usage(), None);
        assert_eq!(s.events(), 7);
        assert_eq!(s.bad_events(), 0);
    }

    #[test]
    fn stream_cut_between_events_keeps_earlier_results() {
        let mut p = payloads();
        p.truncate(4);
        let expected = Outcome { usage: None, saw_done: false, events: 4, bad: 0, oversized: 0 };
        check_every_split(&stream_with(&p, "\r\n"), MAX, &expected);
    }

    #[test]
    fn oversized_event_skipped_later_events_parse() {
        let big = content(&"x".repeat(3000));
        let mut p = payloads();
        p.insert(3, big.clone());
        let max = 1024;
        let expected = Outcome { events: 10, oversized: 1, ..expected_full() };
        check_every_split(&stream_with(&p, "\n"), max, &expected);

        // Oversized through many short data lines of one event.
        let mut s = String::new();
        s.push_str(&format!("data: {ROLE}\n\n"));
        for _ in 0..200 {
            s.push_str("data: [1,2,3,4,5,6,7,8,9,10]\n");
        }
        s.push_str(&format!("\ndata: {USAGE}\n\n"));
        let o = scan([s.as_bytes()], max);
        assert_eq!((o.events, o.oversized, o.bad, o.usage), (3, 1, 0, Some(EXPECTED_USAGE)));

        // An event of exactly the limit is kept; one byte more is not.
        let exact = format!("data: {USAGE}\n\n");
        let o = scan([exact.as_bytes()], USAGE.len());
        assert_eq!((o.oversized, o.usage), (0, Some(EXPECTED_USAGE)));
        let o = scan([exact.as_bytes()], USAGE.len() - 1);
        assert_eq!((o.oversized, o.usage), (1, None));
    }

    #[test]
    fn long_non_data_lines_are_not_buffered() {
        let mut s = SseScanner::new(128);
        s.push(b": ");
        for _ in 0..1000 {
            s.push(&[b'c'; 1000]);
        }
        s.push(b"\nid: ");
        s.push(&[b'9'; 10_000]);
        s.push(b"\n");
        s.push(b"data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n");
        s.finish();
        assert!(s.data.capacity() <= 128);
        assert_eq!((s.events(), s.oversized_events(), s.bad_events()), (1, 0, 0));
        assert!(s.usage().is_some());
    }

    #[test]
    fn zero_limit_drops_every_non_empty_event() {
        let o = scan([stream("\n").as_slice()], 0);
        assert_eq!((o.events, o.oversized, o.usage, o.saw_done), (9, 9, None, false));
    }

    #[test]
    fn garbage_bytes_do_not_panic() {
        let mut bytes = b"data: \xff\xfe\xc3\x28 {\"model\":\"m\xff\"}\n\n\xef\xbb\n\x80\x81: \xff\n\n".to_vec();
        bytes.extend_from_slice(b"data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2},\"x\":\"\xc3\"}\n\n");
        bytes.extend_from_slice(&stream("\n"));
        let o = scan(bytes.chunks(3), MAX);
        assert_eq!(o.usage, Some(EXPECTED_USAGE));
        assert!(o.bad >= 1);

        // Pseudo-random byte soup, biased towards SSE syntax.
        let alphabet: &[u8] = b"data: {}\"[]\r\n\n:usage,model0123\xff\xc3\xef\xbb\xbf";
        let mut seed = 7_u32;
        for len in [1, 2, 3, 10, 100, 1000, 5000] {
            for _ in 0..20 {
                let soup: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        alphabet[(seed >> 16) as usize % alphabet.len()]
                    })
                    .collect();
                let mut s = SseScanner::new(64);
                for c in soup.chunks(7) {
                    s.push(c);
                    assert!(s.data.len() <= 64 && s.data.capacity() <= 64);
                }
                s.finish();
                assert!(s.bad_events() + s.oversized_events() <= s.events());
            }
        }
    }

    #[test]
    fn null_usage_chunks_before_and_after_final_usage() {
        // Every chunk before the last has "usage":null (see `payloads`).
        let mut p = payloads();
        p.insert(8, FINISH.replace("\"stop\"", "null")); // usage:null after the real one
        let expected = Outcome { events: 10, ..expected_full() };
        check_every_split(&stream_with(&p, "\n"), MAX, &expected);
    }

    #[test]
    fn service_tier_of_the_usage_chunk_is_kept() {
        let s = format!(
            "data: {}\n\ndata: [DONE]\n\n",
            USAGE.replace(r#""service_tier":"default""#, r#""service_tier":"flex""#)
        );
        assert_eq!(scan([s.as_bytes()], MAX).usage.unwrap().service_tier, ServiceTier::Flex);
        let s = format!("data: {USAGE}\n\n");
        assert_eq!(scan([s.as_bytes()], MAX).usage.unwrap().service_tier, ServiceTier::Standard);
    }

    #[test]
    fn last_usage_wins_and_invalid_last_usage_clears() {
        let u = |p: i64, c: i64| format!(r#"{{"choices":[],"usage":{{"prompt_tokens":{p},"completion_tokens":{c}}}}}"#);
        let s = format!("data: {}\n\ndata: {}\n\n", u(1, 2), u(30, 40));
        let o = scan([s.as_bytes()], MAX);
        assert_eq!(o.usage, Some(Usage { prompt_tokens: 30, completion_tokens: 40, cached_tokens: 0, ..Usage::ZERO }));

        let s = format!("data: {}\n\ndata: {}\n\n", u(1, 2), u(-3, 4));
        let o = scan([s.as_bytes()], MAX);
        assert_eq!((o.usage, o.bad), (None, 1));

        let s = "data: {\"usage\": \"lots\"}\n\n";
        let o = scan([s.as_bytes()], MAX);
        assert_eq!((o.usage, o.bad), (None, 1));
    }

    #[test]
    fn cr_at_chunk_end_then_lf_is_one_line_end() {
        let first = b"data: {\"model\":\"m\",\r";
        let second = "\ndata: \"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\r";
        let third = b"\n\r\n";
        let mut s = SseScanner::new(MAX);
        s.push(first);
        s.push(second.as_bytes());
        s.push(third);
        assert_eq!((s.events(), s.bad_events()), (1, 0));
        assert_eq!(s.usage(), Some(Usage { prompt_tokens: 5, completion_tokens: 6, cached_tokens: 0, ..Usage::ZERO }));
        // A lone CR still ends a line even if nothing follows it yet.
        let mut s = SseScanner::new(MAX);
        s.push(b"data: {}\r\r");
        assert_eq!(s.events(), 1);
    }

    #[test]
    fn multi_line_data_is_joined_with_lf() {
        let s =
            "data: {\"model\":\"m\",\ndata:\"usage\":\ndata\ndata:  {\"prompt_tokens\":7,\"completion_tokens\":8}}\n\n";
        let o = scan([s.as_bytes()], MAX);
        assert_eq!((o.events, o.bad), (1, 0));
        assert_eq!(o.usage, Some(Usage { prompt_tokens: 7, completion_tokens: 8, cached_tokens: 0, ..Usage::ZERO }));

        let mut sc = SseScanner::new(MAX);
        sc.push(b"data: a\ndata\ndata:\ndata: b\n");
        assert_eq!(sc.data, b"a\n\n\nb");
        // `data:` field names are case-sensitive and exact.
        let mut sc = SseScanner::new(MAX);
        sc.push(b"Data: {}\ndat: {}\ndatas: {}\n data: {}\n\n");
        assert_eq!((sc.events(), sc.has_data), (0, false));
    }

    #[test]
    fn done_detection() {
        let o = scan([b"data: [DONE]\n\n".as_slice()], MAX);
        assert_eq!((o.saw_done, o.events, o.bad), (true, 1, 0));
        let o = scan([b"data:[DONE]\r\n\r\n".as_slice()], MAX);
        assert!(o.saw_done);
        let o = scan([b"data: [DONE] \n\n".as_slice()], MAX);
        assert!(o.saw_done);
        let o = scan([b"data: [DONE]x\n\n".as_slice()], MAX);
        assert_eq!((o.saw_done, o.bad), (false, 1));
        let o = scan([b": data: [DONE]\n\nid: [DONE]\n\n".as_slice()], MAX);
        assert_eq!((o.saw_done, o.events), (false, 0));
    }

    #[test]
    fn non_object_json_is_bad() {
        for payload in ["1", "\"s\"", "[1,{\"usage\":{}}]", "null", "true", "{", "", "{}{}"] {
            let s = format!("data: {payload}\n\n");
            let o = scan([s.as_bytes()], MAX);
            assert_eq!((o.events, o.bad), (1, 1), "{payload:?}");
        }
        let o = scan([b"data: {}\n\n".as_slice()], MAX);
        assert_eq!((o.events, o.bad), (1, 0));
    }

    #[test]
    fn usage_only_needs_an_empty_choices_array() {
        // Only `"choices": []` next to a usage makes a usage-only chunk: not a missing, non-array
        // or non-empty `choices`, whatever its elements are.
        let usage = r#""usage":{"prompt_tokens":1,"completion_tokens":1}"#;
        for (choices, usage_only) in [
            ("[]", true),
            ("[ ]", true),
            ("[{}]", false),
            ("[null]", false),
            ("[[]]", false),
            ("{}", false),
            ("\"[]\"", false),
            ("null", false),
        ] {
            let event = format!("data: {{\"choices\":{choices},{usage}}}\n\n");
            let (out, s) = edit([event.as_bytes()]);
            assert_eq!((s.removed_events(), out.is_empty()), (u64::from(usage_only), usage_only), "{choices}");
            assert_eq!(s.bad_events(), 0, "{choices}");
        }
        let (_, s) = edit([format!("data: {{{usage}}}\n\n").as_bytes()]);
        assert_eq!(s.removed_events(), 0, "no choices at all");
        // Escaped keys are decoded.
        let (_, s) = edit([format!("data: {{\"ch\\u006fices\":[],{usage}}}\n\n").as_bytes()]);
        assert_eq!(s.removed_events(), 1);
    }

    #[test]
    fn escaped_usage_key_is_found() {
        let o = scan([br#"data: {"\u0075sage":{"prompt_tokens":2,"completion_tokens":3}}"#.as_slice()], MAX);
        assert_eq!(o.usage, Some(Usage { prompt_tokens: 2, completion_tokens: 3, cached_tokens: 0, ..Usage::ZERO }));
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let mut bytes = b"\xef\xbb\xbf".to_vec();
        bytes.extend_from_slice(&stream("\n"));
        check_every_split(&bytes, MAX, &expected_full());
        // A BOM later in the stream is not special.
        let mut s = SseScanner::new(MAX);
        s.push(b"\n\xef\xbb\xbfdata: {}\n\n");
        assert_eq!(s.events(), 0);
        // A partial BOM makes the first line an unknown field.
        let mut s = SseScanner::new(MAX);
        s.push(b"\xef\xbbdata: {}\n\ndata: {}\n\n");
        assert_eq!(s.events(), 1);
    }

    #[test]
    fn events_without_data_are_not_dispatched() {
        let o = scan([b"event: ping\n\nid: 1\nretry: 5\n\n\n\n:x\n\n".as_slice()], MAX);
        assert_eq!(o.events, 0);
        // `data:` with an empty value is an event with empty data (bad JSON).
        let o = scan([b"data:\n\ndata\n\n".as_slice()], MAX);
        assert_eq!((o.events, o.bad), (2, 2));
    }

    #[test]
    fn finish_is_idempotent_and_push_after_finish_is_safe() {
        let mut s = SseScanner::new(MAX);
        s.push(&stream("\n"));
        s.finish();
        s.finish();
        assert_eq!(outcome(&s), expected_full());
        s.push(b"data: {\"usage\":null}");
        s.finish();
        assert_eq!(s.events(), 10);
        assert_eq!(s.usage(), Some(EXPECTED_USAGE));
    }

    #[test]
    fn deeply_nested_json_is_bad_not_a_crash() {
        let mut s = String::from("data: {\"x\":");
        s.push_str(&"[".repeat(100_000));
        s.push_str("\n\n");
        let o = scan([s.as_bytes()], 1 << 20);
        assert_eq!((o.events, o.bad), (1, 1));
    }

    // ---- push_edit: removing the usage-only chunk -------------------------------------

    /// The stream as `push_edit` forwards it when fed in `chunks`, with the scanner after it.
    fn edit<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> (Vec<u8>, SseScanner) {
        let mut s = SseScanner::new(MAX);
        let mut out = Vec::new();
        for c in chunks {
            s.push_edit(c, &mut out);
        }
        s.finish_edit(&mut out);
        (out, s)
    }

    /// `payloads()` without the usage-only chunk.
    fn payloads_without_usage() -> Vec<String> {
        payloads().into_iter().filter(|p| p != USAGE).collect()
    }

    #[test]
    fn edit_removes_the_usage_only_chunk_at_every_split_and_line_end() {
        for eol in ["\n", "\r\n", "\r"] {
            let bytes = stream(eol);
            let want = stream_with(&payloads_without_usage(), eol);
            assert_ne!(bytes, want);
            for at in 0..=bytes.len() {
                let (a, b) = bytes.split_at(at);
                let (out, s) = edit([a, b]);
                assert!(out == want, "eol {eol:?}, split at {at}: {}", String::from_utf8_lossy(&out));
                assert_eq!(outcome(&s), expected_full(), "eol {eol:?}, split at {at}");
                assert_eq!(s.removed_events(), 1);
            }
            let (out, s) = edit(bytes.chunks(1));
            assert!(out == want, "eol {eol:?}, byte by byte: {}", String::from_utf8_lossy(&out));
            assert_eq!(s.usage(), Some(EXPECTED_USAGE));
        }
    }

    #[test]
    fn edit_withholds_only_the_unfinished_block() {
        let bytes = stream("\n");
        let first_block = format!("data: {ROLE}\n\n");
        let mut s = SseScanner::new(MAX);
        let mut out = Vec::new();
        // The first block and half of the second: the first goes on at once.
        let cut = first_block.len() + 10;
        s.push_edit(&bytes[..cut], &mut out);
        assert_eq!(out, first_block.as_bytes());
        out.clear();
        s.push_edit(&bytes[cut..], &mut out);
        s.finish_edit(&mut out);
        assert_eq!([first_block.as_bytes(), &out].concat(), stream_with(&payloads_without_usage(), "\n"));
    }

    #[test]
    fn edit_drops_the_comments_and_fields_of_the_usage_block_only() {
        let usage_block = format!(": keep-alive\nevent: chunk\nid: 9\ndata: {USAGE}\n\n");
        let stream = format!(": hi\n\ndata: {ROLE}\n\n{usage_block}: bye\n\ndata: [DONE]\n\n");
        let (out, s) = edit([stream.as_bytes()]);
        assert_eq!(String::from_utf8(out).unwrap(), format!(": hi\n\ndata: {ROLE}\n\n: bye\n\ndata: [DONE]\n\n"));
        assert_eq!(s.usage(), Some(EXPECTED_USAGE));
    }

    #[test]
    fn edit_keeps_usage_that_rides_on_a_chunk_with_choices() {
        // Some servers put usage on the last content chunk: removing it would lose content.
        let with_choice = FINISH.replace(r#""usage":null"#, r#""usage":{"prompt_tokens":3,"completion_tokens":4}"#);
        let stream = format!("data: {with_choice}\n\ndata: [DONE]\n\n");
        let (out, s) = edit([stream.as_bytes()]);
        assert_eq!(out, stream.as_bytes());
        assert_eq!(s.usage(), Some(Usage { prompt_tokens: 3, completion_tokens: 4, cached_tokens: 0, ..Usage::ZERO }));
        assert_eq!(s.removed_events(), 0);
    }

    #[test]
    fn edit_keeps_chunks_that_are_not_usage_only() {
        // No choices but no usage either (not an answer to include_usage), and not JSON.
        let stream = "data: {\"choices\":[],\"prompt_filter_results\":[]}\n\ndata: {oops\n\n\
                      data: {\"choices\":[],\"usage\":null}\n\ndata: [DONE]\n\n";
        let (out, s) = edit([stream.as_bytes()]);
        assert_eq!(out, stream.as_bytes());
        assert_eq!(s.removed_events(), 0);
    }

    #[test]
    fn edit_removes_a_usage_only_chunk_with_unusable_counts() {
        // It is still the chunk the router asked for; its counts just cannot be priced.
        let stream =
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1}}\n\ndata: [DONE]\n\n";
        let (out, s) = edit([stream.as_bytes()]);
        assert_eq!(out, b"data: [DONE]\n\n");
        assert_eq!((s.removed_events(), s.usage()), (1, None));
    }

    #[test]
    fn edit_removes_an_unterminated_usage_chunk_at_the_end() {
        let stream = format!("data: {ROLE}\n\ndata: {USAGE}");
        let (out, s) = edit([stream.as_bytes()]);
        assert_eq!(String::from_utf8(out).unwrap(), format!("data: {ROLE}\n\n"));
        assert_eq!(s.usage(), Some(EXPECTED_USAGE));
    }

    #[test]
    fn edit_forwards_a_block_too_long_to_withhold() {
        let big = content(&"x".repeat(WITHHELD_MAX + 10));
        let stream = format!("data: {big}\n\ndata: {USAGE}\n\n");
        let bytes = stream.as_bytes();
        let mut s = SseScanner::new(2 * WITHHELD_MAX);
        let mut out = Vec::new();
        let mut withheld_most = 0;
        for c in bytes.chunks(4096) {
            s.push_edit(c, &mut out);
            withheld_most = withheld_most.max(s.withheld.len());
        }
        s.finish_edit(&mut out);
        assert!(withheld_most <= WITHHELD_MAX, "{withheld_most}");
        assert_eq!(out, format!("data: {big}\n\n").as_bytes());
        assert_eq!(s.usage(), Some(EXPECTED_USAGE));
    }

    #[test]
    fn edit_of_garbage_never_panics_and_forwards_every_byte_of_non_usage_blocks() {
        let mut x: u32 = 7;
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..300)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    b"data: {}[]\"choices\r\n:x"[(x >> 16) as usize % 22]
                })
                .collect();
            let (out, s) = edit(bytes.chunks(7));
            // Nothing here is a valid usage-only event, so nothing may be removed.
            assert_eq!(s.removed_events(), 0);
            assert_eq!(out, bytes);
        }
    }
}
