#!/usr/bin/env python3
"""Trains the complexity classifier and exports it to ONNX.

  1. loads data/dataset.jsonl (builds it with data/build_dataset.py if missing);
  2. computes features with the Rust CLI (`target/release/llm-router features`), cached in data/cache/;
  3. fits logistic regression and one-hidden-layer MLP candidates on the TRAIN split and picks
     one on the VALIDATION split (selection score = mean of source-balanced AUROC and APGR);
     the TEST split is never read here except to count rows for the summary;
  4. folds the standardisation into the first layer and writes models/router.onnx
     (input `features` [N, D] float32, output `score` [N, 1] float32, opset 13, only
     MatMul/Add/Relu/Sigmoid) and models/router.meta.json;
  5. writes tests/data/parity_sample.jsonl: fixed requests with the float64 numpy score of the
     fitted model, for the Rust tract parity test (tolerance 1e-5).

Usage (from the repo root, after scripts/train/setup.sh and building the CLI):
  .venv-train/bin/python scripts/train/train.py
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C  # noqa: E402

SEED = 1234
PARITY_ROWS = 50

# "features": "all" = every CLI feature; "structural" = only the named non-hashed features
# (names not starting with "hash_"), i.e. a model that cannot memorise words. Masked columns get
# zero weights, so the exported model still takes the full [N, D] input.
LR_GRID = [{"kind": "logreg", "features": f, "C": c, "source_weight_power": p}
           for f in ("all", "structural") for c in (0.03, 0.3, 3.0) for p in (0.0, 0.5, 1.0)]
MLP_GRID = ([{"kind": "mlp", "features": "all", "hidden": h, "alpha": a, "source_weight_power": 0.5}
             for h in (16, 32) for a in (1e-3, 1e-1)]
            + [{"kind": "mlp", "features": "structural", "hidden": h, "alpha": a, "source_weight_power": p}
               for h in (16, 32) for a in (1e-3, 1e-1) for p in (0.5, 1.0)])
# A single MLP's validation APGR moves by +-0.03 with the random seed alone, so every MLP
# candidate is an ensemble of MLP_SEEDS nets (different seeds) whose logits are averaged. That is
# exactly one wider MLP (hidden units concatenated, output weights divided by MLP_SEEDS), so the
# export stays MatMul/Add/Relu/MatMul/Add/Sigmoid.
MLP_SEEDS = 5
# "heuristic-anchored" logistic regression: logit = heuristic logit (the Rust core's hand-written
# weights, `llm-router export-heuristic`) + a learned L2-penalised correction. Small C keeps the
# model close to the heuristic (a prior written with everyday traffic in mind), large C lets
# the data move it. Exported as a plain logistic regression (the two weight vectors summed).
ANCHORED_GRID = [{"kind": "anchored_logreg", "features": f, "C": c, "source_weight_power": p}
                 for f in ("all", "structural") for c in (1e-5, 1e-4, 1e-3, 1e-2) for p in (0.0, 0.5)]
QUICK_GRID = [{"kind": "logreg", "features": "all", "C": 0.3, "source_weight_power": 0.5},
              {"kind": "logreg", "features": "structural", "C": 0.3, "source_weight_power": 0.5},
              {"kind": "mlp", "features": "all", "hidden": 16, "alpha": 1e-2, "source_weight_power": 0.5}]


def source_weights(sources: np.ndarray, power: float) -> np.ndarray:
    """w = n_source^-power, normalised to mean 1: power 0 = plain rows, 1 = every source equal."""
    _, inv, counts = np.unique(sources, return_inverse=True, return_counts=True)
    w = counts[inv].astype(np.float64) ** (-power)
    return w / w.mean()


def fit_anchored(c: float, x: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray):
    """Weighted logistic regression with a fixed per-row logit offset:
    minimise C * sum_i w_i * logloss(y_i, offset_i + x_i.beta + b) + 0.5 * |beta|^2."""
    from scipy.optimize import minimize

    d = x.shape[1]
    ys = 2.0 * y - 1.0

    def f(theta):
        beta, b = theta[:d], theta[d]
        z = offset + x @ beta + b
        m = ys * z
        loss = np.logaddexp(0.0, -m)
        g = -ys * w * (1.0 / (1.0 + np.exp(m)))  # d loss / dz, weighted
        val = c * float(w @ loss) + 0.5 * float(beta @ beta)
        grad = np.concatenate([c * (x.T @ g) + beta, [c * g.sum()]])
        return val, grad

    res = minimize(f, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return [(res.x[:d].reshape(d, 1), np.array([res.x[d]]))]


def fit(cfg: dict, x: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray | None = None):
    """Fits one candidate on standardised x; returns a list of (W, b) layers (on standardised x).
    MLP candidates are MLP_SEEDS-seed ensembles folded into one wider hidden layer (logit average)."""
    if cfg["kind"] == "anchored_logreg":
        return fit_anchored(cfg["C"], x, y, w, offset), None
    if cfg["kind"] == "logreg":
        from sklearn.linear_model import LogisticRegression

        m = LogisticRegression(C=cfg["C"], max_iter=3000, solver="lbfgs")
        m.fit(x, y, sample_weight=w)
        return [(m.coef_.T.copy(), m.intercept_.copy())], m
    from sklearn.neural_network import MLPClassifier

    w1s, b1s, w2s, b2s = [], [], [], []
    for k in range(MLP_SEEDS):
        m = MLPClassifier(hidden_layer_sizes=(cfg["hidden"],), activation="relu", alpha=cfg["alpha"],
                          solver="adam", learning_rate_init=1e-3, batch_size=256, max_iter=200,
                          early_stopping=True, validation_fraction=0.1, n_iter_no_change=10,
                          random_state=SEED + k)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(x, y, sample_weight=w)
        w1s.append(m.coefs_[0]); b1s.append(m.intercepts_[0])
        w2s.append(m.coefs_[1]); b2s.append(m.intercepts_[1])
    layers = [(np.hstack(w1s), np.concatenate(b1s)),
              (np.vstack(w2s) / MLP_SEEDS, np.mean(b2s, axis=0))]
    return layers, None


def fold_scaler(layers, mean: np.ndarray, std: np.ndarray):
    """(x - mean) / std @ W + b  ==  x @ (W / std) + (b - (mean / std) @ W)."""
    w0, b0 = layers[0]
    w0f = w0 / std[:, None]
    b0f = b0 - (mean / std) @ w0
    return [(w0f, b0f)] + list(layers[1:])


def evaluate_split(scores, rows_idx, rows, y):
    sources = [rows[i]["source"] for i in rows_idx]
    bal = C.source_balanced_weights(sources)
    out = {"n": int(len(rows_idx)), "positives": int(y[rows_idx].sum()),
           "auroc": C.auroc(y[rows_idx], scores[rows_idx]),
           "auroc_source_balanced": C.auroc(y[rows_idx], scores[rows_idx], bal)}
    q_idx = [i for i in rows_idx if rows[i]["weak_quality"] is not None and rows[i]["strong_quality"] is not None]
    if q_idx:
        m = C.routing_metrics(scores[q_idx], [rows[i]["weak_quality"] for i in q_idx],
                              [rows[i]["strong_quality"] for i in q_idx])
        out.update({"apgr_rows": len(q_idx), "apgr": m.apgr, "cpt50": m.cpt50,
                    "cost_saved_at_95pct_quality": m.cost_saved_q95})
    return out


def pick_parity_rows(rows: list[dict], n: int) -> list[int]:
    """~n rows spread over sources (round robin over a seeded shuffle), fixed by SEED."""
    rng = np.random.default_rng(SEED)
    by_src = collections.defaultdict(list)
    for i, r in enumerate(rows):
        by_src[r["source"]].append(i)
    queues = {s: list(rng.permutation(v)) for s, v in sorted(by_src.items())}
    out: list[int] = []
    while len(out) < n and any(queues.values()):
        for s in sorted(queues):
            if queues[s] and len(out) < n:
                out.append(int(queues[s].pop()))
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=C.DATASET)
    ap.add_argument("--models-dir", type=Path, default=C.MODELS)
    ap.add_argument("--parity-out", type=Path, default=C.ROOT / "tests" / "data" / "parity_sample.jsonl")
    ap.add_argument("--features-cmd", default=None,
                    help="TESTS ONLY: feature command speaking the CLI protocol (default: the Rust CLI)")
    ap.add_argument("--quick", action="store_true", help="tiny grid (for tests)")
    ap.add_argument("--kinds", default="logreg,mlp", help="candidate families to try")
    args = ap.parse_args()
    t0 = time.time()

    rows = C.load_dataset(args.dataset)
    src = C.FeatureSource.from_args(args.features_cmd)
    names = src.names()
    x_all = C.features_for(rows, src, "all")
    n, dim = x_all.shape
    if names is not None and len(names) != dim:
        raise SystemExit(f"--names gave {len(names)} names but vectors have {dim} values")
    print(f"features: {n} rows x {dim} dims ({'named' if names else 'no names'})", file=sys.stderr)

    y = np.array([r["label"] for r in rows], dtype=np.int64)
    split = np.array([r["split"] for r in rows])
    sources = np.array([r["source"] for r in rows])
    tr = np.nonzero(split == "train")[0]
    va = np.nonzero(split == "val")[0]
    if len(tr) == 0 or len(va) == 0:
        raise SystemExit("dataset needs train and val rows")

    structural = (np.array([i for i, nm in enumerate(names) if not nm.startswith("hash_")])
                  if names is not None else None)
    mean = x_all[tr].astype(np.float64).mean(axis=0)
    std = x_all[tr].astype(np.float64).std(axis=0)
    std[std < 1e-6] = 1.0  # constant columns (e.g. unused hash buckets) stay as they are
    xs = (x_all.astype(np.float64) - mean) / std

    heur = src.heuristic()
    if heur is not None and heur.get("dim") == dim:
        h_w = np.asarray(heur["weights"], dtype=np.float64)
        h_b = float(heur["bias"])
        h_logit = x_all.astype(np.float64) @ h_w + h_b
    else:
        heur = None
    grid = QUICK_GRID if args.quick else LR_GRID + MLP_GRID + ANCHORED_GRID
    kinds = set(args.kinds.split(",")) | ({"anchored_logreg"} if "logreg" in args.kinds.split(",") else set())
    grid = [g for g in grid if g["kind"] in kinds]
    results = []
    print(f"{'candidate':80s} {'valAUROC':>8s} {'balAUROC':>8s} {'valAPGR':>7s} {'select':>7s} {'sec':>5s}")
    for cfg in grid:
        t = time.time()
        if cfg["features"] == "structural" and structural is None:
            continue  # needs feature names
        if cfg["kind"] == "anchored_logreg" and heur is None:
            continue  # needs the CLI's heuristic
        cols = structural if cfg["features"] == "structural" else np.arange(dim)
        w = source_weights(sources[tr], cfg["source_weight_power"])
        layers, _ = fit(cfg, xs[tr][:, cols], y[tr], w,
                        offset=h_logit[tr] if cfg["kind"] == "anchored_logreg" else None)
        w0 = np.zeros((dim, layers[0][0].shape[1]))
        w0[cols] = layers[0][0]
        layers = [(w0, layers[0][1])] + layers[1:]
        if cfg["kind"] == "anchored_logreg":
            # heuristic on raw x == heuristic on standardised x with W = h_w * std, b = h_b + mean.h_w
            w_h_std = (h_w * std).reshape(dim, 1)
            b_h_std = np.array([h_b + float(mean @ h_w)])
            layers = [(layers[0][0] + w_h_std, layers[0][1] + b_h_std)]
        scores = C.forward({"layers": layers}, xs).reshape(-1)
        m = evaluate_split(scores, va, rows, y)
        sel = 0.5 * m["auroc_source_balanced"] + 0.5 * m.get("apgr", m["auroc_source_balanced"])
        results.append({"config": cfg, "val": m, "selection_score": sel, "layers": layers})
        desc = json.dumps(cfg)
        print(f"{desc:80s} {m['auroc']:8.4f} {m['auroc_source_balanced']:8.4f} {m.get('apgr', float('nan')):7.4f} "
              f"{sel:7.4f} {time.time() - t:5.1f}", flush=True)

    best = max(results, key=lambda r: r["selection_score"])
    cfg = best["config"]
    print(f"chosen: {json.dumps(cfg)} (selection score {best['selection_score']:.4f})")
    params = {"layers": fold_scaler(best["layers"], mean, std)}

    # Folding must not change the scores (up to float rounding).
    s_folded = C.forward(params, x_all).reshape(-1)
    s_unfolded = C.forward({"layers": best["layers"]}, xs).reshape(-1)
    assert np.max(np.abs(s_folded - s_unfolded)) < 1e-9, "scaler folding changed the scores"

    names_hash = hashlib.sha256("\n".join(names).encode()).hexdigest() if names else None
    args.models_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = args.models_dir / "router.onnx"
    hidden = params["layers"][0][0].shape[1] if len(params["layers"]) > 1 else 0
    C.export_onnx(params, dim, onnx_path,
                  doc=("llm-router complexity classifier: score = P(needs_frontier) in [0,1]. "
                       "Input: features from `llm-router features`. See docs/classifier.md."),
                  metadata={"feature_dim": str(dim), "feature_names_sha256": names_hash or "",
                            "model_kind": cfg["kind"], "hidden_units": str(hidden)})
    size = onnx_path.stat().st_size
    if size > 2 * 1024 * 1024:
        raise SystemExit(f"{onnx_path} is {size} bytes, over the 2 MB budget")

    # The exported graph must agree with the numpy model.
    C.check_onnx_matches(onnx_path, x_all, s_folded)

    split_summary = C.split_summary(split, y, sources)
    n_params = int(sum(np.asarray(w).size + np.asarray(b).size for w, b in params["layers"]))
    meta = {
        **C.meta_header(onnx_path, dim, names, names_hash, src),
        "model_kind": cfg["kind"],
        "hidden_units": hidden,
        "mlp_ensemble": (f"{MLP_SEEDS} MLPs with {cfg['hidden']} hidden units each (seeds {SEED}..{SEED + MLP_SEEDS - 1}), "
                         "logits averaged, exported as one MLP" if cfg["kind"] == "mlp" else None),
        "parity_features_sha256": C.features_sha256(x_all[pick_parity_rows(rows, PARITY_ROWS)]),
        "hyperparameters": cfg,
        "parameters": n_params,
        "trained_on": "train split only (val used for model selection, test never read)",
        "standardisation": "folded into the first layer",
        "selection": "max over candidates of 0.5*source-balanced val AUROC + 0.5*val APGR",
        "validation_metrics": best["val"],
        "candidates": [{"config": r["config"], "val": r["val"], "selection_score": r["selection_score"]}
                       for r in results],
        "dataset": {"file": str(args.dataset.relative_to(C.ROOT)) if args.dataset.is_relative_to(C.ROOT) else str(args.dataset),
                    "sha256": C.file_sha256(args.dataset), "rows": n, "splits": split_summary},
        "seed": SEED,
    }
    (args.models_dir / "router.meta.json").write_text(json.dumps(meta, indent=2) + "\n")

    # Parity sample for the Rust (tract) test: float64 numpy scores of the fitted model.
    pidx = pick_parity_rows(rows, PARITY_ROWS)
    C.write_parity_sample(args.parity_out, rows, pidx, s_folded)
    print(f"wrote {onnx_path} ({size} bytes, {n_params} parameters), router.meta.json, "
          f"{args.parity_out} ({len(pidx)} rows) in {time.time() - t0:.0f}s")

    # Same check as tests/parity.rs, through the CLI (tract) with the new model passed inline.
    if args.features_cmd is None:
        import check_parity_cli

        ok, msg = check_parity_cli.check(onnx_path, args.parity_out, 1e-5)
        print(("tract parity OK: " if ok else "tract parity FAILED: ") + msg)
        if not ok and not msg.startswith("skipped"):
            sys.exit(1)


if __name__ == "__main__":
    main()
