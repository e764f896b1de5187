use super::*;
use crate::request::{Role, MAX_DEPTH};
use crate::splice::{self, Edit};

/// A request as the Anthropic SDK sends it: system blocks with a cache-control block, a tool,
/// a tool_use / tool_result turn, an image and a document.
const FULL: &str = r#"{"model":"claude-sonnet-4-6","max_tokens":1024,"stream":true,
 "system":[{"type":"text","text":"You are terse."},{"type":"text","text":"Long manual...","cache_control":{"type":"ephemeral"}}],
 "tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object","properties":{}}}],
 "metadata":{"user_id":"u-42"},
 "messages":[
  {"role":"user","content":"What is the weather in Paris?"},
  {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}]},
  {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_01","content":"18C"},
   {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
   {"type":"document","source":{"type":"text","media_type":"text/plain","data":"doc"}},
   {"type":"text","text":"and tomorrow?"}]}]}"#;

#[test]
fn reads_the_documented_request_shape() {
    let r = inspect(FULL.as_bytes()).unwrap();
    let req = &r.inspected.request;
    assert_eq!(req.model, "claude-sonnet-4-6");
    assert_eq!((req.stream, req.include_usage, req.max_tokens, req.tools), (true, true, Some(1024), 1));
    assert_eq!(r.user_id.as_deref(), Some("u-42"));
    let roles: Vec<_> = req.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User, Role::Assistant, Role::User]);
    assert_eq!(req.messages[0].text, vec!["You are terse.", "Long manual..."]);
    assert_eq!(req.messages[2].text, vec!["Checking."]);
    assert_eq!((req.messages[2].tool_calls, req.messages[2].other_parts), (1, 0));
    let last = &req.messages[3];
    assert_eq!(
        (last.text.clone(), last.images, last.other_parts, last.tool_calls),
        (vec!["and tomorrow?".into()], 1, 2, 0)
    );
    // The model span is where a rewrite splices.
    let span = r.inspected.spans.model[0].clone();
    assert_eq!(&FULL[span], "\"claude-sonnet-4-6\"");
    assert!(r.inspected.spans.stream_options.is_empty());
}

#[test]
fn string_system_and_plain_messages() {
    let body = r#"{"model":"auto","system":"be brief","messages":[{"role":"user","content":"hi"}],"max_tokens":5}"#;
    let r = inspect(body.as_bytes()).unwrap();
    let req = r.inspected.request;
    assert_eq!(req.messages.len(), 2);
    assert_eq!((req.messages[0].role, req.messages[0].chars), (Role::System, 8));
    assert!(!req.stream);
    assert_eq!(r.user_id, None);
    // ceil(8/4)+4 + ceil(2/4)+4
    assert_eq!(req.estimated_input_tokens(), 6 + 5);
}

#[test]
fn an_openai_body_with_the_same_parts_is_unchanged_by_the_anthropic_reader() {
    // The chat reader still counts a `tool_use` part as an other part: OpenAI features stay put.
    let body = r#"{"model":"a","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"x"}]}]}"#;
    let chat = crate::inspect::inspect(body.as_bytes()).unwrap().request;
    assert_eq!((chat.messages[0].tool_calls, chat.messages[0].other_parts), (0, 1));
    let messages = inspect(body.as_bytes()).unwrap().inspected.request;
    assert_eq!((messages.messages[0].tool_calls, messages.messages[0].other_parts), (1, 0));
}

#[test]
fn rewrite_splices_only_the_model() {
    let r = inspect(FULL.as_bytes()).unwrap();
    let out = splice::rewrite(
        FULL.as_bytes(),
        &r.inspected.spans,
        Edit { model: Some("claude-haiku-4-5"), add_usage: false },
    )
    .unwrap();
    assert_eq!(String::from_utf8(out.body).unwrap(), FULL.replace("claude-sonnet-4-6", "claude-haiku-4-5"));
}

#[test]
fn errors_are_specific() {
    let cases = [
        ("{", "invalid_json"),
        ("[]", "not_object"),
        (r#"{"messages":[]}"#, "bad_model"),
        (r#"{"model":"","messages":[]}"#, "bad_model"),
        (r#"{"model":"a"}"#, "bad_messages"),
        (r#"{"model":"a","messages":{}}"#, "bad_messages"),
        (r#"{"model":"a","messages":["hi"]}"#, "bad_messages"),
        (r#"{"model":"a","messages":[{"role":"user","content":3}]}"#, "bad_messages"),
        (r#"{"model":"a","messages":[],"system":3}"#, "bad_messages"),
        (r#"{"model":"a","messages":[],"system":{"text":"x"}}"#, "bad_messages"),
        (r#"{"model":"a","messages":[],"stream":"yes"}"#, "bad_stream"),
        (r#"{"model":3,"messages":[1],"system":3,"x":tru}"#, "invalid_json"),
    ];
    for (body, kind) in cases {
        assert_eq!(inspect(body.as_bytes()).unwrap_err().kind(), kind, "{body}");
    }
    assert_eq!(inspect(br#"{"model":"a","messages":[],"system":1}"#).unwrap_err(), RequestError::BadSystem);
}

#[test]
fn depth_is_limited_everywhere() {
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    for at in ["x", "model", "metadata", "tools"] {
        let ok = format!(r#"{{"model":"a","messages":[],"{at}":{}}}"#, nest(MAX_DEPTH - 1));
        let deep = format!(r#"{{"model":"a","messages":[],"{at}":{}}}"#, nest(MAX_DEPTH));
        assert_ne!(inspect(ok.as_bytes()).err(), Some(RequestError::TooDeep), "{at}");
        assert_eq!(inspect(deep.as_bytes()).unwrap_err(), RequestError::TooDeep, "{at}");
    }
    // A system block's member sits at depth 3: system, block, member.
    let in_system = |n: usize| format!(r#"{{"model":"a","messages":[],"system":[{{"type":"text","y":{}}}]}}"#, nest(n));
    assert!(inspect(in_system(MAX_DEPTH - 3).as_bytes()).is_ok());
    assert_eq!(inspect(in_system(MAX_DEPTH - 2).as_bytes()).unwrap_err(), RequestError::TooDeep);
    let very_deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(inspect(very_deep.as_bytes()).unwrap_err(), RequestError::TooDeep);
}

#[test]
fn error_body_has_anthropics_shape() {
    let v: serde_json::Value = serde_json::from_str(&crate::request::anthropic_error("bad \"x\"")).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"type": "error", "error": {"type": "invalid_request_error", "message": "bad \"x\""}})
    );
}
