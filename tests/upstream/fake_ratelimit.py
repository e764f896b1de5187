#!/usr/bin/env python3
"""A STAND-IN for Envoy's global rate-limit service (envoyproxy/ratelimit), for the fleet-budget
tests: no real rate-limit service can be installed here (envoyproxy/ratelimit is Go and not on
the registries this machine reaches; `limitador-server` is not on crates.io, only the
`limitador` library). It speaks the real gRPC API, so Envoy's `envoy.filters.http.ratelimit`
filter talks to it exactly as to a real deployment:

    /envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit   (gRPC over HTTP/2, no TLS)

with hand-written protobuf (tests/upstream/rls_wire.py, field numbers from the real .proto).

    python3 tests/upstream/fake_ratelimit.py --port 18081 --http-port 18082 --config limits.yaml

What it implements, as envoyproxy/ratelimit does with its Redis fixed-window cache:
  - the configuration file's subset: `domain` and a flat list of `descriptors`, each a single
    `key` with an optional `value` and `rate_limit: {unit, requests_per_unit}` (or
    `unlimited: true`); an entry with a value wins over the entry of the same key without one
    (the default for every other value). `requests_per_unit` is a uint32 in the API, so a limit
    above 4,294,967,295 is refused at load, as the real service cannot express it either.
  - a fixed window per unit: the count of (domain, descriptor) belongs to the window
    `now - now % unit` with unit seconds second 1, minute 60, hour 3,600, day 86,400,
    month 30 days, year 365 days (envoyproxy/ratelimit's dividers);
  - hits: a descriptor's own `hits_addend` when Envoy sends one (present even when 0: a check
    that adds nothing), else the request's `hits_addend`, where 0 (unset) counts as 1, the rule
    of envoyproxy/ratelimit's `GetHitsAddends`;
  - every call adds its hits, then the descriptor is OVER_LIMIT when its count is above the limit
    (so a call adding 0 only checks: over once the count passed the limit); the overall code
    is OVER_LIMIT when any descriptor is. A descriptor no limit matches is OK and not counted.
  - each status carries the limit, what is left and the seconds until the window resets.
What it leaves out: nested descriptors (several entries per descriptor), shadow mode,
`replaces`, the near-limit statistics, Redis / memcached and several replicas, limit overrides
sent in the request, response headers or body set by the service.

For the tests, a plain HTTP port (stdlib) shows what happened:
  GET  /_counts   {"counts": {"<domain>|<key>=<value>": hits in the current window}, "calls": [
                  {"domain", "descriptors": [{"entries": [[k, v]], "hits_addend": n | null,
                  "unknown_fields": [...]}], "hits_addend", "overall", "unknown_fields"}, ...]}
  POST /_reset    forget counts and calls
  GET  /_health   "ok"
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import grpc
import yaml

import rls_wire as wire

SERVICE = "envoy.service.ratelimit.v3.RateLimitService"
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "month": 30 * 86400, "year": 365 * 86400}
MAX_UINT32 = 2**32 - 1


class ConfigError(ValueError):
    """A limits file this stand-in cannot serve (said at start-up, like the real service)."""


@dataclass(frozen=True)
class Limit:
    unit: str | None  # None: unlimited
    requests_per_unit: int


def load_limits(doc: Any) -> tuple[str, dict[tuple[str, str | None], Limit]]:
    """The envoyproxy/ratelimit config subset described above -> (domain, {(key, value): limit})."""
    if not isinstance(doc, dict) or not isinstance(doc.get("domain"), str) or not doc["domain"]:
        raise ConfigError("the config needs a non-empty `domain`")
    limits: dict[tuple[str, str | None], Limit] = {}
    for i, d in enumerate(doc.get("descriptors") or []):
        if not isinstance(d, dict) or not isinstance(d.get("key"), str):
            raise ConfigError(f"descriptors[{i}] needs a `key`")
        if "descriptors" in d:
            raise ConfigError(f"descriptors[{i}]: nested descriptors are not implemented by this stand-in")
        value = d.get("value")
        if d.get("unlimited") is True:
            limit = Limit(None, 0)
        else:
            rl = d.get("rate_limit")
            if not isinstance(rl, dict) or str(rl.get("unit", "")).lower() not in UNIT_SECONDS:
                raise ConfigError(f"descriptors[{i}] needs rate_limit.unit, one of {sorted(UNIT_SECONDS)}")
            n = rl.get("requests_per_unit")
            if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_UINT32:
                raise ConfigError(f"descriptors[{i}]: requests_per_unit must be an integer 0..{MAX_UINT32} (a uint32)")
            limit = Limit(str(rl["unit"]).lower(), n)
        limits[(d["key"], None if value is None else str(value))] = limit
    return doc["domain"], limits


class Limiter:
    """Counts per (domain, descriptor, window), shared by every gRPC worker thread."""

    def __init__(self, domain: str, limits: dict[tuple[str, str | None], Limit], clock=time.time) -> None:
        self.domain, self.limits, self.clock = domain, limits, clock
        self.lock = threading.Lock()
        # (domain, descriptor, window start, window seconds) -> hits
        self.counts: dict[tuple[str, str, int, int], int] = {}
        self.calls: list[dict] = []

    def _limit(self, domain: str, entries: list[tuple[str, str]]) -> Limit | None:
        if domain != self.domain or len(entries) != 1:
            return None
        key, value = entries[0]
        return self.limits.get((key, value)) or self.limits.get((key, None))

    def should_rate_limit(self, req: wire.Request) -> tuple[int, list[wire.Status]]:
        now = self.clock()
        statuses = []
        with self.lock:
            for d in req.descriptors:
                limit = self._limit(req.domain, d.entries)
                if limit is None or limit.unit is None:
                    statuses.append(wire.Status(code=wire.OK))
                    continue
                hits = d.hits_addend if d.hits_addend is not None else max(1, req.hits_addend)
                seconds = UNIT_SECONDS[limit.unit]
                window = int(now) - int(now) % seconds
                key = (req.domain, "|".join(f"{k}={v}" for k, v in d.entries), window, seconds)
                count = self.counts.get(key, 0) + hits
                self.counts[key] = count
                code = wire.OVER_LIMIT if count > limit.requests_per_unit else wire.OK
                remaining = max(limit.requests_per_unit - count, 0)
                statuses.append(wire.Status(code, limit.requests_per_unit, limit.unit, remaining, window + seconds - int(now)))
            overall = wire.OVER_LIMIT if any(s.code == wire.OVER_LIMIT for s in statuses) else wire.OK
            self.calls.append(
                {
                    "domain": req.domain,
                    "descriptors": [
                        {"entries": d.entries, "hits_addend": d.hits_addend, "unknown_fields": d.unknown}
                        for d in req.descriptors
                    ],
                    "hits_addend": req.hits_addend,
                    "overall": "OVER_LIMIT" if overall == wire.OVER_LIMIT else "OK",
                    "unknown_fields": req.unknown,
                }
            )
        return overall, statuses

    def snapshot(self) -> dict:
        now = int(self.clock())
        with self.lock:
            current = {
                f"{domain}|{desc}": n
                for (domain, desc, window, seconds), n in self.counts.items()
                if window == now - now % seconds
            }
            return {"counts": current, "calls": list(self.calls)}

    def reset(self) -> None:
        with self.lock:
            self.counts.clear()
            self.calls.clear()


def grpc_server(limiter: Limiter, host: str, port: int) -> grpc.Server:
    def should_rate_limit(request: wire.Request, context: grpc.ServicerContext) -> tuple[int, list[wire.Status]]:
        if not request.domain or not request.descriptors:
            # The real service answers these with an error too (checkServiceErr).
            context.abort(grpc.StatusCode.UNKNOWN, "rate limit domain and descriptors must not be empty")
        return limiter.should_rate_limit(request)

    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "ShouldRateLimit": grpc.unary_unary_rpc_method_handler(
                should_rate_limit,
                request_deserializer=wire.decode_request,
                response_serializer=lambda out: wire.encode_response(*out),
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"cannot listen on {host}:{port}")
    return server


def http_server(limiter: Limiter, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/_counts":
                self._send(200, json.dumps(limiter.snapshot()).encode())
            elif self.path == "/_health":
                self._send(200, b"ok", "text/plain")
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:  # noqa: N802
            if self.path == "/_reset":
                limiter.reset()
                self._send(200, b"{}")
            else:
                self._send(404, b"{}")

        def log_message(self, *_args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="gRPC port (Envoy's rate-limit cluster)")
    parser.add_argument("--http-port", type=int, required=True, help="plain HTTP port for /_counts, /_reset, /_health")
    parser.add_argument("--config", required=True, help="limits file (YAML or JSON, envoyproxy/ratelimit's format subset)")
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    try:
        domain, limits = load_limits(yaml.safe_load(Path(args.config).read_text()))
    except (OSError, yaml.YAMLError, ConfigError) as exc:
        sys.stderr.write(f"fake-ratelimit: {args.config}: {exc}\n")
        return 2
    limiter = Limiter(domain, limits)
    rpc = grpc_server(limiter, args.host, args.port)
    web = http_server(limiter, args.host, args.http_port)
    rpc.start()
    threading.Thread(target=web.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    sys.stderr.write(f"fake-ratelimit: domain {domain!r}, gRPC on {args.host}:{args.port}, counts on http://{args.host}:{args.http_port}/_counts\n")
    sys.stderr.flush()
    try:
        rpc.wait_for_termination()
    except KeyboardInterrupt:
        pass
    finally:
        web.shutdown()
        rpc.stop(grace=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
