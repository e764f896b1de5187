//! The llm-router core in a browser page (`web/www/`), through wasm-bindgen.
//!
//! Every answer is computed by the core library the Envoy filter links, with the model and the
//! default configuration it embeds: [`decide`] runs the filter's decide step
//! (`llm_router::explain`), [`price`] its pricing, [`simulate`] what `llm-router simulate
//! --traffic` runs, and an invalid configuration is refused with the core's own message (what
//! the filter logs from `on_configure`). This crate only turns the page's text boxes into the
//! core's inputs ([`input`]) and its results into JSON for the page; so the page and the filter
//! cannot disagree.
//!
//! Inputs and outputs are strings (JSON where structured, decimal strings for counts, which
//! keeps 64-bit integers exact in JavaScript); an `Err` becomes a thrown string in JS.
#![forbid(unsafe_code)]

pub mod input;

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::rc::Rc;

use llm_router::config::DEFAULT_CONFIG_JSON;
use llm_router::money::{format_tenths, format_usd, savings_tenths};
use llm_router::pricing::DEFAULT_PRICES_JSON;
use llm_router::router::Router;
use llm_router::simulate::{self, SampleReader};
use llm_router::usage::usage_from_value;
use serde_json::{json, Value};
use wasm_bindgen::prelude::wasm_bindgen;

/// A configuration text and its router.
type Cached = Option<(String, Rc<Router>)>;

thread_local! {
    /// The router of the last configuration text: loading the model takes longer than a decision,
    /// and the page asks again on every keystroke. Never dropped at thread exit: tract's own
    /// thread-locals may already be gone by then (the native test threads abort on it), and the
    /// page's one thread never exits.
    static ROUTER: ManuallyDrop<RefCell<Cached>> = const { ManuallyDrop::new(RefCell::new(None)) };
}

/// The router for a configuration document, or the core's reason to refuse it.
fn router(config: &str) -> Result<Rc<Router>, String> {
    if let Some(r) = ROUTER.with(|c| c.borrow().as_ref().filter(|(text, _)| text == config).map(|(_, r)| r.clone())) {
        return Ok(r);
    }
    let r = Rc::new(Router::from_json(config.as_bytes()).map_err(|e| e.to_string())?);
    ROUTER.with(|c| c.replace(Some((config.to_string(), r.clone()))));
    Ok(r)
}

fn first_alias(r: &Router) -> Option<&str> {
    r.config.aliases.first().map(String::as_str)
}

/// A non-negative integer given as decimal digits; `None` for an empty string.
fn count(text: &str, what: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be a non-negative integer, got `{t}`"));
    }
    t.parse().map(Some).map_err(|e| format!("{what} `{t}`: {e}"))
}

/// The configuration the filter ships (`src/default_config.json`), byte for byte.
#[wasm_bindgen]
pub fn default_config() -> String {
    DEFAULT_CONFIG_JSON.to_string()
}

/// The price table the filter ships (`src/default_prices.json`), byte for byte.
#[wasm_bindgen]
pub fn default_prices() -> String {
    DEFAULT_PRICES_JSON.to_string()
}

/// The configuration document for the page's configuration and price table boxes
/// ([`input::effective_config`]).
#[wasm_bindgen]
pub fn effective_config(config: &str, prices: &str) -> Result<String, String> {
    input::effective_config(config, prices)
}

/// Validate a configuration as `on_configure` does: a summary of it, or the core's error text.
#[wasm_bindgen]
pub fn check_config(config: &str) -> Result<String, String> {
    let r = router(config)?;
    let cfg = &r.config;
    Ok(json!({
        "mode": cfg.mode.as_str(),
        "classifier": r.classifier_name(),
        "price_version": cfg.prices.version(),
        "baseline_model": cfg.baseline_model,
        "aliases": cfg.aliases,
        "tiers": cfg.tiers.iter().map(|t| json!({"name": t.name, "model": t.model})).collect::<Vec<_>>(),
        "models": cfg.prices.models().map(|m| m.id.as_str()).collect::<Vec<_>>(),
    })
    .to_string())
}

/// Decide for a prompt or a whole request body (see [`input::request_body`]) with request
/// headers given as `name: value` lines: the request body used and the filter's decision with
/// the features and the rule trace behind it.
#[wasm_bindgen]
pub fn decide(config: &str, prompt_or_body: &str, headers: &str) -> Result<String, String> {
    let r = router(config)?;
    let body = input::request_body(prompt_or_body, first_alias(&r));
    let explanation =
        llm_router::explain::explain(&r, body.as_bytes(), &input::headers(headers)).map_err(|e| e.to_string())?;
    Ok(json!({"body": body, "decision": explanation}).to_string())
}

/// Price a usage object (`{"prompt_tokens", "completion_tokens", "prompt_tokens_details":
/// {"cached_tokens"}}`, read and validated as the filter reads an upstream's) on `model` and on
/// the baseline model: micro-USD and their `$` texts, and the saving.
#[wasm_bindgen]
pub fn price(config: &str, model: &str, usage: &str) -> Result<String, String> {
    let r = router(config)?;
    let usage_value: Value = serde_json::from_str(usage).map_err(|e| format!("usage is not json: {e}"))?;
    let usage = usage_from_value(&json!({ "usage": usage_value })).map_err(|e| e.to_string())?;
    let costs = llm_router::explain::price(&r.config, model, &usage);
    let saving = match (costs.cost_micro_usd, costs.baseline_cost_micro_usd) {
        (Some(c), Some(b)) => savings_tenths(c, b),
        _ => None,
    };
    Ok(json!({
        "model": model,
        "baseline_model": r.config.baseline_model,
        "usage": usage,
        "cost_micro_usd": costs.cost_micro_usd,
        "cost_usd": costs.cost_micro_usd.map(format_usd),
        "baseline_cost_micro_usd": costs.baseline_cost_micro_usd,
        "baseline_cost_usd": costs.baseline_cost_micro_usd.map(format_usd),
        "savings": format_tenths(saving),
    })
    .to_string())
}

/// `llm-router simulate --traffic` on a batch: one prompt or request body per line (a JSON
/// Lines file is both), scaled to `monthly_requests` (empty: the batch is a month), with
/// `output_tokens` for lines without `expected_output_tokens`. Returns the CLI's table text, its
/// JSON report, the skipped lines and the router strategy's tier mix.
#[wasm_bindgen]
pub fn simulate(config: &str, batch: &str, monthly_requests: &str, output_tokens: &str) -> Result<String, String> {
    let r = router(config)?;
    let monthly = count(monthly_requests, "monthly requests")?;
    let output = count(output_tokens, "output tokens")?;
    let mut sample = SampleReader::new(&r, output);
    let mut skipped = Vec::new();
    for (i, line) in batch.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = sample.add_line(&input::request_body(line, first_alias(&r))) {
            skipped.push(json!({"line": i + 1, "error": e.to_string()}));
        }
    }
    let traffic = sample.into_traffic(monthly);
    let table = &r.config.prices;
    let strategies = simulate::strategies(table, None, &[], true, &traffic).map_err(|e| e.to_string())?;
    let projections =
        simulate::project(&traffic, table, &simulate::Baselines::of(&r), &strategies).map_err(|e| e.to_string())?;
    // Cheapest tier first; models no tier serves (explicit ones passed through) last.
    let mut routed: Vec<(Option<usize>, &String, &u64)> = projections
        .iter()
        .flat_map(|p| p.routed_models.iter())
        .map(|(model, n)| (r.config.tier_for_model(model), model, n))
        .collect();
    routed.sort_by_key(|(tier, model, _)| (tier.is_none(), *tier, model.as_str()));
    let tiers: Vec<Value> = routed
        .into_iter()
        .map(|(tier, model, n)| {
            let name = tier.and_then(|i| r.config.tiers.get(i)).map(|t| t.name.as_str());
            json!({"model": model, "tier": name, "requests": n})
        })
        .collect();
    Ok(json!({
        "table": simulate::render_table(&traffic, table, &projections),
        "report": simulate::render_json(&traffic, table, &projections),
        "skipped": skipped,
        "tiers": tiers,
    })
    .to_string())
}

#[cfg(test)]
mod tests;
