#!/usr/bin/env python3
"""Send a mix of LLM requests through the router and print where they went and what they cost.

    python3 scripts/demo_traffic.py --ready-file tmp/demo/ready      (as scripts/demo.sh does)
    python3 scripts/demo_traffic.py --base-url http://127.0.0.1:10000 --admin-url http://127.0.0.1:9901

Uses the official OpenAI and Anthropic clients, exactly as an application would: only
the base URL changes and the model is "auto". Most requests are OpenAI chat
completions; two are an Anthropic Messages request (`/v1/messages`, routed among the
Claude tiers of the `messages` section) and an OpenAI Responses request
(`/v1/responses`, among the OpenAI tiers of the `responses` section). The upstreams are local stand-ins; the
`x-test-completion-tokens` header tells a stand-in how long an answer to
pretend it wrote, so the costs look like real traffic.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import openai

LONG_NOTES = "\n".join(
    f"- {who} reported that the {what} work item {n} is {state}; follow-up owner: {who}."
    for n, (who, what, state) in enumerate(
        [
            ("Ana", "billing migration", "on track"),
            ("Ben", "search relevance", "blocked on data"),
            ("Chen", "mobile release", "slipping by a week"),
            ("Dara", "SOC2 evidence", "done"),
            ("Eli", "pricing page", "in review"),
        ]
        * 8
    )
)

HARD_PROOF = r"""Prove rigorously that for every prime p > 3, p^2 - 1 is divisible by 24, by cases on p mod 3
and p mod 8. Then characterize all n such that p^2 = 1 (mod n) for every prime p coprime to n, using the
structure of (Z/nZ)^* and the Chinese remainder theorem, and prove the characterization. Finally implement
a segmented sieve in Rust that checks the claim for all primes below 10^9 with O(sqrt(n)) memory:

```rust
fn segmented_sieve(limit: u64, segment: usize) -> impl Iterator<Item = u64> { unimplemented!() }
```

and analyze its time complexity and cache behaviour step by step."""

CODING_TASK = """Write a Python function merge_intervals(intervals) that merges overlapping intervals.
Include type hints, handle empty input and touching intervals, add pytest unit tests, and explain the
time and space complexity. Then refactor it to stream over a sorted iterator without materializing a list."""

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@dataclass
class Case:
    label: str
    model: str
    prompt: str
    completion_tokens: int
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False
    tools: list | None = None
    api: str = "chat"  # "chat", "messages" (Anthropic) or "responses" (OpenAI Responses)


CASES = [
    Case("quick question", "auto", "What's the capital of Australia?", 30, {"x-customer-id": "acme"}),
    Case(
        "summarize notes (x-feature)",
        "auto",
        "Summarize these stand-up notes in 5 bullets:\n" + LONG_NOTES,
        180,
        {"x-feature": "summarization", "x-customer-id": "acme"},
    ),
    Case(
        "enterprise user",
        "auto",
        "Draft a short, polite reply to a customer asking when invoice #4411 will be paid.",
        220,
        {"x-user-tier": "enterprise", "x-customer-id": "globex"},
    ),
    Case("coding task", "auto", CODING_TASK, 700, {"x-customer-id": "globex"}),
    Case("hard math proof + code", "auto", HARD_PROOF, 1500, {"x-customer-id": "initech"}),
    Case("tool call", "auto", "What's the weather in Lisbon right now?", 40, {"x-customer-id": "acme"}, tools=[WEATHER_TOOL]),
    Case("explicit gpt-4o", "gpt-4o", "Translate 'good morning' into French, Spanish and German.", 60, {"x-customer-id": "initech"}),
    Case("streamed story", "auto", "Tell me a two-sentence story about a lighthouse keeper.", 90, {"x-customer-id": "acme"}, stream=True),
    Case("Messages: code review", "auto", CODING_TASK, 600, {"x-customer-id": "globex"}, api="messages"),
    Case("Responses: quick question", "auto", "Name three primary colours.", 25, {"x-customer-id": "acme"}, api="responses"),
]


@dataclass
class Row:
    label: str
    tier: str
    model: str
    cost: int | None
    baseline: int | None
    reason: str
    upstream: str


def as_int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def row_of(label: str, h) -> Row:
    """The router's decision and cost headers of a non-streaming answer."""
    return Row(
        label,
        h.get("x-llm-router-tier", "-"),
        h.get("x-llm-router-model", "-"),
        as_int(h.get("x-llm-router-cost-micro-usd")),
        as_int(h.get("x-llm-router-baseline-cost-micro-usd")),
        h.get("x-llm-router-reason", "-"),
        h.get("x-upstream-name", "-"),
    )


def run_case(client: openai.OpenAI, claude: anthropic.Anthropic, case: Case) -> Row:
    headers = {"x-test-completion-tokens": str(case.completion_tokens), **case.headers}
    if case.api == "messages":
        raw = claude.messages.with_raw_response.create(
            model=case.model,
            max_tokens=case.completion_tokens * 2,
            messages=[{"role": "user", "content": case.prompt}],
            extra_headers=headers,
        )
        raw.parse()
        return row_of(case.label, raw.headers)
    if case.api == "responses":
        raw = client.responses.with_raw_response.create(model=case.model, input=case.prompt, extra_headers=headers)
        raw.parse()
        return row_of(case.label, raw.headers)
    kwargs: dict = {"model": case.model, "messages": [{"role": "user", "content": case.prompt}], "extra_headers": headers}
    if case.tools:
        kwargs["tools"] = case.tools
    if not case.stream:
        raw = client.chat.completions.with_raw_response.create(**kwargs)
        raw.parse()
        return row_of(case.label, raw.headers)
    # Streaming: nothing is held back; the filter appends one SSE comment
    # (": llm-router {json}") with the accounting at the end of the stream.
    # Normal clients ignore it; here the raw lines are read to show it.
    summary: dict = {}
    with client.chat.completions.with_streaming_response.create(stream=True, **kwargs) as resp:
        tier = resp.headers.get("x-llm-router-tier", "-")
        reason = resp.headers.get("x-llm-router-reason", "-")
        upstream = resp.headers.get("x-upstream-name", "-")
        for line in resp.iter_lines():
            if line.startswith(": llm-router "):
                try:
                    summary = json.loads(line[len(": llm-router ") :])
                except ValueError:
                    summary = {}
    return Row(
        case.label + " (SSE)",
        str(summary.get("tier") or tier),
        str(summary.get("model") or "-"),
        as_int(summary.get("cost_micro_usd")),
        as_int(summary.get("baseline_cost_micro_usd")),
        reason,
        upstream,
    )


def usd(micro: int | None) -> str:
    return "-" if micro is None else f"${micro / 1e6:.6f}"


def num(micro: int | None) -> str:
    return "-" if micro is None else f"{micro:,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ready-file", help="JSON written by scripts/stack.py serve --ready-file")
    parser.add_argument("--base-url", default="http://127.0.0.1:10000", help="Envoy listener (without /v1)")
    parser.add_argument("--admin-url", default="http://127.0.0.1:9901")
    args = parser.parse_args(argv)
    base_url, admin_url = args.base_url, args.admin_url
    if args.ready_file:
        info = json.loads(Path(args.ready_file).read_text())
        base_url, admin_url = info["listener"], info["admin"]

    client = openai.OpenAI(base_url=base_url + "/v1", api_key="dummy", max_retries=0, timeout=60)
    claude = anthropic.Anthropic(base_url=base_url, api_key="dummy", max_retries=0, timeout=60)
    rows: list[Row] = []
    for case in CASES:
        try:
            rows.append(run_case(client, claude, case))
        except (openai.APIError, anthropic.APIError) as exc:
            print(f"request {case.label!r} failed: {exc}", file=sys.stderr)
            return 1

    headers = ["#", "request", "tier", "routed model", "upstream", "reason", "cost µUSD", "cost $", "baseline µUSD", "baseline $"]
    table = [
        [str(i), r.label, r.tier, r.model, r.upstream, r.reason, num(r.cost), usd(r.cost), num(r.baseline), usd(r.baseline)]
        for i, r in enumerate(rows, 1)
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    numeric = {0, 6, 7, 8, 9}

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    print()
    print(fmt(headers))
    print("  ".join("-" * w for w in widths))
    for row in table:
        print(fmt(row))

    priced = [r for r in rows if r.cost is not None and r.baseline is not None]
    total = sum(r.cost or 0 for r in priced)
    baseline = sum(r.baseline or 0 for r in priced)
    saved = (1 - total / baseline) * 100 if baseline else 0.0
    print()
    print(
        f"total: {usd(total)} ({total:,} µUSD) routed vs {usd(baseline)} ({baseline:,} µUSD) if every request "
        f"had gone to its API's baseline model: {saved:.1f}% saved over {len(priced)} priced requests"
    )
    unpriced = len(rows) - len(priced)
    if unpriced:
        print(f"({unpriced} request(s) had no price and are left out of the totals)")

    try:
        import urllib.request

        with urllib.request.urlopen(admin_url + "/stats/prometheus", timeout=5) as resp:
            lines = [
                line
                for line in resp.read().decode().splitlines()
                if line.startswith(("llm_router_requests_total{", "llm_router_cost_micro_usd_total{"))
            ]
        if lines:
            print(f"\nPrometheus ({admin_url}/stats/prometheus), excerpt:")
            for line in lines[:12]:
                print("  " + line)
    except OSError as exc:
        print(f"(could not read {admin_url}/stats/prometheus: {exc})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
