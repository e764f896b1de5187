"""envoy-config/providers.yaml through a real Envoy, without internet: TLS stand-ins on
127.0.0.1 under the real provider host names, with certificates from a CA this test makes
(tests/integration/providerlib.py, tests/upstream/tls_provider.py).

Checked for every request a provider receives, whichever way it got there (the route, or the
filter's fallback re-send through dispatch_http_call): the Host header, the TLS SNI and the path
are that provider's, the credential is that provider's key from its SDS file, and nothing the
client authenticated with (its gateway key, any other key header) nor its customer id arrives.
Gateway keys: a request without a known key is answered 401 by Envoy, reaches no provider and
moves no llm_router statistic; a known key decides the customer label, whatever x-customer-id
the client sends.

The router configuration is the shipped envoy-config/providers/router.yaml with one change:
`fallback.max_attempts: 2`, so a request can fall from the cheap tier through the mid tier to
the frontier tier (the shipped file re-sends once).

Anthropic Messages (`POST /v1/messages`, the official `anthropic` SDK with the gateway key as its
`api_key`, which it sends as `x-api-key`): routed by the shipped `apis.messages` section to
Anthropic's native API, which gets that provider's key as `x-api-key` plus an
`anthropic-version`; priced and counted under `api="messages"`; an explicit model no Claude tier
uses passes through to the same API.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Iterator

import anthropic
import pytest
import requests
import yaml

from providerlib import (
    GATEWAY_KEYS_YAML,
    PROVIDERS,
    PROVIDERS_YAML,
    ProviderStack,
    gateway_keys_text,
    provider_stack,
    replace_file,
    secret_text,
    shipped_plugin_config,
    spawn_envoy,
    stop_envoy,
)
from routerlib import stack_mod

SHIPPED = shipped_plugin_config()
PLUGIN = dict(SHIPPED, fallback=dict(SHIPPED["fallback"], max_attempts=2))
TIERS = [t["name"] for t in PLUGIN["tiers"]]
PROVIDER_OF_TIER = {t["name"]: t["cluster"].removeprefix("llm_") for t in PLUGIN["tiers"]}
MODEL_OF_TIER = {t["name"]: t["model"] for t in PLUGIN["tiers"]}
# The passthrough route's cluster (explicit models no tier uses): OpenAI.
PASSTHROUGH = "openai"
LONG_CONTEXT = max(r["when"]["input_tokens_above"] for r in PLUGIN["rules"] if "input_tokens_above" in r["when"])
MESSAGES = PLUGIN["apis"]["messages"]
MESSAGES_MODEL_OF_TIER = {t["name"]: t["model"] for t in MESSAGES["tiers"]}
(MESSAGES_PROVIDER,) = {t["cluster"].removeprefix("llm_") for t in MESSAGES["tiers"]}


@pytest.fixture(scope="module")
def providers(workdir: Path, wasm_file: Path) -> Iterator[ProviderStack]:
    with provider_stack(workdir / "providers", PLUGIN) as stack:
        yield stack


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    if "providers" in request.fixturenames:
        request.getfixturevalue("providers").reset()


def assert_arrived_as_provider_expects(stack: ProviderStack, name: str, record: dict) -> None:
    """One request as `name`'s stand-in recorded it: its host, SNI, path and key, nothing of the client's."""
    spec = PROVIDERS[name]
    headers = record["headers"]
    assert record["sni"] == spec.host, f"{name}: SNI {record['sni']!r}"
    assert headers.get("host") == spec.host, f"{name}: Host {headers.get('host')!r}"
    assert record["path"] == spec.chat_path or record["method"] == "GET", f"{name}: path {record['path']!r}"
    assert record["path"].startswith(spec.prefix), f"{name}: path {record['path']!r} outside {spec.prefix}"
    assert headers.get("authorization") == f"Bearer {stack.provider_keys[name]}", f"{name}: credential {headers.get('authorization')!r}"
    assert_nothing_of_the_client(stack, name, record)


def assert_arrived_as_anthropic_expects(stack: ProviderStack, record: dict) -> None:
    """A request as Anthropic's Messages API stand-in recorded it: its host, SNI and path, its
    key as `x-api-key`, an `anthropic-version`, nothing of the client's."""
    name = MESSAGES_PROVIDER
    spec, headers = PROVIDERS[name], record["headers"]
    assert (record["sni"], headers.get("host"), record["path"]) == (spec.host, spec.host, spec.chat_path), record
    assert headers.get("x-api-key") == stack.provider_keys[name], f"credential {headers.get('x-api-key')!r}"
    assert headers.get("anthropic-version"), headers
    assert "authorization" not in headers, headers
    assert_nothing_of_the_client(stack, name, record, own_key_header="x-api-key")


def assert_nothing_of_the_client(stack: ProviderStack, name: str, record: dict, own_key_header: str = "") -> None:
    everything = repr(record["headers"]) + record["body"] + record["path"]
    for customer, key in stack.gateway_keys.items():
        assert key not in everything, f"{name} received {customer}'s gateway key"
    for other, key in stack.provider_keys.items():
        if key != stack.provider_keys[name]:  # Anthropic's two APIs share one key file
            assert key not in everything, f"{name} received {other}'s provider key"
    for header in {"x-api-key", "api-key", "x-customer-id", "x-forwarded-for"} - {own_key_header}:
        assert header not in record["headers"], f"{name} received {header}: {record['headers'][header]!r}"
    internal = [h for h in record["headers"] if h.startswith(("x-envoy-", "x-llm-router-"))]
    assert not internal, f"{name} received {internal}"


def only_arrivals(stack: ProviderStack) -> dict[str, list[dict]]:
    return {name: reqs for name, reqs in stack.received().items() if reqs}


def chat_body(text: str = "summarize: the meeting moved to noon", model: str = "auto") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


# Each case pins a tier with a shipped rule (x-feature: summarization -> cheap, x-user-tier:
# enterprise -> at least mid, long context -> frontier) or names a model no tier uses.
CASES = {
    "cheap": ({"x-feature": "summarization"}, chat_body()),
    "mid": ({"x-user-tier": "enterprise"}, chat_body("hello there")),
    "frontier": ({}, chat_body("notes: " + "the quarterly plan moved again. " * (LONG_CONTEXT * 4 // 30 + 100))),
    "passthrough": ({}, chat_body("hi", model="gpt-4o")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_tier_reaches_its_provider_with_that_providers_key_host_sni_and_path(providers: ProviderStack, case: str) -> None:
    headers, body = CASES[case]
    r = providers.chat(body, {**providers.auth("acme"), **headers})
    assert r.status_code == 200, r.text
    name = PASSTHROUGH if case == "passthrough" else PROVIDER_OF_TIER[case]
    if case != "passthrough":
        assert r.headers["x-llm-router-tier"] == case
        assert r.headers["x-llm-router-model"] == MODEL_OF_TIER[case]
        assert r.headers["x-llm-router-status"] == "priced"
    arrivals = only_arrivals(providers)
    assert list(arrivals) == [name] and len(arrivals[name]) == 1, {k: len(v) for k, v in arrivals.items()}
    record = arrivals[name][0]
    assert_arrived_as_provider_expects(providers, name, record)
    assert record["json"]["model"] == (MODEL_OF_TIER[case] if case != "passthrough" else "gpt-4o")
    assert record["alpn"] == "http/1.1" and record["tls"] in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("failing", [1, 2], ids=["cheap-fails", "cheap-and-mid-fail"])
def test_fallback_resends_carry_the_next_providers_key_host_and_path(providers: ProviderStack, failing: int) -> None:
    # The cheap tier's provider (and with 2, the mid tier's) answers 503; the filter re-sends the
    # request itself (dispatch_http_call straight to the next tier's cluster, no route), so the
    # per-cluster upstream filters are all that set its Host, path and key.
    failed = [PROVIDER_OF_TIER[t] for t in TIERS[:failing]]
    answering_tier = TIERS[failing]
    answering = PROVIDER_OF_TIER[answering_tier]
    headers = {**providers.auth("globex"), "x-feature": "summarization", "x-test-status": "503", "x-test-only-on": ",".join(failed),
               "x-forwarded-for": "10.0.0.7"}  # fmt: skip
    r = providers.chat(chat_body(), headers)
    assert r.status_code == 200, r.text
    assert r.headers["x-upstream-name"] == answering
    assert r.headers["x-llm-router-tier"] == answering_tier
    assert r.headers["x-llm-router-retry"] == "fallback:status_503"
    arrivals = only_arrivals(providers)
    assert {k: len(v) for k, v in arrivals.items()} == {name: 1 for name in [*failed, answering]}
    for name, records in arrivals.items():
        assert_arrived_as_provider_expects(providers, name, records[0])
    assert arrivals[answering][0]["json"]["model"] == MODEL_OF_TIER[answering_tier]


def test_other_client_key_headers_never_reach_a_provider(providers: ProviderStack) -> None:
    # The gateway key in x-api-key (the other accepted source), plus an Azure-style api-key the
    # client might also send: the provider gets its own key and neither of these.
    headers = {"x-api-key": providers.gateway_keys["acme"], "api-key": "sk-client-own-key", "x-feature": "summarization"}
    r = providers.chat(chat_body(), headers)
    assert r.status_code == 200, r.text
    (name, records), = only_arrivals(providers).items()
    assert_arrived_as_provider_expects(providers, name, records[0])
    assert "sk-client-own-key" not in repr(records[0]["headers"])


def test_a_stream_reaches_the_provider_the_same_way_and_is_priced(providers: ProviderStack) -> None:
    rid = str(uuid.uuid4())
    body = dict(chat_body(), stream=True, stream_options={"include_usage": True})
    headers = {**providers.auth("acme"), "x-feature": "summarization", "x-request-id": rid}
    with requests.post(providers.listener_url + "/v1/chat/completions", json=body, headers=headers, stream=True, timeout=30) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [line for line in r.iter_lines() if line.startswith(b"data: ")]
    assert events[-1] == b"data: [DONE]" and len(events) > 3
    name = PROVIDER_OF_TIER[TIERS[0]]
    (record,) = only_arrivals(providers)[name]
    assert_arrived_as_provider_expects(providers, name, record)
    entry = providers.access_entry(rid)
    assert entry["router_status"] == "priced" and int(entry["cost_micro_usd"]) > 0, entry


def test_the_customer_is_the_gateway_keys_client_not_the_clients_header(providers: ProviderStack) -> None:
    rid = str(uuid.uuid4())
    headers = {**providers.auth("globex"), "x-customer-id": "acme", "x-request-id": rid, "x-feature": "summarization"}
    r = providers.chat(chat_body(), headers)
    assert r.status_code == 200, r.text
    assert providers.access_entry(rid)["customer"] == "globex"
    counted = {lab.get("customer") for n, lab, v in providers.prometheus() if n == "llm_router_requests_total" and v > 0}
    assert "globex" in counted


def llm_router_counters(stack: ProviderStack) -> dict[tuple, float]:
    """Every llm_router_*_total sample (requests, tokens, cost, baseline cost, decisions, errors ...),
    read until two reads 0.3 s apart agree. Counters move as the filter writes them; histograms
    only on Envoy's stats flush, so they are left out."""
    def read() -> dict[tuple, float]:
        return {(n, tuple(sorted(lab.items()))): v for n, lab, v in stack.prometheus() if n.startswith("llm_router_") and n.endswith("_total")}

    last = read()
    while True:
        time.sleep(0.3)
        now = read()
        if now == last:
            return now
        last = now


@pytest.mark.parametrize(
    "auth",
    [
        {},
        {"authorization": "Bearer gw-acme-not-the-key"},
        {"x-api-key": "gw-acme-not-the-key"},
        {"authorization": "Bearer "},
        "provider-key",
    ],
    ids=["missing", "wrong-bearer", "wrong-x-api-key", "empty-bearer", "a-provider-key"],
)
def test_missing_or_wrong_gateway_key_is_401_reaches_no_provider_and_is_not_priced(
    providers: ProviderStack, auth: dict | str
) -> None:
    if auth == "provider-key":  # a real provider key is not a gateway key either
        auth = {"authorization": f"Bearer {providers.provider_keys['openai']}"}
    before = llm_router_counters(providers)
    assert any(k[0] == "llm_router_cost_micro_usd_total" and v > 0 for k, v in before.items()), "nothing priced yet"
    providers.reset()
    rid = str(uuid.uuid4())
    r = providers.chat(chat_body(), {**auth, "x-request-id": rid, "x-feature": "summarization"})
    assert r.status_code == 401, r.text
    assert not any(k.startswith("x-llm-router-") for k in r.headers), dict(r.headers)
    entry = providers.access_entry(rid)
    # Answered by the API-key filter: no upstream host was ever picked.
    assert entry["response_code"] == 401 and entry["upstream_host"] in ("-", None, ""), entry
    assert entry["response_code_details"] in ("missing_api_key", "unknown_api_key"), entry
    assert entry["router_status"] in ("-", None, "") and entry["cost_micro_usd"] in ("-", None, "")
    assert only_arrivals(providers) == {}
    assert llm_router_counters(providers) == before
    # The same request with a valid key is routed and priced (the 401 was the key's doing).
    ok = providers.chat(chat_body(), {**providers.auth("acme"), "x-feature": "summarization"})
    assert ok.status_code == 200 and ok.headers["x-llm-router-status"] == "priced"


def test_provider_stand_ins_refuse_what_the_real_providers_would(providers: ProviderStack) -> None:
    # The checks above can fail: a stand-in answers 401 to another provider's key and 404 to a
    # path outside its prefix, as the provider does.
    gemini = providers.servers["gemini"]
    url = f"https://127.0.0.1:{gemini.port}"
    ca = str(providers.workdir / "ca" / "ca.pem")
    session = requests.Session()
    session.mount("https://", _HostAdapter(PROVIDERS["gemini"].host))
    wrong_key = session.post(url + PROVIDERS["gemini"].chat_path, json=chat_body(), verify=ca, timeout=10,
                             headers={"authorization": f"Bearer {providers.provider_keys['openai']}"})  # fmt: skip
    wrong_path = session.post(url + "/v1/chat/completions", json=chat_body(), verify=ca, timeout=10,
                              headers={"authorization": f"Bearer {providers.provider_keys['gemini']}"})  # fmt: skip
    right = session.post(url + PROVIDERS["gemini"].chat_path, json=dict(chat_body(), model="gemini-2.5-flash-lite"), verify=ca,
                         timeout=10, headers={"authorization": f"Bearer {providers.provider_keys['gemini']}"})  # fmt: skip
    assert (wrong_key.status_code, wrong_path.status_code, right.status_code) == (401, 404, 200)
    assert wrong_key.json()["error"]["code"] == "invalid_api_key"


class _HostAdapter(requests.adapters.HTTPAdapter):
    """Connect to 127.0.0.1 but send SNI and check the certificate for `host`."""

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs["server_hostname"] = self.host
        kwargs["assert_hostname"] = self.host
        super().init_poolmanager(*args, **kwargs)


def wait_until(pred, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_a_provider_key_rotates_by_renaming_its_file(providers: ProviderStack) -> None:
    # The documented rotation: a new key file renamed over the old one, no restart. The
    # stand-in accepts only the new key from then on, as the provider would after a rotation.
    name = PROVIDER_OF_TIER[TIERS[0]]
    new_key = f"sk-test-{name}-rotated-{uuid.uuid4().hex[:12]}"
    providers.servers[name].api_key = new_key
    replace_file(providers.workdir / "providers" / "secrets" / f"{name}.yaml", secret_text(name, new_key))
    providers.provider_keys[name] = new_key

    def routed_with_new_key() -> bool:
        providers.reset()
        return providers.chat(chat_body(), {**providers.auth("acme"), "x-feature": "summarization"}).status_code == 200

    assert wait_until(routed_with_new_key), "the rotated key was not picked up within 10 s"
    (record,) = providers.servers[name].requests()
    assert_arrived_as_provider_expects(providers, name, record)


def test_gateway_keys_reload_by_renaming_their_file(providers: ProviderStack) -> None:
    original = dict(providers.gateway_keys)
    keys_file = providers.workdir / "providers" / "gateway-keys.yaml"
    new = {"acme": original["acme"], "initech": f"gw-initech-{uuid.uuid4().hex}"}
    replace_file(keys_file, gateway_keys_text(new))
    try:
        def status(key: str) -> int:
            return providers.chat(chat_body(), {"authorization": f"Bearer {key}", "x-feature": "summarization"}).status_code

        assert wait_until(lambda: status(new["initech"]) == 200), "the added gateway key was not accepted within 10 s"
        assert status(original["globex"]) == 401 and status(original["acme"]) == 200
        rid = str(uuid.uuid4())
        providers.chat(chat_body(), {"authorization": f"Bearer {new['initech']}", "x-request-id": rid, "x-feature": "summarization"})
        assert providers.access_entry(rid)["customer"] == "initech"
        # A replacement Envoy cannot load is rejected; the list above keeps serving.
        ecds = "extension_config_discovery.http_filter.gateway_keys."
        failures = lambda: sum(providers.stat(ecds + s) for s in ("update_failure", "update_rejected", "config_fail"))  # noqa: E731
        before = failures()
        replace_file(keys_file, "resources: [ {not yaml\n")
        assert wait_until(lambda: failures() > before), "the broken gateway-key file was not seen within 10 s"
        assert status(new["initech"]) == 200 and status(original["globex"]) == 401
    finally:
        replace_file(keys_file, gateway_keys_text(original))
        assert wait_until(lambda: providers.chat(chat_body(), {**providers.auth("globex"), "x-feature": "summarization"}).status_code == 200)


def test_the_shipped_files_load_as_they_are(workdir: Path, wasm_file: Path) -> None:
    # providers.yaml with nothing but its two ports and the access log changed, run from the
    # repository root: the shipped router.yaml, gateway-keys.yaml and secret files load as they
    # are (ECDS, SDS). The placeholder gateway key is accepted (what follows is a provider that
    # cannot be reached from here), an unknown key is not.
    if wasm_file != stack_mod.WASM:
        pytest.skip("the shipped router.yaml names the cargo output; LLM_ROUTER_WASM points elsewhere")
    out = workdir / "providers-shipped"
    out.mkdir(parents=True, exist_ok=True)
    doc = yaml.safe_load(PROVIDERS_YAML.read_text())
    admin, listener = stack_mod.free_ports(2)
    doc["admin"]["address"]["socket_address"]["port_value"] = admin
    doc["static_resources"]["listeners"][0]["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": listener}
    hcm = doc["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    hcm["access_log"][0]["typed_config"]["path"] = str(out / "access.log")
    (out / "providers.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    placeholder = yaml.safe_load(GATEWAY_KEYS_YAML.read_text())["resources"][0]["typed_config"]["credentials"][0]["key"]
    proc = spawn_envoy(out / "providers.yaml", out)
    try:
        stats: dict[str, float] = {}
        deadline = time.monotonic() + 60
        wanted = [f"extension_config_discovery.http_filter.{f}.update_success" for f in ("gateway_keys", "llm_router")]
        while time.monotonic() < deadline and not all(stats.get(w) for w in wanted):
            assert proc.poll() is None, (out / "envoy.log").read_text()[-3000:]
            with contextlib.suppress(requests.RequestException):
                r = requests.get(f"http://127.0.0.1:{admin}/stats", params={"format": "json"}, timeout=3)
                stats = {s["name"]: s["value"] for s in r.json()["stats"] if isinstance(s.get("value"), (int, float))}
            time.sleep(0.25)
        assert all(stats.get(w) == 1 for w in wanted), {k: v for k, v in stats.items() if "discovery" in k}
        assert not any(stats.get(f"extension_config_discovery.http_filter.{f}.config_fail") for f in ("gateway_keys", "llm_router"))
        log = (out / "envoy.log").read_text(errors="replace")
        assert "llm-router: configured: mode=route tiers=3" in log
        url = f"http://127.0.0.1:{listener}/v1/chat/completions"
        body = chat_body()
        assert requests.post(url, json=body, headers={"authorization": "Bearer not-a-key"}, timeout=30).status_code == 401
        routed = requests.post(url, json=body, headers={"authorization": f"Bearer {placeholder}"}, timeout=60)
        assert routed.status_code != 401 and routed.headers.get("x-llm-router-tier") == TIERS[0], (routed.status_code, routed.text)
    finally:
        stop_envoy(proc)


# ---------------------------------------------------------------------------------------
# Anthropic Messages through the gateway, with the official SDK
# ---------------------------------------------------------------------------------------
def anthropic_client(stack: ProviderStack, customer: str) -> anthropic.Anthropic:
    """The Anthropic SDK with the customer's gateway key as its api_key (sent as x-api-key)."""
    return anthropic.Anthropic(base_url=stack.listener_url, api_key=stack.gateway_keys[customer], max_retries=0, timeout=30.0)


def api_costs(stack: ProviderStack, customer: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for n, lab, v in stack.prometheus():
        if n == "llm_router_cost_micro_usd_total" and lab.get("customer") == customer:
            out[lab["api"]] = out.get(lab["api"], 0) + v
    return out


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_messages_reach_anthropics_messages_api_with_its_key_and_are_priced(providers: ProviderStack, stream: bool) -> None:
    rid = str(uuid.uuid4())
    client = anthropic_client(providers, "globex")
    kwargs = dict(
        model="auto",
        max_tokens=64,
        messages=[{"role": "user", "content": "summarize: the meeting moved to noon"}],
        extra_headers={"x-request-id": rid, "x-feature": "summarization", "x-customer-id": "acme"},
    )
    if stream:
        with client.messages.stream(**kwargs) as s:  # type: ignore[arg-type]
            text = "".join(s.text_stream)
            final = s.get_final_message()
    else:
        raw = client.messages.with_raw_response.create(**kwargs)  # type: ignore[arg-type]
        final = raw.parse()
        text = final.content[0].text
        assert raw.headers["x-llm-router-tier"] == "claude-cheap" and raw.headers["x-llm-router-status"] == "priced"
    model = MESSAGES_MODEL_OF_TIER["claude-cheap"]
    assert final.model == model and text.startswith(f"upstream={MESSAGES_PROVIDER}"), (final.model, text)
    arrivals = only_arrivals(providers)
    assert list(arrivals) == [MESSAGES_PROVIDER] and len(arrivals[MESSAGES_PROVIDER]) == 1, arrivals
    record = arrivals[MESSAGES_PROVIDER][0]
    assert_arrived_as_anthropic_expects(providers, record)
    assert record["json"]["model"] == model
    entry = providers.access_entry(rid)
    assert (entry["api"], entry["customer"], entry["tier"], entry["router_status"]) == ("messages", "globex", "claude-cheap", "priced")
    cost = int(entry["cost_micro_usd"])
    assert cost > 0
    # Counted under api="messages", for the gateway key's customer.
    deadline = time.monotonic() + 10
    while api_costs(providers, "globex").get("messages", 0) < cost and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api_costs(providers, "globex").get("messages", 0) >= cost


def test_an_explicit_claude_model_passes_through_to_the_messages_api(providers: ProviderStack) -> None:
    rid = str(uuid.uuid4())
    message = anthropic_client(providers, "acme").messages.create(
        model="claude-3-haiku-20240307",
        max_tokens=16,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-request-id": rid},
    )
    assert message.model == "claude-3-haiku-20240307"
    ((name, (record,)),) = only_arrivals(providers).items()
    assert name == MESSAGES_PROVIDER
    assert_arrived_as_anthropic_expects(providers, record)
    entry = providers.access_entry(rid)
    assert (entry["route_name"], entry["api"], entry["tier"]) == ("messages_passthrough", "messages", "none"), entry


def test_a_messages_request_without_a_gateway_key_is_401_and_reaches_no_provider(providers: ProviderStack) -> None:
    client = anthropic.Anthropic(base_url=providers.listener_url, api_key="gw-not-a-key", max_retries=0, timeout=30.0)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="auto", max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    assert only_arrivals(providers) == {}


def test_the_messages_stand_in_refuses_a_bearer_key_or_no_version(providers: ProviderStack) -> None:
    # What makes the checks above able to fail: Anthropic's native API wants x-api-key and
    # anthropic-version, and the stand-in refuses anything else as Anthropic does.
    server = providers.servers[MESSAGES_PROVIDER]
    url = f"https://127.0.0.1:{server.port}{PROVIDERS[MESSAGES_PROVIDER].chat_path}"
    ca = str(providers.workdir / "ca" / "ca.pem")
    session = requests.Session()
    session.mount("https://", _HostAdapter(PROVIDERS[MESSAGES_PROVIDER].host))
    key = providers.provider_keys[MESSAGES_PROVIDER]
    body = {"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    bearer = session.post(url, json=body, verify=ca, timeout=10, headers={"authorization": f"Bearer {key}", "anthropic-version": "2023-06-01"})
    no_version = session.post(url, json=body, verify=ca, timeout=10, headers={"x-api-key": key})
    right = session.post(url, json=body, verify=ca, timeout=10, headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
    assert (bearer.status_code, no_version.status_code, right.status_code) == (401, 400, 200)
    assert bearer.json()["error"]["type"] == "authentication_error"
