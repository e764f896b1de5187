"""Judged production samples (`llm-router judge` output) as one more measured training source.

`lso.py --production-labels FILE` adds them to the data set at load time (they are never copied
into data/dataset.jsonl: they are the operator's users' prompts). Each judged record with a
verdict becomes one row of source and family `production`:

* request: the record's `prompt` (`role: text` lines, docs/shadow.md) turned back into a chat
  completions body; its features come from `llm-router features` like every other row's;
* label (needs_frontier): 1 when the verdict is `loss` (the cheap tier was not good enough for
  this prompt), else 0;
* weak_quality / strong_quality: loss -> 0 / 1, tie or win -> 1 / 1. A win is not counted as a
  negative gap: like the production APGR of `report --quality` (docs/quality.md), the routing
  metric counts the losses that sending a prompt to the reference tier recovers.

Records that are not JSON, of another version, without a verdict (a judge error, a failed
reference) or without a prompt are skipped and counted, never guessed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

SOURCE = "production"
ROLES = ("system", "developer", "user", "assistant", "tool")


@dataclass
class Loaded:
    rows: list[dict]
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def messages_of_prompt(prompt: str) -> list[dict]:
    """`role: text` lines back into messages; a line that does not start with a known role
    continues the message before it (a multi-line message). Text before any role is a user
    message."""
    messages: list[dict] = []
    for line in prompt.split("\n"):
        role, sep, rest = line.partition(": ")
        if sep and role in ROLES:
            messages.append({"role": role, "content": rest})
        elif messages:
            messages[-1]["content"] += "\n" + line
        else:
            messages.append({"role": "user", "content": line})
    return [m for m in messages if m["content"].strip()] or [{"role": "user", "content": prompt}]


def load(path: Path) -> Loaded:
    out = Loaded([])
    seen: set[str] = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                out.skip("not json")
                continue
            if not isinstance(rec, dict) or rec.get("version") != 1:
                out.skip("not a version-1 record")
                continue
            verdict = (rec.get("judgement") or {}).get("verdict") if isinstance(rec.get("judgement"), dict) else None
            if verdict not in ("win", "tie", "loss"):
                out.skip("no verdict")
                continue
            prompt, rid = rec.get("prompt"), rec.get("id")
            if not isinstance(prompt, str) or not prompt.strip() or not isinstance(rid, str):
                out.skip("no prompt or id")
                continue
            if rid in seen:
                out.skip("duplicate id")
                continue
            seen.add(rid)
            loss = verdict == "loss"
            out.rows.append({
                "id": f"{SOURCE}:{rid}", "source": SOURCE, "family": SOURCE,
                "subject": f"{rec.get('route', '')}/{rec.get('tier', '')}",
                "label": int(loss), "label_kind": "measured",
                "weak_quality": 0.0 if loss else 1.0, "strong_quality": 1.0,
                "request": {"model": "production-sample", "messages": messages_of_prompt(prompt)},
            })
    return out
