"""Streams keep the shape the client asked for (README, "How a request flows", step 6).

The router forces `stream_options.include_usage` upstream so it can price every stream. A
client that did not ask for usage must not get the resulting usage-only chunk (`choices: []`):
OpenAI's documented loop, `for chunk in stream: chunk.choices[0].delta.content`, raises
IndexError on it. These tests run that loop with the official `openai` client through Envoy,
with the stand-in's stream split in every way it can (one byte per HTTP chunk, CRLF line ends,
comments and other fields around every event), and check that the usage was still counted.
"""
from __future__ import annotations

import uuid

import openai
import pytest

from routerlib import TIERS, Env

SHAPES = {
    "plain": {},
    "bytewise": {"x-test-sse-bytewise": "1"},
    "crlf_comments": {"x-test-sse-eol": "crlf", "x-test-sse-comments": "1"},
    "bytewise_cr_multiline": {"x-test-sse-bytewise": "1", "x-test-sse-eol": "cr", "x-test-sse-multiline": "1"},
}


def documented_loop(stream: openai.Stream) -> str:
    """The loop from OpenAI's streaming guide, verbatim in substance."""
    text = ""
    for chunk in stream:
        text += chunk.choices[0].delta.content or ""
    return text


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_documented_loop_works_without_stream_options(env: Env, client: openai.OpenAI, shape: str) -> None:
    customer = f"stream-shape-{shape}-{uuid.uuid4().hex[:8]}"
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_headers={"x-customer-id": customer, "x-test-prompt-tokens": "321", "x-test-completion-tokens": "12",
                       "x-test-stream-delay-ms": "0", **SHAPES[shape]},
    )
    assert documented_loop(stream) == f"upstream=cheap model={TIERS['cheap']['model']}"
    # The upstream was asked for usage, and the router counted it.
    assert env.last("cheap")["json"]["stream_options"] == {"include_usage": True}
    assert env.wait_metric("llm_router_input_tokens_total", 321, customer=customer) == 321
    assert env.metric_sum("llm_router_output_tokens_total", customer=customer) == 12
    assert env.metric_sum("llm_router_usage_missing_total", customer=customer) == 0


def test_documented_loop_works_for_an_explicit_model(env: Env, client: openai.OpenAI) -> None:
    """Explicit models are passed through, but their streams get include_usage too."""
    stream = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert documented_loop(stream) == "upstream=default model=gpt-4o"
    assert env.last("default")["json"]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("include_usage", [False, True])
def test_client_that_asked_for_usage_gets_it_and_one_that_did_not_does_not(
    env: Env, client: openai.OpenAI, include_usage: bool
) -> None:
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": include_usage},
        extra_headers={"x-test-prompt-tokens": "55"},
    )
    chunks = list(stream)
    usage_only = [c for c in chunks if not c.choices]
    if include_usage:
        assert len(usage_only) == 1 and usage_only[0].usage.prompt_tokens == 55
        assert chunks[-1] is usage_only[0]
    else:
        assert usage_only == []
        assert all(c.usage is None for c in chunks)
