"""envoy-config/k8s/: the Istio and Envoy Gateway examples. They were NOT run on a Kubernetes
cluster (none here); this checks only what can be checked without one: every file is valid
YAML of the kinds its comments promise, and each carries exactly the plugin configuration of
envoy-config/providers/router.yaml, so the examples cannot drift from the tested one."""

from __future__ import annotations

import json
import re

import yaml

from providerlib import shipped_plugin_config
from routerlib import REPO

K8S = REPO / "envoy-config" / "k8s"


def docs(name: str) -> dict[str, dict]:
    loaded = [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    by_kind = {d["kind"]: d for d in loaded}
    assert len(by_kind) == len(loaded), f"{name}: one document per kind expected"
    for d in loaded:
        assert d["apiVersion"] and d["metadata"]["name"] and d["metadata"]["namespace"], d
    return by_kind


def test_istio_examples_carry_the_tested_plugin_configuration() -> None:
    d = docs("istio.yaml")
    assert set(d) == {"RequestAuthentication", "AuthorizationPolicy", "WasmPlugin", "EnvoyFilter"}
    plugin = d["WasmPlugin"]["spec"]
    assert plugin["pluginName"] == "llm_router" and plugin["url"].startswith("oci://")
    assert plugin["pluginConfig"] == shipped_plugin_config()
    claim = d["RequestAuthentication"]["spec"]["jwtRules"][0]["outputClaimToHeaders"][0]
    assert claim["header"] == shipped_plugin_config()["customer"]["header"]
    wasm = d["EnvoyFilter"]["spec"]["configPatches"][0]["patch"]["value"]["typed_config"]["config"]
    assert wasm["allow_on_headers_stop_iteration"] is True and wasm["root_id"] == "llm_router"
    assert json.loads(wasm["configuration"]["value"]) == shipped_plugin_config()


def test_envoy_gateway_example_carries_the_tested_plugin_configuration() -> None:
    d = docs("envoy-gateway.yaml")
    assert set(d) == {"Secret", "SecurityPolicy", "EnvoyExtensionPolicy", "EnvoyProxy"}
    (wasm,) = d["EnvoyExtensionPolicy"]["spec"]["wasm"]
    assert wasm["rootID"] == "llm_router" and wasm["config"] == shipped_plugin_config()
    auth = d["SecurityPolicy"]["spec"]["apiKeyAuth"]
    assert auth["forwardClientIDHeader"] == shipped_plugin_config()["customer"]["header"] and auth["sanitize"] is True


def label_names() -> list[str]:
    """The label names the filter encodes in stat names (src/names.rs, module `label`)."""
    text = (REPO / "src" / "names.rs").read_text()
    block = text[text.index("pub mod label {") :]
    block = block[: block.index("\n}\n")]
    return re.findall(r'pub const \w+: &str = "(\w+)";', block)


def stats_tags(bootstrap: dict) -> list[dict]:
    return bootstrap["stats_config"]["stats_tags"]


def test_every_shipped_envoy_config_turns_every_label_into_a_prometheus_label() -> None:
    """One stats_tags regex per label name of src/names.rs (the `api` label included), the same
    in every Envoy configuration the project ships: a label without its regex would leave
    `<label>=.=<value>;.;` in the metric name."""
    labels = label_names()
    assert "api" in labels and "route" in labels, labels
    expected = [{"tag_name": n, "regex": f"({n}=\\.=(.*?);\\.;)"} for n in labels]
    istio = docs("istio.yaml")["EnvoyFilter"]["spec"]["configPatches"]
    (bootstrap_patch,) = [p for p in istio if p["applyTo"] == "BOOTSTRAP"]
    proxy = docs("envoy-gateway.yaml")["EnvoyProxy"]["spec"]["bootstrap"]
    assert proxy["type"] == "Merge"
    configs = {
        "envoy.yaml": yaml.safe_load((REPO / "envoy-config" / "envoy.yaml").read_text()),
        "providers.yaml": yaml.safe_load((REPO / "envoy-config" / "providers.yaml").read_text()),
        "fleet.yaml": yaml.safe_load((REPO / "envoy-config" / "fleet.yaml").read_text()),
        "k8s/istio.yaml": bootstrap_patch["patch"]["value"],
        "k8s/envoy-gateway.yaml": yaml.safe_load(proxy["value"]),
    }
    for name, bootstrap in configs.items():
        got = sorted(stats_tags(bootstrap), key=lambda t: t["tag_name"])
        assert got == sorted(expected, key=lambda t: t["tag_name"]), f"{name}: {got}"
