"""Prices as providers bill them, through real Envoy: long-context tiers and service tiers.

The stand-ins report the usage and the `service_tier` each test asks for (x-test-* headers of
tests/upstream/fake_llm.py and fake_anthropic.py). Each expected cost is computed here, from
the shipped price table read with exact decimals, by the rule README "Price table and money"
states: one rate set for the whole request (long-context rates above the threshold, a tier's
own rates, or the standard rates times the tier's multiplier), one rounding, half up. The
router's header, its Prometheus counter and its access log must agree with it exactly.
"""
from __future__ import annotations

import json
import uuid
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import anthropic
import requests

from routerlib import REPO, Env

TABLE = json.loads((Path(REPO) / "src" / "default_prices.json").read_text(), parse_float=Decimal)


def price_of(model: str) -> dict:
    return next(m for m in TABLE["models"] if model == m["id"] or model in m.get("aliases", []))


def expected_cost(model: str, *, uncached: int, read: int = 0, w5: int = 0, w1: int = 0, output: int,
                  tier: str = "standard") -> int:
    """Micro-USD by hand, from the JSON table."""
    p = price_of(model)
    prompt = uncached + read + w5 + w1
    rates, multiplier = p, Decimal(1)
    lc = p.get("long_context")
    long = lc is not None and prompt > lc["above_input_tokens"]
    if long:
        rates = lc
    if tier not in ("standard", "default"):
        entry = p["service_tiers"][tier]
        if "multiplier" in entry:
            multiplier = entry["multiplier"]
        else:
            assert not long
            rates = entry
    rate = lambda name: rates.get(name, rates["input_per_mtok"])  # noqa: E731
    usd = (
        uncached * rates["input_per_mtok"]
        + read * rate("cached_input_per_mtok")
        + w5 * rate("cache_write_5m_per_mtok")
        + w1 * rate("cache_write_1h_per_mtok")
        + output * rates["output_per_mtok"]
    ) * multiplier / Decimal(1_000_000)
    return int((usd * 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def customer() -> str:
    return "billing-" + uuid.uuid4().hex[:10]


def chat(env: Env, model: str, headers: dict[str, str], stream: bool = False) -> requests.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Summarize the attached report."}]}
    if stream:
        body["stream"] = True
    return requests.post(f"{env.base_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def stream_cost(resp: requests.Response) -> dict:
    lines = [line for line in resp.text.splitlines() if line.startswith(": llm-router ")]
    assert len(lines) == 1, resp.text[-500:]
    return json.loads(lines[0][len(": llm-router ") :])


def test_long_context_boundary_on_gemini_pro(env: Env) -> None:
    for prompt, cached in ((200_000, 40_000), (200_001, 40_000)):
        who, rid = customer(), str(uuid.uuid4())
        headers = {
            "x-customer-id": who,
            "x-request-id": rid,
            "x-test-prompt-tokens": str(prompt),
            "x-test-cached-tokens": str(cached),
            "x-test-completion-tokens": "1234",
        }
        resp = chat(env, "gemini-2.5-pro", headers)
        assert resp.status_code == 200, resp.text
        cost = expected_cost("gemini-2.5-pro", uncached=prompt - cached, read=cached, output=1234)
        assert int(resp.headers["x-llm-router-cost-micro-usd"]) == cost
        assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost
        assert env.access_entry(rid)["cost_micro_usd"] == str(cost)
    # Above the threshold every token costs more: 2x input and cache, 1.5x output.
    below = expected_cost("gemini-2.5-pro", uncached=160_000, read=40_000, output=1234)
    above = expected_cost("gemini-2.5-pro", uncached=160_001, read=40_000, output=1234)
    assert above > 1.9 * below


def test_cache_heavy_long_context_messages_request(env: Env) -> None:
    """Claude Sonnet 4.5 above 200K input tokens: every rate, cache ones included, at the
    long-context price; Sonnet 4.6 has no premium, so the same usage costs its base rates."""
    usage = {"uncached": 1_000, "read": 180_000, "w5": 60_000, "w1": 9_000, "output": 2_000}
    client = anthropic.Anthropic(base_url=env.base_url, api_key="dummy", max_retries=0, timeout=60.0)
    costs = {}
    for model in ("claude-sonnet-4-5", "claude-sonnet-4-6"):
        who, rid = customer(), str(uuid.uuid4())
        raw = client.messages.with_raw_response.create(
            model=model,
            max_tokens=4096,
            messages=[{"role": "user", "content": "What changed between the two contracts?"}],
            extra_headers={
                "x-customer-id": who,
                "x-request-id": rid,
                "x-test-input-tokens": str(usage["uncached"]),
                "x-test-cache-read-tokens": str(usage["read"]),
                "x-test-cache-write-5m-tokens": str(usage["w5"]),
                "x-test-cache-write-1h-tokens": str(usage["w1"]),
                "x-test-completion-tokens": str(usage["output"]),
            },
        )
        assert raw.parse().usage.cache_read_input_tokens == usage["read"]
        cost = expected_cost(model, **usage)
        assert int(raw.headers["x-llm-router-cost-micro-usd"]) == cost
        assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost
        assert env.metric_sum("llm_router_input_tokens_total", customer=who) == 250_000
        costs[model] = cost
    # $6 / $0.60 / $7.50 / $12 / $22.50 against $3 / $0.30 / $3.75 / $6 / $15.
    assert costs["claude-sonnet-4-5"] == 1_000 * 6 + 180_000 * 6 // 10 + 60_000 * 15 // 2 + 9_000 * 12 + 2_000 * 45 // 2
    assert costs["claude-sonnet-4-6"] == 1_000 * 3 + 180_000 * 3 // 10 + 60_000 * 15 // 4 + 9_000 * 6 + 2_000 * 15


def test_flex_and_priority_answers_are_priced_on_their_tier(env: Env) -> None:
    for model, tier, stream in (("gpt-5", "flex", False), ("gpt-5", "priority", True), ("gpt-5-mini", "priority", False)):
        who, rid = customer(), str(uuid.uuid4())
        headers = {
            "x-customer-id": who,
            "x-request-id": rid,
            "x-test-prompt-tokens": "30000",
            "x-test-cached-tokens": "12000",
            "x-test-completion-tokens": "777",
            "x-test-service-tier": tier,
        }
        resp = chat(env, model, headers, stream=stream)
        assert resp.status_code == 200, resp.text
        cost = expected_cost(model, uncached=18_000, read=12_000, output=777, tier=tier)
        standard = expected_cost(model, uncached=18_000, read=12_000, output=777)
        assert cost != standard
        got = stream_cost(resp)["cost_micro_usd"] if stream else int(resp.headers["x-llm-router-cost-micro-usd"])
        assert got == cost, (model, tier)
        assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost
        assert env.access_entry(rid)["router_status"] == "priced"


def test_routed_stream_on_flex_costs_half(env: Env) -> None:
    who = customer()
    headers = {
        "x-customer-id": who,
        "x-feature": "summarization",  # the shipped rule that sends a request to the cheap tier
        "x-test-prompt-tokens": "5000",
        "x-test-completion-tokens": "3001",
        "x-test-service-tier": "flex",
    }
    resp = chat(env, "auto", headers, stream=True)
    assert resp.status_code == 200, resp.text
    report = stream_cost(resp)
    cost = expected_cost("gpt-5-nano", uncached=5000, output=3001, tier="flex")
    # 5000 * $0.05 + 3001 * $0.40 per Mtok = 1450.4 micro-USD, halved 725.2: rounded once.
    assert (report["model"], report["cost_micro_usd"], cost) == ("gpt-5-nano", 725, 725)
    assert env.wait_metric("llm_router_cost_micro_usd_total", cost, customer=who) == cost


def test_tiers_without_a_price_are_unpriced_not_standard(env: Env) -> None:
    cases = [
        ("chat", "gpt-5-nano", "priority"),  # OpenAI sells no priority gpt-5-nano
        ("chat", "gpt-5", "turbo"),  # a value the router does not know
        ("messages", "claude-sonnet-4-6", "priority"),  # the embedded table has no Anthropic priority rates
    ]
    client = anthropic.Anthropic(base_url=env.base_url, api_key="dummy", max_retries=0, timeout=60.0)
    for api, model, tier in cases:
        who, rid = customer(), str(uuid.uuid4())
        headers = {"x-customer-id": who, "x-request-id": rid, "x-test-service-tier": tier}
        before = env.metric_sum("llm_router_unpriced_total")
        if api == "chat":
            resp = chat(env, model, headers)
            assert resp.status_code == 200, resp.text
            assert resp.headers["x-llm-router-status"] == "unpriced"
            assert "x-llm-router-cost-micro-usd" not in resp.headers
        else:
            raw = client.messages.with_raw_response.create(
                model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}], extra_headers=headers
            )
            assert raw.headers["x-llm-router-status"] == "unpriced"
        assert env.wait_metric("llm_router_unpriced_total", before + 1) == before + 1
        entry = env.access_entry(rid)
        assert (entry["router_status"], entry["cost_micro_usd"]) in (("unpriced", None), ("unpriced", "-"), ("unpriced", ""))
        assert env.metric_sum("llm_router_cost_micro_usd_total", customer=who) == 0
