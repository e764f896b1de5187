use super::*;
use crate::request::MAX_DEPTH;
use crate::splice::{self, Edit};

/// A request as the openai SDK sends it for a second turn with tools: instructions, a user
/// message with text, an image and a file, the model's earlier reasoning, message and function
/// call, the call's output, and a stored item referenced by id.
const FULL: &str = r#"{"model":"gpt-5-mini","instructions":"You are terse.","max_output_tokens":512,"stream":true,
 "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{}}},{"type":"web_search"}],
 "input":[
  {"role":"user","content":[{"type":"input_text","text":"Weather in Paris?"},
    {"type":"input_image","image_url":"data:image/png;base64,iVBOR","detail":"auto"},
    {"type":"input_file","file_id":"file-1"}]},
  {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"},
  {"type":"message","role":"assistant","id":"msg_1","status":"completed",
   "content":[{"type":"output_text","text":"Checking.","annotations":[]},{"type":"refusal","refusal":"no"}]},
  {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
  {"type":"function_call_output","call_id":"call_1","output":"18C"},
  {"type":"item_reference","id":"msg_0"},
  {"role":"developer","content":"and tomorrow?"}]}"#;

#[test]
fn reads_the_documented_request_shape() {
    let r = inspect(FULL.as_bytes()).unwrap();
    let req = &r.request;
    assert_eq!(req.model, "gpt-5-mini");
    assert_eq!(
        (req.stream, req.include_usage, req.max_tokens, req.tools, req.stateful),
        (true, true, Some(512), 2, false)
    );
    let roles: Vec<_> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Other,
            Role::Assistant,
            Role::Assistant,
            Role::Tool,
            Role::Other,
            Role::System
        ]
    );
    assert_eq!(req.messages[0].text, vec!["You are terse."]);
    let user = &req.messages[1];
    assert_eq!((user.text.clone(), user.images, user.other_parts), (vec!["Weather in Paris?".into()], 1, 1));
    assert_eq!(req.messages[2].other_parts, 1, "reasoning is counted, never read");
    let said = &req.messages[3];
    assert_eq!((said.text.clone(), said.other_parts, said.tool_calls), (vec!["Checking.".into()], 1, 0));
    assert_eq!((req.messages[4].tool_calls, req.messages[4].chars), (1, 0));
    assert_eq!(req.messages[5].text, vec!["18C"]);
    assert_eq!(req.messages[6].other_parts, 1);
    assert_eq!(req.messages[7].chars, 13);
    let span = r.spans.model[0].clone();
    assert_eq!(&FULL[span], "\"gpt-5-mini\"");
    assert!(r.spans.stream_options.is_empty());
}

#[test]
fn string_input_and_instructions() {
    let r = inspect(br#"{"model":"auto","input":"hello","instructions":"be brief"}"#).unwrap().request;
    assert_eq!(r.messages.len(), 2);
    assert_eq!((r.messages[0].role, r.messages[0].chars), (Role::System, 8));
    assert_eq!((r.messages[1].role, r.messages[1].text.clone()), (Role::User, vec![Cow::Borrowed("hello")]));
    assert!(matches!(r.messages[1].text[0], Cow::Borrowed(_)));
    // ceil(8/4)+4 + ceil(5/4)+4
    assert_eq!(r.estimated_input_tokens(), 6 + 6);
    // Escaped strings are read, owned.
    let r = inspect(br#"{"model":"auto","input":"caf\u00e9","instructions":null,"stream":null}"#).unwrap().request;
    assert_eq!((r.messages.len(), r.messages[0].chars, r.stream), (1, 4, false));
    // No input at all (a stored prompt), or null input: no message.
    assert!(inspect(br#"{"model":"auto","prompt":{"id":"pmpt_1"}}"#).unwrap().request.messages.is_empty());
    assert!(inspect(br#"{"model":"auto","input":null}"#).unwrap().request.messages.is_empty());
}

#[test]
fn previous_response_id_or_conversation_makes_it_stateful() {
    let stateful =
        |extra: &str| inspect(format!(r#"{{"model":"a","input":"x"{extra}}}"#).as_bytes()).unwrap().request.stateful;
    assert!(!stateful(""));
    assert!(!stateful(r#","previous_response_id":null,"conversation":null"#));
    assert!(stateful(r#","previous_response_id":"resp_123""#));
    assert!(stateful(r#","conversation":"conv_123""#));
    assert!(stateful(r#","conversation":{"id":"conv_123"}"#));
    // A value of the wrong type still keeps the request on its provider (which rejects it).
    assert!(stateful(r#","previous_response_id":7"#));
    // The last duplicate counts.
    assert!(!stateful(r#","previous_response_id":"resp_1","previous_response_id":null"#));
}

#[test]
fn text_format_type_is_the_response_format() {
    let format = |extra: &str| {
        let body = format!(r#"{{"model":"a","input":"x"{extra}}}"#);
        inspect(body.as_bytes()).unwrap().request.response_format.map(|f| f.into_owned())
    };
    assert_eq!(format(""), None);
    assert_eq!(format(r#","text":{"verbosity":"low"}"#), None);
    let schema = r#","text":{"verbosity":"low","format":{"type":"json_schema","name":"x","schema":{"type":"object"}}}"#;
    assert_eq!(format(schema).as_deref(), Some("json_schema"));
    assert_eq!(format(r#","text":{"format":{"type":"text"}}"#).as_deref(), Some("text"));
    // Not objects, or a type that is not a string: no format.
    assert_eq!(format(r#","text":"json""#), None);
    assert_eq!(format(r#","text":{"format":"json_object"}"#), None);
    assert_eq!(format(r#","text":{"format":{"type":1}}"#), None);
    // The last duplicate counts, at either level.
    assert_eq!(format(r#","text":{"format":{"type":"json_object"}},"text":null"#), None);
    assert_eq!(
        format(r#","text":{"format":{"type":"json_object"},"format":{"type":"text"}}"#).as_deref(),
        Some("text")
    );
    // Deep values inside `text` are bounded like everywhere else.
    let deep = format!(r#"{{"model":"a","text":{{"format":{}1{}}}}}"#, "[".repeat(200), "]".repeat(200));
    assert!(inspect(deep.as_bytes()).is_err());
}

#[test]
fn parts_of_other_apis_are_other_parts_here() {
    // Chat's `text` / `image_url` parts are not Responses parts: counted, not read.
    let body = br#"{"model":"a","input":[{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url"},"bare"]}]}"#;
    let m = &inspect(body).unwrap().request.messages[0];
    assert_eq!((m.text.clone(), m.images, m.other_parts), (vec![Cow::Borrowed("bare")], 0, 2));
    // And the chat reader still counts an `output_text` part as an other part.
    let chat = br#"{"model":"a","messages":[{"role":"assistant","content":[{"type":"output_text","text":"x"}]}]}"#;
    let m = &crate::inspect::inspect(chat).unwrap().request.messages[0];
    assert_eq!((m.chars, m.other_parts), (0, 1));
}

#[test]
fn rewrite_splices_every_model() {
    let body = r#"{"model":"gpt-5","input":"hi","model":"auto"}"#;
    let r = inspect(body.as_bytes()).unwrap();
    assert_eq!(r.request.model, "auto");
    let out = splice::rewrite(body.as_bytes(), &r.spans, Edit { model: Some("gpt-5-nano"), add_usage: false }).unwrap();
    assert_eq!(String::from_utf8(out.body).unwrap(), r#"{"model":"gpt-5-nano","input":"hi","model":"gpt-5-nano"}"#);
    let r = inspect(FULL.as_bytes()).unwrap();
    let out = splice::rewrite(FULL.as_bytes(), &r.spans, Edit { model: Some("gpt-5-nano"), add_usage: false }).unwrap();
    assert_eq!(String::from_utf8(out.body).unwrap(), FULL.replace("\"gpt-5-mini\"", "\"gpt-5-nano\""));
}

#[test]
fn errors_are_specific() {
    let cases = [
        ("{", "invalid_json"),
        ("", "invalid_json"),
        ("[]", "not_object"),
        ("\"hi\"", "not_object"),
        (r#"{"input":"x"}"#, "bad_model"),
        (r#"{"model":"","input":"x"}"#, "bad_model"),
        (r#"{"model":" ","input":"x"}"#, "bad_model"),
        (r#"{"model":["gpt-5"],"input":"x"}"#, "bad_model"),
        (r#"{"model":"a","input":7}"#, "bad_input"),
        (r#"{"model":"a","input":true}"#, "bad_input"),
        (r#"{"model":"a","input":{"role":"user","content":"x"}}"#, "bad_input"),
        (r#"{"model":"a","input":["hi"]}"#, "bad_input"),
        (r#"{"model":"a","input":[null]}"#, "bad_input"),
        (r#"{"model":"a","input":[{"role":"user","content":3}]}"#, "bad_input"),
        (r#"{"model":"a","input":[{"type":"message","role":"user","content":{}}]}"#, "bad_input"),
        (r#"{"model":"a","input":"x","instructions":3}"#, "bad_input"),
        (r#"{"model":"a","input":"x","instructions":["x"]}"#, "bad_input"),
        (r#"{"model":"a","input":"x","stream":"yes"}"#, "bad_stream"),
        (r#"{"model":3,"input":7,"stream":"x","y":tru}"#, "invalid_json"),
        (r#"{"model":"a","input":"x"} x"#, "invalid_json"),
    ];
    for (body, kind) in cases {
        assert_eq!(inspect(body.as_bytes()).unwrap_err().kind(), kind, "{body}");
    }
    // The first bad item is the one named; non-message items are never content errors.
    let e = inspect(br#"{"model":"a","input":[{"type":"reasoning","content":5},"x",{"content":1}]}"#).unwrap_err();
    assert_eq!(e, RequestError::InputItemNotObject(1));
    let e =
        inspect(br#"{"model":"a","input":[{"type":"function_call_output","output":[1]},{"content":1}]}"#).unwrap_err();
    assert_eq!(e, RequestError::BadInputContent(1));
    assert_eq!(inspect(br#"{"model":"a","instructions":{}}"#).unwrap_err(), RequestError::BadInstructions);
}

#[test]
fn depth_is_limited_everywhere() {
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    for at in ["x", "model", "input", "tools", "instructions", "previous_response_id", "conversation"] {
        let ok = format!(r#"{{"model":"a","{at}":{}}}"#, nest(MAX_DEPTH - 1));
        let deep = format!(r#"{{"model":"a","{at}":{}}}"#, nest(MAX_DEPTH));
        assert_ne!(inspect(ok.as_bytes()).err(), Some(RequestError::TooDeep), "{at}");
        assert_eq!(inspect(deep.as_bytes()).unwrap_err(), RequestError::TooDeep, "{at}");
    }
    // A part's member sits at depth 5: input, item, content, part, member.
    let in_part = |n: usize| {
        format!(r#"{{"model":"a","input":[{{"role":"user","content":[{{"type":"input_text","y":{}}}]}}]}}"#, nest(n))
    };
    assert!(inspect(in_part(MAX_DEPTH - 5).as_bytes()).is_ok());
    assert_eq!(inspect(in_part(MAX_DEPTH - 4).as_bytes()).unwrap_err(), RequestError::TooDeep);
    // And an item's output at depth 3.
    let in_output =
        |n: usize| format!(r#"{{"model":"a","input":[{{"type":"function_call_output","output":{}}}]}}"#, nest(n));
    assert!(inspect(in_output(MAX_DEPTH - 3).as_bytes()).is_ok());
    assert_eq!(inspect(in_output(MAX_DEPTH - 2).as_bytes()).unwrap_err(), RequestError::TooDeep);
    let very_deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(inspect(very_deep.as_bytes()).unwrap_err(), RequestError::TooDeep);
}

#[test]
fn cut_and_mutated_bodies_never_panic() {
    for body in [FULL.as_bytes(), br#"{"model":"auto","input":"hi","previous_response_id":"resp_1"}"#] {
        for at in 0..body.len() {
            let _ = inspect(&body[..at]);
            let mut v = body.to_vec();
            v.remove(at);
            let _ = inspect(&v);
            for b in [b'"', b'[', b'{', b'}', b'\\', 0xff] {
                let mut v = body.to_vec();
                v[at] = b;
                if let Ok(r) = inspect(&v) {
                    assert!(r.spans.model.iter().all(|s| s.end <= v.len()));
                }
            }
        }
    }
}
