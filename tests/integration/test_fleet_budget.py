"""Fleet-wide budgets (issue #15 part 4): TWO real Envoys, each running envoy-config/fleet.yaml,
share ONE rate-limit service; the router's priced cost of each answer is sent as hits when the
stream is done, and a check before each request answers 429 once the customer's count across the
fleet is over its limit.

The rate-limit service is a STAND-IN (tests/upstream/fake_ratelimit.py): no real one can be
installed from the package registries this machine reaches (envoyproxy/ratelimit is Go,
`limitador-server` is not on crates.io). It speaks the real gRPC API
(envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit) with envoyproxy/ratelimit's
fixed-window counting, so what these tests check about Envoy's side (what it sends, when, and
what it does with the answer) is Envoy's real behaviour; what they check about the counting is
the stand-in's, written to match envoyproxy/ratelimit (docs/fleet-budgets.md says what differs).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import requests
import yaml

from fleetlib import FLEET_YAML, RateLimitService, fleet_config_text, hits, stream_comment
from routerlib import PLUGIN_CONFIG, REPO, Env, load_plugin_config, start_stack

CAPPED_LIMIT = 2_000  # micro-USD
DEFAULT_LIMIT = 4_000_000_000  # micro-USD; requests_per_unit is a uint32 in the API


def unit_with_room(now: float) -> str:
    """A window unit of the service whose current fixed window has 15 minutes left, so no count
    resets mid-test whatever the time CI runs at."""
    for unit, seconds in (("day", 86_400), ("month", 30 * 86_400), ("year", 365 * 86_400)):
        if seconds - int(now) % seconds > 900:
            return unit
    raise AssertionError("unreachable: the day and year windows cannot both end within 15 minutes")


@pytest.fixture(scope="module")
def fleet(workdir: Path, wasm_file: Path) -> Iterator[tuple[RateLimitService, Env, Env]]:
    unit = unit_with_room(time.time())
    rls = RateLimitService(
        workdir / "fleet-ratelimit",
        {
            "domain": "llm_router",
            "descriptors": [
                {"key": "llm_router_budget", "rate_limit": {"unit": unit, "requests_per_unit": DEFAULT_LIMIT}},
                {"key": "llm_router_budget", "value": "capped", "rate_limit": {"unit": unit, "requests_per_unit": CAPPED_LIMIT}},
            ],
        },
    )
    stacks = []
    try:
        rls.start()
        config = fleet_config_text(rls.grpc_port)
        for name in ("a", "b"):
            stacks.append(start_stack(workdir / f"fleet-{name}", config, concurrency=1))
        yield rls, Env(stacks[0]), Env(stacks[1])
    finally:
        for stack in stacks:
            stack.stop()
        rls.stop()


def chat(env: Env, customer: str | None, model: str, usage: tuple[int, int] = (1_000, 500), stream: bool = False, **extra: str) -> requests.Response:
    headers = {"x-request-id": str(uuid.uuid4()), "x-test-prompt-tokens": str(usage[0]), "x-test-completion-tokens": str(usage[1])}
    if customer is not None:
        headers["x-customer-id"] = customer
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return requests.post(f"{env.base_url}/v1/chat/completions", json=body, headers=headers | extra, timeout=30)


def cost_of(resp: requests.Response) -> int:
    """The router's cost of a 200 answer: its header (JSON) or its SSE comment (streams)."""
    assert resp.status_code == 200, resp.text
    if "x-llm-router-cost-micro-usd" in resp.headers:
        return int(resp.headers["x-llm-router-cost-micro-usd"])
    return int(stream_comment(resp.text)["cost_micro_usd"])


def spend_past_the_cap(rls: RateLimitService, a: Env, b: Env) -> tuple[int, int]:
    """Requests for "capped", alternately on each Envoy, until its fleet count is above its
    limit: (requests served, count). Each one's cost is counted before the next is sent."""
    served, spent = 0, rls.count("capped")
    while spent <= CAPPED_LIMIT:
        spent += cost_of(chat((a, b)[served % 2], "capped", "gpt-5-nano"))
        served += 1
        assert rls.wait_count("capped", spent) == spent
    return served, spent


def test_the_example_is_envoy_yaml_plus_the_rate_limit_parts_only() -> None:
    # fleet.yaml repeats envoy.yaml (listener, routes, access log, plugin configuration,
    # clusters); this keeps the two from drifting apart.
    fleet = yaml.safe_load(FLEET_YAML.read_text())
    hcm = fleet["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    ratelimit = hcm["http_filters"].pop(0)
    assert ratelimit["name"] == "envoy.filters.http.ratelimit"
    assert hcm.pop("local_reply_config")["mappers"]
    clusters = fleet["static_resources"]["clusters"]
    assert clusters.pop()["name"] == "llm_ratelimit"
    assert fleet == yaml.safe_load((REPO / "envoy-config" / "envoy.yaml").read_text())
    assert load_plugin_config(FLEET_YAML) == PLUGIN_CONFIG


def test_the_fleet_count_is_the_sum_of_every_priced_cost_on_both_envoys(fleet) -> None:
    rls, a, b = fleet
    customer = f"exact-{uuid.uuid4().hex[:8]}"
    costs: list[int] = []
    lock = threading.Lock()
    rng = random.Random(15)
    # 8 clients, 4 on each Envoy, 10 requests each, JSON and SSE answers mixed.
    plans = [[(rng.randint(1, 5_000), rng.randint(1, 5_000), rng.random() < 0.5) for _ in range(10)] for _ in range(8)]

    def client(env: Env, plan: list[tuple[int, int, bool]]) -> None:
        mine = [cost_of(chat(env, customer, "gpt-5-nano", (p, c), stream=s)) for p, c, s in plan]
        with lock:
            costs.extend(mine)

    threads = [threading.Thread(target=client, args=(a if i % 2 else b, plan)) for i, plan in enumerate(plans)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(costs) == 80 and all(c > 0 for c in costs)
    assert rls.wait_count(customer, sum(costs)) == sum(costs)
    calls = rls.wait_calls(customer, 160)
    # One check (hits 0) before and one charge (the cost) after each request, and nothing else:
    # every field Envoy sent is one the stand-in knows (the per-descriptor hits_addend included).
    assert sorted(hits(c) for c in calls if hits(c) == 0) == [0] * 80
    assert sorted(hits(c) for c in calls if hits(c) != 0) == sorted(costs)
    assert all(c["unknown_fields"] == [] and c["descriptors"][0]["unknown_fields"] == [] for c in calls)
    assert all(c["domain"] == "llm_router" and c["hits_addend"] == 0 for c in calls)


def test_a_stream_is_charged_its_cost_once_it_has_ended(fleet) -> None:
    rls, a, _ = fleet
    customer = f"stream-{uuid.uuid4().hex[:8]}"
    resp = chat(a, customer, "gpt-5-nano", (3_000, 2_000), stream=True, **{"x-test-stream-delay-ms": "50"})
    cost = cost_of(resp)
    assert "x-llm-router-cost-micro-usd" not in resp.headers  # known only at the stream's end
    assert rls.wait_count(customer, cost) == cost
    assert [hits(c) for c in rls.calls(customer)] == [0, cost]


def test_past_the_fleet_limit_either_envoy_answers_429_and_calls_no_upstream(fleet) -> None:
    rls, a, b = fleet
    # gpt-5-nano, 1,000 in + 500 out: 250 micro-USD a request, alternately on each Envoy. The
    # check adds nothing and passes while the count is not above the limit, so the request that
    # takes the count past CAPPED_LIMIT is still served (the overshoot is at most one request per
    # request in flight at once); every request after it is refused.
    assert rls.count("capped") == 0
    served, spent = spend_past_the_cap(rls, a, b)
    assert (served, spent) == (CAPPED_LIMIT // 250 + 1, CAPPED_LIMIT + 250)
    for env in (a, b):
        env.reset_upstreams()
        for model in ("auto", "gpt-5-nano"):
            r = chat(env, "capped", model)
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == "fleet_budget_cap"
            assert r.headers["x-ratelimit-remaining"] == "0"
            assert env.access_entry(r.request.headers["x-request-id"])["response_flags"] == "RL"
            assert 0 < int(r.headers["x-ratelimit-reset"])
        # The Anthropic Messages API gets its own error shape.
        r = requests.post(
            f"{env.base_url}/v1/messages",
            json={"model": "auto", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-customer-id": "capped", "anthropic-version": "2023-06-01"},
            timeout=30,
        )
        assert r.status_code == 429, r.text
        assert r.json()["type"] == "error" and "fleet budget" in r.json()["error"]["message"]
        assert env.upstreams_hit() == {}
        assert env.stat_value("cluster.llm_default.ratelimit.over_limit") == 3
    # A refused request has no cost, so it charges nothing.
    time.sleep(1)
    assert rls.count("capped") == spent


def test_another_customer_is_not_limited_by_the_capped_one(fleet) -> None:
    rls, a, b = fleet
    spend_past_the_cap(rls, a, b)
    assert chat(a, "capped", "gpt-5-nano").status_code == 429
    for env in (a, b):
        r = chat(env, "not-capped", "gpt-5-nano")
        assert r.status_code == 200, r.text
    assert rls.wait_count("not-capped", 500) == 500


@pytest.mark.parametrize(
    "what, model, extra, status",
    [
        ("unpriced model", "my-own-finetune", {}, "unpriced"),
        ("usage missing", "gpt-5-nano", {"x-test-no-usage": "1"}, "usage_missing"),
        ("upstream error", "gpt-5-nano", {"x-test-status": "500"}, "usage_missing"),
    ],
)
def test_an_answer_without_a_cost_is_checked_but_charges_nothing(fleet, what, model, extra, status) -> None:
    rls, a, _ = fleet
    customer = f"nocost-{uuid.uuid4().hex[:8]}"
    r = chat(a, customer, model, **extra)
    assert r.headers["x-llm-router-status"] == status, (what, r.status_code, r.text)
    assert "x-llm-router-cost-micro-usd" not in r.headers
    # The cost filter state renders empty, Envoy refuses it as hits_addend, and sends no
    # stream-done call at all (rather than a call counting 0 or 1).
    time.sleep(1.5)
    assert [hits(c) for c in rls.calls(customer)] == [0]
    assert rls.count(customer) == 0


def test_a_stream_the_client_abandons_before_its_usage_charges_nothing(fleet) -> None:
    rls, a, _ = fleet
    customer = f"gone-{uuid.uuid4().hex[:8]}"
    rid = str(uuid.uuid4())
    headers = {"x-customer-id": customer, "x-request-id": rid, "x-test-stream-delay-ms": "300"}
    body = {"model": "gpt-5-nano", "messages": [{"role": "user", "content": "a long story " * 50}], "stream": True}
    with requests.post(f"{a.base_url}/v1/chat/completions", json=body, headers=headers, stream=True, timeout=30) as r:
        assert r.status_code == 200
        next(r.iter_content(64))
    # The router prices a stream from its usage chunk, which never came: nothing to charge.
    assert a.access_entry(rid)["router_status"] == "usage_missing"
    time.sleep(1)
    assert [hits(c) for c in rls.calls(customer)] == [0]

def test_an_answer_over_1000_dollars_is_not_charged_envoys_hits_addend_cap(fleet) -> None:
    rls, a, _ = fleet
    # Envoy takes a hits_addend of at most 1e9 (micro-USD: $1,000) and drops the call above it.
    # claude-opus-4.6 output at $25 per Mtok: 40,000,000 tokens are exactly 1e9, one more is over.
    for tokens, charged in ((40_000_000, True), (40_000_001, False)):
        customer = f"huge-{uuid.uuid4().hex[:8]}"
        cost = cost_of(chat(a, customer, "claude-opus-4.6", (0, tokens)))
        assert cost == tokens * 25
        time.sleep(1.5)
        assert [hits(c) for c in rls.calls(customer)] == ([0, cost] if charged else [0])

def test_without_a_customer_header_no_call_is_made(fleet) -> None:
    rls, a, _ = fleet
    before = len(rls.snapshot()["calls"])
    assert chat(a, None, "gpt-5-nano").status_code == 200
    time.sleep(1)
    assert len(rls.snapshot()["calls"]) == before


def test_with_the_service_down_requests_pass_and_their_cost_is_not_counted(fleet) -> None:
    rls, a, b = fleet
    customer = f"down-{uuid.uuid4().hex[:8]}"
    rls.stop()
    try:
        for env in (a, b):
            env.reset_upstreams()
            allowed = env.stat_value("cluster.llm_default.ratelimit.failure_mode_allowed") or 0
            # "capped" too: the limit cannot be checked, so the shipped default (fail open) serves it.
            for who in (customer, "capped"):
                r = chat(env, who, "gpt-5-nano")
                assert r.status_code == 200, r.text
            assert sum(env.upstreams_hit().values()) == 2
            assert env.stat_value("cluster.llm_default.ratelimit.failure_mode_allowed") == allowed + 2
            assert env.ready()  # the failed stream-done calls did not take Envoy down
    finally:
        rls.start()
    # The stand-in keeps counts in memory (a real deployment keeps them in Redis): after its
    # restart nothing of the outage was counted, because nothing reached it.
    assert rls.count(customer) == 0
    r = chat(a, customer, "gpt-5-nano")
    assert rls.wait_count(customer, cost_of(r)) == cost_of(r)
