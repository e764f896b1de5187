"""Tests of the training/evaluation pipeline (metrics, leave-sources-out pieces, fitting, ONNX export).

Run: .venv-train/bin/python -m pytest scripts/train/tests -q
They use small planted data, so they need neither the Rust build nor the full data set (lso.py
loads data/build_dataset.py for the list of measured sources only).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import common as C  # noqa: E402
import lso  # noqa: E402

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


def _data(n=600, seed=0):
    """A stand-in for lso.Data: 3 measured sources with different mean gaps, one proxy source."""
    rng = np.random.default_rng(seed)
    src = np.array(["a", "b", "c", "p"])[rng.integers(0, 4, n)]
    x = rng.normal(size=(n, 5))
    gap = 0.1 + 0.2 * (src == "b") + 0.05 * x[:, 0]
    d = lso.Data.__new__(lso.Data)
    d.rows = [{"source": s} for s in src]
    d.x, d.names, d.source, d.family = x, [f"f{i}" for i in range(5)], src, src
    d.kind = np.where(src == "p", "proxy", "measured")
    d.measured = d.kind == "measured"
    d.wq = np.where(d.measured, 0.5, np.nan)
    d.sq = np.where(d.measured, 0.5 + gap, np.nan)
    d.y = np.where(d.measured, (gap >= 0.25).astype(float), (x[:, 0] > 0).astype(float))
    d.chars = np.abs(x[:, 1]) * 100
    d.heur = (np.array([1.0, 0, 0, 0, 0]), 0.0)
    d.cols = {"structural": np.arange(5), "all": np.arange(5), "v1": np.arange(3)}
    return d


def test_weighted_curve_equals_the_unweighted_one_with_unit_weights():
    rng = np.random.default_rng(3)
    weak = rng.integers(0, 2, 300).astype(float)
    strong = np.maximum(weak, rng.integers(0, 2, 300))
    s = np.round(rng.random(300), 1)  # ties
    share, q = lso.weighted_curve(s, weak, strong, np.ones(300))
    share0, q0 = C.quality_curve(s, weak, strong)
    assert np.allclose(share, share0) and np.allclose(q, q0)
    m = lso.metrics(np.zeros(300), weak, strong, (strong > weak).astype(int), np.ones(300))
    assert m["apgr"] == pytest.approx(0.5, abs=1e-12)


def test_pooled_weights_cap_each_source():
    src = np.array(["big"] * 2000 + ["small"] * 10)
    w = lso.pooled_weights(src)
    assert w[src == "big"].sum() == pytest.approx(lso.SOURCE_CAP)
    assert w[src == "small"].sum() == pytest.approx(10)


def test_fold_plan_holds_out_every_source_once_per_repeat():
    plan = lso.fold_plan()
    assert len(plan) == lso.REPEATS * lso.FOLDS
    for r in range(lso.REPEATS):
        held = sorted(s for fold in plan[r * lso.FOLDS:(r + 1) * lso.FOLDS] for s in fold)
        assert held == sorted(lso.MEASURED)


@pytest.mark.parametrize("cfg", [
    {"kind": "ridge", "features": "structural", "l2": 1.0, "target": "gap", "power": 1.0, "proxy": 0.5},
    {"kind": "ridge", "anchor": True, "features": "structural", "l2": 1.0, "target": "gap", "power": 1.0, "proxy": 0.0},
    {"kind": "logreg", "features": "v1", "l2": 0.01, "target": "binary", "power": 1.0, "proxy": 1.0},
    {"kind": "mlpreg", "features": "structural", "hidden": 4, "l2": 0.1, "target": "gap", "power": 1.0, "proxy": 0.5,
     "drop": ["p"]},
])
def test_fit_folds_the_scaler_and_ranks_by_the_gap(cfg):
    d = _data()
    layers = lso.fit(cfg, d, np.arange(len(d.rows)))
    s = lso.score(layers, d.x)
    assert np.all((s > 0) & (s < 1))
    m = d.measured
    # the fitted score follows the planted gap on the measured rows
    assert np.corrcoef(s[m], (d.sq - d.wq)[m])[0, 1] > 0.5


def test_onnx_export_of_a_regression_matches_numpy(tmp_path):
    d = _data()
    layers = lso.fit({"kind": "mlpreg", "features": "structural", "hidden": 4, "l2": 0.1, "target": "gap",
                      "power": 1.0, "proxy": 0.5}, d, np.arange(len(d.rows)))
    path = tmp_path / "m.onnx"
    C.export_onnx({"layers": layers}, 5, path, doc="test", metadata={})
    assert np.max(np.abs(C.onnx_scores(path, d.x) - lso.score(layers, d.x))) < 1e-5
