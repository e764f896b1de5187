"""The Anthropic Messages half of the stand-in upstream (`POST /v1/messages`), stdlib only.

fake_llm.py serves this path with `messages(handler, raw)`, so every stand-in speaks both
APIs. Answers follow Anthropic's documented wire format exactly: a `message` object with
`content` blocks and `usage` (input_tokens, cache_creation_input_tokens,
cache_read_input_tokens, the cache_creation 5m/1h split, output_tokens), and for
`"stream": true` the documented event sequence (`event:` + `data:` lines): message_start
(input usage, output_tokens 1), content_block_start, ping, content_block_delta(s),
content_block_stop, message_delta (cumulative output usage), message_stop. Errors are
`{"type": "error", "error": {"type": ..., "message": ...}}`.

Usage is deterministic so tests can predict costs:
  input_tokens   = sum over system and messages of ceil(len(text)/4) + 4, minus cache parts
  output_tokens  = 20
Test controls (request headers, all optional):
  x-test-input-tokens: N             input_tokens (not read from / written to the cache)
  x-test-completion-tokens: N        output_tokens
  x-test-cache-read-tokens: N        cache_read_input_tokens
  x-test-cache-write-5m-tokens: N    cache_creation.ephemeral_5m_input_tokens
  x-test-cache-write-1h-tokens: N    cache_creation.ephemeral_1h_input_tokens
  x-test-service-tier: T             usage.service_tier (default "standard")
  x-test-status: CODE                answer CODE with an Anthropic error body
  x-test-tool-use: 1                 answer with a tool_use block for the first tool
  x-test-stream-error: 1             end the stream with an `error` event instead of message_delta
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def estimate_input_tokens(body: dict) -> int:
    pieces = []
    if "system" in body:
        pieces.append(_text_of(body["system"]))
    pieces += [_text_of(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict)]
    return sum(math.ceil(len(p) / 4) + 4 for p in pieces)


def header_int(headers, name: str, default: int) -> int:
    """An integer test-control header, `default` when absent or not an integer (shared with
    fake_responses.py)."""
    value = headers.get(name)
    try:
        return int(value.strip()) if value is not None else default
    except ValueError:
        return default


def _error(handler, status: int, err_type: str, message: str) -> None:
    handler.send_json(status, {"type": "error", "error": {"type": err_type, "message": message}})


def usage_of(headers, body: dict) -> dict:
    read = header_int(headers, "x-test-cache-read-tokens", 0)
    w5 = header_int(headers, "x-test-cache-write-5m-tokens", 0)
    w1 = header_int(headers, "x-test-cache-write-1h-tokens", 0)
    default_input = max(estimate_input_tokens(body) - read - w5 - w1, 0)
    return {
        "input_tokens": header_int(headers, "x-test-input-tokens", default_input),
        "cache_creation_input_tokens": w5 + w1,
        "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1},
        "output_tokens": header_int(headers, "x-test-completion-tokens", 20),
        "service_tier": headers.get("x-test-service-tier", "standard"),
    }


def messages(handler, raw: bytes) -> None:
    headers = handler.headers
    forced = handler.scoped("x-test-status")
    if forced and forced.strip().isdigit() and int(forced) >= 400:
        kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(int(forced), "api_error")
        _error(handler, int(forced), kind, f"forced error {forced} from upstream {handler.app.name}")
        return
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        _error(handler, 400, "invalid_request_error", "There was an issue with the format of your request: invalid JSON")
        return
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        _error(handler, 400, "invalid_request_error", "messages: Field required")
        return
    model = body.get("model")
    if not isinstance(model, str) or not model:
        _error(handler, 400, "invalid_request_error", "model: Field required")
        return
    for i, m in enumerate(body["messages"]):
        if not isinstance(m, dict) or not isinstance(m.get("content"), (str, list)):
            _error(handler, 400, "invalid_request_error", f"messages.{i}: Input should be a valid dictionary with a content")
            return
    if "system" in body and not isinstance(body["system"], (str, list)):
        _error(handler, 400, "invalid_request_error", "system: Input should be a valid string or list")
        return
    if "stream" in body and not isinstance(body["stream"], bool):
        _error(handler, 400, "invalid_request_error", "stream: Input should be a valid boolean")
        return
    if not isinstance(body.get("max_tokens"), int):
        _error(handler, 400, "invalid_request_error", "max_tokens: Field required")
        return

    usage = usage_of(headers, body)
    text = f"upstream={handler.app.name} model={model}"
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    tool = tools[0]["name"] if handler.headers.get("x-test-tool-use") and tools and isinstance(tools[0], dict) else None
    msg_id = "msg_" + uuid.uuid4().hex[:24]
    if body.get("stream") is True:
        _stream(handler, msg_id, model, text, tool, usage)
        return
    content: list[dict] = [{"type": "text", "text": text}]
    if tool:
        content.append({"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": tool, "input": {"city": "Paris"}})
    handler.send_json(
        200,
        {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": "tool_use" if tool else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        },
    )


def _stream(handler, msg_id: str, model: str, text: str, tool: str | None, usage: dict) -> None:
    start_usage = dict(usage, output_tokens=1)
    events: list[tuple[str, dict]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        ),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
    ]
    for i, word in enumerate(text.split(" ")):
        piece = word if i == 0 else " " + word
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})
        )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    if tool:
        block = {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": tool, "input": {}}
        events += [
            ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": block}),
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"city": "Paris"}'}},
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        ]
    if handler.headers.get("x-test-stream-error"):
        events.append(("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}))
    else:
        events += [
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("x-upstream-name", handler.app.name)
    handler.end_headers()
    for name, data in events:
        piece = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.flush()
        time.sleep(0.002)
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()
