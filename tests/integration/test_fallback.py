"""Fallback on upstream failure and quality escalation, through the real Envoy.

The stand-ins fail or answer badly on request (x-test-status / x-test-content /
x-test-finish-reason), limited to the cheap upstream with x-test-only-on: the re-sent
request carries the same headers, so the next tier answers normally.
"""
from __future__ import annotations

import json

import openai
import requests

from routerlib import Env

CHAT = "/v1/chat/completions"


def post(env: Env, body: dict, headers: dict[str, str]) -> requests.Response:
    h = {"content-type": "application/json", "authorization": "Bearer sk-fallback-test"}
    h.update(headers)
    return env.http.post(env.base_url + CHAT, data=json.dumps(body), headers=h, timeout=60)


def simple(**extra) -> dict:
    return {"model": "auto", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_upstream_503_falls_back_to_the_next_tier(env: Env) -> None:
    env.reset_upstreams()
    before = env.metric_sum("llm_router_fallbacks_total", tier="cheap")
    r = post(env, simple(), {"x-test-status": "503", "x-test-only-on": "cheap",
                             "x-test-prompt-tokens": "1000", "x-test-completion-tokens": "100"})
    assert r.status_code == 200, r.text
    assert r.headers["x-upstream-name"] == "mid"
    assert r.headers["x-llm-router-tier"] == "mid"
    assert r.headers["x-llm-router-model"] == "claude-haiku-4.5"
    assert r.headers["x-llm-router-retry"] == "fallback:status_503"
    assert r.headers["x-llm-router-cost-micro-usd"] == "1500"  # haiku: 1000*1 + 100*5
    assert r.json()["model"] == "claude-haiku-4.5"
    assert int(r.headers["content-length"]) == len(r.content)
    assert env.upstreams_hit() == {"cheap": 1, "mid": 1}
    mid_saw = env.last("mid")
    assert mid_saw["json"]["model"] == "claude-haiku-4.5"
    assert mid_saw["headers"].get("authorization") == "Bearer sk-fallback-test"
    assert env.wait_metric("llm_router_fallbacks_total", before + 1, tier="cheap", reason="status_503") >= before + 1


def test_429_with_the_openai_client_is_invisible_to_it(env: Env, client: openai.OpenAI) -> None:
    env.reset_upstreams()
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-test-status": "429", "x-test-only-on": "cheap"},
    )
    assert raw.headers["x-llm-router-retry"] == "fallback:status_429"
    assert raw.parse().choices[0].message.content == "upstream=mid model=claude-haiku-4.5"


def test_streaming_request_falls_back_and_still_streams_usage(env: Env, client: openai.OpenAI) -> None:
    env.reset_upstreams()
    stream = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], stream=True,
        stream_options={"include_usage": True},
        extra_headers={"x-test-status": "500", "x-test-only-on": "cheap", "x-test-prompt-tokens": "77"},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "upstream=mid model=claude-haiku-4.5"
    assert [c.usage.prompt_tokens for c in chunks if c.usage] == [77]


def test_streaming_fallback_keeps_the_shape_the_client_asked_for(env: Env, client: openai.OpenAI) -> None:
    """No stream_options: the re-sent stream (include_usage forced) reaches the client without
    its usage-only chunk, so OpenAI's documented loop works on it."""
    env.reset_upstreams()
    stream = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"x-test-status": "500", "x-test-only-on": "cheap"},
    )
    text = ""
    for chunk in stream:
        text += chunk.choices[0].delta.content or ""
    assert text == "upstream=mid model=claude-haiku-4.5"
    assert env.upstreams_hit() == {"cheap": 1, "mid": 1}


def test_when_the_next_tier_fails_too_the_original_error_goes_on(env: Env) -> None:
    env.reset_upstreams()
    r = post(env, simple(), {"x-test-status": "502"})
    assert r.status_code == 502
    assert r.headers["x-upstream-name"] == "cheap"
    assert r.headers["x-llm-router-retry"] == "fallback:status_502:failed"
    assert r.headers["x-llm-router-status"] == "usage_missing"
    assert "forced error 502 from upstream cheap" in r.text


def test_explicit_model_is_never_moved(env: Env) -> None:
    env.reset_upstreams()
    r = post(env, {"model": "claude-haiku-4.5", "messages": [{"role": "user", "content": "hi"}]},
             {"x-test-status": "503"})
    assert r.status_code == 503
    assert env.upstreams_hit() == {"mid": 1}
    assert "x-llm-router-retry" not in r.headers


def test_refusal_escalates_and_both_calls_are_paid(env: Env) -> None:
    env.reset_upstreams()
    r = post(env, simple(), {"x-test-content": "Sorry, I can't help with that.", "x-test-only-on": "cheap",
                             "x-test-prompt-tokens": "1000", "x-test-completion-tokens": "500"})
    assert r.status_code == 200
    assert r.headers["x-llm-router-retry"] == "escalation:refusal"
    assert r.headers["x-llm-router-tier"] == "mid"
    assert r.json()["choices"][0]["message"]["content"] == "upstream=mid model=claude-haiku-4.5"
    # nano 1000*0.05 + 500*0.40 = 250; haiku 1000*1 + 500*5 = 3500
    assert r.headers["x-llm-router-cost-micro-usd"] == "3750"
    assert env.upstreams_hit() == {"cheap": 1, "mid": 1}


def test_length_escalates_unless_the_client_asked_for_it(env: Env) -> None:
    env.reset_upstreams()
    r = post(env, simple(), {"x-test-finish-reason": "length", "x-test-only-on": "cheap"})
    assert r.headers["x-llm-router-retry"] == "escalation:length"
    env.reset_upstreams()
    r = post(env, simple(max_tokens=20), {"x-test-finish-reason": "length", "x-test-only-on": "cheap",
                                          "x-test-completion-tokens": "20"})
    assert "x-llm-router-retry" not in r.headers
    assert env.upstreams_hit() == {"cheap": 1}


def test_invalid_json_for_json_mode_escalates(env: Env) -> None:
    env.reset_upstreams()
    r = post(env, simple(response_format={"type": "json_object"}),
             {"x-test-content": "{\"answer\": 4", "x-test-only-on": "cheap"})
    assert r.headers["x-llm-router-retry"] == "escalation:invalid_json"
    env.reset_upstreams()
    r = post(env, simple(response_format={"type": "json_object"}),
             {"x-test-content": "{\"answer\": 4}", "x-test-only-on": "cheap"})
    assert "x-llm-router-retry" not in r.headers


def test_fallback_leaves_the_vm_healthy(env: Env) -> None:
    text = env.prometheus_text()
    for line in text.splitlines():
        if line.startswith("envoy_wasm_") and ("failure" in line or "crash" in line) and not line.startswith("#"):
            assert line.rstrip().endswith(" 0"), line


def test_shipped_envoy_config_matches_the_cli_default() -> None:
    """envoy-config/envoy.yaml and src/default_config.json (the CLI's default) stay in step."""
    from routerlib import REPO, load_plugin_config

    assert load_plugin_config() == json.loads((REPO / "src" / "default_config.json").read_text())
