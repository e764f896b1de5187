"""Live reload of the router configuration (prices, tiers, thresholds) through ECDS, under load.

Envoy runs envoy-config/providers.yaml (TLS stand-ins, providerlib.py), whose `llm_router`
filter takes its configuration from a file Envoy watches (envoy-config/providers/router.yaml;
here the test's copy). While client threads send requests without pause, the test replaces the
file the documented way (a sibling file renamed over it):

  1. with a new price table (another version, other prices) and thresholds below the test
     prompt's score: answers switch to the new price_version and tier within a few seconds, and
     their cost is the new prices applied to the usage the provider reported;
  2. with a configuration the filter rejects (thresholds out of order): Envoy rejects the
     update, the filter's log line says what is wrong, and the previous configuration keeps
     serving;
  3. with a file that is not YAML at all: rejected by Envoy's parser, same outcome.

Across the whole run no request may fail.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests

from providerlib import ProviderStack, provider_stack, replace_file, router_ecds_text, shipped_plugin_config
from routerlib import REPO

PLUGIN = shipped_plugin_config()
PROMPT = {"model": "auto", "messages": [{"role": "user", "content": "hello, what is the capital of France?"}]}
SWITCH_WITHIN_S = 5.0
COLD_LOAD_WITHIN_S = 60.0
CLIENTS = 2
ECDS = "extension_config_discovery.http_filter.llm_router"


@dataclass
class Sample:
    started: float
    ended: float
    status: int | None  # None: the request raised
    price_version: str | None = None
    tier: str | None = None
    cost: str | None = None
    usage: dict | None = None
    error: str | None = None


class Load:
    """CLIENTS threads, each sending PROMPT back to back until stopped."""

    def __init__(self, stack: ProviderStack) -> None:
        self.stack = stack
        self.samples: list[Sample] = []
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def _run(self) -> None:
        session = requests.Session()
        headers = {**self.stack.auth("acme"), "content-type": "application/json"}
        while not self.stop_event.is_set():
            t0 = time.monotonic()
            try:
                r = session.post(self.stack.listener_url + "/v1/chat/completions", data=json.dumps(PROMPT), headers=headers, timeout=30)
                body = r.json() if r.status_code == 200 else None
                s = Sample(t0, time.monotonic(), r.status_code, r.headers.get("x-llm-router-price-version"),
                           r.headers.get("x-llm-router-tier"), r.headers.get("x-llm-router-cost-micro-usd"),
                           (body or {}).get("usage"), None if r.status_code == 200 else r.text[:300])  # fmt: skip
            except requests.RequestException as exc:
                s = Sample(t0, time.monotonic(), None, error=repr(exc))
            with self.lock:
                self.samples.append(s)

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=35)

    def snapshot(self) -> list[Sample]:
        with self.lock:
            return list(self.samples)

    def wait_for(self, pred, timeout: float) -> Sample | None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = next((s for s in self.snapshot() if pred(s)), None)
            if hit is not None:
                return hit
            time.sleep(0.05)
        return None


@pytest.fixture(scope="module")
def reload_stack(workdir: Path, wasm_file: Path) -> Iterator[ProviderStack]:
    with provider_stack(workdir / "live-reload") as stack:
        yield stack


def new_prices(version: str) -> dict:
    """The embedded price table under another version, with the frontier model's prices doubled."""
    table = json.loads((REPO / "src" / "default_prices.json").read_text())
    table["version"] = version
    frontier_model = PLUGIN["tiers"][-1]["model"]
    for m in table["models"]:
        if m["id"] == frontier_model or frontier_model in m.get("aliases", []):
            m["input_per_mtok"], m["output_per_mtok"] = m["input_per_mtok"] * 2, m["output_per_mtok"] * 2
            m["cached_input_per_mtok"] *= 2
            return table, m
    raise AssertionError(f"{frontier_model} not in the embedded price table")


def rejections(stack: ProviderStack) -> float:
    return stack.stat(f"{ECDS}.config_fail") + stack.stat(f"{ECDS}.update_rejected")


def wait_rejected(stack: ProviderStack, at_least: float) -> None:
    deadline = time.monotonic() + 15
    while rejections(stack) < at_least:
        assert time.monotonic() < deadline, f"Envoy did not reject the bad router configuration ({rejections(stack)})"
        time.sleep(0.1)


def test_prices_and_thresholds_swap_under_load_and_a_bad_update_is_rejected(reload_stack: ProviderStack) -> None:
    stack = reload_stack
    fails_before = rejections(stack)
    with Load(stack) as load:
        first = load.wait_for(lambda s: s.status == 200, timeout=20)
        assert first is not None, load.snapshot()[:3]
        old_version, old_tier = first.price_version, first.tier
        time.sleep(1.0)
        score = min(float(stack.chat(PROMPT, stack.auth("acme")).headers["x-llm-router-score"]) for _ in range(3))
        assert score > 0.0

        # 1. New prices (version, frontier prices x2) and thresholds below this prompt's score.
        version = f"reload-test-{int(time.time())}"
        table, frontier_price = new_prices(version)
        plugin = dict(PLUGIN, prices=table, thresholds=[score / 3, score / 2])
        frontier = PLUGIN["tiers"][-1]["name"]
        assert (old_version, old_tier) != (version, frontier)
        t_write = time.monotonic()
        replace_file(stack.router_file, router_ecds_text(plugin, stack.wasm))
        switched = load.wait_for(lambda s: s.started > t_write and s.price_version == version, timeout=SWITCH_WITHIN_S + 5)
        assert switched is not None, f"no answer with price_version {version} within {SWITCH_WITHIN_S + 5}s of the rename"
        switch_s = switched.ended - t_write
        print(f"\n[live reload] {len(load.snapshot())} requests so far; first answer with the new price table {switch_s:.2f}s after the rename")
        assert switch_s < SWITCH_WITHIN_S
        time.sleep(2.0)

        # 2. A configuration the filter rejects: thresholds out of order.
        bad = dict(plugin, prices=dict(table, version=version + "-bad"), thresholds=[score / 2, score / 3])
        t_bad = time.monotonic()
        replace_file(stack.router_file, router_ecds_text(bad, stack.wasm))
        wait_rejected(stack, fails_before + 1)
        time.sleep(1.0)

        # 3. A file that is not even YAML: Envoy's own parser rejects it, same outcome.
        (stack.router_file.parent / "router.yaml.new").write_text("resources: [ {not yaml\n")
        (stack.router_file.parent / "router.yaml.new").rename(stack.router_file)
        wait_rejected(stack, fails_before + 2)
        time.sleep(1.0)
        t_end = time.monotonic()

    samples = load.snapshot()
    failed = [s for s in samples if s.status != 200]
    assert not failed, f"{len(failed)} of {len(samples)} requests failed during the reloads: {failed[:3]}"
    # Once switched, everything started a moment later runs on the new table and thresholds,
    # through the rejected update too.
    after = [s for s in samples if s.started > switched.ended + 0.5]
    assert len(after) > 20 and t_end - t_bad > 2
    assert {(s.price_version, s.tier) for s in after} == {(version, frontier)}
    # ... and is priced with the new prices: the frontier model at double its embedded rates.
    per_token = (round(frontier_price["input_per_mtok"] * 1e6), round(frontier_price["output_per_mtok"] * 1e6))
    for s in after[:20]:
        expected = (s.usage["prompt_tokens"] * per_token[0] + s.usage["completion_tokens"] * per_token[1] + 500_000) // 1_000_000
        assert s.cost == str(expected), (s, per_token)
    before = [s for s in samples if s.ended < t_write]
    assert before and {(s.price_version, s.tier) for s in before} == {(old_version, old_tier)}

    log = stack.envoy_log.read_text(errors="replace")
    assert "llm-router: invalid plugin configuration: thresholds" in log, log[-3000:]
    print(f"[live reload] {len(samples)} requests, 0 failed; bad update rejected, {len(after)} answers on {version} after the switch")


def test_a_router_file_that_does_not_load_at_startup_answers_500_until_it_is_fixed(workdir: Path, wasm_file: Path) -> None:
    # No default configuration is shipped on purpose: a router.yaml the filter rejects at startup
    # leaves the filter without one, and Envoy answers 500 instead of routing or pricing with
    # something else. Replacing the file with a valid one brings it up without a restart.
    bad = dict(PLUGIN, thresholds=list(reversed(PLUGIN["thresholds"])))
    stack = ProviderStack(workdir / "bad-at-start", bad)
    try:
        stack.start(timeout=60, routed=False)
        deadline = time.monotonic() + 20
        while "llm-router: invalid plugin configuration: thresholds" not in stack.envoy_log.read_text(errors="replace"):
            assert time.monotonic() < deadline, stack.envoy_log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        for _ in range(3):
            r = stack.chat(PROMPT, stack.auth("acme"))
            assert r.status_code == 500, (r.status_code, r.text)
        assert not any(stack.received().values())
        t_fix = time.monotonic()
        replace_file(stack.router_file, router_ecds_text(PLUGIN, stack.wasm))
        while True:
            r = stack.chat(PROMPT, stack.auth("acme"))
            if r.status_code == 200:
                break
            # No VM was ever built from this module, so the fix waits for a cold compile of the
            # wasm (seconds on a loaded 2-core machine), not the fraction of a second a swap takes.
            assert time.monotonic() - t_fix < COLD_LOAD_WITHIN_S, (r.status_code, r.text)
            time.sleep(0.05)
        print(f"\n[live reload] fixed router.yaml serving {time.monotonic() - t_fix:.2f}s after the rename (cold VM)")
        assert r.headers["x-llm-router-status"] == "priced"
    finally:
        stack.stop()


def test_budget_spend_survives_a_configuration_reload(reload_stack: ProviderStack) -> None:
    """Spend lives in the Envoy process's shared data, not in the configuration: a reload that
    swaps the plugin (new VMs) keeps every micro-dollar a customer spent."""
    stack = reload_stack
    budget = {"customers": {"acme": 10**12}}
    table = json.loads((REPO / "src" / "default_prices.json").read_text())
    spent_on_a = 0

    def until_version(version: str) -> requests.Response:
        nonlocal spent_on_a
        deadline = time.monotonic() + SWITCH_WITHIN_S + 10
        while True:
            r = stack.chat(PROMPT, stack.auth("acme"))
            assert r.status_code == 200, r.text
            if r.headers.get("x-llm-router-price-version") == version:
                return r
            if r.headers.get("x-llm-router-price-version") == version_a:
                spent_on_a += int(r.headers["x-llm-router-cost-micro-usd"])
            assert time.monotonic() < deadline, f"no answer on {version}"
            time.sleep(0.05)

    version_a, version_b = f"budget-a-{time.time_ns()}", f"budget-b-{time.time_ns()}"
    replace_file(stack.router_file, router_ecds_text(dict(PLUGIN, budget=budget, prices=dict(table, version=version_a)), stack.wasm))
    first = until_version(version_a)
    left = int(first.headers["x-llm-router-budget-remaining-micro-usd"])
    spent_on_a += int(first.headers["x-llm-router-cost-micro-usd"])
    for _ in range(5):
        r = stack.chat(PROMPT, stack.auth("acme"))
        assert r.headers["x-llm-router-price-version"] == version_a
        spent_on_a += int(r.headers["x-llm-router-cost-micro-usd"])
    assert spent_on_a > 0
    # Same budget, another configuration (new price-table version): the VMs are rebuilt.
    replace_file(stack.router_file, router_ecds_text(dict(PLUGIN, budget=budget, prices=dict(table, version=version_b)), stack.wasm))
    after = until_version(version_b)
    assert int(after.headers["x-llm-router-budget-remaining-micro-usd"]) == left - spent_on_a
