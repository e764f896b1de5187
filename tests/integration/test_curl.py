"""The same contract driven with curl, as an operator would poke at it."""
from __future__ import annotations

import json
import subprocess

from routerlib import Env


def curl(env: Env, *args: str) -> tuple[dict[str, str], str]:
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "30", "-D", "-", *args, env.base_url + "/v1/chat/completions"],
        check=True, capture_output=True, text=True,
    ).stdout
    # text mode turns CRLF into LF
    head, _, body = out.partition("\n\n")
    headers = {}
    for line in head.split("\n")[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return headers, body


def test_curl_non_streaming(env: Env) -> None:
    env.reset_upstreams()
    body = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
    headers, text = curl(env, "-H", "content-type: application/json",
                         "-H", "x-test-prompt-tokens: 2000", "-H", "x-test-completion-tokens: 100", "-d", body)
    assert headers["x-llm-router-tier"] == "cheap", headers
    assert headers["x-upstream-name"] == "cheap"
    # gpt-5-nano: 2000 * 0.05 + 100 * 0.40 = 140 micro-USD; sonnet: 2000 * 3 + 100 * 15 = 7500.
    assert headers["x-llm-router-cost-micro-usd"] == "140"
    assert headers["x-llm-router-baseline-cost-micro-usd"] == "7500"
    assert json.loads(text)["model"] == "gpt-5-nano"


def test_curl_streaming(env: Env) -> None:
    env.reset_upstreams()
    body = json.dumps({"model": "auto", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    headers, text = curl(env, "-N", "-H", "content-type: application/json", "-H", "x-test-prompt-tokens: 2000",
                         "-H", "x-test-completion-tokens: 100", "-d", body)
    assert headers["content-type"].startswith("text/event-stream")
    assert "data: [DONE]" in text
    comment = [l for l in text.splitlines() if l.startswith(": llm-router ")]
    assert len(comment) == 1, text[-500:]
    acc = json.loads(comment[0][len(": llm-router "):])
    assert acc["cost_micro_usd"] == 140 and acc["baseline_cost_micro_usd"] == 7500 and acc["status"] == "priced"
