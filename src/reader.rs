//! The usage reader of one response, chosen once when its headers arrive.
//!
//! An answer is read in one of three ways, and which one is fixed by its headers: a JSON answer
//! small enough to hold is buffered whole and parsed once at the end (its cost can still go in
//! headers, and escalation needs the parsed answer); a JSON answer that goes on at once (too
//! large, of unknown length, or encoded) is copied up to the cap and parsed at the end (stats
//! and access log only); an SSE stream is scanned as it passes, and the usage-only chunk the
//! router forced is removed from it on the way. A re-sent call's answer, which arrives whole, is
//! read by the same reader ([`read_whole`]).
//!
//! The reader never calls the host: the flow asks it whether it wants the current chunk
//! ([`UsageReader::wants`]), hands the chunk over ([`UsageReader::push`]) and forwards the
//! bytes it gets back, if any.

use serde_json::Value;

use crate::api::Api;
use crate::sse::SseScanner;
use crate::usage::Usage;

/// How one response's usage is read.
#[derive(Debug)]
pub enum UsageReader {
    /// A JSON answer held and buffered whole; its body once it has ended.
    Held {
        /// The whole body (empty until the end).
        body: Vec<u8>,
        /// Whose usage shape it has.
        api: Api,
    },
    /// A JSON answer that goes on at once: a copy of it, or `None` once it cannot be read
    /// (encoded, or longer than `cap`).
    Copied {
        /// The bytes seen so far.
        copy: Option<Vec<u8>>,
        /// Most bytes copied.
        cap: usize,
        /// Whose usage shape it has.
        api: Api,
    },
    /// An SSE stream scanned as it passes.
    Sse {
        /// The incremental scanner.
        scanner: Box<SseScanner>,
        /// The router forced `include_usage`: the usage-only chunk is removed.
        strip: bool,
    },
}

/// What a reader read once the answer ended.
#[derive(Debug, Default)]
pub struct Read {
    /// The answer's usage, if it had a valid one.
    pub usage: Option<Usage>,
    /// The parsed answer, for a held JSON answer that parsed (escalation reads it).
    pub json: Option<Value>,
}

impl UsageReader {
    /// The reader for a response with these headers. `max_bytes` (`max_response_bytes`) is the
    /// most a JSON answer may be to be held, the cap of a copy and the longest SSE event;
    /// `strip`: the router added `include_usage` itself; `api`: whose answer it is.
    pub fn choose(
        api: Api,
        content_type: Option<&str>,
        content_length: Option<&str>,
        content_encoding: Option<&str>,
        max_bytes: usize,
        strip: bool,
    ) -> UsageReader {
        let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
        if content_type.contains("text/event-stream") {
            return UsageReader::Sse { scanner: Box::new(api.sse_scanner(max_bytes)), strip };
        }
        let encoded = content_encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity"));
        let length = content_length.and_then(|v| v.trim().parse::<usize>().ok());
        match length {
            Some(n) if n <= max_bytes && !encoded => UsageReader::Held { body: Vec::new(), api },
            _ => UsageReader::Copied { copy: (!encoded).then(Vec::new), cap: max_bytes, api },
        }
    }

    /// The response is held (headers and body) until it ends.
    pub fn holds(&self) -> bool {
        matches!(self, UsageReader::Held { .. })
    }

    /// The response's length changes on the way (a stream gets the final comment and may lose
    /// its usage-only chunk), so a `content-length` must go.
    pub fn changes_length(&self) -> bool {
        matches!(self, UsageReader::Sse { .. })
    }

    /// Whether the flow should fetch the current chunk of `size` bytes (`end`: the last one).
    /// A copy that would pass its cap stops here, for good.
    pub fn wants(&mut self, size: usize, end: bool) -> bool {
        match self {
            UsageReader::Held { .. } => end,
            UsageReader::Copied { copy, cap, .. } => match copy {
                Some(c) if c.len().saturating_add(size) <= *cap => true,
                _ => {
                    *copy = None;
                    false
                }
            },
            UsageReader::Sse { .. } => true,
        }
    }

    /// Read a chunk (`None`: not wanted, or the host could not give it; `end`: the answer ends
    /// with it). Returns the bytes to forward in its place, when they differ from it.
    pub fn push(&mut self, chunk: Option<&[u8]>, end: bool) -> Option<Vec<u8>> {
        match self {
            UsageReader::Held { body, .. } => {
                if let (true, Some(c)) = (end, chunk) {
                    *body = c.to_vec();
                }
                None
            }
            UsageReader::Copied { copy, .. } => {
                if let (Some(copy), Some(c)) = (copy.as_mut(), chunk) {
                    copy.extend_from_slice(c);
                }
                None
            }
            UsageReader::Sse { scanner, strip: false } => {
                if let Some(c) = chunk {
                    scanner.push(c);
                }
                if end {
                    scanner.finish();
                }
                None
            }
            UsageReader::Sse { scanner, strip: true } => {
                let mut edited = Vec::new();
                if let Some(c) = chunk {
                    scanner.push_edit(c, &mut edited);
                }
                if end {
                    scanner.finish_edit(&mut edited);
                }
                // An unreadable chunk is left as it is rather than replaced by nothing.
                chunk.filter(|c| *c != edited.as_slice()).map(|_| edited)
            }
        }
    }

    /// What was read, after the chunk pushed with `end`.
    pub fn finish(self) -> Read {
        match self {
            UsageReader::Held { body, api } => {
                let json: Option<Value> = serde_json::from_slice(&body).ok();
                let usage = json.as_ref().and_then(|v| api.usage_from_value(v).ok());
                Read { usage, json }
            }
            UsageReader::Copied { copy, api, .. } => {
                Read { usage: copy.and_then(|c| api.usage_from_json(&c).ok()), json: None }
            }
            UsageReader::Sse { scanner, .. } => Read { usage: scanner.usage(), json: None },
        }
    }

    /// The usage of an answer that never ended (the stream is being logged): what a stream
    /// reported so far; nothing for JSON, which is only read whole.
    pub fn abandon(self) -> Option<Usage> {
        match self {
            UsageReader::Sse { mut scanner, .. } => {
                scanner.finish();
                scanner.usage()
            }
            UsageReader::Held { .. } | UsageReader::Copied { .. } => None,
        }
    }
}

/// A re-sent call's answer, which arrives whole: the bytes the client gets and its usage. A
/// stream is scanned with an event limit of at least the body, so no event is dropped as
/// oversized; with `strip_usage` its usage-only chunk is removed, as on the first answer's path.
pub fn read_whole(
    api: Api,
    body: Vec<u8>,
    stream: bool,
    strip_usage: bool,
    max_event_bytes: usize,
) -> (Vec<u8>, Option<Usage>) {
    let mut reader = if stream {
        UsageReader::Sse { scanner: Box::new(api.sse_scanner(max_event_bytes.max(body.len()))), strip: strip_usage }
    } else {
        UsageReader::Held { body: Vec::new(), api }
    };
    let replaced = reader.push(Some(&body), true);
    let usage = reader.finish().usage;
    (replaced.unwrap_or(body), usage)
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
