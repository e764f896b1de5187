"""Helpers for the integration tests: the shipped filter config, Prometheus
parsing, and `Env`, a handle on the running stack (Envoy + fake upstreams)."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import openai
import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import stack as stack_mod  # noqa: E402  (scripts/stack.py)

ROUTER_HEADER_PREFIX = "x-llm-router-"


# --------------------------------------------------------------------------------------
# The filter configuration shipped in envoy-config/envoy.yaml (the JSON inside
# `configuration.value`), so tests follow the config instead of repeating it.
# --------------------------------------------------------------------------------------
def load_plugin_config(path: Path = stack_mod.CONFIG) -> dict:
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "value: |":
            indent = len(line) - len(line.lstrip()) + 1
            block = []
            for nxt in lines[i + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) < indent:
                    break
                block.append(nxt)
            return json.loads("\n".join(block))
    raise AssertionError(f"no 'value: |' plugin configuration block in {path}")


PLUGIN_CONFIG = load_plugin_config()
TIERS: dict[str, dict] = {t["name"]: t for t in PLUGIN_CONFIG["tiers"]}
TIER_ORDER: list[str] = [t["name"] for t in PLUGIN_CONFIG["tiers"]]
# Stand-in upstream names are the tier names, plus "default" for llm_default.
UPSTREAM_OF_CLUSTER = {cluster: name for name, cluster in stack_mod.UPSTREAMS.items()}


def upstream_for_tier(tier: str) -> str:
    return UPSTREAM_OF_CLUSTER[TIERS[tier]["cluster"]]


# --------------------------------------------------------------------------------------
# Prometheus text parsing
# --------------------------------------------------------------------------------------
_PROM_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$")
_PROM_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _PROM_LINE.match(line)
        if not m:
            continue
        name, labels, value = m.groups()
        try:
            number = float(value)
        except ValueError:
            continue
        samples.append((name, dict(_PROM_LABEL.findall(labels or "")), number))
    return samples


# --------------------------------------------------------------------------------------
# The running stack and helpers bound to it
# --------------------------------------------------------------------------------------
class Env:
    def __init__(self, stack: stack_mod.Stack) -> None:
        self.stack = stack
        self.http = requests.Session()
        self.access_log = Path(stack.access_log or "")

    # urls
    @property
    def base_url(self) -> str:
        return self.stack.listener_url

    @property
    def admin_url(self) -> str:
        return self.stack.admin_url

    def client(self, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.stack.listener_url + "/v1", api_key="dummy", max_retries=0, timeout=60.0, **kwargs
        )

    # upstream stand-ins
    def reset_upstreams(self) -> None:
        for name in stack_mod.UPSTREAMS:
            requests.post(self.stack.upstream_url(name) + "/_reset", timeout=5).raise_for_status()

    def history(self, upstream: str) -> list[dict]:
        r = requests.get(self.stack.upstream_url(upstream) + "/_history", timeout=5)
        r.raise_for_status()
        return r.json()

    def last(self, upstream: str) -> dict:
        r = requests.get(self.stack.upstream_url(upstream) + "/_last", timeout=5)
        assert r.status_code == 200, f"upstream {upstream} has recorded no request"
        return r.json()

    def upstreams_hit(self) -> dict[str, int]:
        """Upstream name -> number of requests it received since the last reset."""
        return {name: len(h) for name in stack_mod.UPSTREAMS if (h := self.history(name))}

    # admin
    def prometheus_text(self) -> str:
        r = requests.get(self.admin_url + "/stats/prometheus", timeout=10)
        r.raise_for_status()
        return r.text

    def prometheus(self) -> list[tuple[str, dict[str, str], float]]:
        return parse_prometheus(self.prometheus_text())

    def metric_sum(self, name: str, **labels: str) -> float:
        return sum(
            value
            for n, lab, value in self.prometheus()
            if n == name and all(lab.get(k) == v for k, v in labels.items())
        )

    def wait_metric(self, name: str, at_least: float, timeout: float = 10.0, **labels: str) -> float:
        deadline = time.monotonic() + timeout
        value = self.metric_sum(name, **labels)
        while value < at_least and time.monotonic() < deadline:
            time.sleep(0.2)
            value = self.metric_sum(name, **labels)
        return value

    def stat_value(self, name: str) -> float | None:
        r = requests.get(self.admin_url + "/stats", params={"format": "json", "filter": f"^{re.escape(name)}$"}, timeout=10)
        r.raise_for_status()
        for stat in r.json().get("stats", []):
            if stat.get("name") == name:
                return float(stat.get("value", 0))
        return None

    def ready(self) -> bool:
        try:
            r = requests.get(self.admin_url + "/ready", timeout=3)
            return r.status_code == 200 and "LIVE" in r.text
        except requests.RequestException:
            return False

    # access log
    def access_entry(self, request_id: str, timeout: float = 15.0) -> dict:
        """The JSON access-log line for x-request-id, waiting for Envoy's periodic flush."""
        deadline = time.monotonic() + timeout
        while True:
            if self.access_log.exists():
                for line in self.access_log.read_text(errors="replace").splitlines():
                    if request_id in line:
                        return json.loads(line)
            if time.monotonic() > deadline:
                raise AssertionError(f"no access-log line with request_id {request_id} in {self.access_log} after {timeout}s")
            time.sleep(0.2)

    def envoy_log_tail(self, lines: int = 60) -> str:
        return stack_mod.tail(self.stack.envoy_log, lines)


def assert_no_router_headers(headers: dict[str, str]) -> None:
    leaked = {k: v for k, v in headers.items() if k.lower().startswith(ROUTER_HEADER_PREFIX)}
    assert not leaked, f"upstream received x-llm-router-* headers: {leaked}"


def find(pred: Callable[[Any], bool], items: list) -> Any:
    return next((x for x in items if pred(x)), None)


# --------------------------------------------------------------------------------------
# Variants of the shipped Envoy config with a different plugin configuration
# --------------------------------------------------------------------------------------
def config_with_plugin(plugin: dict, path: Path = stack_mod.CONFIG) -> str:
    """The shipped Envoy config text with the plugin JSON (`configuration.value`) replaced."""
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "value: |":
            indent = len(line) - len(line.lstrip()) + 2
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) >= indent):
                end += 1
            block = [" " * indent + row for row in json.dumps(plugin, indent=2).splitlines()]
            return "\n".join(lines[: i + 1] + block + lines[end:]) + "\n"
    raise AssertionError(f"no 'value: |' plugin configuration block in {path}")


def start_stack(workdir: Path, config_text: str | None = None, concurrency: int = 1) -> stack_mod.Stack:
    """Start stand-ins + Envoy on free ports from `config_text` (default: the shipped config)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = stack_mod.CONFIG
    if config_text is not None:
        config = workdir / "envoy.variant.yaml"
        config.write_text(config_text)
    stack = stack_mod.Stack(workdir, stack_mod.random_ports(), access_log=str(workdir / "access.log"), concurrency=concurrency, config=config)
    try:
        stack.start(timeout=120)
    except BaseException:
        stack.stop()
        raise
    return stack


# Envoy's own wasm health stats (names as in Envoy 1.40's /stats).

@contextlib.contextmanager
def plugin_env(workdir: Path, plugin: dict, what: str) -> Iterator[Env]:
    """A further Envoy (and stand-ins) with the shipped config but this plugin configuration, for
    a fixture that needs another setting than the session's Envoy; stopped on exit."""
    try:
        stack = start_stack(workdir, config_with_plugin(plugin), concurrency=1)
    except (RuntimeError, SystemExit) as exc:
        pytest.fail(f"could not start {what}: {exc}", pytrace=False)
    try:
        yield Env(stack)
    finally:
        stack.stop()

def wasm_health(env: "Env") -> dict[str, float]:
    r = requests.get(env.admin_url + "/stats", params={"format": "json"}, timeout=10)
    r.raise_for_status()
    out = {}
    for stat in r.json().get("stats", []):
        name = stat.get("name", "")
        if name.startswith("wasm") and "value" in stat:
            out[name] = float(stat["value"])
    return out
