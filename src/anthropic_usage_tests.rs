use super::*;
use crate::sse::SseScanner;
use serde_json::json;

fn answer(usage: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-6", "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn", "stop_sequence": null, "usage": usage,
    }))
    .unwrap()
}

fn u(prompt: u64, output: u64, read: u64, w5: u64, w1: u64) -> Usage {
    Usage {
        prompt_tokens: prompt,
        completion_tokens: output,
        cached_tokens: read,
        cache_write_5m_tokens: w5,
        cache_write_1h_tokens: w1,
        ..Usage::ZERO
    }
}

#[test]
fn plain_answer() {
    let b = answer(json!({"input_tokens": 2095, "output_tokens": 503}));
    assert_eq!(usage_from_json(&b).unwrap(), u(2095, 503, 0, 0, 0));
}

#[test]
fn cache_counts_add_to_the_prompt() {
    let b = answer(json!({"input_tokens": 21, "output_tokens": 393, "cache_read_input_tokens": 188_086,
        "cache_creation_input_tokens": 3000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        "service_tier": "standard", "server_tool_use": null}));
    assert_eq!(usage_from_json(&b).unwrap(), u(21 + 188_086 + 3000, 393, 188_086, 1000, 2000));
}

#[test]
fn without_split_every_write_is_five_minutes() {
    let b = answer(json!({"input_tokens": 5, "output_tokens": 1, "cache_creation_input_tokens": 40,
        "cache_read_input_tokens": null}));
    assert_eq!(usage_from_json(&b).unwrap(), u(45, 1, 0, 40, 0));
}

#[test]
fn split_must_match_total() {
    let b = answer(json!({"input_tokens": 5, "output_tokens": 1, "cache_creation_input_tokens": 40,
        "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20}}));
    assert_eq!(usage_from_json(&b), Err(UsageError::CacheSplitMismatch { total: Some(40), split: 30 }));
    // The split alone is enough.
    let b = answer(json!({"input_tokens": 5, "output_tokens": 1,
        "cache_creation": {"ephemeral_1h_input_tokens": 20}}));
    assert_eq!(usage_from_json(&b).unwrap(), u(25, 1, 0, 0, 20));
}

#[test]
fn bad_counts_are_errors() {
    assert_eq!(usage_from_json(&answer(json!({"output_tokens": 1}))), Err(UsageError::MissingCount { field: INPUT }));
    assert_eq!(
        usage_from_json(&answer(json!({"input_tokens": 1, "output_tokens": -1}))),
        Err(UsageError::NegativeCount { field: OUTPUT })
    );
    assert_eq!(
        usage_from_json(&answer(json!({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 1.5}))),
        Err(UsageError::NotAnInteger { field: READ })
    );
    assert_eq!(
        usage_from_json(&answer(json!({"input_tokens": 1, "output_tokens": 1, "cache_creation": 3}))),
        Err(UsageError::NotAnObject { field: SPLIT })
    );
    assert_eq!(usage_from_json(&answer(Value::Null)), Err(UsageError::MissingUsage));
    assert_eq!(usage_from_json(b"[]"), Err(UsageError::NotObject));
    assert!(matches!(usage_from_json(b"{"), Err(UsageError::NotJson(_))));
}

/// Anthropic's documented stream of a short answer, with every event type but `error`.
fn documented_stream(start_usage: &str, delta_usage: &str) -> String {
    format!(
        "event: message_start\n\
         data: {{\"type\": \"message_start\", \"message\": {{\"id\": \"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\", \"type\": \"message\", \"role\": \"assistant\", \"content\": [], \"model\": \"claude-opus-4-6\", \"stop_reason\": null, \"stop_sequence\": null, \"usage\": {start_usage}}}}}\n\n\
         event: content_block_start\n\
         data: {{\"type\": \"content_block_start\", \"index\": 0, \"content_block\": {{\"type\": \"text\", \"text\": \"\"}}}}\n\n\
         event: ping\n\
         data: {{\"type\": \"ping\"}}\n\n\
         event: content_block_delta\n\
         data: {{\"type\": \"content_block_delta\", \"index\": 0, \"delta\": {{\"type\": \"text_delta\", \"text\": \"Hello\"}}}}\n\n\
         event: content_block_stop\n\
         data: {{\"type\": \"content_block_stop\", \"index\": 0}}\n\n\
         event: message_delta\n\
         data: {{\"type\": \"message_delta\", \"delta\": {{\"stop_reason\": \"end_turn\", \"stop_sequence\":null}}, \"usage\": {delta_usage}}}\n\n\
         event: message_stop\n\
         data: {{\"type\": \"message_stop\"}}\n\n"
    )
}

fn scan(stream: &str, chunk: usize) -> SseScanner {
    let mut s = SseScanner::anthropic(64 * 1024);
    for c in stream.as_bytes().chunks(chunk) {
        s.push(c);
    }
    s.finish();
    s
}

#[test]
fn stream_usage_takes_input_from_start_and_output_from_delta() {
    let stream = documented_stream(r#"{"input_tokens": 25, "output_tokens": 1}"#, r#"{"output_tokens": 15}"#);
    for chunk in [1, 7, 64, stream.len()] {
        let s = scan(&stream, chunk);
        assert_eq!(s.usage(), Some(u(25, 15, 0, 0, 0)), "chunk {chunk}");
        assert_eq!((s.events(), s.bad_events()), (7, 0));
    }
}

#[test]
fn stream_cache_counts_and_cumulative_delta() {
    let start = r#"{"input_tokens": 10, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 300}, "output_tokens": 1}"#;
    let stream = documented_stream(&start.replace('\n', " "), r#"{"output_tokens": 42}"#);
    assert_eq!(scan(&stream, 13).usage(), Some(u(310, 42, 0, 0, 300)));
    // A delta that repeats the input counts replaces them.
    let stream = documented_stream(
        r#"{"input_tokens": 10, "output_tokens": 1}"#,
        r#"{"input_tokens": 12, "cache_read_input_tokens": 100, "output_tokens": 42}"#,
    );
    assert_eq!(scan(&stream, 13).usage(), Some(u(112, 42, 100, 0, 0)));
}

#[test]
fn stream_without_delta_or_with_error_has_no_usage() {
    let stream = documented_stream(r#"{"input_tokens": 25, "output_tokens": 1}"#, r#"{"output_tokens": 15}"#);
    let cut = &stream[..stream.find("event: message_delta").unwrap()];
    assert_eq!(scan(cut, 5).usage(), None);
    let failed = format!(
        "{cut}event: error\ndata: {{\"type\": \"error\", \"error\": {{\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}}}\n\n"
    );
    assert_eq!(scan(&failed, 5).usage(), None);
    let bad = documented_stream(r#"{"input_tokens": 25, "output_tokens": 1}"#, r#"{"output_tokens": -15}"#);
    let s = scan(&bad, 5);
    assert_eq!((s.usage(), s.bad_events()), (None, 1));
    let not_json = stream.replace("{\"type\": \"ping\"}", "{ping");
    let s = scan(&not_json, 5);
    assert_eq!((s.usage(), s.bad_events()), (Some(u(25, 15, 0, 0, 0)), 1));
}

#[test]
fn service_tier_from_the_answer_and_from_message_start() {
    let tier = |usage: Value| usage_from_json(&answer(usage)).unwrap().service_tier;
    assert_eq!(tier(json!({"input_tokens": 1, "output_tokens": 2})), ServiceTier::Standard);
    assert_eq!(tier(json!({"input_tokens": 1, "output_tokens": 2, "service_tier": "standard"})), ServiceTier::Standard);
    assert_eq!(tier(json!({"input_tokens": 1, "output_tokens": 2, "service_tier": "priority"})), ServiceTier::Priority);
    assert_eq!(tier(json!({"input_tokens": 1, "output_tokens": 2, "service_tier": "batch"})), ServiceTier::Batch);
    // The stream reports it in message_start; the delta does not repeat it.
    let stream = documented_stream(
        r#"{"input_tokens": 25, "output_tokens": 1, "service_tier": "priority"}"#,
        r#"{"output_tokens": 15}"#,
    );
    assert_eq!(scan(&stream, 5).usage().unwrap().service_tier, ServiceTier::Priority);
}
