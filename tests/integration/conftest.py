"""Integration-test harness: four fake LLM upstreams + Envoy running the llm-router wasm filter.

Nothing is built here. The wasm must already exist
(target/wasm32-wasip1/release/llm_router_filter.wasm, from scripts/build.sh);
the session fails with a clear message if it does not.

The shipped envoy-config/envoy.yaml is run with random free ports and the access
log sent to a file (see scripts/stack.py). Logs go to tmp/integration/ (or
$LLM_ROUTER_TEST_TMP): envoy.log, access.log, upstream-*.log, the rendered
config and prometheus-sample.txt.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import openai
import pytest

from routerlib import PLUGIN_CONFIG, REPO, Env, plugin_env, stack_mod

_current_stack: stack_mod.Stack | None = None


@pytest.fixture(scope="session")
def workdir() -> Path:
    path = Path(os.environ.get("LLM_ROUTER_TEST_TMP") or (REPO / "tmp" / "integration")).resolve()
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def wasm_file() -> Path:
    wasm = stack_mod.wasm_path()
    if not wasm.exists():
        pytest.fail(
            f"the llm-router filter is not built: {wasm} is missing.\n"
            "Build it with `bash scripts/build.sh` (or run everything with `bash scripts/test.sh`).",
            pytrace=False,
        )
    return wasm


@pytest.fixture(scope="session")
def env(workdir: Path, wasm_file: Path) -> Iterator[Env]:
    """Start the 4 upstream stand-ins and Envoy (--concurrency 1) once per session."""
    global _current_stack
    stack = stack_mod.Stack(workdir, stack_mod.random_ports(), access_log=str(workdir / "access.log"), concurrency=1)
    _current_stack = stack
    try:
        waited = stack.start(timeout=120)
    except (RuntimeError, SystemExit) as exc:
        stack.stop()
        _current_stack = None
        pytest.fail(f"could not start Envoy + upstreams: {exc}", pytrace=False)
    print(f"\n[harness] Envoy ready after {waited:.1f}s: listener {stack.listener_url}, admin {stack.admin_url}, logs in {workdir}")
    try:
        yield Env(stack)
    finally:
        stack.stop()
        _current_stack = None


# The second Envoy: the shipped config with this plugin configuration instead (fail-closed,
# hashed customer label capped at 50, and max_request_bytes above Envoy's 8 MiB buffer limit so
# that Envoy's own 413 shows). Started only by the tests that use `alt_env`.
ALT_PLUGIN_CONFIG = dict(
    PLUGIN_CONFIG,
    fail_closed=True,
    max_request_bytes=16 * 1024 * 1024,
    customer={"header": "x-customer-id", "hash": True, "max_distinct": 50},
    # Each API section has its own settings: the Messages and Responses sections fail closed too.
    apis={
        "messages": dict(PLUGIN_CONFIG["apis"]["messages"], fail_closed=True),
        "responses": dict(PLUGIN_CONFIG["apis"]["responses"], fail_closed=True),
    },
)


@pytest.fixture(scope="session")
def alt_env(workdir: Path, wasm_file: Path) -> Iterator[Env]:
    with plugin_env(workdir / "alt", ALT_PLUGIN_CONFIG, "the second Envoy (fail-closed config)") as env:
        yield env


@pytest.fixture(autouse=True)
def _fresh_upstreams(request: pytest.FixtureRequest) -> None:
    """Each test that uses the stack starts with empty upstream request histories."""
    for name in ("env", "alt_env"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset_upstreams()


@pytest.fixture
def client(env: Env) -> openai.OpenAI:
    """The official OpenAI client pointed at Envoy (base_url .../v1, api_key dummy)."""
    return env.client()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On failure, attach the tail of Envoy's log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _current_stack is not None:
        try:
            lines = _current_stack.envoy_log.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        relevant = [line for line in lines if re.search(r"\]\[(wasm|warning|error|critical)\]", line)]
        report.sections.append(
            (f"envoy.log: wasm/warning/error lines, last 40 (full log: {_current_stack.envoy_log})", "\n".join(relevant[-40:]))
        )
