"""OpenAI Responses (`POST /v1/responses`) through real Envoy with the official `openai` SDK.

The shipped configuration's `apis.responses` section routes these requests over its own OpenAI
tiers (gpt-5-nano, gpt-5-mini, gpt-5, one provider family `openai`); the stand-ins answer in
OpenAI's documented JSON and event sequence (tests/upstream/fake_responses.py). Each test checks
the routed tier and model, that the cost the router reports (header for JSON, the
`: llm-router {json}` comment for streams) equals a hand computation from the stand-in's usage
and the shipped price table, and that the Prometheus cost counter moved by exactly that amount.
Streams ending in `response.incomplete` / `response.failed` are priced with the usage they
carry; an `error` event is `usage_missing`. Stateful requests (`previous_response_id`) stay in
their provider family: routed on the shipped config (one family), passed through unrouted on a
third Envoy whose tiers are each their own family. Malformed bodies: fail-open on the main Envoy,
OpenAI's error shape on the fail-closed one (the full set of bad bodies is in tests/corpus/).
"""
from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Iterator

import openai
import pytest
import requests

from routerlib import PLUGIN_CONFIG, REPO, Env, plugin_env

RESPONSES = PLUGIN_CONFIG["apis"]["responses"]
TIERS = {t["name"]: t for t in RESPONSES["tiers"]}
PIN = {"x-llm-tier": "openai-mid"}  # the shipped `pinned` rule of the Responses section
MID = TIERS["openai-mid"]
FRONTIER = TIERS["openai-frontier"]
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]
INSTRUCTIONS = "You answer weather questions. " + "A long reference manual. " * 40
# The stand-in's usage for every test here (headers of fake_responses.py): input includes the
# cached part, output includes the reasoning part.
USAGE = {"input": 2400, "cached": 2048, "output": 310, "reasoning": 128}
USAGE_HEADERS = {
    "x-test-input-tokens": str(USAGE["input"]),
    "x-test-cached-tokens": str(USAGE["cached"]),
    "x-test-completion-tokens": str(USAGE["output"]),
    "x-test-reasoning-tokens": str(USAGE["reasoning"]),
}


def price_of(model: str) -> dict:
    table = json.loads((Path(REPO) / "src" / "default_prices.json").read_text(), parse_float=Decimal)
    return next(m for m in table["models"] if model == m["id"] or model in m.get("aliases", []))


def expected_cost(model: str) -> int:
    """Micro-USD by hand: uncached input, cached input and output (reasoning inside it), each at
    its one rate, rounded once, half up."""
    p = price_of(model)
    pico = (
        (USAGE["input"] - USAGE["cached"]) * p["input_per_mtok"]
        + USAGE["cached"] * p["cached_input_per_mtok"]
        + USAGE["output"] * p["output_per_mtok"]
    ) * 1_000_000
    return int((pico + 500_000) // 1_000_000)


def customer() -> str:
    return "responses-" + uuid.uuid4().hex[:10]


def comment_of(lines: list[str]) -> dict:
    comments = [line for line in lines if line.startswith(": llm-router ")]
    assert len(comments) == 1, lines
    return json.loads(comments[0][len(": llm-router ") :])


def test_create_non_stream_with_tools_and_cached_tokens(env: Env) -> None:
    who = customer()
    rid = "responses-" + uuid.uuid4().hex
    raw = env.client().responses.with_raw_response.create(
        model="auto",
        instructions=INSTRUCTIONS,
        input=[{"role": "user", "content": [{"type": "input_text", "text": "What is the weather in Paris?"}]}],
        tools=TOOLS,
        max_output_tokens=512,
        extra_headers={"x-customer-id": who, "x-request-id": rid, "x-test-tool-use": "1", **PIN, **USAGE_HEADERS},
    )
    response = raw.parse()
    assert response.model == MID["model"]
    assert response.output_text == f"upstream=mid model={MID['model']}"
    call = next(item for item in response.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert response.usage.input_tokens_details.cached_tokens == USAGE["cached"]
    assert response.usage.output_tokens_details.reasoning_tokens == USAGE["reasoning"]
    sent = env.last("mid")
    assert sent["path"] == "/v1/responses"
    assert sent["json"]["model"] == MID["model"] and "stream_options" not in sent["json"]
    assert sent["json"]["instructions"] == INSTRUCTIONS
    cost = expected_cost(MID["model"])
    assert raw.headers["x-llm-router-tier"] == "openai-mid"
    assert raw.headers["x-llm-router-model"] == MID["model"]
    assert raw.headers["x-llm-router-reason"] == "rule:pinned"
    assert int(raw.headers["x-llm-router-cost-micro-usd"]) == cost
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost
    assert env.metric_sum("llm_router_input_tokens_total", customer=who) == USAGE["input"]
    assert env.metric_sum("llm_router_cached_tokens_total", customer=who) == USAGE["cached"]
    assert env.metric_sum("llm_router_output_tokens_total", customer=who) == USAGE["output"]
    entry = env.access_entry(rid)
    assert (entry["path"], entry["tier"], entry["model"], entry["cost_micro_usd"]) == (
        "/v1/responses",
        "openai-mid",
        MID["model"],
        str(cost),
    )


def stream_kwargs(who: str, **headers: str) -> dict:
    return dict(
        model="auto",
        instructions=INSTRUCTIONS,
        input="What is the weather in Paris?",
        tools=TOOLS,
        extra_headers={"x-customer-id": who, "x-test-tool-use": "1", **PIN, **USAGE_HEADERS, **headers},
    )


def test_stream_with_tools_is_priced_in_the_comment_and_the_sdk_is_unharmed(env: Env) -> None:
    who = customer()
    client = env.client()
    events = list(client.responses.create(stream=True, **stream_kwargs(who)))
    types = [e.type for e in events]
    assert types[:4] == ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == f"upstream=mid model={MID['model']}"
    final = events[-1].response
    assert final.usage.input_tokens == USAGE["input"] and final.usage.output_tokens == USAGE["output"]
    assert any(item.type == "function_call" for item in final.output)
    cost = expected_cost(MID["model"])
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost

    # The SDK's own stream helper accumulates the events into the final response.
    with client.responses.stream(**stream_kwargs(who)) as stream:
        for _ in stream:
            pass
        helped = stream.get_final_response()
    assert helped.output_text == text and helped.usage.output_tokens == USAGE["output"]
    assert env.wait_metric("llm_router_cost_micro_usd_total", 2 * cost, customer=who) == 2 * cost

    # The same stream read raw through the SDK: the events, then the router's comment.
    with client.responses.with_streaming_response.create(stream=True, **stream_kwargs(who)) as response:
        lines = list(response.iter_lines())
    report = comment_of(lines)
    assert lines.index(next(line for line in lines if line.startswith(": llm-router "))) > lines.index("event: response.completed")
    assert (report["status"], report["cost_micro_usd"]) == ("priced", cost)
    assert (report["input_tokens"], report["output_tokens"]) == (USAGE["input"], USAGE["output"])
    assert env.wait_metric("llm_router_cost_micro_usd_total", 3 * cost, customer=who) == 3 * cost


@pytest.mark.parametrize("end", ["incomplete", "failed"])
def test_incomplete_and_failed_streams_are_priced_with_their_usage(env: Env, end: str) -> None:
    who = customer()
    client = env.client()
    with client.responses.with_streaming_response.create(stream=True, **stream_kwargs(who, **{"x-test-stream-end": end})) as response:
        lines = list(response.iter_lines())
    assert f"event: response.{end}" in lines
    cost = expected_cost(MID["model"])
    assert comment_of(lines)["cost_micro_usd"] == cost
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost
    # The SDK reads the terminal event as such.
    events = list(client.responses.create(stream=True, **stream_kwargs(who, **{"x-test-stream-end": end})))
    assert events[-1].type == f"response.{end}" and events[-1].response.status == end
    assert env.wait_metric("llm_router_cost_micro_usd_total", 2 * cost, customer=who) == 2 * cost


def test_stream_ending_in_an_error_event_is_usage_missing(env: Env) -> None:
    who = customer()
    client = env.client()
    events = list(client.responses.create(stream=True, **stream_kwargs(who, **{"x-test-stream-end": "error"})))
    assert events[-1].type == "error"
    assert env.wait_metric("llm_router_usage_missing_total", 1, customer=who) == 1
    with client.responses.with_streaming_response.create(stream=True, **stream_kwargs(who, **{"x-test-stream-end": "error"})) as response:
        lines = list(response.iter_lines())
    assert comment_of(lines)["status"] == "usage_missing"
    assert env.wait_metric("llm_router_usage_missing_total", 2, customer=who) == 2
    assert env.metric_sum("llm_router_cost_micro_usd_total", customer=who) == 0


def test_failing_tier_falls_back_to_the_next_openai_tier(env: Env) -> None:
    who = customer()
    raw = env.client().responses.with_raw_response.create(
        model="auto",
        input="hi",
        extra_headers={"x-customer-id": who, "x-test-status": "503", "x-test-only-on": "mid", **PIN, **USAGE_HEADERS},
    )
    response = raw.parse()
    assert response.output_text == f"upstream=frontier model={FRONTIER['model']}"
    assert env.upstreams_hit() == {"mid": 1, "frontier": 1}
    assert raw.headers["x-llm-router-retry"].startswith("fallback")
    cost = expected_cost(FRONTIER["model"])
    assert int(raw.headers["x-llm-router-cost-micro-usd"]) == cost
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost


def test_stateful_request_is_routed_within_the_one_openai_family(env: Env) -> None:
    who = customer()
    raw = env.client().responses.with_raw_response.create(
        model="auto",
        input="and tomorrow?",
        previous_response_id="resp_0123456789",
        extra_headers={"x-customer-id": who, **PIN, **USAGE_HEADERS},
    )
    assert raw.headers["x-llm-router-tier"] == "openai-mid"
    sent = env.last("mid")["json"]
    assert (sent["model"], sent["previous_response_id"]) == (MID["model"], "resp_0123456789")
    cost = expected_cost(MID["model"])
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost


# A third Envoy whose Responses tiers are each their own family (the default: their cluster),
# moving explicit models too (`route_anyway`), so the family rules show.
FAMILIES_CONFIG = dict(
    PLUGIN_CONFIG,
    apis=dict(
        PLUGIN_CONFIG["apis"],
        responses=dict(
            RESPONSES,
            explicit_model="route_anyway",
            tiers=[{k: v for k, v in t.items() if k != "family"} for t in RESPONSES["tiers"]],
        ),
    ),
)


@pytest.fixture(scope="module")
def families_env(workdir: Path, wasm_file: Path) -> Iterator[Env]:
    with plugin_env(workdir / "families", FAMILIES_CONFIG, "the Envoy with one family per tier") as e:
        yield e


def test_stateful_requests_stay_on_their_provider_family(families_env: Env) -> None:
    env = families_env
    client = env.client()
    # `auto` over three families: which one holds resp_1 cannot be known, so it is not routed.
    env.reset_upstreams()
    raw = client.responses.with_raw_response.create(
        model="auto", input="hi", previous_response_id="resp_1", extra_headers=PIN
    )
    assert raw.headers["x-upstream-name"] == "default"
    assert (raw.headers["x-llm-router-tier"], raw.headers["x-llm-router-reason"]) == ("none", "stateful_unrouted")
    assert env.last("default")["json"]["model"] == "auto"
    # An explicit gpt-5 continues on gpt-5's family although the pin says openai-mid.
    env.reset_upstreams()
    raw = client.responses.with_raw_response.create(
        model=FRONTIER["model"], input="hi", previous_response_id="resp_1", extra_headers={**PIN, **USAGE_HEADERS}
    )
    assert (raw.headers["x-llm-router-tier"], raw.headers["x-llm-router-reason"]) == ("openai-frontier", "stateful:rule:pinned")
    assert env.upstreams_hit() == {"frontier": 1}
    assert int(raw.headers["x-llm-router-cost-micro-usd"]) == expected_cost(FRONTIER["model"])
    # Without previous_response_id the pin moves it.
    env.reset_upstreams()
    raw = client.responses.with_raw_response.create(model=FRONTIER["model"], input="hi", extra_headers=PIN)
    assert raw.headers["x-llm-router-tier"] == "openai-mid"
    assert env.last("mid")["json"]["model"] == MID["model"]
    # A stateful request whose family has no other tier is not moved by a failure either.
    env.reset_upstreams()
    with pytest.raises(openai.InternalServerError):
        client.responses.create(
            model=FRONTIER["model"], input="hi", conversation="conv_1", extra_headers={"x-test-status": "503"}
        )
    assert env.upstreams_hit() == {"frontier": 1}


# Bad bodies, one of each reader error kind (the corpus in tests/corpus/ has many more).
MALFORMED = [
    b"{",  # invalid_json
    b"[]",  # not_object
    b'{"input": "hi"}',  # bad_model
    b'{"model": 7, "input": "hi"}',
    b'{"model": "auto", "input": 7}',  # bad_input
    b'{"model": "auto", "input": [1]}',
    b'{"model": "auto", "input": [{"role": "user", "content": 5}]}',
    b'{"model": "auto", "input": "hi", "instructions": ["x"]}',
    b'{"model": "auto", "input": "hi", "stream": "yes"}',  # bad_stream
    b'{"model": "auto", "input": "hi", "x": ' + b"[" * 70 + b"]" * 70 + b"}",  # too_deep
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies_fail_closed_in_openais_shape(alt_env: Env, body: bytes) -> None:
    r = requests.post(alt_env.base_url + "/v1/responses", data=body, headers={"content-type": "application/json"}, timeout=30)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] is None
    assert error["message"].startswith("llm-router: ") and error["code"]
    assert alt_env.upstreams_hit() == {}


def test_sdk_reads_the_fail_closed_answer_as_a_bad_request(alt_env: Env) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        alt_env.client().responses.create(model="auto", input=[{"role": "user", "content": 5}])  # type: ignore[list-item]
    assert caught.value.code == "bad_input"
    assert caught.value.body["message"].startswith("llm-router: ")
