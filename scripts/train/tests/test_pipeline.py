"""Tests of the training/evaluation pipeline (metrics, ONNX export, end-to-end on a small sample).

Run: .venv-train/bin/python -m pytest scripts/train/tests -q
The end-to-end test uses the TEST-ONLY stand-in feature command (tests/standin_features.py), so it
needs neither the Rust build nor the full data set.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common as C  # noqa: E402

STANDIN = f"{sys.executable} {HERE / 'standin_features.py'}"


def test_constant_scores_give_diagonal_pgr():
    rng = np.random.default_rng(0)
    weak = rng.integers(0, 2, 200).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, 200))
    m = C.routing_metrics(np.zeros(200), weak, strong)
    assert m.apgr == pytest.approx(0.5, abs=1e-12)  # ties = random order in expectation
    assert m.cpt50 == pytest.approx(0.5, abs=1e-12)


def test_oracle_and_anti_oracle():
    weak = np.array([1, 0, 1, 0, 1, 1, 0, 1], dtype=float)
    strong = np.array([1, 1, 1, 1, 1, 1, 1, 1], dtype=float)
    gain = strong - weak
    oracle = C.routing_metrics(gain, weak, strong)
    anti = C.routing_metrics(-gain + 1e-3 * np.arange(8), weak, strong)
    # 3 of 8 rows carry the whole gap: PGR reaches 1 at share 3/8.
    assert oracle.cpt50 == pytest.approx(1.5 / 8)
    assert oracle.apgr == pytest.approx(1 - 0.5 * 3 / 8)
    assert anti.apgr < 0.5 < oracle.apgr
    assert oracle.share_q95 <= oracle.cpt50 * 2


def test_random_router_is_about_half():
    rng = np.random.default_rng(1)
    weak = rng.integers(0, 2, 2000).astype(float)
    strong = np.clip(weak + rng.integers(0, 2, 2000), 0, 1)
    apgrs = [C.routing_metrics(np.random.default_rng(s).random(2000), weak, strong).apgr for s in range(10)]
    assert np.mean(apgrs) == pytest.approx(0.5, abs=0.03)


def test_cost_numbers():
    assert C.WEAK_COST == pytest.approx(0.0015)
    assert C.STRONG_COST == pytest.approx(0.0045)
    weak = np.ones(10)
    m = C.routing_metrics(np.arange(10.0), weak, weak * 1.0 + 0)  # no gap, weak already at 100%
    assert m.share_q95 == 0.0
    assert m.cost_saved_q95 == pytest.approx(2 / 3)


@pytest.mark.parametrize("hidden", [0, 8])
def test_onnx_export_matches_numpy(tmp_path, hidden):
    rng = np.random.default_rng(2)
    d = 37
    if hidden:
        layers = [(rng.normal(size=(d, hidden)), rng.normal(size=hidden)), (rng.normal(size=(hidden, 1)), rng.normal(size=1))]
    else:
        layers = [(rng.normal(size=(d, 1)), rng.normal(size=1))]
    params = {"layers": layers}
    path = tmp_path / "m.onnx"
    C.export_onnx(params, d, path, "test", {"feature_dim": str(d)})
    x = rng.normal(size=(64, d)).astype(np.float32) * 0.3
    got = C.onnx_scores(path, x)
    want = C.forward(params, x).reshape(-1)
    assert got.shape == (64,)
    assert np.max(np.abs(got - want)) < 1e-5
    import onnx

    m = onnx.load(str(path))
    assert {n.op_type for n in m.graph.node} <= {"MatMul", "Add", "Relu", "Sigmoid"}
    assert m.graph.input[0].name == "features" and m.graph.output[0].name == "score"
    assert m.opset_import[0].version == 13


def test_end_to_end_small(tmp_path):
    root = C.ROOT
    # A small data set: every 25th row of the real one, built fresh.
    full = tmp_path / "full.jsonl"
    subprocess.run([sys.executable, str(root / "data" / "build_dataset.py"), "--quiet", "--out", str(full)], check=True)
    rows = [json.loads(line) for line in full.read_text(encoding="utf-8").split("\n") if line][::25]
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(r) + "\n" for r in rows))
    models = tmp_path / "models"
    parity = tmp_path / "parity.jsonl"
    subprocess.run([sys.executable, str(HERE.parent / "train.py"), "--dataset", str(small), "--quick",
                    "--features-cmd", STANDIN, "--models-dir", str(models), "--parity-out", str(parity)],
                   check=True, cwd=root)
    meta = json.loads((models / "router.meta.json").read_text())
    assert meta["feature_dim"] == 72 and (models / "router.onnx").stat().st_size < 2 * 1024 * 1024
    par = [json.loads(line) for line in parity.read_text(encoding="utf-8").split("\n") if line]
    assert len(par) == 50 and all(0.0 <= p["score"] <= 1.0 for p in par)
    out = subprocess.run([sys.executable, str(HERE.parent / "evaluate.py"), "--dataset", str(small),
                          "--model", str(models / "router.onnx"), "--features-cmd", STANDIN, "--no-docs",
                          "--json-out", str(tmp_path / "m.json")], check=True, cwd=root,
                         capture_output=True, text=True)
    assert "TEST split" in out.stdout and "| random |" in out.stdout
    js = json.loads((tmp_path / "m.json").read_text())
    assert 0.4 < js["test"]["routers"]["random"]["apgr"] < 0.6
