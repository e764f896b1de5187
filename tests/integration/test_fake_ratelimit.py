"""The rate-limit service stand-in (tests/upstream/fake_ratelimit.py) on its own, through a gRPC
client: the counting rules docs/fleet-budgets.md and the fleet tests rely on, as
envoyproxy/ratelimit applies them (hits from the descriptor, else the request, where 0 means 1;
OVER_LIMIT above the limit; a default limit per key; unlimited values), and a limit the API's
uint32 cannot carry refused at start."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import grpc
import pytest

from fleetlib import RateLimitService
from routerlib import REPO

sys.path.insert(0, str(REPO / "tests" / "upstream"))

import rls_wire as wire  # noqa: E402

KEY = "llm_router_budget"


@pytest.fixture(scope="module")
def service(workdir: Path) -> Iterator[RateLimitService]:
    limits = {
        "domain": "llm_router",
        "descriptors": [
            {"key": KEY, "rate_limit": {"unit": "year", "requests_per_unit": 10}},
            {"key": KEY, "value": "vip", "rate_limit": {"unit": "year", "requests_per_unit": 1_000}},
            {"key": KEY, "value": "free", "unlimited": True},
        ],
    }
    rls = RateLimitService(workdir / "fake-ratelimit", limits)
    rls.start()
    try:
        yield rls
    finally:
        rls.stop()


def should_rate_limit(rls: RateLimitService, customer: str, hits: int | None, request_hits: int = 0) -> tuple[int, list[wire.Status]]:
    with grpc.insecure_channel(f"127.0.0.1:{rls.grpc_port}") as channel:
        call = channel.unary_unary(
            "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        request = wire.encode_request("llm_router", [wire.Descriptor([(KEY, customer)], hits)], request_hits)
        return wire.decode_response(call(request, timeout=10))


def test_hits_come_from_the_descriptor_else_the_request_where_0_counts_1(service: RateLimitService) -> None:
    assert should_rate_limit(service, "a", 0)[0] == wire.OK
    assert service.count("a") == 0  # an explicit per-descriptor 0 only checks
    should_rate_limit(service, "a", None)
    assert service.count("a") == 1  # neither set: 1
    should_rate_limit(service, "a", None, request_hits=4)
    should_rate_limit(service, "a", 2, request_hits=4)  # the descriptor's wins
    assert service.count("a") == 7


def test_over_limit_once_the_count_is_above_the_limit(service: RateLimitService) -> None:
    overall, (status,) = should_rate_limit(service, "b", 10)
    assert (overall, status.remaining, status.requests_per_unit, status.unit) == (wire.OK, 0, 10, "year")
    assert should_rate_limit(service, "b", 0)[0] == wire.OK  # at the limit, not above it
    assert should_rate_limit(service, "b", 1)[0] == wire.OVER_LIMIT
    assert should_rate_limit(service, "b", 0)[0] == wire.OVER_LIMIT
    assert service.count("b") == 11
    assert 0 < status.reset_seconds <= 365 * 86_400


def test_a_value_of_its_own_wins_over_the_default_and_unlimited_is_not_counted(service: RateLimitService) -> None:
    assert should_rate_limit(service, "vip", 500)[0] == wire.OK
    overall, (status,) = should_rate_limit(service, "free", 10**6)
    assert (overall, status.requests_per_unit) == (wire.OK, None)
    assert service.count("free") == 0


def test_a_limit_above_uint32_is_refused_at_start(workdir: Path) -> None:
    too_big = {"domain": "d", "descriptors": [{"key": KEY, "rate_limit": {"unit": "day", "requests_per_unit": 2**32}}]}
    rls = RateLimitService(workdir / "fake-ratelimit-bad", too_big)
    with pytest.raises(RuntimeError, match="uint32"):
        rls.start()
    rls.stop()
