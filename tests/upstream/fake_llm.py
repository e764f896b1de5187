#!/usr/bin/env python3
"""A small OpenAI-compatible stand-in for an LLM provider (stdlib only).

Used by the integration tests, scripts/serve.sh and scripts/demo.sh as the
upstream behind each Envoy cluster, so the router can be exercised without
network access or API keys.

    python3 tests/upstream/fake_llm.py --port 18001 --name cheap

Endpoints
  POST /v1/chat/completions   chat.completion (or SSE chunks with "stream": true)
  POST /v1/messages           Anthropic Messages (see fake_anthropic.py for its controls)
  GET  /v1/models             a model list
  GET  /_last                 the last non-underscore request seen: {method, path, headers, body, body_b64, json}
  GET  /_history              the last 50 such requests, oldest first
  POST /_reset                forget recorded requests
  GET  /_health               "ok"
  anything else               echoes {"echo": {method, path, bytes, sha256}} with 200

Usage numbers are deterministic so tests can predict costs:
  prompt_tokens      = sum over messages of ceil(len(text)/4) + 4
  completion_tokens  = 20
  cached_tokens      = 0
Test controls (request headers, all optional):
  x-test-prompt-tokens: N      override prompt_tokens
  x-test-completion-tokens: N  override completion_tokens
  x-test-cached-tokens: N      prompt_tokens_details.cached_tokens
  x-test-status: CODE          reply CODE with an OpenAI-style error JSON
  x-test-content: TEXT         the assistant content instead of "upstream=... model=..."
  x-test-finish-reason: R      finish_reason instead of "stop"
  x-test-only-on: a,b          apply x-test-status/-content/-finish-reason only on upstreams
                               with these names (fallback/escalation tests: the re-sent request
                               carries the same headers)
  x-test-no-usage: 1           omit usage (and the usage chunk when streaming)
  x-test-stream-delay-ms: N    pause between SSE chunks (default 5)
Response-shaping controls (the bad-input corpus, tests/corpus/):
  x-test-usage-json: JSON      use this raw JSON as the usage object (negative, absurd, ...)
  x-test-service-tier: T       `service_tier` of the answer and of every chunk (default "default")
  x-test-encoding: gzip|deflate  compress the JSON answer whatever accept-encoding said
  x-test-raw-body-b64: B64     answer exactly these bytes instead of the completion JSON
  x-test-content-type: TYPE    content-type of a JSON answer (default application/json)
  x-test-chunked-response: 1   send the JSON answer chunked, without content-length
  x-test-pad-bytes: N          add a "padding" field of N characters to the JSON answer
  x-test-truncate-body: N      announce the whole JSON answer's length, send N bytes, close
  x-test-sse-eol: crlf|cr      SSE line ends (default LF)
  x-test-sse-comments: 1       SSE comments, event/id/retry fields between the data lines
  x-test-sse-multiline: 1      each SSE JSON payload split over two data: lines
  x-test-sse-bytewise: 1       write the SSE stream one byte per HTTP chunk, flushing each
  x-test-sse-no-done: 1        no final data: [DONE]
  x-test-sse-cut-after: N      send the first N SSE events, then close the connection without
                               ending the chunked body (an upstream dying mid-stream)
  x-test-response-headers: JSON  extra response headers ({"name": "value"}), e.g. forged
                               x-llm-router-* headers from a misbehaving upstream
Answers shaped by these carry x-test-body-sha256, the SHA-256 of the body bytes sent; SSE
answers also carry x-test-body-sha256-without-usage, the SHA-256 of the body without the block
of the usage-only chunk (what a client that did not ask for usage gets through the router).
Every response carries `x-upstream-name: NAME`.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import math
import sys
import threading
import time
import uuid
import zlib
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import fake_anthropic  # noqa: E402 - a sibling module: the stand-in also speaks Anthropic Messages

HISTORY_LIMIT = 50
DEFAULT_COMPLETION_TOKENS = 20

MODELS = [
    "gpt-5-nano",
    "gpt-5-mini",
    "gpt-5",
    "gpt-4o",
    "gpt-4o-mini",
    "claude-haiku-4.5",
    "claude-sonnet-4.6",
    "claude-opus-4.6",
]


def message_text(message: Any) -> str:
    """Concatenated text of one chat message (string or content-part list)."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return ""


def estimate_prompt_tokens(body: dict) -> int:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(math.ceil(len(message_text(m)) / 4) + 4 for m in messages)


def flag(headers, name: str) -> bool:
    return headers.get(name) not in (None, "", "0", "false")


def header_int(headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


class FakeLLMHandler(BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive: every response below carries Content-Length or is chunked.
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: headers and body are separate writes; with Nagle + delayed ACKs every
    # response would wait ~40 ms for the peer's ACK (the soak test's throughput ceiling).
    disable_nagle_algorithm = True
    server_version = "fake-llm/1.0"
    sys_version = ""

    # ---- plumbing -------------------------------------------------------

    @property
    def app(self) -> "FakeLLMServer":
        return self.server  # type: ignore[return-value]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.app.verbose:
            sys.stderr.write(f"[{self.app.name}] {self.address_string()} {format % args}\n")

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)  # CRLF after each chunk
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def record(self, body: bytes) -> None:
        parsed: Any = None
        try:
            parsed = json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError, RecursionError):
            parsed = None
        entry = {
            "method": self.command,
            "path": self.path,
            # Header names lower-cased; repeated headers joined with ", ".
            "headers": {k.lower(): ", ".join(self.headers.get_all(k) or []) for k in self.headers.keys()},
            "body": body.decode("utf-8", errors="replace"),
            "body_b64": base64.b64encode(body).decode("ascii"),
            "json": parsed,
            "received_at": time.time(),
        }
        entry.update(self.connection_details())
        with self.app.lock:
            self.app.history.append(entry)

    def connection_details(self) -> dict[str, Any]:
        """Extra fields of a recorded request; the TLS stand-in (tls_provider.py) adds SNI and ALPN."""
        return {}

    def send_bytes(self, status: int, payload: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-upstream-name", self.app.name)
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(obj).encode("utf-8"), "application/json", extra)

    def send_error_json(self, status: int, message: str, err_type: str = "invalid_request_error") -> None:
        code = {400: "invalid_request", 401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded"}.get(status)
        if status >= 500:
            err_type = "server_error"
        self.send_json(status, {"error": {"message": message, "type": err_type, "param": None, "code": code}})

    # ---- verbs --------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.read_body()
        path = self.path.split("?", 1)[0]
        if path == "/_last":
            with self.app.lock:
                last = self.app.history[-1] if self.app.history else None
            if last is None:
                self.send_json(404, {"error": "no request recorded yet"})
            else:
                self.send_json(200, last)
            return
        if path == "/_history":
            with self.app.lock:
                self.send_json(200, list(self.app.history))
            return
        if path == "/_health":
            self.send_bytes(200, b"ok\n", "text/plain")
            return
        self.record(b"")
        if path == "/v1/models":
            created = 1767225600
            self.send_json(
                200,
                {"object": "list", "data": [{"id": m, "object": "model", "created": created, "owned_by": "fake-llm"} for m in MODELS]},
            )
            return
        self.send_json(200, {"echo": {"method": "GET", "path": self.path, "bytes": 0, "sha256": hashlib.sha256(b"").hexdigest()}})

    def do_HEAD(self) -> None:  # noqa: N802
        self.send_bytes(200, b"", "text/plain")

    def do_DELETE(self) -> None:  # noqa: N802
        self.do_POST()

    def do_PUT(self) -> None:  # noqa: N802
        self.do_POST()

    def do_POST(self) -> None:  # noqa: N802
        body = self.read_body()
        path = self.path.split("?", 1)[0]
        if path == "/_reset":
            with self.app.lock:
                self.app.history.clear()
            self.send_json(200, {"ok": True})
            return
        self.record(body)
        if path.rstrip("/") == self.app.chat_path and self.command == "POST":
            self.chat_completions(body)
            return
        if path.rstrip("/") == "/v1/messages":
            fake_anthropic.messages(self, body)
            return
        self.send_json(
            200,
            {"echo": {"method": self.command, "path": self.path, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}},
        )

    # ---- chat completions ---------------------------------------------------------

    def scoped(self, name: str) -> str | None:
        """A test-control header that x-test-only-on may limit to some upstreams."""
        only = self.headers.get("x-test-only-on")
        if only and self.app.name not in [n.strip() for n in only.split(",")]:
            return None
        return self.headers.get(name)

    def chat_completions(self, raw: bytes) -> None:
        forced_raw = self.scoped("x-test-status")
        forced = int(forced_raw) if forced_raw and forced_raw.strip().isdigit() else None
        if forced is not None and forced >= 400:
            self.send_error_json(forced, f"forced error {forced} from upstream {self.app.name}")
            return
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            self.send_error_json(400, "We could not parse the JSON body of your request.")
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self.send_error_json(400, "'messages' is a required property")
            return
        model = body.get("model")
        if not isinstance(model, str) or not model:
            self.send_error_json(400, "you must provide a model parameter")
            return

        prompt_tokens = header_int(self.headers, "x-test-prompt-tokens")
        if prompt_tokens is None:
            prompt_tokens = estimate_prompt_tokens(body)
        completion_tokens = header_int(self.headers, "x-test-completion-tokens")
        if completion_tokens is None:
            completion_tokens = DEFAULT_COMPLETION_TOKENS
        cached_tokens = header_int(self.headers, "x-test-cached-tokens") or 0
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        if self.headers.get("x-test-usage-json") is not None:
            usage = json.loads(self.headers["x-test-usage-json"])
        no_usage = self.headers.get("x-test-no-usage") not in (None, "", "0", "false")
        content = f"upstream={self.app.name} model={model}"
        if self.scoped("x-test-content") is not None:
            content = self.scoped("x-test-content")
        finish_reason = self.scoped("x-test-finish-reason") or "stop"
        completion_id = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())

        if body.get("stream") is True:
            stream_options = body.get("stream_options")
            include_usage = isinstance(stream_options, dict) and stream_options.get("include_usage") is True
            self.stream_completion(completion_id, created, model, content, usage if include_usage and not no_usage else None, include_usage)
            return

        response = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
            "service_tier": self.service_tier(),
            "system_fingerprint": "fp_fake_llm",
        }
        if not no_usage:
            response["usage"] = usage
        self.send_completion(response)

    def send_completion(self, response: dict) -> None:
        """The JSON answer, shaped by the x-test-* response controls."""
        pad = header_int(self.headers, "x-test-pad-bytes")
        if pad:
            response["padding"] = "x" * pad
        payload = json.dumps(response).encode("utf-8")
        raw = self.headers.get("x-test-raw-body-b64")
        if raw is not None:
            payload = base64.b64decode(raw)
        content_type = self.headers.get("x-test-content-type") or "application/json"
        extra: dict[str, str] = {}
        encoding = (self.headers.get("x-test-encoding") or "").lower()
        if encoding == "gzip":
            payload = gzip.compress(payload, mtime=0)
            extra["Content-Encoding"] = "gzip"
        elif encoding == "deflate":
            payload = zlib.compress(payload)
            extra["Content-Encoding"] = "deflate"
        extra["x-test-body-sha256"] = hashlib.sha256(payload).hexdigest()
        extra.update(self.extra_response_headers())
        truncate = header_int(self.headers, "x-test-truncate-body")
        if flag(self.headers, "x-test-chunked-response"):
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("x-upstream-name", self.app.name)
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            for i in range(0, len(payload), 1000):
                piece = payload[i : i + 1000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        elif truncate is not None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-upstream-name", self.app.name)
            self.end_headers()
            self.wfile.write(payload[:truncate])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_bytes(200, payload, content_type, extra)

    def stream_completion(
        self, completion_id: str, created: int, model: str, content: str, usage: dict | None, include_usage: bool
    ) -> None:
        delay = header_int(self.headers, "x-test-stream-delay-ms")
        delay_s = (5 if delay is None else max(delay, 0)) / 1000.0

        def chunk(delta: dict, finish: str | None) -> dict:
            c: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": self.service_tier(),
                "system_fingerprint": "fp_fake_llm",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            if include_usage:
                c["usage"] = None  # as OpenAI does: null on every chunk but the last
            return c

        events: list[dict] = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
        words = content.split(" ")
        for i, word in enumerate(words):
            events.append(chunk({"content": word if i == 0 else " " + word}, None))
        events.append(chunk({}, "stop"))
        if usage is not None:
            events.append(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "service_tier": self.service_tier(),
                    "system_fingerprint": "fp_fake_llm",
                    "choices": [],
                    "usage": usage,
                }
            )

        self.send_sse(events, delay_s)

    def service_tier(self) -> str:
        """The tier the answer says it was served on (OpenAI reports it on the answer and on
        every stream chunk; standard processing is `default`)."""
        return self.headers.get("x-test-service-tier", "default")

    def extra_response_headers(self) -> dict[str, str]:
        raw = self.headers.get("x-test-response-headers")
        return {str(k): str(v) for k, v in json.loads(raw).items()} if raw else {}

    def send_sse(self, events: list[dict], delay_s: float) -> None:
        """SSE events and [DONE] as a chunked response, shaped by the x-test-sse-* controls."""
        eol = {"crlf": b"\r\n", "cr": b"\r"}.get((self.headers.get("x-test-sse-eol") or "").lower(), b"\n")
        comments = flag(self.headers, "x-test-sse-comments")
        multiline = flag(self.headers, "x-test-sse-multiline")
        pieces: list[bytes] = []
        usage_pieces: set[int] = set()
        for i, event in enumerate(events):
            if event.get("choices") == [] and event.get("usage") is not None:
                usage_pieces.add(i)
            data = json.dumps(event).encode("utf-8")
            if multiline:
                data = data.replace(b", ", b"," + eol + b"data: ", 1)
            prefix = b": keep-alive" + eol + b"event: chunk" + eol + b"id: %d" % i + eol + b"retry: 1000" + eol if comments else b""
            pieces.append(prefix + b"data: " + data + eol + eol)
        if not flag(self.headers, "x-test-sse-no-done"):
            pieces.append(b"data: [DONE]" + eol + eol)
        cut = header_int(self.headers, "x-test-sse-cut-after")
        if cut is not None:
            pieces = pieces[:cut]
        body = b"".join(pieces)
        without_usage = b"".join(p for i, p in enumerate(pieces) if i not in usage_pieces)

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-upstream-name", self.app.name)
        self.send_header("x-test-body-sha256", hashlib.sha256(body).hexdigest())
        self.send_header("x-test-body-sha256-without-usage", hashlib.sha256(without_usage).hexdigest())
        for key, value in self.extra_response_headers().items():
            self.send_header(key, value)
        self.end_headers()

        def write_chunk(data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        if flag(self.headers, "x-test-sse-bytewise"):
            for i in range(len(body)):
                write_chunk(body[i : i + 1])
        else:
            for piece in pieces:
                write_chunk(piece)
                if delay_s:
                    time.sleep(delay_s)
        if cut is not None:
            # No terminating chunk: Envoy sees the upstream connection close mid-body.
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class FakeLLMServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], name: str, verbose: bool = False) -> None:
        super().__init__(address, FakeLLMHandler)
        self.name = name
        self.verbose = verbose
        self.lock = threading.Lock()
        self.history: deque[dict] = deque(maxlen=HISTORY_LIMIT)
        # Where chat completions are served; a provider with another prefix (Gemini's
        # /v1beta/openai/) sets its own, so a request sent to the wrong path gets the echo, not a
        # completion.
        self.chat_path = "/v1/chat/completions"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True, help="reported in x-upstream-name and in the reply text")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    server = FakeLLMServer((args.host, args.port), args.name, args.verbose)
    sys.stderr.write(f"fake-llm '{args.name}' listening on http://{args.host}:{args.port}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
