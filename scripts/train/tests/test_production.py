"""Judged production samples as a training source (lso.py --production-labels), on small planted
data: the record -> row conversion, and the production source held out and evaluated in the same
leave-sources-out folds as the public sources. Features come through the same FeatureSource
protocol as the CLI's, from a stand-in extractor script (no Rust build needed).

Run: .venv-train/bin/python -m pytest scripts/train/tests -q
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common as C  # noqa: E402
import lso  # noqa: E402
import production  # noqa: E402

# Speaks `llm-router features`: request JSON lines in, {"features": [...]} lines out; --names.
EXTRACTOR = '''
import json, sys
if "--names" in sys.argv:
    print("mentions_hard\\nchars_100\\nmessages"); sys.exit(0)
for line in sys.stdin:
    req = json.loads(line)
    text = " ".join(m["content"] for m in req["messages"])
    print(json.dumps({"features": [float("hard" in text), len(text) / 100.0, float(len(req["messages"]))]}), flush=True)
'''


def record(rid: str, verdict, prompt: str = "user: hello", version: int = 1) -> str:
    rec = {"version": version, "id": rid, "time": "2026-12-02T05:30:00Z", "route": "chat", "api": "chat_completions",
           "customer": "acme", "tier": "cheap", "score": 0.3, "reason": "score", "json_requested": False,
           "prompt": prompt, "prompt_truncated": False, "routed": {}, "reference": {}, "extra": [1]}
    if verdict != "-":
        rec["judgement"] = {"verdict": verdict, "judge": "j", "reason": "", "swapped": False, "attempts": 1,
                            "error": None if verdict else "malformed"}
    return json.dumps(rec) + "\n"


def test_judged_records_become_measured_rows(tmp_path):
    path = tmp_path / "judged.jsonl"
    path.write_text(
        record("l1", "loss", "system: be brief\nuser: first line\nsecond line\nassistant: ok\nuser: and now?")
        + record("t1", "tie") + record("w1", "win") + record("e1", None) + record("n1", "-")
        + "not json\n" + record("v2", "loss", version=2) + record("l1", "tie") + record("p1", "loss", prompt="  ")
        + record("x1", "loss", prompt="before any role\nuser: then a user"),
        encoding="utf-8")
    got = production.load(path)
    assert [r["id"] for r in got.rows] == ["production:l1", "production:t1", "production:w1", "production:x1"]
    assert got.skipped == {"no verdict": 2, "not json": 1, "not a version-1 record": 1, "duplicate id": 1,
                           "no prompt or id": 1}
    l1, t1, w1, x1 = got.rows
    assert (l1["label"], l1["weak_quality"], l1["strong_quality"]) == (1, 0.0, 1.0)
    assert (t1["label"], t1["weak_quality"], t1["strong_quality"]) == (0, 1.0, 1.0)
    assert (w1["label"], w1["weak_quality"], w1["strong_quality"]) == (0, 1.0, 1.0)
    assert l1["source"] == l1["family"] == "production" and l1["label_kind"] == "measured"
    assert l1["request"]["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first line\nsecond line"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "and now?"},
    ]
    assert x1["request"]["messages"] == [{"role": "user", "content": "before any role"},
                                         {"role": "user", "content": "then a user"}]


def _public_rows(rng) -> list[dict]:
    """Every public measured source, 30 rows each: prompts mentioning "hard" have a large gap."""
    rows = []
    for src in list(lso.MEASURED):
        for i in range(30):
            hard = rng.random() < 0.3
            text = ("a hard problem " if hard else "an easy one ") + "x" * int(rng.integers(0, 200))
            weak = 0.3 if hard else 0.9
            rows.append({"id": f"{src}:{i}", "source": src, "family": src, "subject": "", "label": int(hard),
                         "label_kind": "measured", "weak_quality": weak,
                         "strong_quality": weak + (0.6 if hard else 0.05),
                         "request": {"model": "m", "messages": [{"role": "user", "content": text}]}})
    return rows


def test_production_is_one_more_held_out_source(tmp_path, monkeypatch):
    monkeypatch.setattr(lso, "MEASURED", list(lso.MEASURED))
    rng = np.random.default_rng(7)
    script = tmp_path / "extractor.py"
    script.write_text(EXTRACTOR, encoding="utf-8")
    src = C.FeatureSource([sys.executable, str(script)], [sys.executable, str(script), "--names"], "test")
    # Production: the judge found losses exactly where the prompt mentions "hard".
    lines = []
    for i in range(60):
        hard = rng.random() < 0.4
        lines.append(record(f"r{i}", "loss" if hard else rng.choice(["tie", "win"]),
                            prompt=f"user: {'a hard one' if hard else 'a simple one'} {'y' * int(rng.integers(0, 150))}"))
    labels = tmp_path / "judged.jsonl"
    labels.write_text("".join(lines), encoding="utf-8")

    public = _public_rows(rng)
    x_public = src.extract([r["request"] for r in public])
    rows, x = lso.add_production(public, x_public, labels, lambda r, tag: src.extract([q["request"] for q in r]))
    assert len(rows) == len(public) + 60 and x.shape == (len(rows), 3)
    assert lso.MEASURED[-1] == "production"
    assert lso.fold_sizes() == "3 or 4"  # 10 sources in 3 folds

    d = lso.Data(rows, x, src.names())
    plan = lso.fold_plan()
    for r in range(lso.REPEATS):
        held = [s for fold in plan[r * lso.FOLDS:(r + 1) * lso.FOLDS] for s in fold]
        assert sorted(held) == sorted(lso.MEASURED) and held.count("production") == 1
    baselines = lso.baseline_scores(d, None)
    base_folds = [lso.evaluate_fold(d, held, baselines) for held in plan]
    cfg = {"kind": "ridge", "features": "structural", "l2": 1.0, "target": "gap", "power": 1.0, "proxy": 0.5}
    folds = lso.cross_validate(cfg, d, plan, base_folds)
    with_prod = [f for f, held in zip(folds, plan) if "production" in held]
    assert len(with_prod) == lso.REPEATS
    for f in with_prod:
        m = f["per_source"]["production"]["model"]
        # Trained on the public sources only (production held out), the score still finds the
        # production losses: they share the planted signal.
        assert m["apgr"] > 0.75, m["apgr"]
        assert f["per_source"]["production"]["random"]["apgr"] == pytest.approx(0.5)
        # Production rows are evaluated only when held out: never in a fold that trained on them.
    assert all("production" not in f["per_source"] for f, held in zip(folds, plan) if "production" not in held)
