"""The bad-input corpus (tests/corpus/cases.jsonl) through the real Envoy + filter.

Each line of the manifest is one odd or hostile request (and, through the stand-in's x-test-*
controls, an odd upstream answer) with its documented behaviour (README, "Bad input"):

  api       the API the case belongs to (chat_completions, messages): the section of the
            plugin configuration it goes through (its tiers), the `api` label its counters and
            access-log line must carry, and the error shape a fail-closed rejection has
            (ERROR_SHAPES: a new API adds its checker there and its cases in make_cases.py)
  request   method, path, headers (null removes a default header), and the body as `body`
            (text), `body_b64`, `body_json` or `body_gen` (generated: big_prompt, nested,
            many_messages, random, raw, replace); `chunked: true` uploads without content-length
  expect    status            HTTP status (or a list of acceptable ones)
            upstream          stand-in that must have served it (x-upstream-name), null: none
            upstream_body     "unchanged" (byte for byte) or "rewritten" (model replaced)
            upstream_model    the model the stand-in saw ("tier" for both: the upstream and
                              model of the tier the router chose, whichever it is)
            upstream_header   false: the answer does not come from the stand-in (Envoy's own)
            router_headers    response headers; null means the header must be absent
            no_router_headers no x-llm-router-* header at all in the response
            error_kind        the llm_router_errors_total{api,kind} that must grow by exactly 1
                              (null: no kind grows)
            account           status label of the one llm_router_requests_total sample for the
                              case's customer, whose api label is the case's (null: the
                              request is not accounted)
            router_status     the access log's router_status (null: not written); when written,
                              the line's `api` is the case's
            response          "intact": the client got the upstream's bytes unchanged;
                              "intact+comment": the same plus exactly one ": llm-router {json}"
            comment           fields of that comment's JSON
            client_error      true: the client sees a cut response; "maybe": either

Every case sends a unique x-request-id and x-customer-id ("corpus-<name>"), so its stats and
access-log line are its own. The last tests check the access log of all cases and that the
wasm VM never crashed or reloaded while the corpus ran.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from pathlib import Path

import pytest
import requests

from routerlib import PLUGIN_CONFIG, REPO, UPSTREAM_OF_CLUSTER, Env, assert_no_router_headers, wasm_health

CORPUS = REPO / "tests" / "corpus" / "cases.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
ROUTER_PREFIX = "x-llm-router-"
# request id per case, for the access-log checks at the end
SENT: dict[str, str] = {}
# The tiers of each API's section of the shipped configuration.
API_TIERS: dict[str, dict[str, dict]] = {
    "chat_completions": {t["name"]: t for t in PLUGIN_CONFIG["tiers"]},
    **{api: {t["name"]: t for t in section["tiers"]} for api, section in PLUGIN_CONFIG["apis"].items()},
}


def upstream_for_tier(api: str, tier: str) -> str:
    return UPSTREAM_OF_CLUSTER[API_TIERS[api][tier]["cluster"]]


def sentence_text(size: int) -> str:
    unit = "The quarterly report lists shipments, invoices and support tickets for every region. "
    return (unit * (size // len(unit) + 1))[:size]


def generate(gen: dict) -> bytes:
    kind = gen["kind"]
    if kind == "raw":
        return gen["text"].encode()
    if kind == "replace":
        text = json.dumps(gen["json"])
        assert gen["old"] in text, gen
        return text.replace(gen["old"], gen["new"]).encode()
    if kind == "random":
        return random.Random(gen["seed"]).randbytes(gen["bytes"])
    if kind == "nested":
        depth = gen["depth"]
        return ('{"model":"auto","messages":[{"role":"user","content":"hi"}],"x":' + "[" * depth + "]" * depth + "}").encode()
    if kind == "many_messages":
        msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"m{i}"} for i in range(gen["count"])]
        return json.dumps({"model": "auto", "messages": msgs}).encode()
    if kind == "big_prompt":
        head = '{"model":"auto","messages":[{"role":"user","content":"'
        tail = '"}]}'
        body = head + sentence_text(gen["bytes"] - len(head) - len(tail)) + tail
        assert len(body) == gen["bytes"]
        return body.encode()
    raise AssertionError(f"unknown body_gen kind {kind!r}")


def request_body(req: dict) -> bytes:
    if "body" in req:
        return req["body"].encode()
    if "body_b64" in req:
        return base64.b64decode(req["body_b64"])
    if "body_json" in req:
        return json.dumps(req["body_json"]).encode()
    if "body_gen" in req:
        return generate(req["body_gen"])
    return b""


def router_forced_usage(case: dict) -> bool:
    """A chat stream request without `stream_options.include_usage: true`: the router adds it
    (README). Other APIs' streams always carry their usage: nothing is added."""
    if case["api"] != "chat_completions":
        return False
    try:
        body = json.loads(request_body(case["request"]))
    except ValueError:
        return False
    if not isinstance(body, dict) or body.get("stream") is not True:
        return False
    options = body.get("stream_options")
    return not (isinstance(options, dict) and options.get("include_usage") is True)


def metric_samples(env: Env, name: str) -> list[tuple[dict[str, str], float]]:
    return [(lab, v) for n, lab, v in env.prometheus() if n == name]


def errors_by_kind(env: Env) -> dict[tuple[str, str], float]:
    """llm_router_errors_total by (api, kind)."""
    out: dict[tuple[str, str], float] = {}
    for lab, v in metric_samples(env, "llm_router_errors_total"):
        key = (lab.get("api", ""), lab.get("kind", ""))
        out[key] = out.get(key, 0) + v
    return out


def accounted(env: Env, customer: str) -> list[tuple[dict[str, str], float]]:
    return [(lab, v) for lab, v in metric_samples(env, "llm_router_requests_total") if lab.get("customer") == customer]


def customer_of(case: dict) -> str:
    return "corpus-" + case["name"]


def test_corpus_is_large_and_well_formed() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_cases", CORPUS.parent / "make_cases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.manifest() == CORPUS.read_text(), "cases.jsonl is stale: run python3 tests/corpus/make_cases.py"
    names = [c["name"] for c in CASES]
    assert len(CASES) >= 50, f"the corpus has {len(CASES)} cases"
    assert len(set(names)) == len(names), "duplicate case names"
    for c in CASES:
        assert set(c) == {"name", "api", "doc", "request", "expect"}, c["name"]
        assert c["api"] in API_TIERS and c["api"] in ERROR_SHAPES, c["name"]
        assert "status" in c["expect"] and "error_kind" in c["expect"], c["name"]
    # Every API has at least 30 cases, at least 30 of them bodies its reader rejects.
    for api in API_TIERS:
        mine = [c for c in CASES if c["api"] == api]
        rejected = [c for c in mine if c["expect"]["error_kind"]]
        assert len(mine) >= 30 and len(rejected) >= 30, f"{api}: {len(mine)} cases, {len(rejected)} rejected bodies"


@pytest.fixture(scope="module")
def health_before(env: Env) -> dict[str, float]:
    return wasm_health(env)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_corpus_case(env: Env, case: dict, health_before: dict[str, float]) -> None:
    req, exp = case["request"], case["expect"]
    body = request_body(req)
    rid = str(uuid.uuid4())
    SENT[case["name"]] = rid
    headers = {"content-type": "application/json", "authorization": "Bearer dummy", "x-request-id": rid, "x-customer-id": customer_of(case)}
    for k, v in (req.get("headers") or {}).items():
        if v is None:
            headers.pop(k, None)
        else:
            headers[k] = v
    data: object = body
    if req.get("chunked"):
        data = (body[i : i + 65536] for i in range(0, len(body), 65536))
    errors_before = errors_by_kind(env)

    resp = env.http.request(req["method"], env.base_url + req["path"], data=data, headers=headers, stream=True, timeout=60)
    raw, client_error = b"", None
    try:
        raw = resp.raw.read(decode_content=False)
    except Exception as exc:  # urllib3 ProtocolError / IncompleteRead: the connection was cut
        client_error = exc
    resp.close()
    where = f"[{case['name']}: {case['doc']}] status={resp.status_code} headers={dict(resp.headers)}"

    # status and who served it
    statuses = exp["status"] if isinstance(exp["status"], list) else [exp["status"]]
    assert resp.status_code in statuses, f"{where} body={raw[:300]!r}"
    hit = env.upstreams_hit()
    upstream, model = exp.get("upstream"), exp.get("upstream_model")
    tiers = API_TIERS[case["api"]]
    if upstream == "tier":  # whichever tier the router chose; it must be the one that served
        tier = resp.headers.get("x-llm-router-tier")
        assert tier in tiers, f"{where}: x-llm-router-tier={tier!r}, not a tier of {case['api']}"
        upstream, model = upstream_for_tier(case["api"], tier), tiers[tier]["model"]
        assert resp.headers.get("x-llm-router-model") == model, where
    if upstream is None:
        assert hit == {}, f"{where}: no upstream should have been reached, got {hit}"
    else:
        assert hit == {upstream: 1}, f"{where}: expected upstream {upstream}, got {hit}"
        if exp.get("upstream_header", True):
            assert resp.headers.get("x-upstream-name") == upstream, where
        seen = env.last(upstream)
        assert_no_router_headers(seen["headers"])
        seen_body = base64.b64decode(seen["body_b64"])
        if exp.get("upstream_body") == "unchanged":
            assert seen_body == body, f"{where}: the upstream got a modified body ({len(seen_body)} bytes, sent {len(body)})"
        elif exp.get("upstream_body") == "rewritten":
            got = json.loads(seen_body)
            assert got["model"] == model, f"{where}: upstream saw model {got.get('model')!r}"
            if "content-length" in seen["headers"]:
                assert int(seen["headers"]["content-length"]) == len(seen_body)
            sent = json.loads(body)
            drop = ("model", "stream_options")
            assert {k: v for k, v in got.items() if k not in drop} == {k: v for k, v in sent.items() if k not in drop}, (
                f"{where}: fields other than model/stream_options changed"
            )

    # response headers
    router = {k.lower(): v for k, v in resp.headers.items() if k.lower().startswith(ROUTER_PREFIX)}
    if exp.get("no_router_headers"):
        assert not router, f"{where}: unexpected router headers {router}"
    for name, value in (exp.get("router_headers") or {}).items():
        if value is None:
            assert name not in router, f"{where}: {name} should be absent"
        else:
            assert router.get(name) == value, f"{where}: {name}={router.get(name)!r}, expected {value!r}"

    # the response body the client got
    if exp.get("client_error") is True:
        assert client_error is not None, f"{where}: the client read a complete response ({len(raw)} bytes): {raw[-200:]!r}"
    elif exp.get("client_error") is None:
        assert client_error is None, f"{where}: reading the response failed: {client_error!r}"
    if exp.get("response") in ("intact", "intact+comment"):
        want = resp.headers.get("x-test-body-sha256")
        if exp["response"] == "intact+comment" and router_forced_usage(case):
            # The router added include_usage itself: the usage-only chunk it caused is read and
            # removed, every other byte of the stream is the upstream's.
            want = resp.headers.get("x-test-body-sha256-without-usage")
        assert want, f"{where}: the stand-in sent no x-test-body-sha256"
        upstream_part, comment = raw, None
        if exp["response"] == "intact+comment":
            cut = raw.rfind(b": llm-router {")
            assert cut >= 0, f"{where}: no router comment at the end of the stream: {raw[-300:]!r}"
            upstream_part, tail = raw[:cut], raw[cut:]
            assert tail.endswith(b"\n\n") and tail.count(b"\n") == 2, f"{where}: the comment is not one final line: {tail!r}"
            comment = json.loads(tail[len(b": llm-router ") : -2])
            for key, value in (exp.get("comment") or {}).items():
                assert comment.get(key) == value, f"{where}: comment {key}={comment.get(key)!r}, expected {value!r}: {comment}"
        assert hashlib.sha256(upstream_part).hexdigest() == want, f"{where}: the client got modified upstream bytes ({len(upstream_part)} bytes)"

    # errors_total: synchronous with the request, so exact here
    errors_after = errors_by_kind(env)
    grown = {k: errors_after.get(k, 0) - errors_before.get(k, 0) for k in errors_after if errors_after.get(k, 0) != errors_before.get(k, 0)}
    expected_errors = {(case["api"], exp["error_kind"]): 1} if exp["error_kind"] else {}
    assert grown == expected_errors, f"{where}: llm_router_errors_total{{api,kind}} grew by {grown}, expected {expected_errors}"

    # accounting: at the end of the response or in on_log, so wait for it
    if exp.get("account") is not None:
        customer = customer_of(case)
        env.wait_metric("llm_router_requests_total", 1, customer=customer)
        samples = accounted(env, customer)
        got = [(lab.get("status"), lab.get("api"), v) for lab, v in samples]
        assert got == [(exp["account"], case["api"], 1.0)], f"{where}: llm_router_requests_total: {samples}"
        missing = env.metric_sum("llm_router_usage_missing_total", customer=customer)
        assert missing == (1 if exp["account"] == "usage_missing" else 0), f"{where}: usage_missing_total={missing}"

    # Envoy is fine after every case
    assert env.ready(), f"{where}: Envoy not ready"


def test_corpus_unaccounted_cases_were_never_accounted(env: Env) -> None:
    if len(SENT) != len(CASES):
        pytest.skip("runs after the whole corpus")
    wrong = {}
    for case in CASES:
        if case["expect"].get("account") is None:
            samples = accounted(env, customer_of(case))
            if samples:
                wrong[case["name"]] = samples
    assert not wrong, f"requests the filter must not account for were accounted: {wrong}"


def test_corpus_access_log(env: Env) -> None:
    if len(SENT) != len(CASES):
        pytest.skip("runs after the whole corpus")
    wrong = {}
    for case in CASES:
        entry = env.access_entry(SENT[case["name"]], timeout=30)
        want = case["expect"].get("router_status")
        got = entry.get("router_status")
        # A request the filter inspected (or tried to) carries its API in the log.
        want_api = case["api"] if want else None
        got_api = entry.get("api") if entry.get("api") not in ("-", "") else None
        if ((want or None), want_api) != ((got if got not in ("-", "") else None), got_api):
            wrong[case["name"]] = ((got, got_api), (want, want_api))
    assert not wrong, f"access-log (router_status, api) (got, expected): {wrong}"


def test_corpus_wasm_vm_never_crashed(env: Env, health_before: dict[str, float]) -> None:
    """Envoy's own wasm stats: no VM reload (FAIL_RELOAD would reload a crashed VM), no new VM
    created, the same number active, no panic/trap in envoy.log, and the listener still routes."""
    after = wasm_health(env)
    for name in ("wasm.llm_router.vm_reload", "wasm.llm_router.vm_reload_failure", "wasm.envoy.wasm.runtime.v8.created", "wasm.envoy.wasm.runtime.v8.active"):
        assert name in after, f"Envoy no longer exports {name}: {sorted(after)}"
    assert after["wasm.llm_router.vm_reload"] == 0 and after["wasm.llm_router.vm_reload_failure"] == 0, after
    assert after["wasm.envoy.wasm.runtime.v8.created"] == health_before["wasm.envoy.wasm.runtime.v8.created"], (health_before, after)
    assert after["wasm.envoy.wasm.runtime.v8.active"] == health_before["wasm.envoy.wasm.runtime.v8.active"], (health_before, after)
    log = Path(env.stack.envoy_log).read_text(errors="replace")
    bad = [line for line in log.splitlines() if any(s in line for s in ("panicked", "wasm trap", "Function: proxy_on", "Wasm VM failed"))]
    assert not bad, "wasm failures in envoy.log:\n" + "\n".join(bad[:20])
    r = requests.post(env.base_url + "/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert r.status_code == 200 and r.headers.get("x-llm-router-tier"), (r.status_code, dict(r.headers))


# ---------------------------------------------------------------------------------------
# fail_closed: true, through a second Envoy (conftest.ALT_PLUGIN_CONFIG)
# ---------------------------------------------------------------------------------------
# Every corpus request the filter cannot inspect, except the size cases (the second Envoy's
# max_request_bytes is above Envoy's buffer limit; see the 413 test below).
FAIL_CLOSED_CASES = [c for c in CASES if c["expect"]["error_kind"] not in (None, "too_large")]


def send_case(env: Env, case: dict, **extra_headers: str) -> tuple[requests.Response, bytes]:
    req = case["request"]
    headers = {"content-type": "application/json", "authorization": "Bearer dummy"}
    for k, v in dict(req.get("headers") or {}, **extra_headers).items():
        if v is None:
            headers.pop(k, None)
        else:
            headers[k] = v
    body = request_body(req)
    data: object = (body[i : i + 65536] for i in range(0, len(body), 65536)) if req.get("chunked") else body
    resp = env.http.request(req["method"], env.base_url + req["path"], data=data, headers=headers, timeout=60)
    return resp, body


def openai_error(resp: requests.Response, kind: str, where: str) -> None:
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, where
    assert error["type"] == "invalid_request_error" and error["param"] is None and error["code"] == kind, where
    assert error["message"].startswith("llm-router: "), where


def anthropic_error(resp: requests.Response, kind: str, where: str) -> None:
    body = resp.json()
    assert set(body) == {"type", "error"} and body["type"] == "error", where
    assert set(body["error"]) == {"type", "message"} and body["error"]["type"] == "invalid_request_error", where
    assert body["error"]["message"].startswith("llm-router: "), where


# The error body a fail-closed rejection has, per API: each in its API's own shape.
# OpenAI Responses answers errors in the same `{"error": {...}}` shape as chat completions.
ERROR_SHAPES = {"chat_completions": openai_error, "messages": anthropic_error, "responses": openai_error}


@pytest.mark.parametrize("case", FAIL_CLOSED_CASES, ids=[c["name"] for c in FAIL_CLOSED_CASES])
def test_fail_closed_rejects_in_the_apis_error_shape(alt_env: Env, case: dict) -> None:
    kind = case["expect"]["error_kind"]
    before = errors_by_kind(alt_env)
    resp, _ = send_case(alt_env, case)
    where = f"[{case['name']}: {case['doc']}] {resp.status_code} {resp.text[:300]!r}"
    assert resp.status_code == 400, where
    assert resp.headers["content-type"].startswith("application/json"), where
    assert alt_env.upstreams_hit() == {}, f"{where}: a rejected request reached {alt_env.upstreams_hit()}"
    ERROR_SHAPES[case["api"]](resp, kind, where)
    after = errors_by_kind(alt_env)
    grown = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert grown == {(case["api"], kind): 1}, f"{where}: errors_total grew by {grown}"


def test_fail_closed_error_reaches_the_openai_client(alt_env: Env) -> None:
    import openai

    client = alt_env.client()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": 5}])  # type: ignore[list-item]
    assert info.value.status_code == 400
    assert info.value.code == "bad_messages"
    assert alt_env.upstreams_hit() == {}
    # a well-formed request still goes through
    ok = client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "What is 2+2?"}])
    assert ok.choices[0].message.content.startswith("upstream=")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_envoy_buffer_limit_gets_envoys_413(alt_env: Env, chunked: bool) -> None:
    """With max_request_bytes (16 MiB) above the listener's per_connection_buffer_limit_bytes
    (8 MiB), the filter buffers a 9 MiB body until Envoy's limit: Envoy answers 413 itself,
    nothing reaches an upstream, the filter counts no error, and the VM is fine."""
    before = errors_by_kind(alt_env)
    body = generate({"kind": "big_prompt", "bytes": 9 << 20})
    data: object = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    try:
        resp = alt_env.http.post(alt_env.base_url + "/v1/chat/completions", data=data, headers={"content-type": "application/json"}, timeout=60)
        status, text = resp.status_code, resp.text
    except requests.ConnectionError as exc:  # Envoy may answer and close while the client still sends
        pytest.fail(f"connection error instead of a 413: {exc}")
    assert status == 413, f"{status}: {text[:200]}"
    assert alt_env.upstreams_hit() == {}
    assert errors_by_kind(alt_env) == before
    assert alt_env.ready()


def test_alt_envoy_wasm_vm_never_crashed(alt_env: Env) -> None:
    h = wasm_health(alt_env)
    assert h.get("wasm.llm_router.vm_reload") == 0 and h.get("wasm.llm_router.vm_reload_failure") == 0, h
    r = requests.post(alt_env.base_url + "/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert r.status_code == 200 and r.headers.get("x-llm-router-tier"), (r.status_code, dict(r.headers))
