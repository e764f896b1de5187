"""Helpers for the tests of envoy-config/providers.yaml: a test CA, TLS stand-ins under the real
provider host names, and the shipped providers.yaml run by a real Envoy with only what has to
differ on a machine without internet changed (`render_providers_config`):

  - each provider cluster: STATIC 127.0.0.1:<stand-in port> instead of LOGICAL_DNS <host>:443
    (SNI, SAN check, Host rewrite, path prefix and credential filters are untouched)
  - trusted CA: the test's CA instead of the system bundle
  - key files, gateway keys, router configuration: copies in the test's work directory
  - ports: free ones; access log: a file; the wasm: an absolute path
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from routerlib import REPO, parse_prometheus, stack_mod

sys.path.insert(0, str(REPO / "tests" / "upstream"))

from tls_provider import PROVIDERS, ProviderServer  # noqa: E402

PROVIDERS_YAML = REPO / "envoy-config" / "providers.yaml"
ROUTER_YAML = REPO / "envoy-config" / "providers" / "router.yaml"
GATEWAY_KEYS_YAML = REPO / "envoy-config" / "providers" / "gateway-keys.yaml"
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"
CUSTOMERS = ("acme", "globex")


# --------------------------------------------------------------------------------------
# A CA and server certificates made by the test
# --------------------------------------------------------------------------------------
class TestCA:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "llm-router test CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.dir / "ca.pem"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, host: str) -> tuple[Path, Path]:
        """A server certificate (and key) for `host`, as PEM files."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_path, key_path = self.dir / f"{host}.pem", self.dir / f"{host}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        return cert_path, key_path


# --------------------------------------------------------------------------------------
# The shipped files, read and rewritten
# --------------------------------------------------------------------------------------
def shipped_plugin_config() -> dict:
    """The plugin JSON inside envoy-config/providers/router.yaml."""
    doc = yaml.safe_load(ROUTER_YAML.read_text())
    return json.loads(doc["resources"][0]["typed_config"]["config"]["configuration"]["value"])


def router_ecds_text(plugin: dict | str, wasm: Path) -> str:
    """envoy-config/providers/router.yaml with this plugin configuration (a dict, or raw text
    for a deliberately broken one) and the wasm at an absolute path."""
    doc = yaml.safe_load(ROUTER_YAML.read_text())
    config = doc["resources"][0]["typed_config"]["config"]
    config["configuration"]["value"] = plugin if isinstance(plugin, str) else json.dumps(plugin, indent=2)
    config["vm_config"]["code"]["local"]["filename"] = str(wasm)
    return yaml.safe_dump(doc, sort_keys=False)


def gateway_keys_text(keys: dict[str, str]) -> str:
    """envoy-config/providers/gateway-keys.yaml with these customer -> key entries."""
    doc = yaml.safe_load(GATEWAY_KEYS_YAML.read_text())
    doc["resources"][0]["typed_config"]["credentials"] = [{"key": k, "client": c} for c, k in keys.items()]
    return yaml.safe_dump(doc, sort_keys=False)


def secret_text(name: str, key: str) -> str:
    doc = yaml.safe_load((REPO / "envoy-config" / "providers" / "secrets" / f"{name}.yaml").read_text())
    doc["resources"][0]["generic_secret"]["secret"]["inline_string"] = key
    return yaml.safe_dump(doc, sort_keys=False)


def replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` the way the docs say: a sibling file renamed over it."""
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def _walk(node: Any) -> Iterator[dict]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def render_providers_config(
    ports: dict[str, int], admin: int, listener: int, ca: Path, workdir: Path, access_log: Path
) -> str:
    """providers.yaml for this machine: see the module docstring for exactly what changes."""
    doc = yaml.safe_load(PROVIDERS_YAML.read_text())
    doc["admin"]["address"]["socket_address"]["port_value"] = admin
    listener_cfg = doc["static_resources"]["listeners"][0]
    listener_cfg["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": listener}
    seen = set()
    for cluster in doc["static_resources"]["clusters"]:
        name = cluster["name"].removeprefix("llm_")
        provider = PROVIDERS[name]
        seen.add(name)
        cluster["type"] = "STATIC"
        cluster.pop("dns_lookup_family", None)
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        assert endpoint["address"]["socket_address"] == {"address": provider.host, "port_value": 443}, cluster["name"]
        endpoint["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": ports[name]}
    assert seen == set(PROVIDERS), f"providers.yaml clusters {sorted(seen)} != stand-ins {sorted(PROVIDERS)}"
    replaced = {"ca": 0, "paths": 0, "log": 0}
    for node in _walk(doc):
        if node.get("trusted_ca") == {"filename": SYSTEM_CA}:
            node["trusted_ca"] = {"filename": str(ca)}
            replaced["ca"] += 1
        if isinstance(node.get("path"), str) and node["path"].startswith("envoy-config/providers"):
            node["path"] = str(workdir / node["path"].removeprefix("envoy-config/"))
            replaced["paths"] += 1
        if node.get("path") == "/dev/stdout":
            node["path"] = str(access_log)
            replaced["log"] += 1
    assert replaced["ca"] == len(PROVIDERS) and replaced["log"] == 1 and replaced["paths"] >= 4, replaced
    return yaml.safe_dump(doc, sort_keys=False)


def spawn_envoy(config: Path, workdir: Path) -> subprocess.Popen:
    """Envoy on `config`, from the repository root (the shipped relative paths), logging to workdir."""
    argv = [stack_mod.envoy_binary(), "-c", str(config), "--concurrency", "1", "--disable-hot-restart",
            "-l", "info", "--log-path", str(workdir / "envoy.log"),
            # Access-log lines reach the file in 0.2 s instead of Envoy's default 10 s.
            "--file-flush-interval-msec", "200"]  # fmt: skip
    with open(workdir / "envoy.stdout", "ab") as out:
        return subprocess.Popen(
            argv, cwd=str(REPO), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=stack_mod._die_with_parent,  # noqa: PLW1509
        )  # fmt: skip


def stop_envoy(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=5)


# --------------------------------------------------------------------------------------
# The running stack: four TLS stand-ins + Envoy with providers.yaml
# --------------------------------------------------------------------------------------
class ProviderStack:
    def __init__(self, workdir: Path, plugin: dict | None = None) -> None:
        self.workdir = workdir
        self.plugin = plugin if plugin is not None else shipped_plugin_config()
        self.wasm = stack_mod.wasm_path()
        # One key per key file: providers that share a file (Anthropic's two APIs) share the key.
        keys = {spec.secret: "sk-test-" + spec.secret + "-" + secrets.token_hex(12) for spec in PROVIDERS.values()}
        self.provider_keys = {name: keys[spec.secret] for name, spec in PROVIDERS.items()}
        self.gateway_keys = {c: "gw-" + c + "-" + secrets.token_hex(16) for c in CUSTOMERS}
        self.servers: dict[str, ProviderServer] = {}
        self.envoy: subprocess.Popen | None = None
        self.envoy_log = workdir / "envoy.log"
        self.access_log = workdir / "access.log"
        self.router_file = workdir / "providers" / "router.yaml"
        admin, listener = stack_mod.free_ports(2)
        self.admin_url, self.listener_url = f"http://127.0.0.1:{admin}", f"http://127.0.0.1:{listener}"
        self._ports = (admin, listener)

    def start(self, timeout: float = 120.0, routed: bool = True) -> None:
        """Start everything; wait until a request passes (`routed`) or only until Envoy is LIVE."""
        (self.workdir / "providers" / "secrets").mkdir(parents=True, exist_ok=True)
        ca = TestCA(self.workdir / "ca")
        for name, spec in PROVIDERS.items():
            cert, key = ca.issue(spec.host)
            self.servers[name] = ProviderServer(spec, self.provider_keys[name], cert, key).start()
            (self.workdir / "providers" / "secrets" / f"{spec.secret}.yaml").write_text(secret_text(spec.secret, self.provider_keys[name]))
        (self.workdir / "providers" / "gateway-keys.yaml").write_text(gateway_keys_text(self.gateway_keys))
        self.router_file.write_text(router_ecds_text(self.plugin, self.wasm))
        config = self.workdir / "providers.test.yaml"
        ports = {name: s.port for name, s in self.servers.items()}
        config.write_text(render_providers_config(ports, *self._ports, ca.pem, self.workdir, self.access_log))
        self.envoy = spawn_envoy(config, self.workdir)
        self._wait_ready(timeout, routed)
        self.reset()

    def _wait_ready(self, timeout: float, routed: bool) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.envoy is not None and self.envoy.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.envoy.returncode}:\n{stack_mod.tail(self.envoy_log)}")
            with contextlib.suppress(requests.RequestException):
                if not routed:
                    if "LIVE" in requests.get(self.admin_url + "/ready", timeout=3).text:
                        return
                    continue
                # Through the gateway-key filter and the passthrough route to the OpenAI stand-in.
                r = requests.get(self.listener_url + "/v1/models", headers=self.auth("acme"), timeout=3)
                if r.status_code == 200:
                    return
            time.sleep(0.25)
        raise RuntimeError(f"envoy with providers.yaml not ready after {timeout:.0f}s:\n{stack_mod.tail(self.envoy_log)}")

    def stop(self) -> None:
        stop_envoy(self.envoy)
        for server in self.servers.values():
            server.stop()

    # helpers
    def auth(self, customer: str) -> dict[str, str]:
        """The header an OpenAI SDK sends for api_key=<customer's gateway key>."""
        return {"authorization": f"Bearer {self.gateway_keys[customer]}"}

    def reset(self) -> None:
        for server in self.servers.values():
            server.reset()

    def received(self) -> dict[str, list[dict]]:
        return {name: server.requests() for name, server in self.servers.items()}

    def chat(self, body: dict, headers: dict[str, str], timeout: float = 30.0) -> requests.Response:
        return requests.post(self.listener_url + "/v1/chat/completions", json=body, headers=headers, timeout=timeout)

    def prometheus(self) -> list[tuple[str, dict[str, str], float]]:
        r = requests.get(self.admin_url + "/stats/prometheus", timeout=10)
        r.raise_for_status()
        return parse_prometheus(r.text)

    def stat(self, name: str) -> float:
        r = requests.get(self.admin_url + "/stats", params={"format": "json", "filter": f"^{name}$"}, timeout=10)
        r.raise_for_status()
        return sum(float(s.get("value", 0)) for s in r.json().get("stats", []) if s.get("name") == name)

    def access_entries(self) -> list[dict]:
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text(errors="replace").splitlines() if line.strip()]

    def access_entry(self, request_id: str, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.access_entries():
                if entry.get("request_id") == request_id:
                    return entry
            time.sleep(0.2)
        raise AssertionError(f"no access-log line for {request_id}")


@contextlib.contextmanager
def provider_stack(workdir: Path, plugin: dict | None = None) -> Iterator[ProviderStack]:
    import pytest

    workdir.mkdir(parents=True, exist_ok=True)
    stack = ProviderStack(workdir, plugin)
    try:
        stack.start()
    except (RuntimeError, SystemExit, OSError) as exc:
        stack.stop()
        pytest.fail(f"could not start Envoy with providers.yaml: {exc}", pytrace=False)
    try:
        yield stack
    finally:
        stack.stop()
