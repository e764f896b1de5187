"""The OpenAI Responses half of the stand-in upstream (`POST /v1/responses`), stdlib only.

fake_llm.py serves this path with `responses(handler, raw)`, so every stand-in speaks it. Answers
follow OpenAI's documented wire format: a `response` object (`object: "response"`, `status`,
`output` items, `usage` with input_tokens, input_tokens_details.cached_tokens, output_tokens,
output_tokens_details.reasoning_tokens, total_tokens), and for `"stream": true` the documented
event sequence, each event as `event: <type>` + `data: {"type": <type>, "sequence_number": n,
...}`: response.created, response.in_progress, response.output_item.added,
response.content_part.added, response.output_text.delta (one per word),
response.output_text.done, response.content_part.done, response.output_item.done (and for a
tool call the function_call item with response.function_call_arguments.delta/.done), then the
terminal response.completed carrying the whole response with its usage. No `[DONE]`. Errors
are `{"error": {"message", "type", "param", "code"}}`. Answers carry x-test-body-sha256, the
SHA-256 of the body bytes sent (the corpus checks the client got them unchanged).

Usage is deterministic so tests can predict costs:
  input_tokens   = ceil(len(instructions)/4) + 4 + sum over input messages of ceil(len(text)/4) + 4
  output_tokens  = 20, cached_tokens = 0, reasoning_tokens = 0
Test controls (request headers, all optional):
  x-test-input-tokens: N       input_tokens (cached ones included)
  x-test-cached-tokens: N      input_tokens_details.cached_tokens
  x-test-completion-tokens: N  output_tokens (reasoning ones included)
  x-test-reasoning-tokens: N   output_tokens_details.reasoning_tokens
  x-test-status: CODE          answer CODE with an OpenAI error body (x-test-only-on applies)
  x-test-tool-use: 1           add a function_call output item for the first function tool
  x-test-no-usage: 1           usage null (in the JSON answer and the terminal event)
  x-test-usage-json: JSON      this raw JSON as the usage object
  x-test-stream-end: KIND      how a stream ends: completed (default), incomplete (status
                               incomplete, max_output_tokens), failed (status failed with an
                               error), error (an `error` event, no terminal event), cut (the
                               connection closes before the terminal event)
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from typing import Any

from fake_anthropic import header_int


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and p.get("type") in ("input_text", "output_text") and isinstance(p.get("text"), str)
        )
    return ""


def estimate_input_tokens(body: dict) -> int:
    pieces = []
    if isinstance(body.get("instructions"), str):
        pieces.append(body["instructions"])
    items = body.get("input")
    if isinstance(items, str):
        pieces.append(items)
    elif isinstance(items, list):
        pieces += [_text(i.get("content")) for i in items if isinstance(i, dict)]
    return sum(math.ceil(len(p) / 4) + 4 for p in pieces)


def usage_of(headers, body: dict) -> dict | None:
    if headers.get("x-test-no-usage"):
        return None
    if headers.get("x-test-usage-json") is not None:
        return json.loads(headers["x-test-usage-json"])
    inp = header_int(headers, "x-test-input-tokens", estimate_input_tokens(body))
    out = header_int(headers, "x-test-completion-tokens", 20)
    return {
        "input_tokens": inp,
        "input_tokens_details": {"cached_tokens": header_int(headers, "x-test-cached-tokens", 0)},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": header_int(headers, "x-test-reasoning-tokens", 0)},
        "total_tokens": inp + out,
    }


def _bad(handler, message: str, param: str | None) -> None:
    handler.send_json(400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}})


def _response(body: dict, model: str, status: str, output: list, usage: dict | None) -> dict:
    return {
        "id": "resp_" + uuid.uuid4().hex,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": body.get("tools") if isinstance(body.get("tools"), list) else [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def responses(handler, raw: bytes) -> None:
    forced = handler.scoped("x-test-status")
    if forced and forced.strip().isdigit() and int(forced) >= 400:
        handler.send_error_json(int(forced), f"forced error {forced} from upstream {handler.app.name}")
        return
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        _bad(handler, "We could not parse the JSON body of your request.", None)
        return
    if not isinstance(body, dict):
        _bad(handler, "Invalid type for request body: expected an object.", None)
        return
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        _bad(handler, "Missing required parameter: 'model'.", "model")
        return
    items = body.get("input")
    if items is not None and not isinstance(items, (str, list)):
        _bad(handler, "Invalid type for 'input': expected a string or an array.", "input")
        return
    if isinstance(items, list) and not all(isinstance(i, dict) for i in items):
        _bad(handler, "Invalid type for 'input[]': expected an object.", "input")
        return
    for i, item in enumerate(items if isinstance(items, list) else []):
        if item.get("type", "message") == "message" and not isinstance(item.get("content"), (str, list)):
            _bad(handler, f"Invalid type for 'input[{i}].content': expected a string or an array.", f"input[{i}].content")
            return
    if body.get("instructions") is not None and not isinstance(body["instructions"], str):
        _bad(handler, "Invalid type for 'instructions': expected a string.", "instructions")
        return
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        _bad(handler, "Invalid type for 'stream': expected a boolean.", "stream")
        return

    usage = usage_of(handler.headers, body)
    text = f"upstream={handler.app.name} model={model}"
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    functions = [t for t in tools if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("name"), str)]
    tool = functions[0]["name"] if handler.headers.get("x-test-tool-use") and functions else None
    msg_id = "msg_" + uuid.uuid4().hex
    message = {
        "id": msg_id,
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }
    call = None
    if tool:
        call = {
            "id": "fc_" + uuid.uuid4().hex,
            "type": "function_call",
            "status": "completed",
            "call_id": "call_" + uuid.uuid4().hex[:24],
            "name": tool,
            "arguments": '{"city": "Paris"}',
        }
    output = [message] + ([call] if call else [])
    if body.get("stream") is True:
        _stream(handler, body, model, text, message, call, usage)
        return
    payload = json.dumps(_response(body, model, "completed", output, usage)).encode()
    handler.send_bytes(200, payload, "application/json", {"x-test-body-sha256": hashlib.sha256(payload).hexdigest()})


def _stream(handler, body: dict, model: str, text: str, message: dict, call: dict | None, usage: dict | None) -> None:
    end = (handler.headers.get("x-test-stream-end") or "completed").strip().lower()
    start = _response(body, model, "in_progress", [], None)
    rid = start["id"]
    events: list[dict] = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
    ]
    msg_id = message["id"]
    events.append({"type": "response.output_item.added", "output_index": 0, "item": dict(message, status="in_progress", content=[])})
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    loc = {"item_id": msg_id, "output_index": 0, "content_index": 0}
    events.append({"type": "response.content_part.added", **loc, "part": part})
    for i, word in enumerate(text.split(" ")):
        events.append({"type": "response.output_text.delta", **loc, "delta": word if i == 0 else " " + word, "logprobs": []})
    events.append({"type": "response.output_text.done", **loc, "text": text, "logprobs": []})
    events.append({"type": "response.content_part.done", **loc, "part": dict(part, text=text)})
    events.append({"type": "response.output_item.done", "output_index": 0, "item": message})
    if call:
        events.append({"type": "response.output_item.added", "output_index": 1, "item": dict(call, status="in_progress", arguments="")})
        events.append({"type": "response.function_call_arguments.delta", "item_id": call["id"], "output_index": 1, "delta": call["arguments"]})
        events.append({"type": "response.function_call_arguments.done", "item_id": call["id"], "output_index": 1, "arguments": call["arguments"]})
        events.append({"type": "response.output_item.done", "output_index": 1, "item": call})
    output = [message] + ([call] if call else [])
    final = dict(_response(body, model, "completed", output, usage), id=rid, created_at=start["created_at"])
    if end == "incomplete":
        final.update(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
        events.append({"type": "response.incomplete", "response": final})
    elif end == "failed":
        final.update(status="failed", error={"code": "server_error", "message": "The model failed to finish."})
        events.append({"type": "response.failed", "response": final})
    elif end == "error":
        events.append({"type": "error", "code": "server_error", "message": "The server had an error.", "param": None})
    elif end != "cut":
        events.append({"type": "response.completed", "response": final})

    pieces = []
    for n, event in enumerate(events):
        data = {"type": event["type"], "sequence_number": n, **{k: v for k, v in event.items() if k != "type"}}
        pieces.append(f"event: {event['type']}\ndata: {json.dumps(data)}\n\n".encode())
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.send_header("Cache-Control", "no-cache")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.send_header("x-upstream-name", handler.app.name)
    handler.send_header("x-test-body-sha256", hashlib.sha256(b"".join(pieces)).hexdigest())
    handler.end_headers()
    for piece in pieces:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        handler.wfile.flush()
        time.sleep(0.002)
    if end == "cut":
        # No terminating chunk: Envoy sees the upstream connection close mid-body.
        handler.close_connection = True
        return
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()
