"""Chained re-sends (`fallback.max_attempts: 2`) through the real Envoy.

The session's Envoy re-sends at most once, so a second re-send (the core answers `Pause` from
`on_call_response` while the next call is in flight) is only exercised here: this module starts
its own Envoy with the shipped config and `max_attempts: 2`, order cheap -> mid -> frontier.
The request is pinned to the cheap tier by the shipped `summarization` rule, so the chain does
not depend on the classifier's score.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import requests

from routerlib import PLUGIN_CONFIG, Env, plugin_env

CHAIN_PLUGIN_CONFIG = dict(
    PLUGIN_CONFIG,
    fallback=dict(PLUGIN_CONFIG["fallback"], max_attempts=2, order=["cheap", "mid", "frontier"]),
)


@pytest.fixture(scope="module")
def chain_env(workdir: Path, wasm_file: Path) -> Iterator[Env]:
    with plugin_env(workdir / "fallback-chain", CHAIN_PLUGIN_CONFIG, "the max_attempts=2 Envoy") as env:
        yield env


def post(env: Env, headers: dict[str, str]) -> requests.Response:
    h = {"content-type": "application/json", "authorization": "Bearer sk-chain-test", "x-feature": "summarization"}
    h.update(headers)
    body = {"model": "auto", "messages": [{"role": "user", "content": "summarize: the meeting moved to noon"}]}
    return env.http.post(env.base_url + "/v1/chat/completions", data=json.dumps(body), headers=h, timeout=60)


def test_first_and_second_tier_fail_third_answers(chain_env: Env) -> None:
    chain_env.reset_upstreams()
    rid = str(uuid.uuid4())
    r = post(chain_env, {"x-test-status": "503", "x-test-only-on": "cheap,mid", "x-request-id": rid,
                         "x-test-prompt-tokens": "1000", "x-test-completion-tokens": "100"})
    assert r.status_code == 200, r.text
    assert r.headers["x-upstream-name"] == "frontier"
    assert r.json()["choices"][0]["message"]["content"] == "upstream=frontier model=claude-sonnet-4.6"
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.headers["x-llm-router-tier"] == "frontier"
    assert r.headers["x-llm-router-model"] == "claude-sonnet-4.6"
    assert r.headers["x-llm-router-retry"] == "fallback:status_503"
    assert r.headers["x-llm-router-status"] == "priced"
    # sonnet: 1000*3 + 100*15; the baseline model is sonnet too.
    assert r.headers["x-llm-router-cost-micro-usd"] == "4500"
    assert r.headers["x-llm-router-baseline-cost-micro-usd"] == "4500"
    assert chain_env.upstreams_hit() == {"cheap": 1, "mid": 1, "frontier": 1}
    assert chain_env.last("mid")["json"]["model"] == "claude-haiku-4.5"
    assert chain_env.last("frontier")["json"]["model"] == "claude-sonnet-4.6"
    assert chain_env.last("frontier")["headers"].get("authorization") == "Bearer sk-chain-test"

    entry = chain_env.access_entry(rid)
    assert (entry["tier"], entry["model"], entry["retry"]) == ("frontier", "claude-sonnet-4.6", "fallback:status_503")
    assert (entry["cost_micro_usd"], entry["router_status"]) == ("4500", "priced")
    # One fallback counted per failed tier; the cost counted once, on the tier that answered.
    assert chain_env.wait_metric("llm_router_fallbacks_total", 1, tier="cheap", reason="status_503") == 1
    assert chain_env.wait_metric("llm_router_fallbacks_total", 1, tier="mid", reason="status_503") == 1
    assert chain_env.wait_metric("llm_router_cost_micro_usd_total", 4500, model="claude-sonnet-4.6") == 4500
    assert chain_env.metric_sum("llm_router_cost_micro_usd_total", model="gpt-5-nano") == 0
    assert chain_env.metric_sum("llm_router_cost_micro_usd_total", model="claude-haiku-4.5") == 0


def test_all_three_tiers_fail_the_original_error_goes_on(chain_env: Env) -> None:
    """Every re-send failed: the held original answer (the cheap tier's) reaches the client."""
    chain_env.reset_upstreams()
    rid = str(uuid.uuid4())
    r = post(chain_env, {"x-test-status": "502", "x-request-id": rid})
    assert r.status_code == 502
    assert r.headers["x-upstream-name"] == "cheap"
    assert "forced error 502 from upstream cheap" in r.json()["error"]["message"]
    assert int(r.headers["content-length"]) == len(r.content)
    assert r.headers["x-llm-router-tier"] == "cheap"
    assert r.headers["x-llm-router-retry"] == "fallback:status_502:failed"
    assert r.headers["x-llm-router-status"] == "usage_missing"
    assert chain_env.upstreams_hit() == {"cheap": 1, "mid": 1, "frontier": 1}
    entry = chain_env.access_entry(rid)
    assert (entry["tier"], entry["retry"], entry["router_status"]) == ("cheap", "fallback:status_502:failed", "usage_missing")
    assert chain_env.wait_metric("llm_router_fallbacks_total", 1, tier="mid", reason="status_502") == 1


def test_chained_re_sends_leave_the_vm_healthy(chain_env: Env) -> None:
    for line in chain_env.prometheus_text().splitlines():
        if line.startswith("envoy_wasm_") and ("failure" in line or "crash" in line) and not line.startswith("#"):
            assert line.rstrip().endswith(" 0"), line
    assert chain_env.ready()
