"""TLS stand-ins for the real providers (OpenAI, Anthropic, Gemini, DeepSeek), for the tests of
envoy-config/providers.yaml (tests/integration/test_providers.py, test_live_reload.py).
Anthropic has two: its OpenAI SDK compatibility endpoint (Bearer key) and its native Messages
API (`x-api-key` + `anthropic-version`), one Envoy cluster each.

Each stand-in is the OpenAI-compatible fake of fake_llm.py behind TLS, with a certificate for
the provider's real host name issued by a CA the test makes, so Envoy reaches it exactly as it
would reach the provider: SNI, certificate and SAN checks, Host header, path prefix, API key.
They run as threads inside the test process, so the test reads what they recorded directly.

What a provider does with a request that is not for it is what the stand-in does:
  - a path outside the provider's API prefix (e.g. /v1/chat/completions sent to Gemini, which
    serves the OpenAI API under /v1beta/openai/) -> 404 with an OpenAI-style error
  - a missing or wrong `authorization: Bearer <key>` -> 401 with an OpenAI-style error
  - Anthropic's native API: a missing or wrong `x-api-key` -> 401, no `anthropic-version`
    header -> 400, both with Anthropic's error shape
Every request is recorded either way, with `sni` (the TLS server name Envoy asked for), `alpn`
and the header values, so a test can also see what was rejected.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_llm import FakeLLMHandler, FakeLLMServer


@dataclass(frozen=True)
class Provider:
    """A provider as its documentation describes its OpenAI-compatible API."""

    name: str  # also the Envoy cluster suffix (llm_<name>) and the stand-in's x-upstream-name
    host: str  # API host name: the Host header, the TLS SNI and the certificate's DNS SAN
    prefix: str  # path prefix of the API (chat completions at <prefix>chat/completions)
    # How the API takes its key: "bearer" (`authorization: Bearer <key>`, OpenAI-compatible
    # APIs) or "x-api-key" (Anthropic's native API: `x-api-key: <key>` and `anthropic-version`).
    auth: str = "bearer"
    endpoint: str = "chat/completions"  # the one POST endpoint the tests send to, under prefix
    key_file: str = ""  # the SDS key file (envoy-config/providers/secrets/<key_file>.yaml); default: name

    @property
    def secret(self) -> str:
        return self.key_file or self.name

    @property
    def chat_path(self) -> str:
        return self.prefix + self.endpoint


# From each provider's documentation of its OpenAI-compatible endpoint (base URL + Bearer key):
#   OpenAI     https://api.openai.com/v1/
#   Anthropic  https://api.anthropic.com/v1/                         (OpenAI SDK compatibility)
#   Gemini     https://generativelanguage.googleapis.com/v1beta/openai/
#   DeepSeek   https://api.deepseek.com/v1  ("v1" has nothing to do with the model version)
# and Anthropic's own Messages API: POST https://api.anthropic.com/v1/messages with headers
# `x-api-key: <key>` and `anthropic-version: 2023-06-01`.
PROVIDERS = {
    p.name: p
    for p in (
        Provider("openai", "api.openai.com", "/v1/"),
        Provider("anthropic", "api.anthropic.com", "/v1/"),
        # The same Anthropic key as the compatibility endpoint: the same key file.
        Provider("anthropic_messages", "api.anthropic.com", "/v1/", auth="x-api-key", endpoint="messages", key_file="anthropic"),
        Provider("gemini", "generativelanguage.googleapis.com", "/v1beta/openai/"),
        Provider("deepseek", "api.deepseek.com", "/v1/"),
    )
}


def anthropic_error(handler: "ProviderHandler", status: int, err_type: str, message: str) -> None:
    handler.send_json(status, {"type": "error", "error": {"type": err_type, "message": message}})


class ProviderHandler(FakeLLMHandler):
    @property
    def provider(self) -> "ProviderServer":
        return self.server  # type: ignore[return-value]

    def connection_details(self) -> dict[str, Any]:
        conn = self.connection
        return {
            "sni": getattr(conn, "llm_sni", None),
            "alpn": conn.selected_alpn_protocol() if isinstance(conn, ssl.SSLSocket) else None,
            "tls": conn.version() if isinstance(conn, ssl.SSLSocket) else None,
        }

    def refused(self) -> bool:
        """Answer (and record) a request the real provider would refuse; True if it was."""
        path = self.path.split("?", 1)[0]
        if path.startswith("/_"):
            return False
        if not path.startswith(self.provider.spec.prefix):
            self.record(self.read_body())
            self.send_error_json(404, f"Invalid URL ({self.command} {path})")
            return True
        if self.provider.spec.auth == "x-api-key":
            # Anthropic's documented answers to a missing key or version header.
            if self.headers.get("x-api-key") != self.provider.api_key:
                self.record(self.read_body())
                anthropic_error(self, 401, "authentication_error", "invalid x-api-key")
                return True
            if not self.headers.get("anthropic-version"):
                self.record(self.read_body())
                anthropic_error(self, 400, "invalid_request_error", "anthropic-version: header is required")
                return True
            return False
        if self.headers.get("authorization") != f"Bearer {self.provider.api_key}":
            self.record(self.read_body())
            self.send_error_json(401, "Incorrect API key provided.")
            return True
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        if not self.refused():
            super().do_GET()

    def do_POST(self) -> None:  # noqa: N802
        if not self.refused():
            super().do_POST()


class ProviderServer(FakeLLMServer):
    """One provider stand-in: HTTPS on 127.0.0.1 with `cert`/`key` for the provider's host."""

    def __init__(self, spec: Provider, api_key: str, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), spec.name)
        self.RequestHandlerClass = ProviderHandler
        self.spec = spec
        self.api_key = api_key
        # Where fake_llm serves chat completions under this prefix (/v1/messages is always
        # served in Anthropic's format, by fake_anthropic.py).
        self.chat_path = spec.prefix + "chat/completions"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        # HTTP/1.1 only, as a server may answer Envoy's ALPN offer (h2, http/1.1).
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.sni_callback = self._remember_sni
        self.tls = ctx
        self.thread: threading.Thread | None = None

    @staticmethod
    def _remember_sni(conn: ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext) -> None:
        conn.llm_sni = server_name  # type: ignore[attr-defined]

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # The handshake runs in the handler thread (on the first read), not in the accept loop.
        return self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops a connection mid-handshake is not a test failure; the recorded
        # requests are what the tests check.
        pass

    def start(self) -> "ProviderServer":
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def requests(self) -> list[dict]:
        with self.lock:
            return list(self.history)

    def reset(self) -> None:
        with self.lock:
            self.history.clear()
