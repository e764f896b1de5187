//! Core of `llm-router`: an LLM cost router that runs inside Envoy as a proxy-wasm filter.
//!
//! This crate is pure Rust with no proxy-wasm import: request parsing, features, the classifier,
//! the routing policy, pricing and usage accounting, and the per-request flow, which talks to its
//! host through the small [`host::Host`] trait. The filter crate (`filters/llm-router`)
//! implements that trait over proxy-wasm host calls; tests use a fake host.
#![forbid(unsafe_code)]

pub mod accesslog;
pub mod accounting;
pub mod anthropic;
pub mod anthropic_usage;
pub mod api;
pub mod budget;
pub mod ceiling;
pub mod classifier;
pub mod config;
mod emit;
pub mod explain;
pub mod features;
pub mod flow;
pub mod host;
pub mod inspect;
mod inspect_message;
mod keyword_lists;
mod keywords;
pub mod mlp;
pub mod money;
pub mod names;
pub mod policy;
pub mod pricing;
pub mod pricing_raw;
pub mod quality;
pub mod reader;
pub mod report;
mod report_budget;
pub mod request;
pub mod responses;
pub mod responses_usage;
pub mod retry;
pub mod router;
mod routing;
mod scan;
pub mod service_tier;
pub mod share;
pub mod simulate;
pub mod splice;
pub mod sse;
mod sse_chunk;
pub mod usage;

// Offline evaluation for the CLI (`llm-router judge`, `report --quality`): the sample record
// reader, the judge's pure steps and the quality report. Compiled into the wasm filter, unused,
// they still moved its code generation (+158 bytes measured), so wasm builds leave them out and
// the filter stays byte-identical.
#[cfg(not(target_arch = "wasm32"))]
pub mod judge;
#[cfg(not(target_arch = "wasm32"))]
pub mod report_quality;
#[cfg(not(target_arch = "wasm32"))]
pub mod sample;

#[cfg(test)]
mod fake_host;
#[cfg(test)]
mod flow_budget_tests;
#[cfg(test)]
mod flow_ceiling_tests;
#[cfg(test)]
mod flow_messages_tests;
#[cfg(test)]
mod flow_responses_tests;
#[cfg(test)]
mod flow_tests;
