"""Shadow sampling through real Envoy (docs/shadow.md): sampled requests are re-sent to the
reference tier from the root context after the client's answer, and one record per sample is
POSTed to a sink stand-in (tests/upstream/fake_sink.py, in this process).

One Envoy (one worker) runs the shipped configuration plus `shadow` sections:
  - chat completions: `cheap` at 10% (the rate test), `mid` at 100% (every other chat case),
    reference `frontier`, a budget no test reaches;
  - Messages: every tier below the reference at 100%, a budget of 1 micro-USD per minute (the
    first call's reserved estimate spends it, so the next ones are skipped);
  - Responses: every tier below the reference at 100%, reference `openai-frontier` moved to a
    cluster on a closed port (a reference upstream that is down).
"""
from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import math
import statistics
import threading
import sys
import time
import uuid
from pathlib import Path
from typing import Iterator

import anthropic
import pytest
import requests

from measurelib import expected_cost, run_cli
from routerlib import PLUGIN_CONFIG, REPO, Env, config_with_plugin, start_stack, stack_mod

sys.path.insert(0, str(REPO / "tests" / "upstream"))

import fake_sink  # noqa: E402

SINK = "shadow_sink"
DEAD = "llm_dead"
RATE = 0.1
N = 1000
TOKENS = {"x-test-prompt-tokens": "120", "x-test-completion-tokens": "30"}
RECORD_KEYS = {
    "version", "id", "time", "route", "api", "customer", "tier", "score", "reason", "json_requested",
    "prompt", "prompt_truncated", "routed", "reference",
}
SIDE_KEYS = {
    "model", "text", "text_truncated", "finish", "status", "input_tokens", "output_tokens", "cost_micro_usd", "error",
}
FINISHES = {"stop", "length", "tool_calls", "content_filter", "other", None}


def plugin() -> dict:
    p = copy.deepcopy(PLUGIN_CONFIG)
    common = {"sink_cluster": SINK, "sink_path": "/v1/samples", "max_text_bytes": 4096}
    p["shadow"] = {"rates": {"cheap": RATE, "mid": 1.0}, "budget_micro_usd_per_minute": 10**9, **common}
    msgs = p["apis"]["messages"]
    msgs["shadow"] = {"rate": 1.0, "budget_micro_usd_per_minute": 1, **common}
    resp = p["apis"]["responses"]
    resp["shadow"] = {"rate": 1.0, "budget_micro_usd_per_minute": 10**9, "reference_timeout_ms": 5000, **common}
    for t in resp["tiers"]:
        if t["name"] == "openai-frontier":
            t["cluster"] = DEAD
    return p


def cluster_yaml(name: str, port: int) -> str:
    return f"""  - name: {name}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: 127.0.0.1, port_value: {port} }}
"""


def with_clusters(text: str, sink_port: int, dead_port: int) -> str:
    marker = "  clusters:\n"
    assert text.count(marker) == 1
    return text.replace(marker, marker + cluster_yaml(SINK, sink_port) + cluster_yaml(DEAD, dead_port))


class Shadow:
    def __init__(self, env: Env, sink: fake_sink.Sink, server, port: int) -> None:
        self.env, self.sink, self.server, self.port = env, sink, server, port

    def records(self) -> list[dict]:
        with self.sink.lock:
            return list(self.sink.records)

    def record(self, request_id: str, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [r for r in self.records() if r.get("id") == request_id]
            if found:
                assert len(found) == 1, found
                return found[0]
            time.sleep(0.05)
        shadow_stats = [x for x in self.env.prometheus() if x[0].startswith("llm_router_shadow")]
        log = [line for line in self.env.envoy_log_tail(400).splitlines() if "llm-router" in line][-10:]
        raise AssertionError(f"no sample record for {request_id}; stats: {shadow_stats}; envoy log: {log}")

    def outcome(self, outcome: str, **labels: str) -> float:
        return self.env.metric_sum("llm_router_shadow_total", outcome=outcome, **labels)


@pytest.fixture(scope="module")
def shadow(workdir: Path, wasm_file: Path) -> Iterator[Shadow]:
    sink_port, dead_port = stack_mod.free_ports(2)
    server, sink = fake_sink.start(sink_port)
    text = with_clusters(config_with_plugin(plugin()), sink_port, dead_port)
    try:
        stack = start_stack(workdir / "shadow", text, concurrency=1)
    except BaseException:
        server.shutdown()
        raise
    try:
        yield Shadow(Env(stack), sink, server, sink_port)
    finally:
        stack.stop()
        server.shutdown()
        server.server_close()


def check_record(rec: dict, api: str) -> None:
    """The documented record format, version 1."""
    assert set(rec) == RECORD_KEYS, rec
    assert rec["version"] == 1 and rec["api"] == api
    assert dt.datetime.strptime(rec["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert isinstance(rec["score"], (float, int, type(None))) and isinstance(rec["json_requested"], bool)
    assert isinstance(rec["prompt"], str) and isinstance(rec["prompt_truncated"], bool)
    assert set(rec["routed"]) == SIDE_KEYS, rec["routed"]
    assert set(rec["reference"]) == SIDE_KEYS | {"tier"}, rec["reference"]
    for side in ("routed", "reference"):
        s = rec[side]
        assert s["finish"] in FINISHES and isinstance(s["status"], int) and isinstance(s["text"], str)
        assert len(s["text"].encode()) <= 4096 and len(rec["prompt"].encode()) <= 4096
        if s["error"] is not None:
            assert s["text"] == "" or side == "routed"
        for k in ("input_tokens", "output_tokens", "cost_micro_usd"):
            assert s[k] is None or (isinstance(s[k], int) and s[k] >= 0), (side, k, s[k])


def chat(session: requests.Session, env: Env, tier_headers: dict, body: dict | None = None, **extra: str) -> requests.Response:
    headers = {"x-request-id": str(uuid.uuid4()), "x-customer-id": "acme", **TOKENS, **tier_headers, **extra}
    body = body or {"model": "auto", "messages": [{"role": "user", "content": "summarize the meeting notes"}]}
    return session.post(f"{env.base_url}/v1/chat/completions", json=body, headers=headers, timeout=30)


CHEAP = {"x-feature": "summarization"}  # the shipped `summarization` rule: cheap
MID = {"x-user-tier": "enterprise"}  # `min_tier: mid` on a low score: mid


def test_10_percent_of_1000_requests_are_shadowed_and_nothing_the_client_sees_changes(shadow: Shadow, tmp_path: Path) -> None:
    env, session = shadow.env, requests.Session()
    before = {
        n: env.metric_sum(n)
        for n in ("llm_router_cost_micro_usd_total", "llm_router_baseline_cost_micro_usd_total", "llm_router_shadow_cost_micro_usd_total")
    }
    sampled_before = shadow.outcome("sampled", tier="cheap")
    answers: dict[str, tuple[float, requests.Response]] = {}
    for _ in range(N):
        t0 = time.perf_counter()
        r = chat(session, env, CHEAP)
        elapsed = time.perf_counter() - t0
        assert r.status_code == 200, r.text
        answers[r.request.headers["x-request-id"]] = (elapsed, r)
    sampled = shadow.outcome("sampled", tier="cheap") - sampled_before
    # Binomial(1000, 0.1): mean 100, sigma 9.5; 4 sigma either way.
    sigma = math.sqrt(N * RATE * (1 - RATE))
    assert N * RATE - 4 * sigma <= sampled <= N * RATE + 4 * sigma, sampled

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        records = [r for r in shadow.records() if r["id"] in answers]
        if len(records) >= sampled:
            break
        time.sleep(0.1)
    assert len(records) == sampled, (len(records), sampled, env.envoy_log_tail())
    assert len({r["id"] for r in records}) == len(records)

    routed_cost = expected_cost("gpt-5-nano", 120, 30)
    reference_cost = expected_cost("claude-sonnet-4.6", 120, 30)
    for rec in records:
        check_record(rec, "chat_completions")
        _, resp = answers[rec["id"]]
        assert (rec["route"], rec["tier"], rec["customer"], rec["reason"]) == ("chat", "cheap", "acme", "rule:summarization")
        assert rec["prompt"] == "user: summarize the meeting notes" and not rec["prompt_truncated"]
        routed, ref = rec["routed"], rec["reference"]
        assert routed == {
            "model": "gpt-5-nano", "text": resp.json()["choices"][0]["message"]["content"], "text_truncated": False,
            "finish": "stop", "status": 200, "input_tokens": 120, "output_tokens": 30,
            "cost_micro_usd": routed_cost, "error": None,
        }
        assert int(resp.headers["x-llm-router-cost-micro-usd"]) == routed_cost
        assert ref["tier"] == "frontier" and ref["model"] == "claude-sonnet-4.6" and ref["error"] is None
        assert (ref["status"], ref["input_tokens"], ref["output_tokens"]) == (200, 120, 30)
        assert ref["cost_micro_usd"] == reference_cost
        assert "claude-sonnet-4.6" in ref["text"], ref["text"]  # the stand-in names the model it answered as
    assert shadow.outcome("ok", tier="cheap") >= sampled

    # The routed cost and savings counters hold the clients' requests only; shadow costs have
    # their own counter.
    cost = sum(int(r.headers["x-llm-router-cost-micro-usd"]) for _, r in answers.values())
    baseline = sum(int(r.headers["x-llm-router-baseline-cost-micro-usd"]) for _, r in answers.values())
    assert env.metric_sum("llm_router_cost_micro_usd_total") - before["llm_router_cost_micro_usd_total"] == cost
    assert env.metric_sum("llm_router_baseline_cost_micro_usd_total") - before["llm_router_baseline_cost_micro_usd_total"] == baseline
    shadow_cost = env.metric_sum("llm_router_shadow_cost_micro_usd_total", tier="cheap", model="claude-sonnet-4.6")
    assert shadow_cost - before["llm_router_shadow_cost_micro_usd_total"] == sampled * reference_cost

    # Bodies: sampled and unsampled answers have the same shape and content (ids and times
    # aside), and the access log marks only the sampled ones.
    ids = {rec["id"] for rec in records}

    def normalized(r: requests.Response) -> dict:
        body = r.json()
        body.pop("id"), body.pop("created")
        return body

    shapes = {json.dumps(normalized(r), sort_keys=True) for _, r in answers.values()}
    assert len(shapes) == 1, shapes
    some_sampled, some_unsampled = sorted(ids)[0], sorted(set(answers) - ids)[0]
    assert env.access_entry(some_sampled)["shadow"] == "sampled"
    assert env.access_entry(some_unsampled)["shadow"] in ("", "-", None)

    # Latency: the shadow call is made after the answer, from the root context. Medians of the
    # two groups within 50% + 5 ms of each other (a noisy, shared 2-core machine).
    lat_s = statistics.median(answers[i][0] for i in ids)
    lat_u = statistics.median(answers[i][0] for i in set(answers) - ids)
    assert lat_s <= lat_u * 1.5 + 0.005, (lat_s, lat_u)
    assert lat_u <= lat_s * 1.5 + 0.005, (lat_s, lat_u)

    # The records as the operator gets them go through the offline steps (docs/quality.md):
    # `judge --heuristic`, then `report --quality`, whose costs are the records' own.
    samples, judged = tmp_path / "samples.jsonl", tmp_path / "judged.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in records))
    run_cli("judge", str(samples), "--output", str(judged), "--heuristic")
    out = [json.loads(line) for line in judged.read_text().splitlines()]
    assert sorted(r["id"] for r in out) == sorted(ids)
    # The stand-ins answer alike whatever the tier: the heuristic finds nothing wrong.
    assert {r["judgement"]["verdict"] for r in out} == {"tie"}, {r["judgement"]["verdict"] for r in out}
    report = json.loads(run_cli("report", "--quality", str(judged), "--format", "json").stdout)
    (group,) = report["groups"]
    assert (group["route"], group["tier"], group["model"]) == ("chat", "cheap", "gpt-5-nano")
    assert (group["samples"], group["judged"], group["loss"], group["quality_gap"]) == (sampled, sampled, 0, 0.0)
    assert group["routed_cost_micro_usd"] == sampled * routed_cost
    assert group["reference_cost_micro_usd"] == sampled * reference_cost


def test_sampled_answers_reach_the_client_byte_for_byte(shadow: Shadow) -> None:
    env, session = shadow.env, requests.Session()
    raw = json.dumps(
        {
            "id": "chatcmpl-raw", "object": "chat.completion", "created": 1, "model": "claude-haiku-4.5",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "raw bytes"}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        },
        separators=(",", ":"),
    ).encode() + b"  \n"
    r = chat(session, env, MID, **{"x-test-raw-body-b64": base64.b64encode(raw).decode(), "x-test-only-on": "mid"})
    assert r.status_code == 200 and r.content == raw
    rec = shadow.record(r.request.headers["x-request-id"])
    check_record(rec, "chat_completions")
    assert rec["tier"] == "mid" and rec["routed"]["text"] == "raw bytes" and rec["routed"]["finish"] == "length"
    assert (rec["routed"]["input_tokens"], rec["routed"]["output_tokens"]) == (11, 7)
    # A stream: what the client gets is the upstream's stream (less the usage chunk the router
    # asked for) plus the router's comment, as for any stream.
    body = {"model": "auto", "stream": True, "messages": [{"role": "user", "content": "stream it"}]}
    r = chat(session, env, MID, body=body, **{"x-test-sse-comments": "1"})
    assert r.status_code == 200
    events = r.content[: r.content.rindex(b": llm-router ")]
    assert hashlib.sha256(events).hexdigest() == r.headers["x-test-body-sha256-without-usage"]
    rec = shadow.record(r.request.headers["x-request-id"])
    assert rec["routed"]["text"] and rec["routed"]["finish"] == "stop"
    assert rec["reference"]["status"] == 200 and rec["reference"]["error"] is None


def test_streams_are_shadowed_as_non_streaming_calls_with_the_openai_sdk(shadow: Shadow) -> None:
    env = shadow.env
    rid = str(uuid.uuid4())
    client = env.client(default_headers={**MID, **TOKENS, "x-request-id": rid})
    stream = client.chat.completions.create(
        model="auto", stream=True, messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    entry = env.access_entry(rid)
    assert (entry["tier"], entry["shadow"]) == ("mid", "sampled"), entry
    rec = shadow.record(rid)
    check_record(rec, "chat_completions")
    assert rec["routed"]["text"] == text and rec["routed"]["model"] == "claude-haiku-4.5"
    assert rec["prompt"] == "system: Be brief.\nuser: hello"
    sent = [h["json"] for h in env.history("frontier") if h["headers"].get("x-request-id") == rid]
    assert len(sent) == 1, sent
    assert sent[0]["model"] == "claude-sonnet-4.6" and "stream" not in sent[0] and "stream_options" not in sent[0]
    assert sent[0]["messages"][1] == {"role": "user", "content": "hello"}
    assert rec["reference"]["text"] and rec["reference"]["output_tokens"] == 30


def test_messages_with_the_anthropic_sdk_then_the_budget_per_minute_caps_calls(shadow: Shadow) -> None:
    env = shadow.env
    client = anthropic.Anthropic(base_url=env.base_url, api_key="dummy", max_retries=0, timeout=60.0)
    ok_before = shadow.outcome("ok", api="messages")
    skipped_before = shadow.outcome("skipped_budget", api="messages")
    ids = []
    for i in range(8):
        rid = f"msg-{uuid.uuid4()}"
        ids.append(rid)
        m = client.messages.create(
            model="auto", max_tokens=64, system="Answer in French.", messages=[{"role": "user", "content": f"hi {i}"}],
            extra_headers={"x-request-id": rid, "x-test-input-tokens": "120", "x-test-completion-tokens": "30"},
        )
        assert m.content[0].text
        time.sleep(0.1)  # one tick apart: each sample meets the spend of the ones before
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        ok = shadow.outcome("ok", api="messages") - ok_before
        skipped = shadow.outcome("skipped_budget", api="messages") - skipped_before
        if ok + skipped >= 8:
            break
        time.sleep(0.1)
    # 1 micro-USD a minute: the first call spends it; a minute boundary during the test allows a
    # second.
    assert 1 <= ok <= 2 and ok + skipped == 8, (ok, skipped)
    recs = [r for r in shadow.records() if r["id"] in ids]
    assert len(recs) == ok
    rec = recs[0]
    check_record(rec, "messages")
    assert rec["prompt"].startswith("system: Answer in French.\nuser: hi ")
    assert rec["reference"]["tier"] == "claude-frontier" and rec["reference"]["model"] == "claude-opus-4-6"
    assert (rec["routed"]["input_tokens"], rec["routed"]["output_tokens"]) == (120, 30)
    assert rec["routed"]["cost_micro_usd"] == expected_cost(rec["routed"]["model"], 120, 30)
    assert (rec["reference"]["input_tokens"], rec["reference"]["output_tokens"]) == (120, 30)
    assert rec["reference"]["cost_micro_usd"] == expected_cost("claude-opus-4-6", 120, 30)
    assert rec["routed"]["finish"] == rec["reference"]["finish"] == "stop"


def test_a_failing_reference_changes_nothing_the_client_sees(shadow: Shadow) -> None:
    env, session = shadow.env, requests.Session()
    failed_before = shadow.outcome("reference_failed", tier="mid")
    r = chat(session, env, MID, **{"x-test-status": "500", "x-test-only-on": "frontier"})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "upstream=mid model=claude-haiku-4.5"
    assert "x-llm-router-retry" not in r.headers
    rec = shadow.record(r.request.headers["x-request-id"])
    check_record(rec, "chat_completions")
    ref = rec["reference"]
    assert (ref["status"], ref["error"], ref["text"], ref["cost_micro_usd"], ref["input_tokens"]) == (500, "status 500", "", None, None)
    assert rec["routed"]["text"] == "upstream=mid model=claude-haiku-4.5"
    assert env.wait_metric("llm_router_shadow_total", failed_before + 1, outcome="reference_failed", tier="mid") == failed_before + 1


def test_a_reference_on_a_closed_port_changes_nothing_the_client_sees(shadow: Shadow) -> None:
    env = shadow.env
    rid = str(uuid.uuid4())
    client = env.client(default_headers={"x-request-id": rid, **TOKENS})
    resp = client.responses.create(model="auto", input="hi there", instructions="Be kind.")
    assert resp.output_text
    rec = shadow.record(rid)
    check_record(rec, "responses")
    assert rec["routed"]["text"] == resp.output_text and rec["routed"]["error"] is None
    assert rec["prompt"] == "system: Be kind.\nuser: hi there"
    ref = rec["reference"]
    assert ref["tier"] == "openai-frontier" and ref["error"] and ref["text"] == "" and ref["cost_micro_usd"] is None
    assert ref["status"] in (0, 503), ref


def test_a_sink_that_is_down_changes_nothing_the_client_sees(shadow: Shadow) -> None:
    env, session = shadow.env, requests.Session()
    failures = env.metric_sum("llm_router_shadow_sink_failures_total")
    fake_sink.stop(shadow.server, shadow.sink)
    try:
        for _ in range(5):
            r = chat(session, env, MID, **{"x-test-content": "still fine"})
            assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "still fine"
        assert env.wait_metric("llm_router_shadow_sink_failures_total", failures + 5, timeout=20) == failures + 5
    finally:
        shadow.server, shadow.sink = fake_sink.start(shadow.port)
    r = chat(session, env, MID)
    assert r.status_code == 200
    shadow.record(r.request.headers["x-request-id"])


def test_every_worker_shadows_from_its_own_root_context(workdir: Path, wasm_file: Path) -> None:
    """Two workers, clients in parallel: each worker's root context makes its own samples' calls."""
    sink_port, dead_port = stack_mod.free_ports(2)
    server, sink = fake_sink.start(sink_port)
    stack = None
    try:
        stack = start_stack(workdir / "shadow2", with_clusters(config_with_plugin(plugin()), sink_port, dead_port), concurrency=2)
        env = Env(stack)
        ids: list[str] = []

        def client(n: int) -> None:
            for _ in range(n):
                # A new connection each time, so the kernel spreads them over both workers.
                with requests.Session() as session:
                    r = chat(session, env, MID)
                assert r.status_code == 200
                ids.append(r.request.headers["x-request-id"])

        threads = [threading.Thread(target=client, args=(10,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len({r["id"] for r in sink.records} & set(ids)) < len(ids):
            time.sleep(0.1)
        got = [r for r in sink.records if r["id"] in set(ids)]
        assert len(got) == len(ids) == 40, (len(got), len(ids))
        assert all(r["reference"]["status"] == 200 and r["tier"] == "mid" for r in got)
        # Both workers served clients, so both root contexts made calls (a worker whose root
        # did not would have left its samples without a record).
        stats = requests.get(env.admin_url + "/stats", params={"format": "json", "filter": r"worker_\d+\.downstream_cx_total"}, timeout=10)
        per_worker = {st["name"]: st["value"] for st in stats.json()["stats"] if "llm" not in st["name"]}
        assert sum(1 for v in per_worker.values() if v > 0) == 2, per_worker
    finally:
        if stack is not None:
            stack.stop()
        fake_sink.stop(server, sink)
