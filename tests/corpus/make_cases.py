#!/usr/bin/env python3
"""Writes tests/corpus/cases.jsonl, the bad-input corpus run by tests/integration/test_corpus.py.

Edit the cases here and run `python3 tests/corpus/make_cases.py`; the test module checks that
cases.jsonl matches this script. The manifest format is described in test_corpus.py.

Every case belongs to one API (`api`: chat_completions, messages, ...), sent to that API's path
(APIS) unless it names another path. Adding an API's cases: its path in APIS, a section below
with `case(..., api="<label>")`, and its error shape in test_corpus.py's ERROR_SHAPES.
"""
import base64
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent / "cases.jsonl"
cases = []
# The path each API's section of the shipped configuration inspects (envoy-config/envoy.yaml).
APIS = {"chat_completions": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}
CHAT = APIS["chat_completions"]
def case(name, doc, body=None, *, body_b64=None, body_gen=None, method="POST", path=None, headers=None, chunked=False, api="chat_completions", **expect):
    req = {"method": method, "path": path or APIS[api]}
    if headers: req["headers"] = headers
    if body is not None:
        if isinstance(body, (dict, list)):
            req["body_json"] = body
        else:
            req["body"] = body
    if body_b64 is not None: req["body_b64"] = base64.b64encode(body_b64).decode()
    if body_gen is not None: req["body_gen"] = body_gen
    if chunked: req["chunked"] = True
    cases.append({"name": name, "api": api, "doc": doc, "request": req, "expect": expect})

HI = [{"role": "user", "content": "What is the capital of France?"}]
AUTO = {"model": "auto", "messages": HI}
def auto(**kw): return dict(AUTO, **kw)
# expectations for a request the filter cannot inspect: passed through untouched to the default route
def failed(kind, status):
    return dict(status=status, upstream="default", upstream_body="unchanged", no_router_headers=True, error_kind=kind, account=None, router_status="error")
def routed(tier="tier", model="tier", status=200, **kw):
    # "tier": whichever tier the classifier picked (its score is not part of the bad-input contract)
    d = dict(status=status, upstream=tier, upstream_body="rewritten", upstream_model=model, error_kind=None)
    if tier != "tier":
        d["router_headers"] = {"x-llm-router-tier": tier, "x-llm-router-model": model}
    d.update(kw)
    return d
def untouched(status=200, upstream="default"):
    return dict(status=status, upstream=upstream, upstream_body="unchanged", no_router_headers=True, error_kind=None, account=None, router_status=None)

# ---------------------------------------------------------------- invalid / truncated JSON
case("garbage", "not JSON at all", "{not json", **failed("invalid_json", 400))
case("truncated_object", "body cut before the closing brace", '{"model":"auto","messages":[{"role":"user","content":"hi"}', **failed("invalid_json", 400))
case("truncated_in_string", "body cut inside a string", '{"model":"auto","messages":[{"role":"user","content":"hel', **failed("invalid_json", 400))
case("truncated_in_escape", "body cut inside a \\u escape", '{"model":"auto","messages":[{"role":"user","content":"\\u00', **failed("invalid_json", 400))
case("trailing_garbage", "a valid request followed by junk", json.dumps(AUTO) + " xyz", **failed("invalid_json", 400))
case("two_objects", "two JSON objects back to back", json.dumps(AUTO) + json.dumps(AUTO), **failed("invalid_json", 400))
case("trailing_nul", "a valid request followed by a NUL byte", body_b64=json.dumps(AUTO).encode() + b"\x00", **failed("invalid_json", 400))
case("single_quotes", "JavaScript-style single quotes", "{'model':'auto','messages':[]}", **failed("invalid_json", 400))
case("trailing_comma", "a trailing comma in messages", '{"model":"auto","messages":[{"role":"user","content":"hi"},]}', **failed("invalid_json", 400))
case("number_out_of_range", "max_tokens 1e400: serde_json rejects, Python reads inf", body_gen={"kind": "replace", "json": auto(max_tokens=1), "old": '"max_tokens": 1', "new": '"max_tokens": 1e400'}, **failed("invalid_json", 200))
case("lone_surrogate", "an escaped lone UTF-16 surrogate: serde_json rejects, Python accepts", '{"model":"auto","messages":[{"role":"user","content":"\\ud800 hi"}]}', **failed("invalid_json", 200))
# ---------------------------------------------------------------- non-UTF-8
case("invalid_utf8", "raw 0xff 0xfe bytes inside a string", body_b64=b'{"model":"auto","messages":[{"role":"user","content":"\xff\xfe"}]}', **failed("invalid_json", 400))
case("latin1", "a Latin-1 encoded body", body_b64='{"model":"auto","messages":[{"role":"user","content":"café"}]}'.encode("latin-1"), **failed("invalid_json", 400))
case("utf16", "a UTF-16 body with BOM (Python's json detects it; the filter does not)", body_b64=json.dumps(AUTO).encode("utf-16"), **failed("invalid_json", 200))
case("utf8_bom", "a UTF-8 byte order mark before the JSON", body_b64=b"\xef\xbb\xbf" + json.dumps(AUTO).encode(), **failed("invalid_json", 200))
case("random_binary", "4 KiB of pseudo-random bytes", body_gen={"kind": "random", "bytes": 4096, "seed": 7}, **failed("invalid_json", 400))
# ---------------------------------------------------------------- not a request object
case("empty_object", "{}", {}, **failed("bad_model", 400))
case("json_array", "a JSON array", [AUTO], **failed("not_object", 400))
case("json_string", "a JSON string", '"hello"', **failed("not_object", 400))
case("json_null", "JSON null", "null", **failed("not_object", 400))
case("json_number", "a JSON number", "42", **failed("not_object", 400))
case("empty_body", "POST with an empty body (content-length: 0)", "", **failed("empty_body", 400))
case("whitespace_body", "only whitespace", "  \n\t ", **failed("invalid_json", 400))
# ---------------------------------------------------------------- wrong types
case("model_missing", "no model", {"messages": HI}, **failed("bad_model", 400))
case("model_number", "model is a number", {"model": 5, "messages": HI}, **failed("bad_model", 400))
case("model_null", "model is null", {"model": None, "messages": HI}, **failed("bad_model", 400))
case("model_empty", "model is an empty string", {"model": "", "messages": HI}, **failed("bad_model", 400))
case("model_blank", "model is blank (the upstream accepts it)", {"model": "   ", "messages": HI}, **failed("bad_model", 200))
case("model_object", "model is an object", {"model": {"name": "auto"}, "messages": HI}, **failed("bad_model", 400))
case("messages_missing", "no messages", {"model": "auto"}, **failed("bad_messages", 400))
case("messages_string", "messages is a string", {"model": "auto", "messages": "hi"}, **failed("bad_messages", 400))
case("messages_object", "messages is one message object, not a list", {"model": "auto", "messages": HI[0]}, **failed("bad_messages", 400))
case("messages_null", "messages is null", {"model": "auto", "messages": None}, **failed("bad_messages", 400))
case("message_not_object", "a message that is a number", {"model": "auto", "messages": [1, "x"]}, **failed("bad_messages", 200))
case("content_number", "a message content that is a number", {"model": "auto", "messages": [{"role": "user", "content": 5}]}, **failed("bad_messages", 200))
case("content_object", "a message content that is an object", {"model": "auto", "messages": [{"role": "user", "content": {"text": "hi"}}]}, **failed("bad_messages", 200))
case("content_bool", "a message content that is a boolean", {"model": "auto", "messages": [{"role": "user", "content": True}]}, **failed("bad_messages", 200))
case("stream_string", "stream is a string", auto(stream="yes"), **failed("bad_stream", 200))
case("stream_number", "stream is a number", auto(stream=1), **failed("bad_stream", 200))
# ---------------------------------------------------------------- deep nesting
case("nested_70", "an extra field nested 70 levels (over the 64 limit, under serde_json's 128)", body_gen={"kind": "nested", "depth": 70}, **failed("too_deep", 200))
case("nested_200", "nested 200 levels (over serde_json's recursion limit)", body_gen={"kind": "nested", "depth": 200}, **failed("too_deep", 200))
case("nested_50000", "nested 50,000 levels (100 KB of brackets)", body_gen={"kind": "nested", "depth": 50000}, **failed("too_deep", 400))
case("nested_60_ok", "nested 60 levels: accepted and routed", body_gen={"kind": "nested", "depth": 60}, **routed(account="priced", router_status="priced"))
# ---------------------------------------------------------------- content-type
case("ctype_text_plain", "a valid request sent as text/plain is parsed and routed", AUTO, headers={"content-type": "text/plain"}, **routed(account="priced", router_status="priced"))
case("ctype_missing", "no content-type header: parsed and routed", AUTO, headers={"content-type": None}, **routed(account="priced", router_status="priced"))
case("ctype_form", "a JSON body labelled form-urlencoded: parsed and routed", AUTO, headers={"content-type": "application/x-www-form-urlencoded"}, **routed(account="priced", router_status="priced"))
case("form_body", "a real form body labelled application/json", "model=auto&messages=hi", **failed("invalid_json", 400))
case("multipart_body", "a multipart body", "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nauto\r\n--b--\r\n", headers={"content-type": "multipart/form-data; boundary=b"}, **failed("invalid_json", 400))
# ---------------------------------------------------------------- roles and content parts
case("unknown_roles", "roles the filter does not know (and a non-string role) are accepted", {"model": "auto", "messages": [{"role": "wizard", "content": "hi"}, {"role": "", "content": "x"}, {"role": 7, "content": "y"}, {"content": "no role"}]}, **routed(account="priced", router_status="priced"))
case("parts_image_audio_file", "text, image, audio and file parts: non-text parts counted, never read", {"model": "auto", "messages": [{"role": "user", "content": [{"type": "text", "text": "Describe this."}, {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 20000}}, {"type": "input_audio", "input_audio": {"data": "UklGR" + "A" * 20000, "format": "wav"}}, {"type": "file", "file": {"file_id": "file-1"}}]}]}, **routed(account="priced", router_status="priced"))
case("image_only", "a message with only an image part", {"model": "auto", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.invalid/x.png"}}]}]}, **routed(account="priced", router_status="priced"))
case("bare_string_parts", "content parts that are bare strings", {"model": "auto", "messages": [{"role": "user", "content": ["hi", "there"]}]}, **routed(account="priced", router_status="priced"))
case("odd_parts", "parts of unknown type, parts that are numbers or null, text that is not a string", {"model": "auto", "messages": [{"role": "user", "content": [{"type": "hologram"}, 3, None, {"type": "text", "text": 5}, {"type": "text"}]}]}, **routed(account="priced", router_status="priced"))
case("null_content_tool_calls", "assistant message with null content and tool calls, a tool answer", {"model": "auto", "messages": HI + [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "42"}]}, **routed(account="priced", router_status="priced"))
case("many_messages", "5,000 short messages", body_gen={"kind": "many_messages", "count": 5000}, **routed(account="priced", router_status="priced"))
case("odd_optional_fields", "max_tokens negative, tools not a list, response_format a string, stream_options a string with stream: true", auto(max_tokens=-5, tools="x", response_format="json", stream=True, stream_options="x"), **routed(account="priced", router_status="priced", response="intact+comment"))
# ---------------------------------------------------------------- sizes
case("huge_message_1mib", "one 1 MiB message: routed (long-context rule)", body_gen={"kind": "big_prompt", "bytes": 1 << 20}, **routed("frontier", "claude-sonnet-4.6", account="priced", router_status="priced"))
case("just_under_max_request", "a 4,000,000-byte body (under max_request_bytes = 4 MiB): inspected and routed", body_gen={"kind": "big_prompt", "bytes": 4_000_000}, **routed("frontier", "claude-sonnet-4.6", account="priced", router_status="priced"))
case("over_max_request", "a 4.5 MiB body with content-length: too_large at the headers, passed through unread", body_gen={"kind": "big_prompt", "bytes": 4_718_592}, **failed("too_large", 200))
case("over_max_request_chunked", "a 4.5 MiB chunked upload (no content-length): too_large once 4 MiB are buffered, passed through", body_gen={"kind": "big_prompt", "bytes": 4_718_592}, chunked=True, **failed("too_large", 200))
case("over_envoy_buffer", "a 9 MiB body (over the 8 MiB listener buffer): the filter stops buffering at max_request_bytes, so Envoy streams it through (no 413)", body_gen={"kind": "big_prompt", "bytes": 9 << 20}, **failed("too_large", 200))
case("over_envoy_buffer_chunked", "a 9 MiB chunked upload: buffered only up to max_request_bytes, then streamed through (no 413)", body_gen={"kind": "big_prompt", "bytes": 9 << 20}, chunked=True, **failed("too_large", 200))
# ---------------------------------------------------------------- models, paths, methods, parser differentials
case("duplicate_model_keys", "model given twice: the last wins, as in Python's json (the upstream's parser)", body_gen={"kind": "raw", "text": '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"model":"auto"}'}, **routed(account="priced", router_status="priced"))
case("duplicate_model_explicit_last", "model given twice, explicit last: passed through unchanged", body_gen={"kind": "raw", "text": '{"model":"auto","messages":[{"role":"user","content":"hi"}],"model":"gpt-4o"}'}, status=200, upstream="default", upstream_body="unchanged", error_kind=None, router_headers={"x-llm-router-reason": "explicit", "x-llm-router-status": "priced"}, account="priced", router_status="priced")
case("unknown_explicit_model", "an explicit model no tier serves and the price table does not know", {"model": "acme-llm-9", "messages": HI}, status=200, upstream="default", upstream_body="unchanged", error_kind=None, router_headers={"x-llm-router-tier": "none", "x-llm-router-status": "unpriced", "x-llm-router-cost-micro-usd": None}, account="unpriced", router_status="unpriced")
case("alias_wrong_case", "AUTO is not the alias auto: an explicit unknown model", {"model": "AUTO", "messages": HI}, status=200, upstream="default", upstream_body="unchanged", error_kind=None, router_headers={"x-llm-router-reason": "explicit", "x-llm-router-status": "unpriced"}, account="unpriced", router_status="unpriced")
case("query_string", "the chat path with a query string is inspected", AUTO, path=CHAT + "?api-version=2024-10-21", **routed(account="priced", router_status="priced"))
case("trailing_slash_path", "/v1/chat/completions/ (served as chat by many servers) is inspected like the configured path", AUTO, path=CHAT + "/", **routed(account="priced", router_status="priced"))
case("path_params", "/v1/chat/completions;x=1 is inspected like the configured path (the stand-in answers it with its echo, so no usage)", AUTO, path=CHAT + ";x=1", **routed(account="usage_missing", router_status="usage_missing"))
case("other_path", "/v1/embeddings is not inspected: untouched", AUTO, path="/v1/embeddings", **untouched())
case("put_method", "PUT on the chat path is not inspected", AUTO, method="PUT", **untouched())
case("spoof_on_malformed", "x-llm-router-* request headers are stripped even when the body is malformed", "{oops", headers={"x-llm-router-cluster": "llm_frontier", "x-llm-router-tier": "frontier"}, **failed("invalid_json", 400))

# ---------------------------------------------------------------- responses (non-streaming)
def resp(name, doc, headers, body=AUTO, **expect):
    case(name, doc, body, headers=dict(PIN, **headers), **expect)
# Response cases pin the tier with the shipped `summarization` rule, so costs are exact.
PIN = {"x-feature": "summarization"}
R = dict(status=200, upstream="cheap", upstream_body="rewritten", upstream_model="gpt-5-nano", error_kind=None)
UM = dict(R, router_headers={"x-llm-router-status": "usage_missing", "x-llm-router-cost-micro-usd": None, "x-llm-router-baseline-cost-micro-usd": None}, account="usage_missing", router_status="usage_missing", response="intact")
resp("resp_no_usage", "an answer without usage", {"x-test-no-usage": "1"}, **UM)
resp("resp_usage_null", "usage: null", {"x-test-usage-json": "null"}, **UM)
resp("resp_usage_string", "usage is a string", {"x-test-usage-json": '"lots"'}, **UM)
resp("resp_negative_tokens", "a negative prompt_tokens", {"x-test-usage-json": '{"prompt_tokens": -5, "completion_tokens": 10}'}, **UM)
resp("resp_fractional_tokens", "a fractional completion_tokens", {"x-test-usage-json": '{"prompt_tokens": 5, "completion_tokens": 2.5}'}, **UM)
resp("resp_absurd_tokens", "completion_tokens over 10^8", {"x-test-usage-json": '{"prompt_tokens": 5, "completion_tokens": 100000001}'}, **UM)
resp("resp_huge_integer", "prompt_tokens beyond 64 bits", {"x-test-usage-json": '{"prompt_tokens": 1180591620717411303424, "completion_tokens": 1}'}, **UM)
resp("resp_tokens_as_strings", "counts as strings", {"x-test-usage-json": '{"prompt_tokens": "10", "completion_tokens": "5"}'}, **UM)
resp("resp_cached_exceeds_prompt", "cached_tokens greater than prompt_tokens", {"x-test-usage-json": '{"prompt_tokens": 10, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 11}}'}, **UM)
resp("resp_missing_completion", "usage without completion_tokens", {"x-test-usage-json": '{"prompt_tokens": 10}'}, **UM)
resp("resp_zero_tokens", "zero counts are valid: priced at 0", {"x-test-usage-json": '{"prompt_tokens": 0, "completion_tokens": 0}'}, **dict(R, router_headers={"x-llm-router-status": "priced", "x-llm-router-cost-micro-usd": "0", "x-llm-router-baseline-cost-micro-usd": "0"}, account="priced", router_status="priced", response="intact"))
resp("resp_max_tokens", "counts at the 10^8 limit are priced", {"x-test-usage-json": '{"prompt_tokens": 100000000, "completion_tokens": 100000000, "prompt_tokens_details": {"cached_tokens": 100000000}}'}, **dict(R, router_headers={"x-llm-router-status": "priced", "x-llm-router-cost-micro-usd": "40500000"}, account="priced", router_status="priced", response="intact"))
NOT_HELD = dict(R, router_headers={"x-llm-router-tier": "cheap", "x-llm-router-status": None, "x-llm-router-cost-micro-usd": None}, response="intact")
resp("resp_gzip", "a gzip answer although the filter asked for identity: passed through byte for byte, not read", {"x-test-encoding": "gzip"}, **dict(NOT_HELD, account="usage_missing", router_status="usage_missing"))
resp("resp_deflate", "a deflate answer: passed through byte for byte, not read", {"x-test-encoding": "deflate"}, **dict(NOT_HELD, account="usage_missing", router_status="usage_missing"))
resp("resp_html", "an HTML error page with status 200", {"x-test-raw-body-b64": base64.b64encode(b"<html><body>Bad gateway</body></html>").decode(), "x-test-content-type": "text/html"}, **UM)
resp("resp_not_utf8", "an answer of invalid UTF-8 bytes", {"x-test-raw-body-b64": base64.b64encode(b'{"usage": "\xff\xfe"}').decode()}, **UM)
resp("resp_chunked_json", "a chunked JSON answer: not held (no cost headers), usage still read for stats", {"x-test-chunked-response": "1", "x-test-prompt-tokens": "1000", "x-test-completion-tokens": "500"}, **dict(NOT_HELD, account="priced", router_status="priced"))
resp("resp_over_max_response", "a 1.2 MiB answer (over max_response_bytes): not held, not read", {"x-test-pad-bytes": "1258291"}, **dict(NOT_HELD, account="usage_missing", router_status="usage_missing"))
resp("resp_text_plain_json", "a JSON answer labelled text/plain is still read", {"x-test-content-type": "text/plain", "x-test-prompt-tokens": "1000", "x-test-completion-tokens": "500"}, **dict(R, router_headers={"x-llm-router-status": "priced", "x-llm-router-cost-micro-usd": "250"}, account="priced", router_status="priced", response="intact"))
resp("resp_truncated_explicit", "an explicit-model answer whose connection closes mid-body", {"x-test-truncate-body": "40"}, body={"model": "gpt-4o", "messages": HI}, status=502, upstream="default", upstream_header=False, upstream_body="unchanged", error_kind=None, account="usage_missing", router_status="usage_missing")

# ---------------------------------------------------------------- SSE
S = auto(stream=True)
SP = dict(status=200, upstream="cheap", upstream_body="rewritten", upstream_model="gpt-5-nano", error_kind=None, response="intact+comment", account="priced", router_status="priced",
          comment={"status": "priced", "input_tokens": 1000, "output_tokens": 500, "cost_micro_usd": 250})
TOK = {"x-test-prompt-tokens": "1000", "x-test-completion-tokens": "500"}
def sse(name, doc, headers, **over):
    e = dict(SP); e.update(over)
    case(name, doc, S, headers=dict(PIN, **TOK, **headers), **e)
sse("sse_lf", "a normal stream (LF line ends)", {})
sse("sse_crlf", "CRLF line ends", {"x-test-sse-eol": "crlf"})
sse("sse_cr", "CR-only line ends", {"x-test-sse-eol": "cr"})
sse("sse_comments_fields", "comments, event, id and retry fields around every data line", {"x-test-sse-comments": "1"})
sse("sse_multiline_data", "each JSON payload split over two data: lines", {"x-test-sse-multiline": "1"})
sse("sse_bytewise", "the stream written one byte per HTTP chunk", {"x-test-sse-bytewise": "1"})
sse("sse_bytewise_crlf_comments", "one byte per chunk, CRLF, comments: every split of CR LF", {"x-test-sse-bytewise": "1", "x-test-sse-eol": "crlf", "x-test-sse-comments": "1"})
sse("sse_no_done", "no data: [DONE] at the end", {"x-test-sse-no-done": "1"})
sse("sse_no_usage", "a stream without a usage chunk", {"x-test-no-usage": "1"}, account="usage_missing", router_status="usage_missing", comment={"status": "usage_missing", "cost_micro_usd": None})
sse("sse_negative_usage", "a usage chunk with a negative count", {"x-test-usage-json": '{"prompt_tokens": -1, "completion_tokens": 5}'}, account="usage_missing", router_status="usage_missing", comment={"status": "usage_missing"})
sse("sse_cut_before_usage", "the upstream closes the connection after 2 events (no usage yet)", {"x-test-sse-cut-after": "2"}, response=None, client_error=True, comment=None, account="usage_missing", router_status="usage_missing")
sse("sse_cut_after_usage", "the upstream closes after the usage chunk, before [DONE]: still priced", {"x-test-sse-cut-after": "5"}, response=None, client_error=True, comment=None)



# ================================================================ Anthropic Messages (/v1/messages)
# The same contract through the `apis.messages` section: a body the Messages reader cannot use is
# passed through untouched to the default route (whose stand-in answers in Anthropic's shape:
# 400 for what Anthropic rejects, 200 for what its parser accepts), counted in
# llm_router_errors_total{api="messages",kind}; with fail_closed the router answers 400 in
# Anthropic's error shape. Routed cases land on a Claude tier and are counted under api="messages".
M = "messages"
MHI = [{"role": "user", "content": "What is the capital of France?"}]
MAUTO = {"model": "auto", "max_tokens": 64, "messages": MHI}
def mauto(**kw): return dict(MAUTO, **kw)
def mcase(name, doc, body=None, **kw): case("messages_" + name, doc, body, api=M, **kw)
def nest(n): return "[" * n + "1" + "]" * n
# ---------------------------------------------------------------- invalid / truncated JSON
mcase("garbage", "not JSON at all", "{", **failed("invalid_json", 400))
mcase("truncated", "body cut before the closing brace", '{"model": "auto", "max_tokens": 5, "messages": []', **failed("invalid_json", 400))
mcase("truncated_in_string", "body cut inside a string", '{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "hel', **failed("invalid_json", 400))
mcase("trailing_garbage", "a valid request followed by junk", json.dumps(MAUTO) + " trailing", **failed("invalid_json", 400))
mcase("trailing_comma", "a trailing comma after messages", '{"model": "auto", "max_tokens": 5, "messages": [],}', **failed("invalid_json", 400))
mcase("nan", "max_tokens NaN: serde_json rejects it, Python reads a float (not an integer: 400)", '{"model": "auto", "max_tokens": NaN, "messages": []}', **failed("invalid_json", 400))
mcase("number_out_of_range", "max_tokens 1e400: serde_json rejects it, Python reads inf", body_gen={"kind": "replace", "json": mauto(max_tokens=1), "old": '"max_tokens": 1', "new": '"max_tokens": 1e400'}, **failed("invalid_json", 400))
mcase("lone_surrogate", "an escaped lone UTF-16 surrogate: serde_json rejects, Python accepts", '{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": "\\ud800 hi"}]}', **failed("invalid_json", 200))
mcase("invalid_utf8", "raw 0xff 0xfe bytes before the object", body_b64=b"\xff\xfe{}", **failed("invalid_json", 400))
mcase("utf8_bom", "a UTF-8 byte order mark before the JSON (Python's json accepts it)", body_b64=b"\xef\xbb\xbf" + json.dumps(MAUTO).encode(), **failed("invalid_json", 200))
mcase("whitespace_body", "only whitespace", "  \n\t ", **failed("invalid_json", 400))
mcase("empty_body", "POST with an empty body (content-length: 0)", "", **failed("empty_body", 400))
# ---------------------------------------------------------------- not a request object
mcase("json_array", "a JSON array", [MAUTO], **failed("not_object", 400))
mcase("json_null", "JSON null", "null", **failed("not_object", 400))
mcase("json_number", "a JSON number", "42", **failed("not_object", 400))
mcase("json_string", "a JSON string", '"text"', **failed("not_object", 400))
# ---------------------------------------------------------------- model
mcase("model_missing", "no model", {"max_tokens": 5, "messages": MHI}, **failed("bad_model", 400))
mcase("model_empty", "model is an empty string", {"model": "", "max_tokens": 5, "messages": MHI}, **failed("bad_model", 400))
mcase("model_blank", "model is blank (the stand-in, like the API's schema, takes any non-empty string)", {"model": "  ", "max_tokens": 5, "messages": MHI}, **failed("bad_model", 200))
mcase("model_number", "model is a number", {"model": 7, "max_tokens": 5, "messages": MHI}, **failed("bad_model", 400))
mcase("model_null", "model is null", {"model": None, "max_tokens": 5, "messages": MHI}, **failed("bad_model", 400))
mcase("model_list", "model is a list", {"model": ["claude-haiku-4-5"], "max_tokens": 5, "messages": MHI}, **failed("bad_model", 400))
# ---------------------------------------------------------------- messages and content
mcase("messages_missing", "no messages", {"model": "auto", "max_tokens": 5}, **failed("bad_messages", 400))
mcase("messages_string", "messages is a string", {"model": "auto", "max_tokens": 5, "messages": "hi"}, **failed("bad_messages", 400))
mcase("messages_object", "messages is one message object, not a list", {"model": "auto", "max_tokens": 5, "messages": MHI[0]}, **failed("bad_messages", 400))
mcase("messages_null", "messages is null", {"model": "auto", "max_tokens": 5, "messages": None}, **failed("bad_messages", 400))
mcase("message_number", "a message that is a number", {"model": "auto", "max_tokens": 5, "messages": [1]}, **failed("bad_messages", 400))
mcase("message_string", "a message that is a string", {"model": "auto", "max_tokens": 5, "messages": ["hi"]}, **failed("bad_messages", 400))
mcase("message_null", "a message that is null", {"model": "auto", "max_tokens": 5, "messages": [None]}, **failed("bad_messages", 400))
mcase("content_number", "a content that is a number", {"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]}, **failed("bad_messages", 400))
mcase("content_object", "a content that is an object, not a list of blocks", {"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}]}, **failed("bad_messages", 400))
mcase("content_bool", "a content that is a boolean", {"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": True}]}, **failed("bad_messages", 400))
# ---------------------------------------------------------------- system, stream
mcase("system_number", "system is a number", {"model": "auto", "max_tokens": 5, "messages": MHI, "system": 7}, **failed("bad_messages", 400))
mcase("system_object", "system is one block object, not a list", {"model": "auto", "max_tokens": 5, "messages": MHI, "system": {"type": "text", "text": "x"}}, **failed("bad_messages", 400))
mcase("system_bool", "system is a boolean", {"model": "auto", "max_tokens": 5, "messages": MHI, "system": True}, **failed("bad_messages", 400))
mcase("stream_string", "stream is a string", mauto(stream="yes"), **failed("bad_stream", 400))
mcase("stream_number", "stream is a number", mauto(stream=1), **failed("bad_stream", 400))
# ---------------------------------------------------------------- deep nesting
mcase("nested_100", "an extra member nested 100 levels (over the 64 limit)", body_gen={"kind": "raw", "text": '{"model": "auto", "max_tokens": 5, "messages": [], "x": ' + nest(100) + "}"}, **failed("too_deep", 200))
mcase("nested_content", "a content block nested 70 levels", body_gen={"kind": "raw", "text": '{"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": [' + nest(70) + "]}]}"}, **failed("too_deep", 200))
mcase("nested_system", "a system block nested 70 levels", body_gen={"kind": "raw", "text": '{"model": "auto", "max_tokens": 5, "messages": [], "system": [' + nest(70) + "]}"}, **failed("too_deep", 200))
mcase("nested_metadata", "metadata.user_id nested 70 levels", body_gen={"kind": "raw", "text": '{"model": "auto", "max_tokens": 5, "messages": [], "metadata": {"user_id": ' + nest(70) + "}}"}, **failed("too_deep", 200))
# ---------------------------------------------------------------- accepted and routed
MROUTED = dict(account="priced", router_status="priced")
mcase("odd_blocks", "image, document, tool_use, tool_result and unknown blocks, text that is not a string: counted, never read", {"model": "auto", "max_tokens": 64, "messages": [{"role": "user", "content": [{"type": "text", "text": "Describe this."}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "A" * 20000}}, {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}, {"type": "hologram"}, {"type": "text", "text": 5}, 3, None]}, {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]}, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}]}]}, **routed(**MROUTED))
mcase("system_blocks_cache_control", "system as text blocks with cache_control: read as a first system message", mauto(system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "A manual. " * 100, "cache_control": {"type": "ephemeral"}}]), **routed(**MROUTED))
mcase("odd_optional_fields", "max_tokens negative, tools not a list, metadata a string, temperature a string: not the router's to check (routed; the stand-in answers)", mauto(max_tokens=-5, tools="x", metadata="x", temperature="hot"), **routed(**MROUTED))
mcase("max_tokens_missing", "no max_tokens (required by the API, not by routing): routed, the upstream answers 400 without usage", {"model": "auto", "messages": MHI}, **routed(status=400, account="usage_missing", router_status="usage_missing"))
mcase("chat_shaped_body", "a chat-completions body with a system-role message, on the Messages path: read with the Messages reader and routed", {"model": "auto", "max_tokens": 64, "messages": [{"role": "system", "content": "Be brief."}] + MHI}, **routed(**MROUTED))
mcase("stream_error_event", "a stream that ends in an `error` event: usage_missing, never a guess", mauto(stream=True), headers={"x-test-stream-error": "1"}, **routed(account="usage_missing", router_status="usage_missing"))
mcase("duplicate_model_keys", "model given twice: the last one (auto) is read and routed", body_gen={"kind": "raw", "text": '{"model":"claude-3-haiku","max_tokens":64,"messages":[{"role":"user","content":"hi"}],"model":"auto"}'}, **routed(**MROUTED))
mcase("unknown_explicit_model", "an explicit model no Claude tier serves and the price table does not know: passed through, unpriced", {"model": "acme-claude-9", "max_tokens": 64, "messages": MHI}, status=200, upstream="default", upstream_body="unchanged", error_kind=None, router_headers={"x-llm-router-tier": "none", "x-llm-router-status": "unpriced", "x-llm-router-cost-micro-usd": None}, account="unpriced", router_status="unpriced")
mcase("get_method", "GET on the Messages path is not inspected", None, method="GET", **untouched())
mcase("beta_query", "the Messages path with ?beta=true (what the SDK's beta client sends) is inspected", MAUTO, path="/v1/messages?beta=true", **routed(**MROUTED))


# ---------------------------------------------------------------- OpenAI Responses (POST /v1/responses)
# The `apis.responses` section reads these bodies with its own reader (README, "OpenAI Responses").
# Routed cases pin the shipped section's `openai-mid` tier, so the upstream and model are known.
RPIN = {"x-llm-tier": "openai-mid"}
RAUTO = {"model": "auto", "input": "What is the capital of France?"}
def rauto(**kw): return dict(RAUTO, **kw)
def rcase(name, doc, body=None, headers=None, **kw):
    case(name, doc, body, api="responses", headers=dict(RPIN, **(headers or {})), **kw)
RR = dict(status=200, upstream="mid", upstream_body="rewritten", upstream_model="gpt-5-mini", error_kind=None,
          router_headers={"x-llm-router-tier": "openai-mid", "x-llm-router-model": "gpt-5-mini"}, account="priced", router_status="priced")
# invalid JSON, not an object, empty
rcase("responses_garbage", "not JSON at all", "{not json", **failed("invalid_json", 400))
rcase("responses_truncated", "body cut before the closing brace", '{"model":"auto","input":"hi"', **failed("invalid_json", 400))
rcase("responses_truncated_in_string", "body cut inside a string", '{"model":"auto","input":"hel', **failed("invalid_json", 400))
rcase("responses_trailing_garbage", "a valid request followed by junk", json.dumps(RAUTO) + " xyz", **failed("invalid_json", 400))
rcase("responses_trailing_comma", "a trailing comma in input", '{"model":"auto","input":["hi",]}', **failed("invalid_json", 400))
rcase("responses_invalid_utf8", "raw 0xff 0xfe bytes inside a string", body_b64=b'{"model":"auto","input":"\xff\xfe"}', **failed("invalid_json", 400))
rcase("responses_lone_surrogate", "an escaped lone UTF-16 surrogate: serde_json rejects, Python accepts", '{"model":"auto","input":"\\ud800 hi"}', **failed("invalid_json", 200))
rcase("responses_nan", "max_output_tokens NaN: serde_json rejects, Python accepts", '{"model":"auto","input":"hi","max_output_tokens":NaN}', **failed("invalid_json", 200))
rcase("responses_json_array", "a JSON array", [RAUTO], **failed("not_object", 400))
rcase("responses_json_null", "JSON null", "null", **failed("not_object", 400))
rcase("responses_json_string", "a JSON string", '"hello"', **failed("not_object", 400))
rcase("responses_empty_body", "POST with an empty body", "", **failed("empty_body", 400))
# model
rcase("responses_model_missing", "no model", {"input": "hi"}, **failed("bad_model", 400))
rcase("responses_model_number", "model is a number", {"model": 5, "input": "hi"}, **failed("bad_model", 400))
rcase("responses_model_null", "model is null", {"model": None, "input": "hi"}, **failed("bad_model", 400))
rcase("responses_model_blank", "model is blank", {"model": "   ", "input": "hi"}, **failed("bad_model", 400))
rcase("responses_model_list", "model is a list", {"model": ["gpt-5"], "input": "hi"}, **failed("bad_model", 400))
# input and instructions
rcase("responses_input_number", "input is a number", {"model": "auto", "input": 7}, **failed("bad_input", 400))
rcase("responses_input_object", "input is one message object, not a list", {"model": "auto", "input": {"role": "user", "content": "hi"}}, **failed("bad_input", 400))
rcase("responses_input_bool", "input is a boolean", {"model": "auto", "input": True}, **failed("bad_input", 400))
rcase("responses_item_string", "an input item that is a string", {"model": "auto", "input": ["hi"]}, **failed("bad_input", 400))
rcase("responses_item_null", "an input item that is null", {"model": "auto", "input": [None]}, **failed("bad_input", 400))
rcase("responses_content_number", "a message item whose content is a number", {"model": "auto", "input": [{"role": "user", "content": 5}]}, **failed("bad_input", 400))
rcase("responses_content_object", "a message item whose content is an object", {"model": "auto", "input": [{"type": "message", "role": "user", "content": {"text": "hi"}}]}, **failed("bad_input", 400))
rcase("responses_instructions_number", "instructions is a number", rauto(instructions=3), **failed("bad_input", 400))
rcase("responses_instructions_list", "instructions is a list", rauto(instructions=["be brief"]), **failed("bad_input", 400))
rcase("responses_stream_string", "stream is a string", rauto(stream="yes"), **failed("bad_stream", 400))
rcase("responses_stream_number", "stream is a number", rauto(stream=1), **failed("bad_stream", 400))
# depth
rcase("responses_nested_70", "an extra field nested 70 levels (over the 64 limit)", body_gen={"kind": "raw", "text": '{"model":"auto","input":"hi","x":' + "[" * 70 + "]" * 70 + "}"}, **failed("too_deep", 200))
rcase("responses_nested_in_part", "a content part nested 70 levels", body_gen={"kind": "raw", "text": '{"model":"auto","input":[{"role":"user","content":[' + "[" * 70 + "]" * 70 + "]}]}"}, **failed("too_deep", 200))
rcase("responses_nested_50000", "nested 50,000 levels (Python's json gives up too)", body_gen={"kind": "raw", "text": '{"model":"auto","input":"hi","x":' + "[" * 50000 + "]" * 50000 + "}"}, **failed("too_deep", 400))
# odd but valid: routed and priced
rcase("responses_every_item_type", "reasoning, item_reference, function_call and its output, unknown and typeless items", {"model": "auto", "input": [
    {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}, {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}, {"type": "input_file", "file_id": "file-1"}]},
    {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
    {"type": "function_call_output", "call_id": "c1", "output": "18C"},
    {"type": "item_reference", "id": "msg_0"}, {"type": "hologram", "x": 1}, {"content": "typeless"}]}, **RR)
rcase("responses_odd_parts", "parts of unknown type, numbers, null, a text that is not a string, a chat part", {"model": "auto", "input": [{"role": "user", "content": [{"type": "hologram"}, 3, None, {"type": "input_text", "text": 5}, {"type": "text", "text": "chat part"}, "bare"]}]}, **RR)
rcase("responses_instructions_only", "no input at all, only instructions", {"model": "auto", "instructions": "Say hi."}, **RR)
rcase("responses_input_null", "input null", {"model": "auto", "input": None}, **RR)
rcase("responses_odd_optional_fields", "max_output_tokens negative, tools not a list, text.format a string", rauto(max_output_tokens=-5, tools="x", text={"format": "json"}), **RR)
rcase("responses_duplicate_model", "model given twice: the last wins, both are rewritten", body_gen={"kind": "raw", "text": '{"model":"gpt-5","input":"hi","model":"auto"}'}, **RR)
rcase("responses_stateful_alias", "previous_response_id with auto: the shipped tiers are one family, so it is routed", rauto(previous_response_id="resp_0123"), **RR)
rcase("responses_stateful_explicit_unknown", "previous_response_id with a model no tier serves: passed through, priced as itself", {"model": "gpt-4o", "input": "hi", "previous_response_id": "resp_0123"},
      status=200, upstream="default", upstream_body="unchanged", error_kind=None, router_headers={"x-llm-router-tier": "none", "x-llm-router-reason": "explicit", "x-llm-router-status": "priced"}, account="priced", router_status="priced")
rcase("responses_unknown_explicit_model", "an explicit model no tier serves and the price table does not know", {"model": "acme-llm-9", "input": "hi"},
      status=200, upstream="default", upstream_body="unchanged", error_kind=None, router_headers={"x-llm-router-tier": "none", "x-llm-router-status": "unpriced", "x-llm-router-cost-micro-usd": None}, account="unpriced", router_status="unpriced")
# answers: usage shapes and event streams
RTOK = {"x-test-input-tokens": "1000", "x-test-completion-tokens": "500"}
RUM = dict(RR, router_headers={"x-llm-router-status": "usage_missing", "x-llm-router-cost-micro-usd": None}, account="usage_missing", router_status="usage_missing", response="intact")
rcase("responses_answer_no_usage", "an answer with usage null", RAUTO, headers={"x-test-no-usage": "1"}, **RUM)
rcase("responses_answer_chat_usage", "an answer whose usage has chat's names (prompt_tokens)", RAUTO, headers={"x-test-usage-json": '{"prompt_tokens": 5, "completion_tokens": 3}'}, **RUM)
rcase("responses_answer_cached_exceeds", "cached_tokens greater than input_tokens", RAUTO, headers={"x-test-usage-json": '{"input_tokens": 10, "input_tokens_details": {"cached_tokens": 11}, "output_tokens": 1}'}, **RUM)
rcase("responses_answer_negative", "a negative output_tokens", RAUTO, headers={"x-test-usage-json": '{"input_tokens": 10, "output_tokens": -1}'}, **RUM)
rcase("responses_answer_priced", "a plain answer: 1000 in, 500 out on gpt-5-mini = $0.00025 + $0.001", RAUTO, headers=RTOK, **dict(RR, router_headers={"x-llm-router-status": "priced", "x-llm-router-cost-micro-usd": "1250"}, response="intact"))
RSP = dict(RR, router_headers=None, response="intact+comment", comment={"status": "priced", "input_tokens": 1000, "output_tokens": 500, "cost_micro_usd": 1250})
rcase("responses_stream_completed", "the documented event sequence ending in response.completed", rauto(stream=True), headers=RTOK, **RSP)
rcase("responses_stream_incomplete", "a stream ending in response.incomplete: billed with its usage", rauto(stream=True), headers=dict(RTOK, **{"x-test-stream-end": "incomplete"}), **RSP)
rcase("responses_stream_failed", "a stream ending in response.failed: billed with its usage", rauto(stream=True), headers=dict(RTOK, **{"x-test-stream-end": "failed"}), **RSP)
rcase("responses_stream_error_event", "a stream ending in an error event: usage_missing", rauto(stream=True), headers=dict(RTOK, **{"x-test-stream-end": "error"}), **dict(RSP, account="usage_missing", router_status="usage_missing", comment={"status": "usage_missing", "cost_micro_usd": None}))
rcase("responses_stream_no_usage", "a response.completed whose usage is null", rauto(stream=True), headers=dict(RTOK, **{"x-test-no-usage": "1"}), **dict(RSP, account="usage_missing", router_status="usage_missing", comment={"status": "usage_missing"}))
rcase("responses_stream_cut", "the upstream closes before the terminal event", rauto(stream=True), headers=dict(RTOK, **{"x-test-stream-end": "cut"}), **dict(RSP, response=None, client_error=True, comment=None, account="usage_missing", router_status="usage_missing"))


def manifest() -> str:
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names), "duplicate case names"
    return "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)


if __name__ == "__main__":
    OUT.write_text(manifest())
    print(f"{OUT}: {len(cases)} cases")
