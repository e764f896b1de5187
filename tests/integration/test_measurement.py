"""Measurement end to end: a fresh Envoy (route mode) scraped by a real Prometheus.

A known mix of requests (non-stream, stream, cached tokens, explicit model, unpriced model,
missing usage; chat completions and Anthropic Messages) is sent once per module, each with its own x-request-id and customer label.
Its expected costs are computed here from src/default_prices.json with integer arithmetic
(measurelib.expected_cost), independently of the Rust code. Then:

- Prometheus, asked with PromQL through its HTTP API (the shipped recording rules), answers
  cost per route, per customer and per API (chat and Messages traffic under their own `api`
  label values, to the micro-USD), the savings ratio, the strong-tier share and the fallback
  rate exactly as sent;
- the cost headers / SSE summary, Envoy's counters, the access-log lines and
  `llm-router report` over that access log agree to the micro-USD;
- every rule evaluates without error and every Grafana dashboard expression is valid PromQL
  naming only shipped rules and exported metrics.

This module runs its own Envoy so the counters hold exactly this traffic. Fallback traffic is
sent last (test_zz_*) and the mix checks query Prometheus at the instant `mix.t1`, taken after
the mix was scraped and before any later request.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
import requests

from measurelib import (
    DASHBOARD,
    PROM_CONFIG,
    PROM_RULES,
    Prometheus,
    expected_cost,
    llm_router_identifiers,
    prometheus_binary,
    promtool_binary,
    recorded_rules,
    router_metric_names,
    run_cli,
)
from routerlib import PLUGIN_CONFIG, TIERS, Env, stack_mod

CHAT = "/v1/chat/completions"
MESSAGES_PATH = "/v1/messages"
SIMPLE = "What is the capital of France?"
MESSAGES = PLUGIN_CONFIG["apis"]["messages"]
MESSAGES_TIERS = {t["name"]: t for t in MESSAGES["tiers"]}
# Each API's section prices its baseline on its own model.
BASELINE = {"chat_completions": PLUGIN_CONFIG["baseline_model"], "messages": MESSAGES["baseline_model"]}
STRONG_TIER = PLUGIN_CONFIG["tiers"][-1]["name"]
# The strongest tier of each section: what the strong-tier recording rules count.
STRONG_TIERS = {STRONG_TIER, MESSAGES["tiers"][-1]["name"]}
UNPRICED_MODEL = "acme-inhouse-llm-v2"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Sent:
    """One request of the mix and what it must be accounted as."""

    name: str
    customer: str
    route: str
    tier: str
    model: str
    status: str  # priced / unpriced / usage_missing
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    stream: bool = False
    api: str = "chat_completions"
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # Filled in after sending:
    header_cost: int | None = None  # x-llm-router-cost-micro-usd, or the SSE summary's cost
    header_baseline: int | None = None

    @property
    def cost(self) -> int | None:
        return expected_cost(self.model, self.prompt, self.completion, self.cached) if self.status == "priced" else None

    @property
    def logged_baseline(self) -> int | None:
        """The baseline the filter logs: priced whenever usage is known."""
        if self.status == "usage_missing":
            return None
        return expected_cost(BASELINE[self.api], self.prompt, self.completion, self.cached)

    @property
    def counted_baseline(self) -> int:
        """The baseline the counters (and report) add: only where the cost is known."""
        return (self.logged_baseline or 0) if self.status == "priced" else 0


@dataclass
class Mix:
    env: Env
    prom: Prometheus
    sent: list[Sent]
    t0: float
    t1: float

    def count_by(self, attr: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sent:
            out[getattr(s, attr)] = out.get(getattr(s, attr), 0) + 1
        return out

    def expected_by(self, attr: str, value: str = "cost") -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.sent:
            if s.status == "priced":
                out[getattr(s, attr)] = out.get(getattr(s, attr), 0) + (s.cost if value == "cost" else s.counted_baseline)
        return out


@pytest.fixture(scope="module")
def measured(workdir: Path, wasm_file: Path) -> Iterator[tuple[Env, Prometheus]]:
    if prometheus_binary() is None:
        pytest.fail("prometheus is not installed: run scripts/setup.sh (Debian package `prometheus`)", pytrace=False)
    base = workdir / "measurement"
    stack = stack_mod.Stack(base, stack_mod.random_ports(), access_log=str(base / "access.log"), concurrency=1)
    prom = Prometheus(base / "prometheus", stack.ports.admin)
    try:
        stack.start(timeout=120)
        prom.start()
    except (RuntimeError, SystemExit) as exc:
        prom.stop()
        stack.stop()
        pytest.fail(f"could not start Envoy + Prometheus: {exc}", pytrace=False)
    try:
        yield Env(stack), prom
    finally:
        prom.stop()
        stack.stop()


def post(env: Env, body: dict | bytes, headers: dict[str, str], stream: bool = False) -> requests.Response:
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    h = {"content-type": "application/json", "authorization": "Bearer dummy", **headers}
    return env.http.post(env.base_url + CHAT, data=data, headers=h, timeout=60, stream=stream)


def tokens(s: Sent) -> dict[str, str]:
    if s.api == "messages":
        # Anthropic's input_tokens excludes cache reads; the router counts all input tokens.
        return {"x-test-input-tokens": str(s.prompt - s.cached), "x-test-cache-read-tokens": str(s.cached),
                "x-test-completion-tokens": str(s.completion)}  # fmt: skip
    h = {"x-test-prompt-tokens": str(s.prompt), "x-test-completion-tokens": str(s.completion)}
    if s.cached:
        h["x-test-cached-tokens"] = str(s.cached)
    return h


def post_messages(env: Env, s: Sent, headers: dict[str, str]) -> requests.Response:
    """An Anthropic Messages request pinned to claude-mid (the section's `pinned` rule)."""
    body = {"model": "auto", "max_tokens": 256, "messages": [{"role": "user", "content": SIMPLE}], "stream": s.stream}
    h = {"content-type": "application/json", "x-api-key": "dummy", "anthropic-version": "2023-06-01",
         "x-llm-tier": s.tier, **headers}  # fmt: skip
    return env.http.post(env.base_url + MESSAGES_PATH, json=body, headers=h, timeout=60, stream=s.stream)


@pytest.fixture(scope="module")
def mix(measured: tuple[Env, Prometheus]) -> Mix:
    env, prom = measured
    cheap, mid, strong = TIERS["cheap"], TIERS["mid"], TIERS[STRONG_TIER]
    claude_mid = MESSAGES_TIERS["claude-mid"]
    sent = [
        Sent("json", "m-alpha", "chat", "cheap", cheap["model"], "priced", 1000, 500),
        Sent("enterprise", "m-beta", "chat", "mid", mid["model"], "priced", 2000, 300),
        Sent("explicit strong model", "m-gamma", "chat", STRONG_TIER, strong["model"], "priced", 1000, 100),
        Sent("stream", "m-alpha", "chat", "cheap", cheap["model"], "priced", 123, 45, stream=True),
        Sent("cached", "m-delta", "chat", "cheap", cheap["model"], "priced", 1000, 500, cached=400),
        Sent("unpriced explicit", "m-epsilon", "passthrough", "none", UNPRICED_MODEL, "unpriced", 700, 50),
        Sent("usage missing", "m-zeta", "chat", "cheap", cheap["model"], "usage_missing"),
        Sent("messages cached", "m-eta", "chat", "claude-mid", claude_mid["model"], "priced", 3000, 200, cached=1000, api="messages"),
        Sent("messages stream", "m-alpha", "chat", "claude-mid", claude_mid["model"], "priced", 500, 60, stream=True, api="messages"),
    ]
    t0 = time.time() - 1
    for s in sent:
        h = {"x-request-id": s.request_id, "x-customer-id": s.customer}
        h.update(tokens(s) if s.status != "usage_missing" else {"x-test-no-usage": "1"})
        model = "auto"
        if s.name == "enterprise":
            h["x-user-tier"] = "enterprise"
        if s.name.startswith(("explicit", "unpriced")):
            model = s.model
        body = {"model": model, "messages": [{"role": "user", "content": SIMPLE}]}
        if s.api == "messages":
            r = post_messages(env, s, h)
            if s.stream:
                lines = [line.decode() for line in r.iter_lines() if line]
                comments = [json.loads(line[len(": llm-router ") :]) for line in lines if line.startswith(": llm-router ")]
                assert len(comments) == 1 and comments[0]["api"] == "messages", f"{s.name}: {lines[-3:]}"
                s.header_cost, s.header_baseline = comments[0].get("cost_micro_usd"), comments[0].get("baseline_cost_micro_usd")
            else:
                s.header_cost = int(r.headers["x-llm-router-cost-micro-usd"])
                s.header_baseline = int(r.headers["x-llm-router-baseline-cost-micro-usd"])
        elif s.stream:
            body.update(stream=True, stream_options={"include_usage": True})
            r = post(env, body, {**h, "accept": "text/event-stream"}, stream=True)
            lines = [line.decode() for line in r.iter_lines() if line]
            comments = [json.loads(line[len(": llm-router ") :]) for line in lines if line.startswith(": llm-router ")]
            assert len(comments) == 1, f"{s.name}: expected one SSE summary comment, got {lines[-3:]}"
            s.header_cost, s.header_baseline = comments[0].get("cost_micro_usd"), comments[0].get("baseline_cost_micro_usd")
            assert comments[0]["status"] == s.status, comments[0]
        else:
            r = post(env, body, h)
            if "x-llm-router-cost-micro-usd" in r.headers:
                s.header_cost = int(r.headers["x-llm-router-cost-micro-usd"])
            if "x-llm-router-baseline-cost-micro-usd" in r.headers:
                s.header_baseline = int(r.headers["x-llm-router-baseline-cost-micro-usd"])
            assert r.headers.get("x-llm-router-status") == s.status, f"{s.name}: {dict(r.headers)}"
        assert r.status_code == 200, f"{s.name}: {r.status_code} {r.text[:300]}"
        # The mix is designed to land on these tiers; if the policy changes, fix the mix.
        assert r.headers.get("x-llm-router-tier") == s.tier, f"{s.name}: tier {r.headers.get('x-llm-router-tier')}, expected {s.tier}"
        assert r.headers.get("x-llm-router-model") == s.model, f"{s.name}: {r.headers.get('x-llm-router-model')}"
    for s in sent:  # every line is in the access log (Envoy flushes it periodically)
        env.access_entry(s.request_id)
    # Prometheus has scraped the whole mix once the request counter shows all of it; two more
    # scrape/evaluation intervals make sure every rule was evaluated on that scrape.
    got = prom.wait_for("sum(llm_router_requests_total)", len(sent), timeout=30)
    assert got == len(sent), f"Prometheus sees {got} requests, sent {len(sent)}"
    time.sleep(2.5)
    t1 = time.time()
    return Mix(env, prom, sent, t0, t1)


# ---------------------------------------------------------------------------------------
# Static checks of the shipped Prometheus files and dashboard
# ---------------------------------------------------------------------------------------
def test_promtool_accepts_config_and_rules() -> None:
    promtool = promtool_binary()
    assert promtool, "promtool not installed (Debian package prometheus): run scripts/setup.sh"
    for args in (["check", "rules", str(PROM_RULES)], ["check", "config", str(PROM_CONFIG)]):
        proc = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"promtool {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"


def test_rules_reference_only_exported_metrics() -> None:
    known = router_metric_names()
    text = PROM_RULES.read_text()
    exprs = [e for e in text.split("expr:")[1:]]
    assert len(exprs) == len(recorded_rules()) >= 10
    unknown = {i for e in exprs for i in llm_router_identifiers(e.split("- record:")[0])} - known - set(recorded_rules())
    assert not unknown, f"rules use names that src/names.rs does not export: {unknown}"
    for needed in ("llm_router_fallbacks_total", "llm_router_cost_micro_usd_total", "llm_router_baseline_cost_micro_usd_total"):
        assert needed in text


def dashboard_exprs() -> list[str]:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for var in dash["templating"]["list"]:
        q = var.get("query")
        if isinstance(q, dict):
            exprs.append(q["query"])
    return exprs


def test_dashboard_is_valid_json_using_rules_and_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["panels"] and dash["title"]
    rules, metrics = set(recorded_rules()), router_metric_names()
    exprs = dashboard_exprs()
    assert len(exprs) >= 10
    for expr in exprs:
        names = llm_router_identifiers(expr)
        assert names, f"dashboard expression names no llm-router rule or metric: {expr}"
        unknown = names - rules - metrics
        assert not unknown, f"dashboard expression {expr!r} uses unknown names {unknown}"
    used_rules = {n for e in exprs for n in llm_router_identifiers(e)} & rules
    assert len(used_rules) >= 10, f"the dashboard uses few recording rules: {used_rules}"


# ---------------------------------------------------------------------------------------
# PromQL answers vs. what was sent
# ---------------------------------------------------------------------------------------
def test_prometheus_scrapes_envoy(mix: Mix) -> None:
    up = mix.prom.targets_up()
    assert [t["scrapeUrl"] for t in up] == [f"{mix.env.admin_url}/stats/prometheus"], up


def assert_rules_split_by(mix: Mix, label: str) -> dict[str, int]:
    """The `<label>_mode:*` cost, baseline and request rules answer what was sent, per `label`;
    returns the expected cost per value."""
    expected = mix.expected_by(label)
    got = mix.prom.by(f'{label}_mode:llm_router_cost_micro_usd_total:sum{{mode="route"}}', label, at=mix.t1)
    assert got == expected, f"cost per {label}: Prometheus {got}, sent {expected}"
    base = mix.prom.by(f'{label}_mode:llm_router_baseline_cost_micro_usd_total:sum{{mode="route"}}', label, at=mix.t1)
    assert base == mix.expected_by(label, "baseline")
    requests = mix.prom.by(f'{label}_mode:llm_router_requests_total:sum{{mode="route"}}', label, at=mix.t1)
    assert requests == mix.count_by(label)
    return expected


def test_cost_per_route(mix: Mix) -> None:
    assert_rules_split_by(mix, "route")


def test_cost_per_customer(mix: Mix) -> None:
    expected = mix.expected_by("customer")
    # three requests, one customer, two APIs
    assert expected["m-alpha"] == mix.sent[0].cost + mix.sent[3].cost + mix.sent[-1].cost
    got = mix.prom.by('customer_mode:llm_router_cost_micro_usd_total:sum{mode="route"}', "customer", at=mix.t1)
    assert got == expected, f"cost per customer: Prometheus {got}, sent {expected}"
    statuses = mix.prom.by('status_mode:llm_router_requests_total:sum{mode="route"}', "status", at=mix.t1)
    assert statuses == mix.count_by("status")


def test_savings_ratio(mix: Mix) -> None:
    cost = sum(s.cost for s in mix.sent if s.status == "priced")
    baseline = sum(s.counted_baseline for s in mix.sent)
    expected = 1 - cost / baseline
    got = mix.prom.scalar('mode:llm_router_savings:ratio{mode="route"}', at=mix.t1)
    assert got is not None and math.isclose(got, expected, rel_tol=1e-12), f"savings ratio {got}, expected {expected}"
    raw = mix.prom.scalar('1 - sum(llm_router_cost_micro_usd_total) / sum(llm_router_baseline_cost_micro_usd_total)', at=mix.t1)
    assert raw is not None and math.isclose(raw, expected, rel_tol=1e-12)
    per_route = mix.prom.by('route_mode:llm_router_savings:ratio{mode="route"}', "route", at=mix.t1)
    assert set(per_route) == {"chat"} and math.isclose(per_route["chat"], expected, rel_tol=1e-12)


def test_strong_tier_share(mix: Mix) -> None:
    strong = sum(1 for s in mix.sent if s.tier in STRONG_TIERS)
    assert strong == 1
    got = mix.prom.scalar('mode:llm_router_strong_tier_requests:ratio{mode="route"}', at=mix.t1)
    assert got is not None and math.isclose(got, strong / len(mix.sent), rel_tol=1e-12), f"strong share {got}"
    per_route = mix.prom.by('route_mode:llm_router_strong_tier_requests:ratio{mode="route"}', "route", at=mix.t1)
    assert per_route == {"chat": pytest.approx(1 / mix.count_by("route")["chat"], rel=1e-12), "passthrough": 0.0}


def test_chat_and_messages_traffic_are_told_apart_by_the_api_label(mix: Mix) -> None:
    """Each API's cost lands under its own `api` label value, exactly: in Envoy's counters, in
    the shipped per-API recording rules, in `llm-router report`'s by-api table and in the
    access log."""
    expected = mix.expected_by("api")
    assert set(expected) == {"chat_completions", "messages"} and all(expected.values())
    envoy: dict[str, float] = {}
    for name, labels, value in mix.env.prometheus():
        if name == "llm_router_cost_micro_usd_total":
            envoy[labels["api"]] = envoy.get(labels["api"], 0) + value
    assert envoy == expected, f"Envoy cost by api {envoy}, sent {expected}"
    assert assert_rules_split_by(mix, "api") == expected
    savings = mix.prom.by('api_mode:llm_router_savings:ratio{mode="route"}', "api", at=mix.t1)
    for api, cost in expected.items():
        ratio = 1 - cost / mix.expected_by("api", "baseline")[api]
        assert math.isclose(savings[api], ratio, rel_tol=1e-12), (api, savings[api], ratio)
    # A customer with traffic on both APIs has a sample under each label value.
    alpha: dict[str, float] = {}
    for n, labels, v in mix.env.prometheus():
        if n == "llm_router_cost_micro_usd_total" and labels["customer"] == "m-alpha":
            alpha[labels["api"]] = alpha.get(labels["api"], 0) + v
    sent_alpha: dict[str, int] = {}
    for s in mix.sent:
        if s.customer == "m-alpha" and s.cost is not None:
            sent_alpha[s.api] = sent_alpha.get(s.api, 0) + s.cost
    assert alpha == sent_alpha and set(alpha) == {"chat_completions", "messages"}, alpha
    rep = report_json(mix)
    by_api = {row["key"]: row for row in rep["by_api"]}
    assert {k: row["cost_micro_usd"] for k, row in by_api.items()} == expected
    assert {k: row["requests"] for k, row in by_api.items()} == mix.count_by("api")
    only = report_json(mix, "--api", "messages")
    assert only["total"]["cost_micro_usd"] == expected["messages"]
    assert only["skipped"]["other_api"] == mix.count_by("api")["chat_completions"]


def test_fallback_rate_is_zero_without_fallbacks(mix: Mix) -> None:
    got = mix.prom.by("route:llm_router_fallbacks_per_request:ratio", "route", at=mix.t1)
    assert got == {"chat": 0.0, "passthrough": 0.0}


def test_every_rule_evaluates_and_every_dashboard_expr_runs(mix: Mix) -> None:
    deadline = time.monotonic() + 15
    while True:
        rules = [r for g in mix.prom.api("rules")["groups"] for r in g["rules"]]
        if all(r.get("lastEvaluation", "").startswith("2") and not r["lastEvaluation"].startswith("0001") for r in rules) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert sorted(r["name"] for r in rules) == sorted(recorded_rules())
    bad = [(r["name"], r.get("health"), r.get("lastError")) for r in rules if r.get("health") != "ok"]
    assert not bad, f"recording rules failing in Prometheus: {bad}"
    for expr in dashboard_exprs():
        # Grafana's templating function label_values(EXPR, label) is not PromQL: check EXPR.
        m = re.fullmatch(r"label_values\((.*),\s*\w+\)", expr)
        promql = (m.group(1) if m else expr).replace("$mode", "route")
        # Histogram series appear after Envoy's next stats flush (5 s), so wait a little.
        deadline = time.monotonic() + 20
        while not mix.prom.query(promql) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert mix.prom.query(promql), f"dashboard expression returns no data after the mix: {promql}"


# ---------------------------------------------------------------------------------------
# Money consistency: header / SSE summary == counters == access log == report
# ---------------------------------------------------------------------------------------
def report_json(mix: Mix, *extra: str) -> dict:
    out = run_cli("report", str(mix.env.access_log), "--format", "json", "--since", iso(mix.t0), "--until", iso(mix.t1), *extra)
    return json.loads(out.stdout)


def test_money_agrees_header_counters_access_log_report(mix: Mix) -> None:
    for s in mix.sent:
        entry = mix.env.access_entry(s.request_id)
        logged_cost = int(entry["cost_micro_usd"]) if entry.get("cost_micro_usd") else None
        logged_baseline = int(entry["baseline_cost_micro_usd"]) if entry.get("baseline_cost_micro_usd") else None
        assert entry["router_status"] == s.status, (s.name, entry)
        assert logged_cost == s.cost, f"{s.name}: access log cost {logged_cost}, expected {s.cost}"
        assert s.header_cost == s.cost, f"{s.name}: header/SSE cost {s.header_cost}, expected {s.cost}"
        assert logged_baseline == s.logged_baseline, f"{s.name}: access log baseline {logged_baseline}"
        if s.status != "usage_missing":
            assert s.header_baseline == s.logged_baseline, f"{s.name}: header baseline {s.header_baseline}"
            assert (int(entry["input_tokens"]), int(entry["output_tokens"]), int(entry["cached_tokens"])) == (s.prompt, s.completion, s.cached)
        assert (entry["customer"], entry["model"], entry["tier"], entry["route_name"]) == (s.customer, s.model, s.tier, s.route)
        assert entry["api"] == s.api, (s.name, entry)

    # Counters straight from Envoy and through Prometheus.
    expected_customers = mix.expected_by("customer")
    envoy_counts: dict[str, float] = {}
    for name, labels, value in mix.env.prometheus():
        if name == "llm_router_cost_micro_usd_total":
            envoy_counts[labels["customer"]] = envoy_counts.get(labels["customer"], 0) + value
    mix_customers = {s.customer for s in mix.sent}
    assert {c: v for c, v in envoy_counts.items() if c in mix_customers} == expected_customers
    prom = mix.prom.by("sum by (customer) (llm_router_cost_micro_usd_total)", "customer", at=mix.t1)
    assert prom == expected_customers

    # `llm-router report` over the same access log.
    rep = report_json(mix)
    by_customer = {row["key"]: row for row in rep["by_customer"]}
    assert {c: row["cost_micro_usd"] for c, row in by_customer.items() if row["cost_micro_usd"]} == expected_customers
    assert {c: row["baseline_cost_micro_usd"] for c, row in by_customer.items() if row["priced"]} == mix.expected_by("customer", "baseline")
    assert {row["key"]: row["cost_micro_usd"] for row in rep["by_route"] if row["cost_micro_usd"]} == mix.expected_by("route")
    assert {row["key"]: row["cost_micro_usd"] for row in rep["by_model"] if row["cost_micro_usd"]} == mix.expected_by("model")
    total = rep["total"]
    assert total["requests"] == len(mix.sent)
    statuses = mix.count_by("status")
    assert (total["priced"], total["unpriced"], total["usage_missing"]) == (statuses["priced"], statuses["unpriced"], statuses["usage_missing"])
    assert total["cost_micro_usd"] == sum(s.cost for s in mix.sent if s.cost is not None)
    assert total["input_tokens"] == sum(s.prompt for s in mix.sent)
    assert total["cached_tokens"] == sum(s.cached for s in mix.sent)
    assert by_customer["m-epsilon"]["unpriced"] == 1 and by_customer["m-epsilon"]["cost_micro_usd"] is None
    assert by_customer["m-zeta"]["usage_missing"] == 1
    assert rep["skipped"]["not_router"] >= 1  # the harness's readiness GET /v1/models
    assert rep["skipped"]["invalid"] == 0 and rep["skipped"]["not_json"] == 0
    # The report's savings (tenths of a percent, rounded half up from integers) and Prometheus's.
    cost, baseline = total["cost_micro_usd"], total["baseline_cost_micro_usd"]
    assert baseline == sum(s.counted_baseline for s in mix.sent)
    tenths = (2 * (baseline - cost) * 1000 + baseline) // (2 * baseline)
    assert total["savings_pct"] == tenths / 10
    ratio = mix.prom.scalar('mode:llm_router_savings:ratio{mode="route"}', at=mix.t1)
    assert ratio is not None and abs(ratio * 1000 - tenths) <= 0.5
    (mix.env.access_log.parent / "report.json").write_text(json.dumps(rep, indent=2))


def test_report_table_and_csv_over_the_access_log(mix: Mix) -> None:
    table = run_cli("report", str(mix.env.access_log), "--until", iso(mix.t1)).stdout
    (mix.env.access_log.parent / "report.txt").write_text(table)
    print("\n" + table)
    for heading in ("by api", "by model", "by route", "by tier", "by customer"):
        assert f"\n{heading}\n" in table
    csv_rows = run_cli("report", str(mix.env.access_log), "--format", "csv", "--until", iso(mix.t1)).stdout.splitlines()
    header = csv_rows[0].split(",")
    total = dict(zip(header, csv_rows[1].split(",")))
    assert total["dimension"] == "total" and int(total["cost_micro_usd"]) == sum(s.cost or 0 for s in mix.sent)
    # Re-pricing the same tokens with the same table changes nothing.
    same = report_json(mix, "--prices", str(Path(__file__).resolve().parents[2] / "src" / "default_prices.json"))
    assert same["total"]["cost_micro_usd"] == sum(s.cost or 0 for s in mix.sent)


def test_report_window_excludes_everything_before_since(mix: Mix) -> None:
    out = run_cli("report", str(mix.env.access_log), "--format", "json", "--since", iso(mix.t1 + 3600))
    rep = json.loads(out.stdout)
    assert rep["total"]["requests"] == 0 and rep["skipped"]["outside_window"] >= len(mix.sent)


# ---------------------------------------------------------------------------------------
# Fallbacks (sent last: they add requests after mix.t1)
# ---------------------------------------------------------------------------------------
def test_zz_fallback_rate(mix: Mix) -> None:
    """Two enterprise requests (policy floor: mid) whose mid upstream answers 503: each must be
    re-sent once to the next tier. With x-test-only-on the stand-in fails on mid only; either
    way exactly one fallback per request (mid -> the strongest tier)."""
    n = 2
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for rid in ids:
        h = {
            "x-request-id": rid,
            "x-customer-id": "m-fallback",
            "x-user-tier": "enterprise",
            "x-test-status": "503",
            "x-test-only-on": "mid",
            "x-test-prompt-tokens": "1000",
            "x-test-completion-tokens": "100",
        }
        post(mix.env, {"model": "auto", "messages": [{"role": "user", "content": SIMPLE}]}, h)
    for rid in ids:
        mix.env.access_entry(rid)
    chat_requests = sum(1 for s in mix.sent if s.route == "chat") + n
    got = mix.prom.wait_for("sum(llm_router_fallbacks_total)", n, timeout=20)
    assert got is not None, "llm_router_fallbacks_total is not exported: the filter does not count fallbacks"
    assert got == n, f"llm_router_fallbacks_total = {got}, sent {n} requests that fail once each"
    labels = mix.prom.query("sum by (route, tier, model) (llm_router_fallbacks_total)")
    assert [(lab["route"], lab["tier"], lab["model"]) for lab, _ in labels] == [("chat", "mid", TIERS["mid"]["model"])]
    rate = mix.prom.wait_for('route:llm_router_fallbacks_per_request:ratio{route="chat"}', n / chat_requests, timeout=15)
    assert rate is not None and math.isclose(rate, n / chat_requests, rel_tol=1e-12), f"fallback rate {rate}, expected {n}/{chat_requests}"
    rep = json.loads(run_cli("report", str(mix.env.access_log), "--format", "json").stdout)
    chat = next(row for row in rep["by_route"] if row["key"] == "chat")
    assert chat["fallbacks"] == n, f"report counts {chat['fallbacks']} fallbacks on route chat (access-log field `retry`)"
    assert chat["requests"] == chat_requests
