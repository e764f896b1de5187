"""The cost ceiling through real Envoy: a request whose worst-case estimate is above the ceiling
steps down a tier, or is rejected in its API's error shape before any upstream sees it.

A further Envoy runs the shipped configuration with a `cost_ceiling` in the chat and the
Messages sections: 30,000 micro-USD, or the value of the trusted `x-cost-ceiling-micro-usd`
header. Estimates (README "Cost ceiling"): input tokens estimated as ceil(chars / 4) + 4 per
message, output tokens = max_tokens, priced on the model about to be used.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import anthropic
import openai
import pytest
import requests

from routerlib import PLUGIN_CONFIG, Env, plugin_env

CEILING = {"max_micro_usd": 30_000, "header": "x-cost-ceiling-micro-usd"}
PLUGIN = dict(
    PLUGIN_CONFIG,
    cost_ceiling=CEILING,
    apis={"messages": dict(PLUGIN_CONFIG["apis"]["messages"], cost_ceiling=CEILING)},
)
# 10,000 characters: 2,504 estimated input tokens. With max_tokens 4,000 the estimate is
# 67,512 micro-USD on claude-sonnet-4.6 (frontier), 22,504 on claude-haiku-4.5 (mid) and
# 1,725 on gpt-5-nano (cheap).
TEXT = "Prove the theorem step by step. " + "x" * (10_000 - 32)


@pytest.fixture(scope="module")
def ceiling_env(workdir: Path, wasm_file: Path) -> Iterator[Env]:
    with plugin_env(workdir / "ceiling", PLUGIN, "the Envoy with a cost ceiling") as env:
        yield env


def chat_body(model: str = "auto", max_tokens: int = 4_000) -> dict:
    return {"model": model, "max_tokens": max_tokens, "messages": [{"role": "user", "content": TEXT}]}


def post(env: Env, body: dict, headers: dict[str, str]) -> requests.Response:
    return requests.post(f"{env.base_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_frontier_request_over_the_ceiling_is_sent_to_the_strongest_tier_that_fits(ceiling_env: Env) -> None:
    env = ceiling_env
    # 120,000 characters: 30,004 estimated tokens, so the shipped `long-context` rule picks
    # frontier. With max_tokens 1,000: 105,012 micro-USD on claude-sonnet-4.6, 35,004 on
    # claude-haiku-4.5, 1,900 on gpt-5-nano.
    body = {"model": "auto", "max_tokens": 1_000, "messages": [{"role": "user", "content": "y" * 120_000}]}
    for ceiling, tier, model in (("200000", "frontier", "claude-sonnet-4.6"), ("40000", "mid", "claude-haiku-4.5"), (None, "cheap", "gpt-5-nano")):
        env.reset_upstreams()
        before = env.metric_sum("llm_router_cost_ceiling_total", action="step_down")
        headers = {"x-cost-ceiling-micro-usd": ceiling} if ceiling else {}
        resp = post(env, body, headers)
        assert resp.status_code == 200, resp.text
        assert (resp.headers["x-llm-router-tier"], resp.headers["x-llm-router-model"]) == (tier, model), ceiling
        assert env.upstreams_hit() == {tier: 1}
        assert env.last(tier)["json"]["model"] == model
        stepped = tier != "frontier"
        assert resp.headers["x-llm-router-reason"] == ("cost_ceiling" if stepped else "rule:long-context")
        expected = before + (1 if stepped else 0)
        assert env.wait_metric("llm_router_cost_ceiling_total", expected, action="step_down") == expected


def test_trusted_header_lowers_the_ceiling_and_steps_down_to_cheap(ceiling_env: Env) -> None:
    env = ceiling_env
    env.reset_upstreams()
    resp = post(env, chat_body(), {"x-cost-ceiling-micro-usd": "2000"})
    assert resp.status_code == 200, resp.text
    assert (resp.headers["x-llm-router-tier"], resp.headers["x-llm-router-model"]) == ("cheap", "gpt-5-nano")
    assert env.upstreams_hit() == {"cheap": 1}
    assert env.last("cheap")["json"]["model"] == "gpt-5-nano"


def test_over_the_ceiling_everywhere_is_rejected_before_any_upstream(ceiling_env: Env) -> None:
    env = ceiling_env
    env.reset_upstreams()
    rid = str(uuid.uuid4())
    before = env.metric_sum("llm_router_cost_ceiling_total", action="reject")
    client = openai.OpenAI(base_url=env.base_url + "/v1", api_key="dummy", max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(
            **chat_body(), extra_headers={"x-cost-ceiling-micro-usd": "1000", "x-request-id": rid}
        )
    assert err.value.status_code == 400
    body = err.value.body
    assert body["code"] == "cost_ceiling"
    assert "1725 micro-USD on gpt-5-nano" in body["message"] and "ceiling of 1000 micro-USD" in body["message"]
    assert env.upstreams_hit() == {}
    assert env.wait_metric("llm_router_cost_ceiling_total", before + 1, action="reject") == before + 1
    assert env.metric_sum("llm_router_errors_total", kind="cost_ceiling") >= 1
    assert env.access_entry(rid)["router_status"] == "error"


def test_explicit_model_over_the_ceiling_is_rejected_not_moved(ceiling_env: Env) -> None:
    env = ceiling_env
    env.reset_upstreams()
    # gpt-4o is no tier's model: 2,504 * $2.50 + 4,000 * $10 per Mtok = 46,260 micro-USD.
    resp = post(env, chat_body("gpt-4o"), {})
    assert resp.status_code == 400, resp.text
    assert "46260 micro-USD on gpt-4o" in resp.json()["error"]["message"]
    assert env.upstreams_hit() == {}
    # Within the ceiling it passes untouched.
    resp = post(env, chat_body("gpt-4o", max_tokens=100), {})
    assert resp.status_code == 200, resp.text
    assert env.upstreams_hit() == {"default": 1}


def test_messages_request_over_the_ceiling_is_rejected_in_anthropics_shape(ceiling_env: Env) -> None:
    env = ceiling_env
    env.reset_upstreams()
    client = anthropic.Anthropic(base_url=ceiling_env.base_url, api_key="dummy", max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(
            model="claude-opus-4-6",
            max_tokens=2_000,
            messages=[{"role": "user", "content": TEXT}],
        )
    assert err.value.body["type"] == "error"
    assert err.value.body["error"]["type"] == "invalid_request_error"
    # claude-opus-4.6: 2,504 * $5 + 2,000 * $25 per Mtok.
    assert "62520 micro-USD on claude-opus-4.6" in err.value.body["error"]["message"]
    assert env.upstreams_hit() == {}
