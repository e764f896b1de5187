"""Measure-only mode on a real Envoy: the shipped config rendered with "mode": "measure"
(scripts/stack.py render_config(mode=...), also `scripts/serve.sh --mode measure`).

The filter decides and accounts as if routing - headers, stats and access log show the
would-be tier/model and the cost projected on that model for the tokens actually used - but
the request reaches the upstream byte for byte as the client sent it: same body, same model,
no cluster header, so the shipped routes send it to the default cluster. The one header the
filter sets is `accept-encoding: identity`, so the usage of the answer stays readable.
"""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import requests

from measurelib import expected_cost
from routerlib import PLUGIN_CONFIG, TIERS, Env, assert_no_router_headers, stack_mod

CHAT = "/v1/chat/completions"
BASELINE = PLUGIN_CONFIG["baseline_model"]
# Hop-by-hop or rewritten by Envoy itself, not by the filter.
NOT_END_TO_END = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade"}


@pytest.fixture(scope="module")
def menv(workdir: Path, wasm_file: Path) -> Iterator[Env]:
    base = workdir / "measure-mode"
    stack = stack_mod.Stack(base, stack_mod.random_ports(), access_log=str(base / "access.log"), concurrency=1, mode="measure")
    try:
        stack.start(timeout=120)
    except (RuntimeError, SystemExit) as exc:
        stack.stop()
        pytest.fail(f"could not start Envoy in measure mode: {exc}", pytrace=False)
    rendered = stack.config_path.read_text() if stack.config_path else ""
    assert '"mode": "measure"' in rendered and '"mode": "route"' not in rendered
    try:
        yield Env(stack)
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def _fresh(menv: Env) -> None:
    menv.reset_upstreams()


def send(env: Env, raw: bytes, headers: dict[str, str], stream: bool = False) -> requests.Response:
    h = {"content-type": "application/json", "authorization": "Bearer sk-measure", "accept-encoding": "gzip, deflate", **headers}
    return env.http.post(env.base_url + CHAT, data=raw, headers=h, timeout=60, stream=stream)


def assert_untouched(env: Env, resp: requests.Response, raw: bytes) -> dict:
    """The default upstream got exactly the client's body and headers (accept-encoding aside)."""
    assert resp.headers["x-upstream-name"] == "default", f"measure mode sent the request to {resp.headers['x-upstream-name']}"
    assert env.upstreams_hit() == {"default": 1}, env.upstreams_hit()
    seen = env.last("default")
    assert seen["body_b64"] == base64.b64encode(raw).decode(), "measure mode changed the request body"
    assert int(seen["headers"]["content-length"]) == len(raw)
    sent = {k.lower(): v for k, v in resp.request.headers.items()}
    changed = {
        k: (v, seen["headers"].get(k))
        for k, v in sent.items()
        if k not in NOT_END_TO_END and k != "accept-encoding" and seen["headers"].get(k) != v
    }
    assert not changed, f"headers changed on the way (sent, received): {changed}"
    assert seen["headers"]["accept-encoding"] == "identity"
    assert_no_router_headers(seen["headers"])
    return seen


def measured_samples(env: Env, customer: str) -> list[tuple[str, dict[str, str], float]]:
    return [(n, lab, v) for n, lab, v in env.prometheus() if n.startswith("llm_router_") and lab.get("customer") == customer]


def test_measure_mode_projects_cost_without_touching_the_request(menv: Env) -> None:
    rid, customer = str(uuid.uuid4()), "measure-json"
    # Odd formatting, key order, escapes and a float a re-serializer would change.
    raw = b'{ "messages" : [ {"role":"user","content":"What is the capital of France? \\u00e9"} ],\n "temperature": 0.20, "model":"auto" }'
    resp = send(menv, raw, {"x-request-id": rid, "x-customer-id": customer, "x-test-prompt-tokens": "1000", "x-test-completion-tokens": "500"})
    assert resp.status_code == 200, resp.text
    seen = assert_untouched(menv, resp, raw)
    assert seen["json"]["model"] == "auto"
    assert resp.json()["model"] == "auto"  # the answer is the upstream's, for the model the client asked for

    cheap = TIERS["cheap"]["model"]
    cost, baseline = expected_cost(cheap, 1000, 500), expected_cost(BASELINE, 1000, 500)
    rh = {k.lower(): v for k, v in resp.headers.items() if k.lower().startswith("x-llm-router-")}
    assert rh["x-llm-router-mode"] == "measure"
    assert (rh["x-llm-router-tier"], rh["x-llm-router-model"]) == ("cheap", cheap)
    assert rh["x-llm-router-status"] == "priced"
    assert int(rh["x-llm-router-cost-micro-usd"]) == cost
    assert int(rh["x-llm-router-baseline-cost-micro-usd"]) == baseline

    entry = menv.access_entry(rid)
    expected = {
        "mode": "measure",
        "requested_model": "auto",
        "model": cheap,
        "tier": "cheap",
        "route_name": "passthrough",
        "upstream_cluster": "llm_default",
        "cost_micro_usd": str(cost),
        "baseline_cost_micro_usd": str(baseline),
        "router_status": "priced",
        "customer": customer,
    }
    wrong = {k: (entry.get(k), v) for k, v in expected.items() if entry.get(k) != v}
    assert not wrong, f"access-log fields (got, expected): {wrong}"

    samples = measured_samples(menv, customer)
    req = [(lab, v) for n, lab, v in samples if n == "llm_router_requests_total"]
    assert len(req) == 1 and req[0][1] == 1, req
    assert {k: req[0][0][k] for k in ("mode", "tier", "model", "route", "status")} == {
        "mode": "measure", "tier": "cheap", "model": cheap, "route": "passthrough", "status": "priced"
    }
    assert sum(v for n, _, v in samples if n == "llm_router_cost_micro_usd_total") == cost
    assert sum(v for n, _, v in samples if n == "llm_router_baseline_cost_micro_usd_total") == baseline
    assert sum(v for n, _, v in samples if n == "llm_router_input_tokens_total") == 1000
    modes = {lab.get("mode") for n, lab, _ in menv.prometheus() if n == "llm_router_requests_total"}
    assert modes == {"measure"}, f"a measure-mode Envoy counted requests with mode labels {modes}"


def test_measure_mode_would_be_floor_tier(menv: Env) -> None:
    rid, customer = str(uuid.uuid4()), "measure-enterprise"
    raw = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "hello"}]}).encode()
    resp = send(menv, raw, {"x-request-id": rid, "x-customer-id": customer, "x-user-tier": "enterprise",
                            "x-test-prompt-tokens": "2000", "x-test-completion-tokens": "300"})
    assert resp.status_code == 200
    assert_untouched(menv, resp, raw)
    mid = TIERS["mid"]["model"]
    assert (resp.headers["x-llm-router-tier"], resp.headers["x-llm-router-model"]) == ("mid", mid)
    assert "enterprise" in resp.headers["x-llm-router-reason"]
    assert int(resp.headers["x-llm-router-cost-micro-usd"]) == expected_cost(mid, 2000, 300)
    assert menv.access_entry(rid)["cost_micro_usd"] == str(expected_cost(mid, 2000, 300))


def test_measure_mode_streams_are_not_rewritten(menv: Env) -> None:
    """With include_usage set by the client the stream is accounted (SSE summary comment); the
    filter never forces include_usage in measure mode, so a stream without it stays as sent and
    is counted as usage_missing, never as zero cost."""
    cheap = TIERS["cheap"]["model"]
    for include_usage, status in ((True, "priced"), (False, "usage_missing")):
        menv.reset_upstreams()
        rid = str(uuid.uuid4())
        body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "stream": True,
                "stream_options": {"include_usage": include_usage}}
        raw = json.dumps(body).encode()
        resp = send(menv, raw, {"x-request-id": rid, "accept": "text/event-stream",
                                "x-test-prompt-tokens": "123", "x-test-completion-tokens": "45"}, stream=True)
        lines = [line.decode() for line in resp.iter_lines() if line]
        assert resp.status_code == 200
        assert_untouched(menv, resp, raw)
        summary = json.loads(next(line for line in lines if line.startswith(": llm-router "))[len(": llm-router ") :])
        assert (summary["model"], summary["tier"], summary["status"]) == (cheap, "cheap", status)
        entry = menv.access_entry(rid)
        assert (entry["mode"], entry["router_status"]) == ("measure", status)
        if include_usage:
            assert summary["cost_micro_usd"] == expected_cost(cheap, 123, 45)
            assert entry["cost_micro_usd"] == str(expected_cost(cheap, 123, 45))
        else:
            assert summary["cost_micro_usd"] is None and not entry["cost_micro_usd"]


def test_shipped_config_renders_only_the_mode() -> None:
    text = stack_mod.CONFIG.read_text()
    rendered = stack_mod.render_config(text, stack_mod.DEFAULT_PORTS, mode="measure")
    assert rendered == text.replace('"mode": "route"', '"mode": "measure"')
    assert stack_mod.render_config(text, stack_mod.DEFAULT_PORTS, mode="route") == text
    with pytest.raises(ValueError):
        stack_mod.render_config(text, stack_mod.DEFAULT_PORTS, mode="shadow")
