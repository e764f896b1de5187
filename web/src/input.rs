//! What the page's text boxes become before the core sees them: the configuration document the
//! filter would be given, a request body for a bare prompt, and the request headers.

use llm_router::config::ConfigError;
use llm_router::pricing::DEFAULT_PRICES_JSON;
use serde_json::{json, Value};

/// The configuration document the filter would receive for the page's two boxes.
///
/// The price table box is the configuration's `prices` member. Left as shipped (or empty), it
/// adds nothing and the configuration text goes to the core byte for byte, so its errors are
/// exactly the filter's; edited, it replaces `prices` in the configuration, and the page shows
/// the combined document the errors then refer to.
///
/// # Errors
///
/// The core's message when the configuration or the price table is not JSON at all (nothing to
/// combine).
pub fn effective_config(config: &str, prices: &str) -> Result<String, String> {
    if prices.trim().is_empty() || prices.trim() == DEFAULT_PRICES_JSON.trim() {
        return Ok(config.to_string());
    }
    let parse = |text: &str| serde_json::from_str::<Value>(text).map_err(|e| ConfigError::Json(e).to_string());
    let mut doc = parse(config)?;
    let table = parse(prices)?;
    let Some(obj) = doc.as_object_mut() else {
        // Not an object: the core says so, on the configuration as given.
        return Ok(config.to_string());
    };
    obj.insert("prices".to_string(), table);
    serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())
}

/// A request body for a prompt: text starting with `{` is taken as a whole request body (its
/// errors are then the filter's); anything else is the text of one user message sent to the
/// configuration's first alias (`auto` when it has none), which is how a client asks the router
/// to choose.
pub fn request_body(input: &str, alias: Option<&str>) -> String {
    if input.trim_start().starts_with('{') {
        return input.to_string();
    }
    json!({
        "model": alias.unwrap_or(llm_router::config::DEFAULT_ALIAS),
        "messages": [{"role": "user", "content": input}],
    })
    .to_string()
}

/// Request headers from `name: value` lines (blank lines and lines without `:` are ignored).
pub fn headers(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}
