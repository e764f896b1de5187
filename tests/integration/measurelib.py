"""A real Prometheus (Debian package `prometheus`, installed by scripts/setup.sh) for the
integration tests: the shipped envoy-config/prometheus.yml rendered with the test Envoy's
admin port, a 1 s scrape/evaluation interval and the absolute path of the shipped
recording rules; own data directory, random free port, own process group."""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from routerlib import REPO, stack_mod

PROM_CONFIG = REPO / "envoy-config" / "prometheus.yml"
PROM_RULES = REPO / "envoy-config" / "prometheus-rules.yml"
DASHBOARD = REPO / "envoy-config" / "grafana-dashboard.json"
NAMES_RS = REPO / "src" / "names.rs"

SHIPPED_TARGET = "127.0.0.1:9901"


def prometheus_binary() -> str | None:
    return os.environ.get("LLM_ROUTER_PROMETHEUS") or shutil.which("prometheus")


def promtool_binary() -> str | None:
    return os.environ.get("LLM_ROUTER_PROMTOOL") or shutil.which("promtool")


def render_prometheus_config(text: str, admin_port: int, rules: Path, interval: str = "1s") -> str:
    """The shipped config with the scrape target, intervals and rule-file path substituted
    (comment lines left alone); each literal must occur exactly once outside comments so an
    edit that breaks this fails loudly."""
    lines = text.splitlines(keepends=True)
    for old, new in (
        (SHIPPED_TARGET, f"127.0.0.1:{admin_port}"),
        ("scrape_interval: 15s", f"scrape_interval: {interval}"),
        ("evaluation_interval: 15s", f"evaluation_interval: {interval}"),
        ("- prometheus-rules.yml", f"- {rules}"),
    ):
        hits = [i for i, line in enumerate(lines) if not line.lstrip().startswith("#") and old in line]
        if len(hits) != 1 or lines[hits[0]].count(old) != 1:
            raise ValueError(f"expected exactly one {old!r} outside comments in {PROM_CONFIG}, found {len(hits)}")
        lines[hits[0]] = lines[hits[0]].replace(old, new)
    return "".join(lines)


def recorded_rules(path: Path = PROM_RULES) -> list[str]:
    """Names of the recording rules in the rules file."""
    return re.findall(r"^\s*-\s*record:\s*(\S+)\s*$", path.read_text(), re.M)


def router_metric_names(path: Path = NAMES_RS) -> set[str]:
    """Every llm_router_* series name the filter can export (src/names.rs `stat` module), with
    the _bucket/_sum/_count series of the histograms."""
    text = path.read_text()
    stat_block = text[text.index("pub mod stat {") :]
    stat_block = stat_block[: stat_block.index("\n}\n")]
    names = set(re.findall(r'pub const \w+: &str = "(llm_router_\w+)";', stat_block))
    histograms = {n for n in names if not n.endswith("_total")}
    for h in histograms:
        names |= {h + "_bucket", h + "_sum", h + "_count"}
    return names


def llm_router_identifiers(expr: str) -> set[str]:
    """Metric or rule names in a PromQL expression that belong to llm-router (label values in
    quotes are ignored)."""
    no_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    return {t for t in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", no_strings) if "llm_router" in t}


# --------------------------------------------------------------------------------------
# Reference pricing, independent of the Rust code: the embedded table read with Decimal,
# USD per Mtok -> integer micro-USD per Mtok, cost rounded half up once per request.
# --------------------------------------------------------------------------------------
PRICES_JSON = REPO / "src" / "default_prices.json"


def load_prices(path: Path = PRICES_JSON) -> dict[str, dict[str, int]]:
    table = json.loads(path.read_text(), parse_float=Decimal)
    out: dict[str, dict[str, int]] = {}
    for m in table["models"]:
        rates = {
            "input": int(Decimal(m["input_per_mtok"]) * 1_000_000),
            "cached": int(Decimal(m.get("cached_input_per_mtok", m["input_per_mtok"])) * 1_000_000),
            "output": int(Decimal(m["output_per_mtok"]) * 1_000_000),
        }
        for name in [m["id"], *m.get("aliases", [])]:
            out[name] = rates
    return out


PRICES = load_prices()


def expected_cost(model: str, prompt: int, completion: int, cached: int = 0) -> int:
    """Integer micro-USD: round_half_up(((prompt-cached)*in + cached*cached_rate + completion*out) / 1e6)."""
    p = PRICES[model]
    exact = (prompt - cached) * p["input"] + cached * p["cached"] + completion * p["output"]
    return (exact + 500_000) // 1_000_000


# --------------------------------------------------------------------------------------
# The native CLI
# --------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def cli_binary() -> str:
    """$LLM_ROUTER_CLI, else `cargo build --bin llm-router` (a no-op after `cargo test`)."""
    explicit = os.environ.get("LLM_ROUTER_CLI")
    if explicit:
        return explicit
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo" / "bin" / "cargo")
    proc = subprocess.run([cargo, "build", "--quiet", "--bin", "llm-router"], cwd=REPO, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"cargo build --bin llm-router failed:\n{proc.stderr[-3000:]}")
    return str(REPO / "target" / "debug" / "llm-router")


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([cli_binary(), *args], input=stdin, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"llm-router {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}"
    return proc


class Prometheus:
    def __init__(self, workdir: Path, admin_port: int) -> None:
        self.workdir = Path(workdir)
        self.admin_port = admin_port
        self.port = stack_mod.free_ports(1)[0]
        self.proc: subprocess.Popen | None = None
        self.log = self.workdir / "prometheus.log"
        self.http = requests.Session()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        binary = prometheus_binary()
        if binary is None:
            raise RuntimeError("prometheus not found: run scripts/setup.sh (apt package `prometheus`) or set LLM_ROUTER_PROMETHEUS")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(render_prometheus_config(PROM_CONFIG.read_text(), self.admin_port, PROM_RULES.resolve()))
        argv = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=str(self.workdir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=stack_mod._die_with_parent,  # noqa: PLW1509
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{stack_mod.tail(self.log)}")
            try:
                if self.http.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready after {timeout:.0f}s:\n{stack_mod.tail(self.log)}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        self.proc = None

    # -- HTTP API ---------------------------------------------------------------------
    def api(self, path: str, **params: Any) -> Any:
        r = self.http.get(self.url + "/api/v1/" + path, params=params, timeout=10)
        body = r.json()
        assert r.status_code == 200 and body.get("status") == "success", f"prometheus {path} {params}: {r.status_code} {body}"
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[tuple[dict[str, str], float]]:
        """An instant query: [(labels, value)]."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", **params)
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(s["metric"], float(s["value"][1])) for s in data["result"]]

    def by(self, expr: str, label: str, at: float | None = None) -> dict[str, float]:
        """Instant query keyed by one label."""
        out: dict[str, float] = {}
        for labels, value in self.query(expr, at):
            key = labels.get(label, "")
            assert key not in out, f"{expr}: several series with {label}={key!r}"
            out[key] = value
        return out

    def scalar(self, expr: str, at: float | None = None) -> float | None:
        result = self.query(expr, at)
        assert len(result) <= 1, f"{expr}: expected at most one series, got {result}"
        return result[0][1] if result else None

    def wait_for(self, expr: str, expected: float, timeout: float = 30.0) -> float | None:
        """Poll an instant query until it has one series equal to `expected` (or time out);
        returns the last value seen."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.scalar(expr)
            if value is not None and math.isclose(value, expected, rel_tol=0, abs_tol=1e-9):
                return value
            time.sleep(0.3)
        return value

    def targets_up(self) -> list[dict]:
        return [t for t in self.api("targets")["activeTargets"] if t.get("health") == "up"]
