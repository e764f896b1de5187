use super::*;
use crate::sse::SseScanner;
use serde_json::json;

/// A `response` object as OpenAI documents it, with `status` and `usage`.
fn response(status: &str, usage: &Value) -> Value {
    json!({
        "id": "resp_67ccd2bed1ec8190b14f964abc054267", "object": "response", "created_at": 1_741_476_542,
        "status": status, "error": null, "incomplete_details": null, "instructions": null,
        "max_output_tokens": null, "model": "gpt-5-mini-2025-08-07",
        "output": [{"type": "message", "id": "msg_67ccd2bf17f0", "status": "completed", "role": "assistant",
                    "content": [{"type": "output_text", "text": "Hi", "annotations": []}]}],
        "parallel_tool_calls": true, "previous_response_id": null, "service_tier": "default",
        "store": true, "temperature": 1.0, "tool_choice": "auto", "tools": [], "top_p": 1.0,
        "truncation": "disabled", "usage": usage, "user": null, "metadata": {},
    })
}

fn usage_json(input: u64, cached: u64, output: u64, reasoning: u64) -> Value {
    json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached},
           "output_tokens": output, "output_tokens_details": {"reasoning_tokens": reasoning},
           "total_tokens": input + output})
}

fn u(prompt: u64, completion: u64, cached: u64) -> Usage {
    Usage { prompt_tokens: prompt, completion_tokens: completion, cached_tokens: cached, ..Usage::ZERO }
}

#[test]
fn json_answer_counts_cached_inside_input_and_reasoning_inside_output() {
    let v = response("completed", &usage_json(328, 256, 52, 20));
    assert_eq!(usage_from_value(&v).unwrap(), u(328, 52, 256));
    let bare = json!({"usage": {"input_tokens": 5, "output_tokens": 7}});
    assert_eq!(usage_from_value(&bare).unwrap(), u(5, 7, 0));
    let null_details = json!({"usage": {"input_tokens": 5, "output_tokens": 7, "input_tokens_details": null}});
    assert_eq!(usage_from_value(&null_details).unwrap(), u(5, 7, 0));
}

#[test]
fn bad_usages_are_errors() {
    let with = |usage: Value| usage_from_value(&json!({"usage": usage}));
    assert_eq!(with(json!({"output_tokens": 1})), Err(UsageError::MissingCount { field: SHAPE.prompt }));
    assert_eq!(with(json!({"input_tokens": 1})), Err(UsageError::MissingCount { field: SHAPE.completion }));
    assert_eq!(
        with(json!({"input_tokens": -1, "output_tokens": 1})),
        Err(UsageError::NegativeCount { field: SHAPE.prompt })
    );
    assert_eq!(
        with(json!({"input_tokens": 1, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 1.5}})),
        Err(UsageError::NotAnInteger { field: SHAPE.cached })
    );
    assert_eq!(
        with(json!({"input_tokens": 1, "output_tokens": 1, "input_tokens_details": 3})),
        Err(UsageError::NotAnObject { field: SHAPE.details })
    );
    assert_eq!(with(usage_json(10, 11, 1, 0)), Err(UsageError::CachedExceedsPrompt { cached: 11, prompt: 10 }));
    // Chat's names are not Responses' names.
    assert!(with(json!({"prompt_tokens": 1, "completion_tokens": 1})).is_err());
    assert_eq!(usage_from_value(&json!({"usage": null})), Err(UsageError::MissingUsage));
    assert_eq!(usage_from_value(&json!([])), Err(UsageError::NotObject));
}

/// OpenAI's documented event sequence of a short text answer, ending with `terminal` whose
/// response carries `usage`.
fn documented_stream(terminal: &str, usage: &Value) -> String {
    let created = response("in_progress", &Value::Null);
    let done = response(terminal.trim_start_matches("response."), usage);
    let item = json!({"id": "msg_1", "type": "message", "status": "in_progress", "role": "assistant", "content": []});
    let events = [
        ("response.created", json!({"type": "response.created", "sequence_number": 0, "response": created})),
        ("response.in_progress", json!({"type": "response.in_progress", "sequence_number": 1, "response": created})),
        (
            "response.output_item.added",
            json!({"type": "response.output_item.added", "sequence_number": 2, "output_index": 0, "item": item}),
        ),
        (
            "response.content_part.added",
            json!({"type": "response.content_part.added", "sequence_number": 3, "item_id": "msg_1", "output_index": 0,
                   "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        ),
        (
            "response.output_text.delta",
            json!({"type": "response.output_text.delta", "sequence_number": 4, "item_id": "msg_1", "output_index": 0,
                   "content_index": 0, "delta": "Hi \"usage\": {\"input_tokens\": 1}", "logprobs": []}),
        ),
        (
            "response.output_text.done",
            json!({"type": "response.output_text.done", "sequence_number": 5, "item_id": "msg_1", "output_index": 0,
                   "content_index": 0, "text": "Hi", "logprobs": []}),
        ),
        (
            "response.content_part.done",
            json!({"type": "response.content_part.done", "sequence_number": 6, "item_id": "msg_1", "output_index": 0,
                   "content_index": 0, "part": {"type": "output_text", "text": "Hi", "annotations": []}}),
        ),
        (
            "response.output_item.done",
            json!({"type": "response.output_item.done", "sequence_number": 7, "output_index": 0, "item": item}),
        ),
        (terminal, json!({"type": terminal, "sequence_number": 8, "response": done})),
    ];
    events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect()
}

fn scan(stream: &str, chunk: usize) -> SseScanner {
    let mut s = SseScanner::responses(64 * 1024);
    for c in stream.as_bytes().chunks(chunk) {
        s.push(c);
    }
    s.finish();
    s
}

#[test]
fn stream_usage_comes_from_the_terminal_event() {
    let stream = documented_stream("response.completed", &usage_json(1219, 1024, 10, 4));
    for chunk in [1, 7, 64, stream.len()] {
        let s = scan(&stream, chunk);
        assert_eq!(s.usage(), Some(u(1219, 10, 1024)), "chunk {chunk}");
        assert_eq!((s.events(), s.bad_events(), s.saw_done()), (9, 0, false));
    }
}

#[test]
fn the_tier_the_response_was_processed_on_is_kept() {
    use crate::service_tier::ServiceTier;
    let mut v = response("completed", &usage_json(10, 0, 5, 0));
    assert_eq!(usage_from_value(&v).unwrap().service_tier, ServiceTier::Standard, "default");
    v["service_tier"] = json!("flex");
    assert_eq!(usage_from_value(&v).unwrap().service_tier, ServiceTier::Flex);
    let stream =
        documented_stream("response.completed", &usage_json(10, 0, 5, 0)).replace("\"default\"", "\"priority\"");
    assert_eq!(scan(&stream, 9).usage().unwrap().service_tier, ServiceTier::Priority);
}

#[test]
fn incomplete_and_failed_responses_are_billed_with_their_usage() {
    for terminal in ["response.incomplete", "response.failed"] {
        let stream = documented_stream(terminal, &usage_json(40, 0, 16, 16));
        assert_eq!(scan(&stream, 13).usage(), Some(u(40, 16, 0)), "{terminal}");
        // Without a usage it is unknown.
        let stream = documented_stream(terminal, &Value::Null);
        assert_eq!(scan(&stream, 13).usage(), None, "{terminal}");
    }
}

#[test]
fn cut_errored_or_invalid_streams_have_no_usage() {
    let stream = documented_stream("response.completed", &usage_json(30, 0, 5, 0));
    let cut = &stream[..stream.find("event: response.completed").unwrap()];
    assert_eq!(scan(cut, 5).usage(), None);
    // A stream cut inside the terminal event's data is a bad event, not a usage.
    let s = scan(&stream[..stream.len() - 20], 5);
    assert_eq!((s.usage(), s.bad_events()), (None, 1));
    let errored = format!(
        "{cut}event: error\ndata: {{\"type\": \"error\", \"code\": \"server_error\", \"message\": \"boom\", \"param\": null, \"sequence_number\": 8}}\n\n"
    );
    assert_eq!(scan(&errored, 5).usage(), None);
    // An error event wins even over a terminal usage around it.
    assert_eq!(scan(&format!("{errored}{}", &stream[cut.len()..]), 5).usage(), None);
    let bad = documented_stream("response.completed", &json!({"input_tokens": 3, "output_tokens": -1}));
    let s = scan(&bad, 5);
    assert_eq!((s.usage(), s.bad_events()), (None, 1));
    // A data payload that is not JSON is a bad event; the usage after it still counts.
    let noisy = stream.replacen("event: response.in_progress\ndata: {", "event: response.in_progress\ndata: {oops", 1);
    let s = scan(&noisy, 5);
    assert_eq!((s.usage(), s.bad_events()), (Some(u(30, 5, 0)), 1));
}
