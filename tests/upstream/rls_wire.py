"""The protobuf wire format of Envoy's rate-limit service API (envoy.service.ratelimit.v3), by hand.

Only the messages `ShouldRateLimit` exchanges, with the field numbers of the real .proto files
(api/envoy/service/ratelimit/v3/rls.proto and api/envoy/extensions/common/ratelimit/v3/
ratelimit.proto in envoyproxy/envoy), so the stand-in in fake_ratelimit.py needs no generated
code and no protoc:

  RateLimitRequest     domain = 1 (string), descriptors = 2 (repeated RateLimitDescriptor),
                       hits_addend = 3 (uint32; 0 = unset, which the API defines as 1)
  RateLimitDescriptor  entries = 1 (repeated Entry {key = 1, value = 2}), limit = 2 (override,
                       read and ignored), hits_addend = 3 (google.protobuf.UInt64Value: present
                       only when the route's rate limit sets `hits_addend`, then it wins over the
                       request's)
  RateLimitResponse    overall_code = 1 (enum UNKNOWN 0, OK 1, OVER_LIMIT 2),
                       statuses = 2 (repeated DescriptorStatus)
  DescriptorStatus     code = 1, current_limit = 2 (RateLimit {requests_per_unit = 1 (uint32),
                       unit = 2 (enum), name = 3}), limit_remaining = 3 (uint32),
                       duration_until_reset = 4 (google.protobuf.Duration {seconds = 1})

Fields this module does not know are kept (number and wire type) so a caller can report them
instead of silently dropping what Envoy sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OK, OVER_LIMIT = 1, 2
UNITS = {"second": 1, "minute": 2, "hour": 3, "day": 4, "month": 5, "year": 6}

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of one message, in order."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, pos = _varint(data, pos)
            out.append((number, wire, value))
        elif wire == _LEN:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise WireError(f"field {number}: length {length} past the end")
            out.append((number, wire, data[pos : pos + length]))
            pos += length
        elif wire in (_I64, _I32):
            size = 8 if wire == _I64 else 4
            out.append((number, wire, int.from_bytes(data[pos : pos + size], "little")))
            pos += size
        else:
            raise WireError(f"field {number}: unsupported wire type {wire}")
    return out


@dataclass
class Descriptor:
    entries: list[tuple[str, str]]
    hits_addend: int | None = None  # the per-descriptor UInt64Value, None when absent
    unknown: list[int] = field(default_factory=list)


@dataclass
class Request:
    domain: str
    descriptors: list[Descriptor]
    hits_addend: int  # 0 when unset
    unknown: list[int] = field(default_factory=list)


def _entry(data: bytes) -> tuple[str, str]:
    key = value = ""
    for number, wire, raw in fields(data):
        if wire == _LEN and number == 1:
            key = bytes(raw).decode()
        elif wire == _LEN and number == 2:
            value = bytes(raw).decode()
    return key, value


def _descriptor(data: bytes) -> Descriptor:
    d = Descriptor(entries=[])
    for number, wire, raw in fields(data):
        if number == 1 and wire == _LEN:
            d.entries.append(_entry(bytes(raw)))
        elif number == 2 and wire == _LEN:
            pass  # a limit override: this stand-in uses its own configured limits
        elif number == 3 and wire == _LEN:
            # UInt64Value {value = 1}; an empty wrapper is a present 0.
            d.hits_addend = next((int(v) for n, w, v in fields(bytes(raw)) if n == 1 and w == _VARINT), 0)
        else:
            d.unknown.append(number)
    return d


def decode_request(data: bytes) -> Request:
    req = Request(domain="", descriptors=[], hits_addend=0)
    for number, wire, raw in fields(data):
        if number == 1 and wire == _LEN:
            req.domain = bytes(raw).decode()
        elif number == 2 and wire == _LEN:
            req.descriptors.append(_descriptor(bytes(raw)))
        elif number == 3 and wire == _VARINT:
            req.hits_addend = int(raw)
        else:
            req.unknown.append(number)
    return req


def _key(number: int, wire: int) -> bytes:
    return _enc_varint(number << 3 | wire)


def _enc_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _uint(number: int, value: int) -> bytes:
    return _key(number, _VARINT) + _enc_varint(value) if value else b""


def _msg(number: int, body: bytes) -> bytes:
    return _key(number, _LEN) + _enc_varint(len(body)) + body


def _string(number: int, text: str) -> bytes:
    raw = text.encode()
    return _msg(number, raw) if raw else b""


@dataclass
class Status:
    code: int
    requests_per_unit: int | None = None  # None: no limit matched the descriptor
    unit: str = ""
    remaining: int = 0
    reset_seconds: int = 0


def encode_response(overall: int, statuses: list[Status]) -> bytes:
    out = _uint(1, overall)
    for s in statuses:
        body = _uint(1, s.code)
        if s.requests_per_unit is not None:
            body += _msg(2, _uint(1, s.requests_per_unit) + _uint(2, UNITS[s.unit]))
            body += _uint(3, s.remaining)
            body += _msg(4, _uint(1, s.reset_seconds))
        out += _msg(2, body)
    return out


def encode_request(domain: str, descriptors: list[Descriptor], hits_addend: int = 0) -> bytes:
    """The client side, for the stand-in's own checks (Envoy is the real client)."""
    out = _string(1, domain)
    for d in descriptors:
        body = b"".join(_msg(1, _string(1, k) + _string(2, v)) for k, v in d.entries)
        if d.hits_addend is not None:
            body += _msg(3, _uint(1, d.hits_addend))
        out += _msg(2, body)
    return out + _uint(3, hits_addend)


def decode_response(data: bytes) -> tuple[int, list[Status]]:
    overall, statuses = 0, []
    for number, wire, raw in fields(data):
        if number == 1 and wire == _VARINT:
            overall = int(raw)
        elif number == 2 and wire == _LEN:
            s = Status(code=0)
            for n, w, v in fields(bytes(raw)):
                if n == 1 and w == _VARINT:
                    s.code = int(v)
                elif n == 2 and w == _LEN:
                    limit = {fn: fv for fn, _, fv in fields(bytes(v))}
                    s.requests_per_unit = int(limit.get(1, 0))
                    s.unit = {u: name for name, u in UNITS.items()}.get(int(limit.get(2, 0)), "")
                elif n == 3 and w == _VARINT:
                    s.remaining = int(v)
                elif n == 4 and w == _LEN:
                    s.reset_seconds = int(next((v2 for n2, _, v2 in fields(bytes(v)) if n2 == 1), 0))
            statuses.append(s)
    return overall, statuses
