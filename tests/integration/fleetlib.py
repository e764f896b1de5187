"""Helpers for the fleet-budget tests: the rate-limit stand-in (tests/upstream/fake_ratelimit.py)
as a child process, and envoy-config/fleet.yaml rendered to talk to it.

The stand-in is started like the LLM stand-ins in scripts/stack.py: its own process group, a
SIGTERM when the launcher dies, stopped by its process group only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests
import yaml

from routerlib import REPO, stack_mod

FLEET_YAML = REPO / "envoy-config" / "fleet.yaml"
FAKE_RATELIMIT = REPO / "tests" / "upstream" / "fake_ratelimit.py"
SHIPPED_RATELIMIT_PORT = 18081
DOMAIN = "llm_router"
DESCRIPTOR_KEY = "llm_router_budget"


def fleet_config_text(ratelimit_port: int) -> str:
    """envoy-config/fleet.yaml with the rate-limit cluster on this port (the other ports are
    rendered by scripts/stack.py as for envoy.yaml)."""
    text = FLEET_YAML.read_text()
    literal = f"port_value: {SHIPPED_RATELIMIT_PORT}"
    if text.count(literal) != 1:
        raise AssertionError(f"expected exactly one '{literal}' (rate-limit cluster) in {FLEET_YAML}")
    return text.replace(literal, f"port_value: {ratelimit_port}")


class RateLimitService:
    """The stand-in rate-limit service with a limits file; `counts()` and `calls()` read what it
    recorded, `stop()` / `start()` take it down and bring it back on the same ports."""

    def __init__(self, workdir: Path, limits: dict) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "limits.yaml"
        self.config.write_text(yaml.safe_dump(limits, sort_keys=False))
        self.grpc_port, self.http_port = stack_mod.free_ports(2)
        self.log = workdir / "ratelimit.log"
        # Stack's child handling (own process group, SIGTERM when the launcher dies, stop by
        # process group) with this one child instead of Envoy and the LLM stand-ins.
        self.procs = stack_mod.Stack(workdir)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 20.0) -> None:
        argv = [
            stack_mod.python_binary(), str(FAKE_RATELIMIT),
            "--port", str(self.grpc_port), "--http-port", str(self.http_port), "--config", str(self.config),
        ]
        proc = self.procs._spawn("ratelimit", argv, self.log)
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"fake rate-limit service exited with {proc.returncode}:\n{stack_mod.tail(self.log)}")
            try:
                if requests.get(self.url + "/_health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"fake rate-limit service not up after {timeout}s:\n{stack_mod.tail(self.log)}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.procs.stop()

    def snapshot(self) -> dict:
        r = requests.get(self.url + "/_counts", timeout=5)
        r.raise_for_status()
        return r.json()

    def count(self, customer: str) -> int:
        return int(self.snapshot()["counts"].get(f"{DOMAIN}|{DESCRIPTOR_KEY}={customer}", 0))

    def calls(self, customer: str) -> list[dict]:
        """The ShouldRateLimit calls whose descriptor names this customer, oldest first."""
        entry = [DESCRIPTOR_KEY, customer]
        return [c for c in self.snapshot()["calls"] if any(entry in d["entries"] for d in c["descriptors"])]

    def wait_count(self, customer: str, expected: int, timeout: float = 15.0) -> int:
        """The customer's count once it equals `expected` (stream-done calls are sent after the
        answer, so they may land a moment after the client has read it), else after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.count(customer)
            if got == expected or time.monotonic() > deadline:
                return got
            time.sleep(0.1)

    def wait_calls(self, customer: str, n: int, timeout: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            calls = self.calls(customer)
            if len(calls) >= n or time.monotonic() > deadline:
                return calls
            time.sleep(0.1)


def hits(call: dict) -> int | None:
    """The per-descriptor hits_addend of a call with one descriptor (None: Envoy sent none)."""
    (descriptor,) = call["descriptors"]
    return descriptor["hits_addend"]


def stream_comment(text: str) -> dict:
    """The `: llm-router {...}` SSE comment the router appends to a stream (its cost record)."""
    lines = [line for line in text.splitlines() if line.startswith(": llm-router ")]
    assert len(lines) == 1, text[-500:]
    return json.loads(lines[0][len(": llm-router ") :])
