#!/usr/bin/env python3
"""A sample sink stand-in for shadow sampling (stdlib only): collects the JSONL records the
filter POSTs, and can write them to a file, which is what a real collector (Vector's or
Fluent Bit's HTTP input) does.

    python3 tests/upstream/fake_sink.py --port 18005 [--out samples.jsonl]

Endpoints
  POST <any path>   body: one or more JSON lines; each is kept (and appended to --out); 204.
                    A line that is not a JSON object is answered 400 (and counted in /_bad).
  GET  /_records    the records received so far, as a JSON array
  GET  /_bad        lines received that were not JSON objects
  POST /_reset      forget everything
Tests start it in-process with `start(port)` and take it down with `stop(server, sink)`.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Sink:
    def __init__(self, out: Path | None = None) -> None:
        self.lock = threading.Lock()
        self.records: list[dict] = []
        self.bad: list[str] = []
        self.paths: list[str] = []
        self.out = out
        self.connections: list[socket.socket] = []

    def add(self, path: str, body: bytes) -> bool:
        ok = True
        with self.lock:
            self.paths.append(path)
            for line in body.decode("utf-8", "replace").splitlines():
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError:
                    rec = None
                if not isinstance(rec, dict):
                    self.bad.append(line)
                    ok = False
                    continue
                self.records.append(rec)
                if self.out:
                    with self.out.open("a") as f:
                        f.write(line + "\n")
        return ok


def handler(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with sink.lock:
                sink.connections.append(self.connection)

        def log_message(self, fmt: str, *args: object) -> None:  # quiet
            pass

        def reply(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            with sink.lock:
                if self.path == "/_records":
                    return self.reply(200, json.dumps(sink.records).encode())
                if self.path == "/_bad":
                    return self.reply(200, json.dumps(sink.bad).encode())
            self.reply(404)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            if self.path == "/_reset":
                with sink.lock:
                    sink.records.clear()
                    sink.bad.clear()
                    sink.paths.clear()
                return self.reply(204)
            self.reply(204 if sink.add(self.path, body) else 400)

    return Handler


def start(port: int, out: Path | None = None) -> tuple[ThreadingHTTPServer, Sink]:
    """Serve on 127.0.0.1:`port` in a daemon thread."""
    sink = Sink(out)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler(sink))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, sink


def stop(server: ThreadingHTTPServer, sink: Sink) -> None:
    """Stop serving and close the kept-alive connections too: a sink that is down."""
    server.shutdown()
    server.server_close()
    with sink.lock:
        for conn in sink.connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        sink.connections.clear()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=18005)
    ap.add_argument("--out", type=Path, help="append every record to this JSONL file")
    args = ap.parse_args()
    server, _ = start(args.port, args.out)
    print(f"fake_sink listening on 127.0.0.1:{args.port}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
