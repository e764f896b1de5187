"""Anthropic Messages (`POST /v1/messages`) through real Envoy with the official `anthropic` SDK.

The shipped configuration's `apis.messages` section routes these requests over its own Claude
tiers; the stand-ins answer in Anthropic's documented JSON and event sequence
(tests/upstream/fake_anthropic.py). Each test checks the routed tier and model, that the cost
the router reports (header for JSON, the `: llm-router {json}` comment for streams) equals a
hand computation from the stand-in's usage and the shipped price table, and that the
Prometheus cost counter moved by exactly that amount, under `api="messages"`. Malformed bodies
are in the bad-input corpus (tests/corpus, test_corpus.py); here the SDK reads a fail-closed
rejection as its own BadRequestError.
"""
from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import anthropic
import pytest

from routerlib import PLUGIN_CONFIG, REPO, Env

MESSAGES = PLUGIN_CONFIG["apis"]["messages"]
TIERS = {t["name"]: t for t in MESSAGES["tiers"]}
PIN = {"x-llm-tier": "claude-mid"}  # the shipped `pinned` rule of the Messages section
MID = TIERS["claude-mid"]
TOOLS = [
    {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
SYSTEM = [
    {"type": "text", "text": "You answer weather questions."},
    {"type": "text", "text": "A long reference manual. " * 40, "cache_control": {"type": "ephemeral"}},
]
# The stand-in's usage for every test here (headers of fake_anthropic.py).
USAGE = {"input": 41, "read": 1800, "w5": 300, "w1": 200, "output": 77}
USAGE_HEADERS = {
    "x-test-input-tokens": str(USAGE["input"]),
    "x-test-cache-read-tokens": str(USAGE["read"]),
    "x-test-cache-write-5m-tokens": str(USAGE["w5"]),
    "x-test-cache-write-1h-tokens": str(USAGE["w1"]),
    "x-test-completion-tokens": str(USAGE["output"]),
}


def price_of(model: str) -> dict:
    table = json.loads((Path(REPO) / "src" / "default_prices.json").read_text(), parse_float=Decimal)
    return next(m for m in table["models"] if model == m["id"] or model in m.get("aliases", []))


def expected_cost(model: str) -> int:
    """Micro-USD by hand: each token at its one rate, rounded once, half up."""
    p = price_of(model)
    pico = (
        USAGE["input"] * p["input_per_mtok"]
        + USAGE["read"] * p["cached_input_per_mtok"]
        + USAGE["w5"] * p["cache_write_5m_per_mtok"]
        + USAGE["w1"] * p["cache_write_1h_per_mtok"]
        + USAGE["output"] * p["output_per_mtok"]
    ) * 1_000_000
    return int((pico + 500_000) // 1_000_000)


def sdk(env: Env) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=env.base_url, api_key="dummy", max_retries=0, timeout=60.0)


def customer() -> str:
    return "anthropic-" + uuid.uuid4().hex[:10]


def test_create_non_stream_routes_and_prices_cache_writes(env: Env) -> None:
    who = customer()
    rid = "anthropic-" + uuid.uuid4().hex
    raw = sdk(env).messages.with_raw_response.create(
        model="auto",
        max_tokens=256,
        system=SYSTEM,
        tools=TOOLS,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        extra_headers={"x-customer-id": who, "x-request-id": rid, "x-test-tool-use": "1", **PIN, **USAGE_HEADERS},
    )
    message = raw.parse()
    assert message.model == MID["model"]
    assert message.content[0].text == f"upstream=mid model={MID['model']}"
    assert message.content[1].type == "tool_use" and message.content[1].name == "get_weather"
    assert (message.usage.cache_creation.ephemeral_1h_input_tokens, message.usage.output_tokens) == (200, 77)
    sent = env.last("mid")["json"]
    assert sent["model"] == MID["model"] and "stream_options" not in sent
    cost = expected_cost(MID["model"])
    assert raw.headers["x-llm-router-tier"] == "claude-mid"
    assert raw.headers["x-llm-router-model"] == MID["model"]
    assert int(raw.headers["x-llm-router-cost-micro-usd"]) == cost
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost
    assert env.metric_sum("llm_router_cost_micro_usd_total", customer=who, api="messages") == cost
    assert env.metric_sum("llm_router_input_tokens_total", customer=who) == 41 + 1800 + 300 + 200
    assert env.metric_sum("llm_router_cached_tokens_total", customer=who) == 1800
    # The access log keeps the cache writes, so a report can reprice them.
    entry = env.access_entry(rid)
    assert (entry["path"], entry["tier"], entry["cost_micro_usd"]) == ("/v1/messages", "claude-mid", str(cost))
    assert entry["api"] == "messages"
    assert (entry["cache_write_5m_tokens"], entry["cache_write_1h_tokens"]) == ("300", "200")


def test_stream_with_tools_is_priced_in_the_comment_and_the_sdk_is_unharmed(env: Env) -> None:
    who = customer()
    client = sdk(env)
    headers = {"x-customer-id": who, "x-test-tool-use": "1", **PIN, **USAGE_HEADERS}
    kwargs = dict(
        model="auto",
        max_tokens=256,
        system=SYSTEM,
        tools=TOOLS,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        extra_headers=headers,
    )
    # The SDK's own stream helper accumulates the events into a final message.
    with client.messages.stream(**kwargs) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == f"upstream=mid model={MID['model']}"
    assert final.usage.output_tokens == 77 and final.usage.input_tokens == 41
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[1].input == {"city": "Paris"}
    cost = expected_cost(MID["model"])
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost

    # The same stream read raw through the SDK: the events, then the router's comment.
    with client.messages.with_streaming_response.create(stream=True, **kwargs) as response:
        lines = list(response.iter_lines())
    comments = [line for line in lines if line.startswith(": llm-router ")]
    assert len(comments) == 1 and lines.index(comments[0]) > lines.index("event: message_stop")
    report = json.loads(comments[0][len(": llm-router ") :])
    assert report["cost_micro_usd"] == cost
    assert env.wait_metric("llm_router_cost_micro_usd_total", 2 * cost, customer=who) == 2 * cost


def test_stream_ending_in_an_error_event_is_usage_missing(env: Env) -> None:
    who = customer()
    with pytest.raises(anthropic.APIStatusError):
        with sdk(env).messages.stream(
            model="auto",
            max_tokens=16,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-customer-id": who, "x-test-stream-error": "1", **PIN},
        ) as stream:
            for _ in stream:
                pass
    assert env.wait_metric("llm_router_usage_missing_total", 1, customer=who) == 1
    assert env.metric_sum("llm_router_cost_micro_usd_total", customer=who) == 0


# Malformed Messages bodies (fail-open untouched, fail-closed in Anthropic's error shape, each
# with its error kind) are cases of the bad-input corpus: tests/corpus/make_cases.py, run by
# test_corpus.py.


def test_sdk_reads_the_fail_closed_answer_as_a_bad_request(alt_env: Env) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic.Anthropic(base_url=alt_env.base_url, api_key="dummy", max_retries=0).messages.create(
            model="auto", max_tokens=5, messages=[{"role": "user", "content": "hi"}], system=7  # type: ignore[arg-type]
        )
    assert caught.value.body["error"]["message"].startswith("llm-router: ")


def test_overloaded_tier_falls_back_to_the_next_claude_tier(env: Env) -> None:
    """Anthropic's 529 is a fallback status of the shipped section: mid fails, frontier answers."""
    who = customer()
    raw = sdk(env).messages.with_raw_response.create(
        model="auto",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-customer-id": who, "x-test-status": "529", "x-test-only-on": "mid", **PIN, **USAGE_HEADERS},
    )
    frontier = TIERS["claude-frontier"]
    message = raw.parse()
    assert message.content[0].text == f"upstream=frontier model={frontier['model']}"
    assert env.last("frontier")["json"]["model"] == frontier["model"]
    assert env.upstreams_hit() == {"mid": 1, "frontier": 1}
    assert raw.headers["x-llm-router-retry"].startswith("fallback")
    cost = expected_cost(frontier["model"])
    assert int(raw.headers["x-llm-router-cost-micro-usd"]) == cost
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost
