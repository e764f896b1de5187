"""Budgets through real Envoy with two workers: spend shared by both workers' VMs without lost
updates, the pace moving a customer's scored requests to the cheapest tier, and the cap.

The shipped configuration plus a `budget` section (README "Budgets"), on an Envoy started with
`--concurrency 2` and clients in parallel threads, so requests land on both workers.
"""
from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from pathlib import Path
from typing import Iterator

import pytest
import requests

from routerlib import PLUGIN_CONFIG, Env, config_with_plugin, start_stack

# Scored by the embedded classifier above the shipped second threshold: frontier when unpaced.
HARD = [
    {"role": "system", "content": "You are a senior engineer."},
    {
        "role": "user",
        "content": "Design a distributed, fault-tolerant rate limiter for a multi-region API gateway. Discuss "
        "consistency trade-offs, failure modes, clock skew, and give pseudocode for the token bucket "
        "synchronization protocol, with a proof sketch of its safety property.",
    },
]
PACER_BUDGET = 1_000_000
FULL_AT = 1.05


def period_with_room(now: dt.datetime) -> str:
    """A period less than 85% gone, so a spend of 99.9% of the budget is ahead of pace by more
    than `FULL_AT` (pace 1) for the whole test, whatever the time of day CI runs at."""
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    next_month = (month_start + dt.timedelta(days=32)).replace(day=1)
    fractions = {
        "month": (now - month_start) / (next_month - month_start),
        "day": (now - now.replace(hour=0, minute=0, second=0, microsecond=0)) / dt.timedelta(days=1),
        "hour": (now - now.replace(minute=0, second=0, microsecond=0)) / dt.timedelta(hours=1),
    }
    for name, f in fractions.items():
        if f < 0.85:
            return name
    pytest.skip(f"every budget period is more than 85% gone right now ({fractions}); the pace test needs room")


@pytest.fixture(scope="module")
def budget_env(workdir: Path, wasm_file: Path) -> Iterator[Env]:
    period = period_with_room(dt.datetime.now(dt.timezone.utc))
    plugin = dict(
        PLUGIN_CONFIG,
        budget={
            "period": period,
            "customers": {"exact": 10**12, "capped": 1_000, "pacer": PACER_BUDGET},
            "pace_full_at": FULL_AT,
        },
    )
    stack = start_stack(workdir / "budget", config_with_plugin(plugin), concurrency=2)
    try:
        yield Env(stack)
    finally:
        stack.stop()


def chat(env: Env, customer: str, model: str, usage: tuple[int, int] | None = None, messages=None) -> requests.Response:
    headers = {"x-customer-id": customer, "x-request-id": str(uuid.uuid4())}
    if usage:
        headers |= {"x-test-prompt-tokens": str(usage[0]), "x-test-completion-tokens": str(usage[1])}
    body = {"model": model, "messages": messages or [{"role": "user", "content": "hi"}]}
    return requests.post(f"{env.base_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_spend_from_both_workers_adds_up_exactly(budget_env: Env) -> None:
    env = budget_env
    costs: list[int] = []
    lock = threading.Lock()
    rng = random.Random(7)
    plans = [[(rng.randint(1, 5_000), rng.randint(1, 5_000)) for _ in range(25)] for _ in range(8)]

    def client(plan: list[tuple[int, int]]) -> None:
        session_costs = []
        for usage in plan:
            r = chat(env, "exact", "gpt-5-nano", usage)
            assert r.status_code == 200, r.text
            session_costs.append(int(r.headers["x-llm-router-cost-micro-usd"]))
        with lock:
            costs.extend(session_costs)

    threads = [threading.Thread(target=client, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(costs) == 200
    # Both workers served the load (Envoy's per-worker connection counters).
    stats = requests.get(env.admin_url + "/stats", params={"filter": r"^listener\..*worker_\d+\.downstream_cx_total$"}, timeout=10).text
    served = [line for line in stats.splitlines() if not line.rstrip().endswith(": 0")]
    assert len(served) >= 2, stats
    # What the next answer says was left is the budget less every cost, to the micro-dollar.
    r = chat(env, "exact", "gpt-5-nano", (1, 1))
    assert int(r.headers["x-llm-router-budget-remaining-micro-usd"]) == 10**12 - sum(costs)
    assert env.metric_sum("llm_router_budget_update_failed_total") == 0


def test_at_the_cap_the_next_request_gets_429_and_no_upstream_call(budget_env: Env) -> None:
    env = budget_env
    # gpt-5-nano, 1,000 in + 500 out: 250 micro-USD; the budget is 1,000.
    for i in range(4):
        r = chat(env, "capped", "auto", (1_000, 500))
        assert r.status_code == 200, (i, r.text)
        assert int(r.headers["x-llm-router-budget-remaining-micro-usd"]) == 1_000 - 250 * i
    env.reset_upstreams()
    r = chat(env, "capped", "auto", (1_000, 500))
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "budget_cap"
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= 31 * 86_400
    assert env.upstreams_hit() == {}
    # Explicit models are rejected at the cap too (explicit_at_cap: reject, the default).
    assert chat(env, "capped", "gpt-5-nano", (1, 1)).status_code == 429
    assert env.upstreams_hit() == {}
    assert env.wait_metric("llm_router_budget_total", 2, customer="capped", action="reject") == 2


def test_spending_ahead_of_pace_moves_scored_requests_to_the_cheapest_tier(budget_env: Env) -> None:
    env = budget_env
    before = chat(env, "pacer", "auto", (100, 10), HARD)
    assert before.status_code == 200, before.text
    assert before.headers["x-llm-router-tier"] == "frontier"
    assert before.headers["x-llm-router-budget-pace"] == "0.00"
    # gpt-5 (explicit): 99,900 output tokens at $10 per Mtok = 999,000 micro-USD, 99.9% of the budget.
    spent = chat(env, "pacer", "gpt-5", (0, 99_900))
    assert int(spent.headers["x-llm-router-cost-micro-usd"]) == 999_000
    after = [chat(env, "pacer", "auto", (100, 10), HARD) for _ in range(4)]
    for r in after:
        assert r.status_code == 200, r.text
        assert (r.headers["x-llm-router-tier"], r.headers["x-llm-router-reason"]) == ("cheap", "budget_pace")
        assert r.headers["x-llm-router-budget-pace"] == "1.00"
        assert r.headers["x-llm-router-score"] == before.headers["x-llm-router-score"]
    assert env.wait_metric("llm_router_budget_total", 4, customer="pacer", action="paced") == 4
