//! The two calls a shadow sample makes from the root context: the request re-sent to the
//! reference tier, and the record POSTed to the sink.

use serde_json::Value;

use crate::retry::Resent;
use crate::shadow_config::Shadow;

/// The client's request for the reference model: `model` rewritten, and `stream` /
/// `stream_options` removed so the answer comes whole (a shadow call is never streamed; the
/// root context reads it in one piece). `headers` are those a re-send keeps; `content-length`
/// is set for the new body. `None` when the body is not a JSON object.
pub(crate) fn reference_call(headers: &[(String, String)], body: &[u8], model: &str) -> Option<Resent> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object_mut()?;
    obj.insert("model".to_string(), Value::String(model.to_string()));
    obj.remove("stream");
    obj.remove("stream_options");
    let body = serde_json::to_vec(&v).ok()?;
    let mut headers: Vec<(String, String)> =
        headers.iter().filter(|(k, _)| k != "content-length" && k != "accept").cloned().collect();
    headers.push(("accept".to_string(), "application/json".to_string()));
    headers.push(("content-length".to_string(), body.len().to_string()));
    Some(Resent { headers, body })
}

/// The POST of one record line to the sink: one JSON object ending with `\n`, so the body is
/// both a JSON document (`application/json`, what Fluent Bit's and Fluentd's HTTP inputs take)
/// and one line of JSONL for collectors that split on newlines.
pub(crate) fn sink_post(shadow: &Shadow, mut line: Vec<u8>) -> Resent {
    line.push(b'\n');
    let headers = vec![
        (":method".to_string(), "POST".to_string()),
        (":path".to_string(), shadow.sink_path.clone()),
        (":authority".to_string(), shadow.sink_authority.clone()),
        ("content-type".to_string(), "application/json".to_string()),
        ("content-length".to_string(), line.len().to_string()),
    ];
    Resent { headers, body: line }
}
