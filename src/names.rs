//! Every header, filter-state key, property and stat name the filter uses, in one place.
//!
//! The crate name `llm-router` is used consistently: headers start with `x-llm-router-`,
//! filter-state keys with `llm_router_` (Envoy prefixes them with `wasm.`), stats with
//! `llm_router_`.

/// Prefix of every header this filter owns. Client-sent request headers with this prefix are
/// removed before any decision is made.
pub const HEADER_PREFIX: &str = "x-llm-router-";

/// Request header set for Envoy's route (`cluster_header`) to pick the upstream cluster.
pub const HEADER_CLUSTER: &str = "x-llm-router-cluster";
/// Response header: the model the request was sent to (or would be, in measure mode).
pub const HEADER_MODEL: &str = "x-llm-router-model";
/// Response header: the tier chosen.
pub const HEADER_TIER: &str = "x-llm-router-tier";
/// Response header: the classifier score, 4 decimals, or `-` when no score was computed.
pub const HEADER_SCORE: &str = "x-llm-router-score";
/// Response header: why the tier was chosen (`score`, `rule:<name>`, `floor:<name>`, `explicit`, ...).
pub const HEADER_REASON: &str = "x-llm-router-reason";
/// Response header: the cost of this request in integer micro-USD.
pub const HEADER_COST: &str = "x-llm-router-cost-micro-usd";
/// Response header: what the same tokens would have cost on the baseline model, micro-USD.
pub const HEADER_BASELINE_COST: &str = "x-llm-router-baseline-cost-micro-usd";
/// Response header: the price table version used.
pub const HEADER_PRICE_VERSION: &str = "x-llm-router-price-version";
/// Response header: `route` or `measure`.
pub const HEADER_MODE: &str = "x-llm-router-mode";
/// Response header: `fallback:<reason>` or `escalation:<reason>` when the answer came from a
/// second attempt on a stronger tier.
pub const HEADER_RETRY: &str = "x-llm-router-retry";
/// Response header: the customer's budget left this period before this request, micro-USD.
pub const HEADER_BUDGET_REMAINING: &str = "x-llm-router-budget-remaining-micro-usd";
/// Response header: the budget pace (0 on pace .. 1 all scored requests to the cheapest tier).
pub const HEADER_BUDGET_PACE: &str = "x-llm-router-budget-pace";
/// Response header: accounting status (`priced`, `unpriced`, `usage_missing`, ...).
pub const HEADER_STATUS: &str = "x-llm-router-status";

/// Filter-state keys (Envoy stores them as `wasm.<key>`; read them in an access log with
/// `%FILTER_STATE(wasm.<key>:PLAIN)%`).
pub mod state {
    /// The model the client asked for.
    pub const REQUESTED_MODEL: &str = "llm_router_requested_model";
    /// The model sent upstream (or projected, in measure mode).
    pub const MODEL: &str = "llm_router_model";
    /// The tier chosen.
    pub const TIER: &str = "llm_router_tier";
    /// The classifier score.
    pub const SCORE: &str = "llm_router_score";
    /// The decision reason.
    pub const REASON: &str = "llm_router_reason";
    /// `route` or `measure`.
    pub const MODE: &str = "llm_router_mode";
    /// The customer label value.
    pub const CUSTOMER: &str = "llm_router_customer";
    /// Prompt tokens reported by the upstream.
    pub const INPUT_TOKENS: &str = "llm_router_input_tokens";
    /// Completion tokens reported by the upstream.
    pub const OUTPUT_TOKENS: &str = "llm_router_output_tokens";
    /// Cached prompt tokens reported by the upstream.
    pub const CACHED_TOKENS: &str = "llm_router_cached_tokens";
    /// Prompt tokens written to a 5-minute cache (Anthropic); set only when not zero.
    pub const CACHE_WRITE_5M_TOKENS: &str = "llm_router_cache_write_5m_tokens";
    /// Prompt tokens written to a 1-hour cache (Anthropic); set only when not zero.
    pub const CACHE_WRITE_1H_TOKENS: &str = "llm_router_cache_write_1h_tokens";
    /// The service tier an answer reports (`flex`, `priority`, ...); set only when not standard.
    pub const SERVICE_TIER: &str = "llm_router_service_tier";
    /// Cost in micro-USD.
    pub const COST: &str = "llm_router_cost_micro_usd";
    /// Baseline cost in micro-USD.
    pub const BASELINE_COST: &str = "llm_router_baseline_cost_micro_usd";
    /// Price table version.
    pub const PRICE_VERSION: &str = "llm_router_price_version";
    /// Accounting status.
    pub const STATUS: &str = "llm_router_status";
    /// `fallback:<reason>` / `escalation:<reason>` (`:failed` appended if the re-send failed).
    pub const RETRY: &str = "llm_router_retry";
    /// The API of the request ([`super::value::API_CHAT_COMPLETIONS`], ...), set for every
    /// request on an inspected path, rejected ones included.
    pub const API: &str = "llm_router_api";
    /// `sampled` on a request chosen for shadow sampling ([`crate::shadow`]); absent otherwise.
    /// The shadow call's own cost is never in this request's fields: it is made after the
    /// access log is written.
    pub const SHADOW: &str = "llm_router_shadow";
}

/// Stat names (Prometheus conventions: `_total` for counters, unit in the name).
pub mod stat {
    /// Requests seen by the filter on inspected paths, by outcome labels.
    pub const REQUESTS: &str = "llm_router_requests_total";
    /// Prompt tokens.
    pub const INPUT_TOKENS: &str = "llm_router_input_tokens_total";
    /// Completion tokens.
    pub const OUTPUT_TOKENS: &str = "llm_router_output_tokens_total";
    /// Cached prompt tokens.
    pub const CACHED_TOKENS: &str = "llm_router_cached_tokens_total";
    /// Cost in micro-USD.
    pub const COST: &str = "llm_router_cost_micro_usd_total";
    /// Baseline (counterfactual) cost in micro-USD.
    pub const BASELINE_COST: &str = "llm_router_baseline_cost_micro_usd_total";
    /// Requests whose model has no price (never counted as zero cost).
    pub const UNPRICED: &str = "llm_router_unpriced_total";
    /// Responses without readable usage.
    pub const USAGE_MISSING: &str = "llm_router_usage_missing_total";
    /// Routing decisions, by tier and reason.
    pub const DECISIONS: &str = "llm_router_decisions_total";
    /// Requests on an inspected path that could not be inspected, by kind.
    pub const ERRORS: &str = "llm_router_errors_total";
    /// Requests passed through without routing (explicit model, not inspected).
    pub const PASSTHROUGH: &str = "llm_router_passthrough_total";
    /// Customers folded into `other` because the distinct-customer cap was reached.
    pub const CUSTOMER_OVERFLOW: &str = "llm_router_customer_overflow_total";
    /// Requests re-sent to the next tier because the routed upstream failed (5xx, 429, reset,
    /// timeout), by the tier/model that failed and the reason.
    pub const FALLBACKS: &str = "llm_router_fallbacks_total";
    /// Requests re-sent to the next tier because the answer was unusable, by reason.
    pub const ESCALATIONS: &str = "llm_router_escalations_total";
    /// Budget actions on requests, by customer and action (`paced`, `cheapest`, `reject`).
    pub const BUDGET: &str = "llm_router_budget_total";
    /// Spend updates given up after [`crate::budget::MAX_CAS_ATTEMPTS`] conflicts, or refused.
    pub const BUDGET_UPDATE_FAILED: &str = "llm_router_budget_update_failed_total";
    /// Requests whose worst-case estimate was above the cost ceiling, by action
    /// (`step_down`, `reject`).
    pub const COST_CEILING: &str = "llm_router_cost_ceiling_total";
    /// Histogram: decision time in microseconds (parse + features + inference + policy).
    pub const DECISION_TIME_US: &str = "llm_router_decision_time_us";
    /// Histogram: per-request cost in micro-USD.
    pub const REQUEST_COST: &str = "llm_router_request_cost_micro_usd";
    /// Histogram (only with `"profile": true`): wall time of one filter callback in
    /// nanoseconds, host calls made inside it included, by callback.
    pub const CALLBACK_TIME_NS: &str = "llm_router_callback_time_ns";
    /// Shadow samples by outcome (`sampled` when chosen, then one final outcome each), by the
    /// routed tier ([`crate::shadow`]).
    pub const SHADOW: &str = "llm_router_shadow_total";
    /// Cost of the reference calls (micro-USD), by the routed tier and the reference model;
    /// never part of [`COST`] or [`BASELINE_COST`].
    pub const SHADOW_COST: &str = "llm_router_shadow_cost_micro_usd_total";
    /// Sample records the sink did not accept (no answer, or a status other than 2xx).
    pub const SHADOW_SINK_FAILURES: &str = "llm_router_shadow_sink_failures_total";
}

/// Label names used in stat names.
pub mod label {
    /// Envoy route name.
    pub const ROUTE: &str = "route";
    /// The API (wire format) of the request: one value per [`crate::api::Api`].
    pub const API: &str = "api";
    /// Tier name.
    pub const TIER: &str = "tier";
    /// Model id.
    pub const MODEL: &str = "model";
    /// Customer label value.
    pub const CUSTOMER: &str = "customer";
    /// `route` or `measure`.
    pub const MODE: &str = "mode";
    /// Decision reason.
    pub const REASON: &str = "reason";
    /// Accounting status.
    pub const STATUS: &str = "status";
    /// Error kind.
    pub const KIND: &str = "kind";
    /// Filter callback (`request_headers`, `request_body`, ...), for the profile histogram.
    pub const CALLBACK: &str = "callback";
    /// What the cost ceiling did (`step_down`, `reject`).
    pub const ACTION: &str = "action";
    /// What became of a shadow sample.
    pub const OUTCOME: &str = "outcome";
}

/// Fixed label, header and filter-state values (the variable ones come from the configuration
/// and the request).
pub mod value {
    /// Customer label when the request names no customer.
    pub const CUSTOMER_UNKNOWN: &str = "unknown";
    /// Customer label of customers beyond the distinct-customer cap.
    pub const CUSTOMER_OTHER: &str = "other";
    /// Route label when Envoy names no route.
    pub const UNKNOWN_ROUTE: &str = "unknown";
    /// Tier of an explicit model that no tier serves.
    pub const NO_TIER: &str = "none";
    /// Score header and state when a rule decided (no score was computed).
    pub const NO_SCORE: &str = "-";
    /// Reason of an explicit model passed through.
    pub const REASON_EXPLICIT: &str = "explicit";
    /// Reason of a stateful Responses request passed through unrouted: the provider family
    /// holding the response it continues cannot be known (see `Config::stateful_family`).
    pub const REASON_STATEFUL_UNROUTED: &str = "stateful_unrouted";
    /// Prefix of the reason of a stateful request whose decided tier was moved into its
    /// family (`stateful:<the policy's reason>`).
    pub const REASON_STATEFUL_PREFIX: &str = "stateful:";
    /// Accounting status: usage read and priced.
    pub const STATUS_PRICED: &str = "priced";
    /// Accounting status: usage read, model not in the price table.
    pub const STATUS_UNPRICED: &str = "unpriced";
    /// Accounting status: no usable usage in the response.
    pub const STATUS_USAGE_MISSING: &str = "usage_missing";
    /// Accounting status: the request could not be inspected.
    pub const STATUS_ERROR: &str = "error";
    /// API label of OpenAI chat completions.
    pub const API_CHAT_COMPLETIONS: &str = "chat_completions";
    /// API label of Anthropic Messages.
    pub const API_MESSAGES: &str = "messages";
    /// `api` label of OpenAI Responses.
    pub const API_RESPONSES: &str = "responses";
    /// Decision reason of a scored request a budget's pace sent to a cheaper tier.
    pub const REASON_BUDGET_PACE: &str = "budget_pace";
    /// Decision reason of a request at its budget cap sent to the cheapest tier.
    pub const REASON_BUDGET_CAP: &str = "budget_cap";
    /// Error kind of a request rejected at its customer's budget cap.
    pub const BUDGET_CAP_REJECT: &str = "budget_cap";
    /// Decision reason of a request stepped down by the cost ceiling.
    pub const REASON_COST_CEILING: &str = "cost_ceiling";
    /// Error kind (`llm_router_errors_total{kind}`) of a request the cost ceiling rejected.
    pub const COST_CEILING_REJECT: &str = "cost_ceiling";
    /// The cost ceiling's actions (`action` label).
    pub const ACTION_STEP_DOWN: &str = "step_down";
    /// See [`ACTION_STEP_DOWN`]; also a budget cap's rejection.
    pub const ACTION_REJECT: &str = "reject";
    /// A budget's pace moved a request to a cheaper tier (`action` label).
    pub const ACTION_PACED: &str = "paced";
    /// A budget cap sent a request to the cheapest tier (`action` label).
    pub const ACTION_CHEAPEST: &str = "cheapest";
    /// Shadow state of a sampled request, and the `outcome` of a sample when it is chosen.
    pub const SHADOW_SAMPLED: &str = "sampled";
    /// Shadow outcome: the record was built with the reference answer and handed to the sink.
    pub const SHADOW_OK: &str = "ok";
    /// Shadow outcome: the per-minute shadow budget was spent.
    pub const SHADOW_SKIPPED_BUDGET: &str = "skipped_budget";
    /// Shadow outcome: too many samples were waiting for their reference call.
    pub const SHADOW_SKIPPED_QUEUE: &str = "skipped_queue";
    /// Shadow outcome: the answer the client got came from the reference tier or above (a
    /// fallback or escalation moved it there), so there is nothing to compare.
    pub const SHADOW_SKIPPED_TIER: &str = "skipped_tier";
    /// Shadow outcome: no answer reached the client (the stream ended before its headers).
    pub const SHADOW_ABANDONED: &str = "abandoned";
    /// Shadow outcome: the host refused the reference call.
    pub const SHADOW_DISPATCH_FAILED: &str = "dispatch_failed";
    /// Shadow outcome: the reference call failed (no answer or not 2xx); the record is still
    /// written, with the error.
    pub const SHADOW_REFERENCE_FAILED: &str = "reference_failed";
}
