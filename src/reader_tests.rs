//! Unit tests of the usage reader: chosen by headers, fed chunks, no host.

use super::*;
use crate::api::Api;

const JSON: &[u8] = br#"{"choices":[{"message":{"content":"ok"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#;
const CONTENT: &str = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
const USAGE_ONLY: &str = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n\n";
const DONE: &str = "data: [DONE]\n\n";

fn tokens(u: Option<Usage>) -> Option<(u64, u64)> {
    u.map(|u| (u.prompt_tokens, u.completion_tokens))
}

#[test]
fn chosen_by_the_response_headers() {
    let choose = |ct, len, enc| UsageReader::choose(Api::ChatCompletions, ct, len, enc, 100, false);
    assert!(choose(Some("application/json"), Some("100"), None).holds());
    assert!(choose(Some("application/json"), Some(" 10 "), Some("identity")).holds());
    assert!(matches!(choose(Some("application/json"), Some("101"), None), UsageReader::Copied { copy: Some(_), .. }));
    assert!(
        matches!(choose(Some("application/json"), None, None), UsageReader::Copied { copy: Some(_), .. }),
        "chunked"
    );
    assert!(
        matches!(choose(Some("application/json"), Some("10"), Some("gzip")), UsageReader::Copied { copy: None, .. }),
        "encoded"
    );
    assert!(matches!(choose(None, Some("bogus"), None), UsageReader::Copied { .. }));
    let sse = choose(Some("Text/Event-Stream; charset=utf-8"), Some("10"), None);
    assert!(sse.changes_length() && !sse.holds());
}

#[test]
fn a_held_answer_is_read_once_at_the_end() {
    let mut r = UsageReader::choose(Api::ChatCompletions, Some("application/json"), Some("90"), None, 100, false);
    assert!(!r.wants(50, false), "nothing is fetched before the end");
    assert!(r.wants(JSON.len(), true));
    assert_eq!(r.push(Some(JSON), true), None);
    let read = r.finish();
    assert_eq!(tokens(read.usage), Some((3, 4)));
    assert!(read.json.is_some(), "escalation gets the parsed answer");

    let mut bad = UsageReader::Held { body: Vec::new(), api: Api::ChatCompletions };
    assert_eq!(bad.push(Some(b"{oops"), true), None);
    let read = bad.finish();
    assert!(read.usage.is_none() && read.json.is_none());
}

#[test]
fn a_copy_stops_for_good_at_its_cap() {
    let mut r = UsageReader::Copied { copy: Some(Vec::new()), cap: JSON.len(), api: Api::ChatCompletions };
    let (a, b) = JSON.split_at(10);
    assert!(r.wants(a.len(), false));
    assert_eq!(r.push(Some(a), false), None);
    assert!(r.wants(b.len(), true));
    assert_eq!(r.push(Some(b), true), None);
    assert_eq!(tokens(r.finish().usage), Some((3, 4)));

    let mut over = UsageReader::Copied { copy: Some(Vec::new()), cap: 10, api: Api::ChatCompletions };
    assert!(!over.wants(11, false));
    assert!(!over.wants(0, true), "unreadable once over the cap");
    assert_eq!(over.push(Some(b"{}"), true), None);
    assert!(over.finish().usage.is_none());
    assert!(
        UsageReader::Copied { copy: Some(JSON.to_vec()), cap: 1000, api: Api::ChatCompletions }.abandon().is_none(),
        "JSON is read whole only"
    );
}

#[test]
fn a_stream_is_scanned_and_loses_only_the_forced_usage_chunk() {
    let stream = format!("{CONTENT}{USAGE_ONLY}{DONE}");
    let mut kept = UsageReader::choose(Api::ChatCompletions, Some("text/event-stream"), None, None, 1000, false);
    assert!(kept.wants(stream.len(), false));
    assert_eq!(kept.push(Some(stream.as_bytes()), true), None, "forwarded unchanged");
    assert_eq!(tokens(kept.finish().usage), Some((5, 6)));

    let mut stripped = UsageReader::choose(Api::ChatCompletions, Some("text/event-stream"), None, None, 1000, true);
    let (a, b) = stream.as_bytes().split_at(CONTENT.len() + 10);
    let mut out = stripped.push(Some(a), false).unwrap();
    out.extend(stripped.push(Some(b), true).unwrap());
    assert_eq!(String::from_utf8(out).unwrap(), format!("{CONTENT}{DONE}"));
    assert_eq!(tokens(stripped.finish().usage), Some((5, 6)));

    let mut unreadable = UsageReader::choose(Api::ChatCompletions, Some("text/event-stream"), None, None, 1000, true);
    assert_eq!(unreadable.push(None, false), None, "a chunk the host did not give is left as it is");

    let mut cut = UsageReader::choose(Api::ChatCompletions, Some("text/event-stream"), None, None, 1000, false);
    assert_eq!(cut.push(Some(USAGE_ONLY.trim_end().as_bytes()), false), None);
    assert_eq!(tokens(cut.abandon()), Some((5, 6)), "an unfinished stream still reports what it read");
}

#[test]
fn whole_answers_keep_json_and_strip_the_forced_usage_chunk_of_streams() {
    let (body, usage) = read_whole(Api::ChatCompletions, JSON.to_vec(), false, true, 16);
    assert_eq!((body.as_slice(), tokens(usage)), (JSON, Some((3, 4))));

    let stream = format!("{CONTENT}{USAGE_ONLY}{DONE}");
    let (body, usage) = read_whole(Api::ChatCompletions, stream.clone().into_bytes(), true, true, 16);
    assert_eq!(String::from_utf8(body).unwrap(), format!("{CONTENT}{DONE}"));
    assert_eq!(tokens(usage), Some((5, 6)), "read whole even with a small event limit");
    let (body, usage) = read_whole(Api::ChatCompletions, stream.clone().into_bytes(), true, false, 16);
    assert_eq!((body, tokens(usage)), (stream.into_bytes(), Some((5, 6))));
}
