//! Shadow sampling's readers of untrusted bytes: an upstream's answer (JSON or an SSE stream,
//! for each API) read as text and finish, and a client's body rendered as the record's prompt.
//! They run in the root context, where a panic would trap the VM of a whole worker. Whatever
//! the bytes: no panic, a known finish label, a cap that keeps at most its bytes on a UTF-8
//! boundary and says whether it cut, and a prompt without system prompts that is never longer
//! than the one with them.
//!
//! Input layout: byte 0 picks the text cap, the rest is the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_router::api::Api;
use llm_router::shadow_text::{answer_of, cap, from_sse, json_requested, prompt_of};

const FINISHES: [&str; 5] = ["stop", "length", "tool_calls", "content_filter", "other"];

fuzz_target!(|data: &[u8]| {
    let Some((&max, bytes)) = data.split_first() else {
        return;
    };
    let max = usize::from(max);
    for api in [Api::ChatCompletions, Api::Messages, Api::Responses] {
        let answer = answer_of(api, bytes);
        assert!(answer.finish.is_none_or(|f| FINISHES.contains(&f)), "{:?}", answer.finish);
        // The same bytes as a stream, whatever they are.
        let streamed = from_sse(api, bytes);
        assert!(streamed.finish.is_none_or(|f| FINISHES.contains(&f)), "{:?}", streamed.finish);
        for text in [answer.text.clone(), prompt_of(api, bytes, false), prompt_of(api, bytes, true)] {
            let (capped, cut) = cap(&text, max);
            assert!(capped.len() <= max && text.starts_with(&capped));
            assert_eq!(cut, capped.len() < text.len());
        }
        // Dropping system prompts only ever leaves lines out.
        assert!(prompt_of(api, bytes, true).len() <= prompt_of(api, bytes, false).len());
        let _ = json_requested(api, bytes);
    }
});
