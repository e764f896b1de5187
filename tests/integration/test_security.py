"""Security through the real Envoy: what a client (or a misbehaving upstream) cannot do.

Complements the spoofing tests in test_envoy_routing.py (cluster/cost/tier request headers on
routed, explicit and uninspected requests) with: header-name tricks, forged router headers from
the upstream, path spellings that would skip accounting, the customer label's cardinality cap
and hashing (second Envoy, conftest.ALT_PLUGIN_CONFIG: hash, max_distinct 50), and API keys that
must never appear in stats, logs or response headers.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import posixpath
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import requests

from routerlib import TIERS, Env, assert_no_router_headers

CHAT = "/v1/chat/completions"
PIN_CHEAP = {"x-feature": "summarization"}  # the shipped rule that fixes the cheap tier
BODY = {"model": "auto", "messages": [{"role": "user", "content": "What is the capital of France?"}]}


def raw_request(env: Env, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request with headers exactly as given (case, duplicates, order)."""
    url = urlsplit(env.base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"{url.hostname}:{url.port}")
        for k, v in headers:
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def labels_of(env: Env, metric: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for n, lab, v in env.prometheus():
        if n == metric and label in lab:
            out[lab[label]] = out.get(lab[label], 0) + v
    return out


# ---------------------------------------------------------------------------------------
# Client headers in the filter's namespace
# ---------------------------------------------------------------------------------------
SPOOF = [
    ("X-LLM-Router-Cluster", "llm_frontier"),
    ("x-llm-router-cluster", "llm_mid"),
    ("X-Llm-Router-Cost-Micro-Usd", "1"),
    ("x-llm-router-tier", "frontier"),
    ("x-llm-router-status", "priced"),
    ("x-llm-router-model", "claude-sonnet-4.6"),
]


@pytest.mark.parametrize(
    "kind, path, body, served_by",
    [
        ("routed", CHAT, json.dumps(BODY), "cheap"),
        ("streaming", CHAT, json.dumps(dict(BODY, stream=True)), "cheap"),
        ("explicit", CHAT, json.dumps({"model": "gpt-4o", "messages": BODY["messages"]}), "default"),
        ("malformed", CHAT, '{"model": "auto", "messages": [', "default"),
        ("other-path", "/v1/embeddings", json.dumps({"model": "x", "input": "y"}), "default"),
        ("path-variant", CHAT + "/", json.dumps(BODY), "cheap"),
    ],
)
def test_mixed_case_and_duplicate_router_headers_cannot_pick_the_cluster(env: Env, kind: str, path: str, body: str, served_by: str) -> None:
    headers = [("Content-Type", "application/json"), *PIN_CHEAP.items(), *SPOOF]
    status, resp_headers, data = raw_request(env, "POST", path, headers, body.encode())
    assert resp_headers.get("x-upstream-name") == served_by, f"{kind}: served by {resp_headers.get('x-upstream-name')} ({status} {data[:200]!r})"
    assert env.upstreams_hit() == {served_by: 1}
    assert_no_router_headers(env.last(served_by)["headers"])
    assert resp_headers.get("x-llm-router-cost-micro-usd") != "1"
    if served_by == "cheap":
        assert resp_headers.get("x-llm-router-tier") == "cheap" and resp_headers.get("x-llm-router-model") == TIERS["cheap"]["model"]


# ---------------------------------------------------------------------------------------
# Router headers forged by the upstream
# ---------------------------------------------------------------------------------------
FORGED = {
    "x-llm-router-cost-micro-usd": "1",
    "x-llm-router-baseline-cost-micro-usd": "2",
    "x-llm-router-tier": "forged",
    "x-llm-router-status": "forged",
    "x-llm-router-model": "forged",
}


@pytest.mark.parametrize(
    "kind, body, controls",
    [
        ("held-json", BODY, {}),
        ("sse", dict(BODY, stream=True), {}),
        ("gzip-not-held", BODY, {"x-test-encoding": "gzip"}),
        ("chunked-not-held", BODY, {"x-test-chunked-response": "1"}),
        ("explicit-unpriced", {"model": "acme-llm-9", "messages": BODY["messages"]}, {}),
    ],
)
def test_upstream_cannot_forge_router_response_headers(env: Env, kind: str, body: dict, controls: dict[str, str]) -> None:
    """Only the filter writes x-llm-router-* response headers: forged copies from an upstream
    (a provider, a proxy echoing headers) never reach the client, whatever the answer's shape."""
    headers = {**PIN_CHEAP, **controls, "x-test-prompt-tokens": "1000", "x-test-completion-tokens": "500",
               "x-test-response-headers": json.dumps(FORGED)}
    resp = requests.post(env.base_url + CHAT, json=body, headers=headers, timeout=60)
    assert resp.status_code == 200, resp.text[:300]
    got = {k.lower(): v for k, v in resp.headers.items() if k.lower().startswith("x-llm-router-")}
    forged = {k: v for k, v in got.items() if FORGED.get(k) == v}
    assert not forged, f"{kind}: forged upstream headers reached the client: {forged} (all router headers: {got})"


# ---------------------------------------------------------------------------------------
# Path spellings
# ---------------------------------------------------------------------------------------
def provider_view(path: str) -> str:
    """How a lenient provider might resolve a path: percent-decoding, merged slashes, dot
    segments, no trailing slash, no ;params."""
    p = unquote(path.split("?", 1)[0]).split(";", 1)[0]
    p = re.sub("/+", "/", p)
    p = posixpath.normpath(p) if p else "/"
    return p.rstrip("/") or "/"


PATHS = [
    "/v1/chat/completions/",
    "//v1/chat/completions",
    "/v1//chat/completions",
    "/v1/chat/%63ompletions",
    "/v1/chat%2Fcompletions",
    "/v1/chat%2fcompletions",
    "/v1/chat/./completions",
    "/v1/x/../chat/completions",
    "/v1/chat/completions;x=1",
    "/v1/chat/completions/?a=b",
    "/v1/%2e/chat/completions",
]


@pytest.mark.parametrize("path", PATHS)
def test_path_spellings_cannot_bypass_accounting(env: Env, path: str) -> None:
    """Every request that reaches an upstream at a path a provider could resolve to the chat
    endpoint went through the filter's inspection: routed and accounted."""
    customer = "path-" + hashlib.sha256(path.encode()).hexdigest()[:12]
    status, headers, data = raw_request(
        env, "POST", path, [("Content-Type", "application/json"), ("x-customer-id", customer)], json.dumps(BODY).encode()
    )
    hit = env.upstreams_hit()
    if not hit:
        assert 400 <= status < 500, f"{path}: {status} without reaching an upstream"
        return
    (upstream,) = hit
    seen = env.last(upstream)["path"]
    if provider_view(seen) != CHAT:
        return
    assert headers.get("x-llm-router-tier") in TIERS, f"{path}: reached {upstream} as {seen!r} without routing ({status}, {headers})"
    assert env.wait_metric("llm_router_requests_total", 1, customer=customer) == 1, f"{path}: not accounted"


# ---------------------------------------------------------------------------------------
# The customer label
# ---------------------------------------------------------------------------------------
def test_customer_label_comes_only_from_the_configured_header(env: Env) -> None:
    rid = str(uuid.uuid4())
    spoof = {"x-llm-router-customer": "spoof-a", "customer": "spoof-b", "x-customer": "spoof-c", "x-request-id": rid}
    resp = requests.post(env.base_url + CHAT, json=BODY, headers=spoof, timeout=30)
    assert resp.status_code == 200
    assert env.access_entry(rid)["customer"] == "unknown"
    customers = labels_of(env, "llm_router_requests_total", "customer")
    assert not [c for c in customers if c.startswith("spoof")], customers


def short_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def test_customer_label_is_hashed_and_capped_at_max_distinct(alt_env: Env) -> None:
    """Second Envoy (one worker): customer {"hash": true, "max_distinct": 50}. One identifier
    first (its label is the 16-hex SHA-256 prefix, never the value), then 10,000 distinct ones:
    /stats/prometheus keeps at most 50 hashed labels + "other" + "unknown", and
    llm_router_customer_overflow_total counts every request folded into "other"."""
    max_distinct = 50
    email = "alice@example.com"
    rid = str(uuid.uuid4())
    r = requests.post(alt_env.base_url + CHAT, json=BODY, headers={"x-customer-id": email, "x-request-id": rid}, timeout=30)
    assert r.status_code == 200
    assert alt_env.access_entry(rid)["customer"] == short_hash(email)
    assert alt_env.wait_metric("llm_router_requests_total", 1, customer=short_hash(email)) == 1

    overflow_before = alt_env.metric_sum("llm_router_customer_overflow_total")
    total_before = alt_env.metric_sum("llm_router_requests_total")
    ids = [f"tenant-{i:05d}-{uuid.uuid4().hex[:6]}" for i in range(10_000)]
    started = time.monotonic()

    def send(chunk: list[str]) -> list[int]:
        s = requests.Session()
        return [s.post(alt_env.base_url + CHAT, json=BODY, headers={"x-customer-id": c}, timeout=30).status_code for c in chunk]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [st for part in pool.map(send, [ids[i::8] for i in range(8)]) for st in part]
    elapsed = time.monotonic() - started
    assert statuses.count(200) == len(ids), {st: statuses.count(st) for st in set(statuses)}
    print(f"10,000 distinct customers in {elapsed:.1f}s")

    total = alt_env.wait_metric("llm_router_requests_total", total_before + len(ids), timeout=30)
    assert total == total_before + len(ids)
    customers = labels_of(alt_env, "llm_router_requests_total", "customer")
    hashed = {c for c in customers if c not in ("other", "unknown")}
    assert len(customers) <= max_distinct + 2, f"{len(customers)} customer label values: {sorted(customers)[:10]} ..."
    assert len(hashed) == max_distinct, len(hashed)
    allowed = {short_hash(c) for c in ids} | {short_hash(email)}
    assert hashed <= allowed, f"labels that are not hashes of the sent ids: {sorted(hashed - allowed)[:5]}"
    # the 49 slots left after the first customer went to 49 of the 10,000; the rest overflowed
    folded = len(ids) - (max_distinct - 1)
    assert customers.get("other") == folded, customers.get("other")
    assert alt_env.metric_sum("llm_router_customer_overflow_total") - overflow_before == folded
    text = alt_env.prometheus_text()
    assert "tenant-" not in text and email not in text, "a raw customer id is in /stats/prometheus"
    series = [line for line in text.splitlines() if line.startswith("llm_router_requests_total{")]
    assert len(series) <= 3 * (max_distinct + 2), f"{len(series)} llm_router_requests_total series"


# ---------------------------------------------------------------------------------------
# API keys
# ---------------------------------------------------------------------------------------
def everything_visible(env: Env) -> dict[str, str]:
    """Every place an operator or client can read: stats in all formats, Envoy's log, the
    access log, the rendered config directory's logs."""
    out = {
        "/stats": requests.get(env.admin_url + "/stats", timeout=10).text,
        "/stats?format=json": requests.get(env.admin_url + "/stats", params={"format": "json"}, timeout=10).text,
        "/stats/prometheus": env.prometheus_text(),
        "envoy.log": Path(env.stack.envoy_log).read_text(errors="replace"),
        "envoy.stdout": Path(env.stack.envoy_stdout).read_text(errors="replace") if Path(env.stack.envoy_stdout).exists() else "",
        "access.log": env.access_log.read_text(errors="replace") if env.access_log.exists() else "",
    }
    return out


@pytest.mark.parametrize("which", ["env", "alt_env"])
def test_api_keys_never_appear_in_stats_logs_or_response_headers(request: pytest.FixtureRequest, which: str) -> None:
    e: Env = request.getfixturevalue(which)
    secret = "sk-llmrouter-SECRET-" + uuid.uuid4().hex
    creds = {"authorization": f"Bearer {secret}", "api-key": secret, "x-api-key": secret, "openai-organization": secret}
    if which == "alt_env":
        creds["x-customer-id"] = secret  # hashed there: an identity without the value
    rids = []
    cases = [
        (CHAT, json.dumps(BODY)),
        (CHAT, json.dumps(dict(BODY, stream=True))),
        (CHAT, json.dumps({"model": "gpt-4o", "messages": BODY["messages"]})),
        (CHAT, '{"model": "auto", "messages": ['),
        (CHAT, json.dumps({"model": "auto", "messages": [{"role": "user", "content": secret}]})),
        ("/v1/models", ""),
    ]
    responses = []
    for path, body in cases:
        rid = str(uuid.uuid4())
        rids.append(rid)
        headers = {**creds, "content-type": "application/json", "x-request-id": rid}
        if body:
            r = requests.post(e.base_url + path, data=body.encode(), headers=headers, timeout=30)
        else:
            r = requests.get(e.base_url + path, headers=headers, timeout=30)
        responses.append(r)
        assert r.status_code in (200, 400), (path, r.status_code, r.text[:200])
        leaked = {k: v for k, v in r.headers.items() if secret in v or secret in k}
        assert not leaked, f"{path}: the key is in response headers {leaked}"
    # the key did go where it must: the provider got the Authorization header unchanged
    served = [h for name in ("cheap", "default") for h in e.history(name)]
    assert any(h["headers"].get("authorization") == f"Bearer {secret}" for h in served), "the upstream never saw the key"
    for rid in rids:
        e.access_entry(rid)
    for where, text in everything_visible(e).items():
        assert secret not in text, f"the API key appears in {where}"
        assert secret[len("sk-llmrouter-SECRET-"):] not in text, f"part of the API key appears in {where}"
    # a response body may only contain it where the upstream echoed the prompt, never in the
    # router's own additions (the SSE comment, the fail-closed error)
    for r in responses:
        for line in r.text.splitlines():
            if line.startswith(": llm-router ") or '"llm-router: ' in line:
                assert secret not in line, line
