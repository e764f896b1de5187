#!/usr/bin/env python3
"""Trains the complexity classifier and exports it to ONNX.

  1. loads data/dataset.jsonl (builds it with data/build_dataset.py if missing);
  2. computes features with the Rust CLI (`target/release/llm-router features`), cached in data/cache/;
  3. fits logistic regression and one-hidden-layer MLP candidates on the TRAIN split and picks
     one without the TEST split: selection score = 0.5 * source-balanced VALIDATION AUROC
     + 0.5 * APGR, where APGR is the mean of the VALIDATION APGR and a grouped cross-validation
     APGR over the TRAIN split's MMLU subjects (whole subjects held out per fold); the TEST
     split is never read here except to count rows for the summary;
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
import datetime as dt
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
# (names not starting with "hash_"; the same set when the extractor has no hashed features).
# Masked columns get zero weights, so the exported model still takes the full [N, D] input.
#
# "measured_share": share of the total sample weight given to the rows with measured weak and
# strong qualities (MMLU, GSM8K, MT-Bench), the only rows that say which prompt *of a kind*
# needs the strong model; None = plain source weights. Within each group, rows are weighted
# n_source^-source_weight_power.
LR_GRID = [{"kind": "logreg", "features": "all", "C": c, "source_weight_power": 0.5, "measured_share": m}
           for c in (0.03, 0.3) for m in (None, 0.85)]
MLP_GRID = ([{"kind": "mlp", "features": "all", "hidden": 16, "l2": 1e-2, "source_weight_power": 0.5,
              "measured_share": None}]
            + [{"kind": "mlp", "features": "all", "hidden": 16, "l2": l2, "source_weight_power": 0.5,
                "measured_share": m} for l2 in (1e-3, 3e-3, 1e-2) for m in (0.7, 0.85)])
# A single MLP's validation APGR moves by +-0.03 with the random seed alone, so every MLP
# candidate is an ensemble of MLP_SEEDS nets (different seeds) whose logits are averaged. That is
# exactly one wider MLP (hidden units concatenated, output weights divided by MLP_SEEDS), so the
# export stays MatMul/Add/Relu/MatMul/Add/Sigmoid. The nets are fitted full-batch with L-BFGS
# (deterministic for a seed; no early-stopping split).
MLP_SEEDS = 5
MLP_CV_SEEDS = 3   # nets per ensemble inside the cross-validation folds (time)
MLP_MAXITER = 300
# "heuristic-anchored" logistic regression: logit = heuristic logit (the Rust core's hand-written
# weights, `llm-router export-heuristic`) + a learned L2-penalised correction. Small C keeps the
# model close to the heuristic (a prior written with everyday traffic in mind), large C lets
# the data move it. Exported as a plain logistic regression (the two weight vectors summed).
ANCHORED_GRID = [{"kind": "anchored_logreg", "features": "all", "C": c, "source_weight_power": 0.5,
                  "measured_share": None} for c in (1e-3, 1e-2)]
QUICK_GRID = [{"kind": "logreg", "features": "all", "C": 0.3, "source_weight_power": 0.5, "measured_share": None},
              {"kind": "logreg", "features": "structural", "C": 0.3, "source_weight_power": 0.5, "measured_share": 0.85},
              {"kind": "mlp", "features": "all", "hidden": 8, "l2": 1e-2, "source_weight_power": 0.5,
               "measured_share": 0.7}]
CV_FOLDS = 4  # grouped CV over the TRAIN split's MMLU subjects, for the selection score


def source_weights(sources: np.ndarray, power: float, measured: np.ndarray | None = None,
                   measured_share: float | None = None) -> np.ndarray:
    """w = n_source^-power (power 0 = plain rows, 1 = every source equal); with `measured_share`,
    the rows flagged in `measured` get that share of the total weight. Normalised to mean 1."""
    _, inv, counts = np.unique(sources, return_inverse=True, return_counts=True)
    w = counts[inv].astype(np.float64) ** (-power)
    if measured_share is not None and measured is not None and measured.any() and (~measured).any():
        w[measured] *= measured_share / w[measured].sum()
        w[~measured] *= (1.0 - measured_share) / w[~measured].sum()
    return w / w.mean()


def fit_mlp_lbfgs(x: np.ndarray, y: np.ndarray, w: np.ndarray, hidden: int, l2: float, seed: int,
                  maxiter: int = MLP_MAXITER):
    """One-hidden-layer ReLU MLP, weighted log loss + 0.5 * l2 * |W|^2 (biases free), fitted
    full-batch with L-BFGS from a seeded He initialisation. Returns [(W1, b1), (W2, b2)]."""
    from scipy.optimize import minimize

    n, d = x.shape
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0.0, np.sqrt(2.0 / d), (d, hidden))
    b1 = np.full(hidden, 0.01)
    w2 = rng.normal(0.0, np.sqrt(1.0 / hidden), hidden)
    wn = w / w.sum()
    k1, k2, k3 = d * hidden, d * hidden + hidden, d * hidden + 2 * hidden

    def f(theta):
        a1, c1, a2, c2 = theta[:k1].reshape(d, hidden), theta[k1:k2], theta[k2:k3], theta[k3]
        pre = x @ a1 + c1
        h = np.maximum(pre, 0.0)
        z = h @ a2 + c2
        loss = wn @ (y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z))
        gz = wn * (1.0 / (1.0 + np.exp(-z)) - y)
        gh = np.outer(gz, a2) * (pre > 0)
        val = loss + 0.5 * l2 * (np.sum(a1 * a1) + a2 @ a2)
        grad = np.concatenate([(x.T @ gh + l2 * a1).ravel(), gh.sum(axis=0), h.T @ gz + l2 * a2, [gz.sum()]])
        return val, grad

    theta0 = np.concatenate([w1.ravel(), b1, w2, [0.0]])
    res = minimize(f, theta0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    t = res.x
    return [(t[:k1].reshape(d, hidden), t[k1:k2]), (t[k2:k3].reshape(hidden, 1), np.array([t[k3]]))]


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


def fit(cfg: dict, x: np.ndarray, y: np.ndarray, w: np.ndarray, offset: np.ndarray | None = None,
        seeds: int = MLP_SEEDS):
    """Fits one candidate on standardised x; returns a list of (W, b) layers (on standardised x).
    MLP candidates are `seeds`-net ensembles folded into one wider hidden layer (logit average)."""
    if cfg["kind"] == "anchored_logreg":
        return fit_anchored(cfg["C"], x, y, w, offset), None
    if cfg["kind"] == "logreg":
        from sklearn.linear_model import LogisticRegression

        m = LogisticRegression(C=cfg["C"], max_iter=3000, solver="lbfgs")
        m.fit(x, y, sample_weight=w)
        return [(m.coef_.T.copy(), m.intercept_.copy())], m
    nets = [fit_mlp_lbfgs(x, y.astype(np.float64), w, cfg["hidden"], cfg["l2"], SEED + k) for k in range(seeds)]
    layers = [(np.hstack([n[0][0] for n in nets]), np.concatenate([n[0][1] for n in nets])),
              (np.vstack([n[1][0] for n in nets]) / seeds, np.mean([n[1][1] for n in nets], axis=0))]
    return layers, None


def subject_folds(subjects: np.ndarray, k: int) -> np.ndarray:
    """Fold number per row: whole subjects, assigned round robin over a seeded shuffle."""
    uniq = sorted(set(subjects.tolist()))
    order = np.random.default_rng(SEED).permutation(len(uniq))
    fold_of = {uniq[j]: i % k for i, j in enumerate(order)}
    return np.array([fold_of[s] for s in subjects])


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
    ap.add_argument("--cv-folds", type=int, default=None,
                    help=f"grouped CV folds over TRAIN MMLU subjects for selection (default {CV_FOLDS}; 0 = off; --quick: 0)")
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
    measured = np.array([r["weak_quality"] is not None and r["strong_quality"] is not None for r in rows])
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
    if structural is not None and len(structural) == dim:
        # no hashed features: "structural" is "all"
        seen, dedup = set(), []
        for g in grid:
            key = json.dumps({**g, "features": "all"}, sort_keys=True)
            if key not in seen:
                seen.add(key)
                dedup.append({**g, "features": "all"})
        grid = dedup
    n_folds = (0 if args.quick else CV_FOLDS) if args.cv_folds is None else args.cv_folds
    cv_rows = tr[sources[tr] == "mmlu"]
    cv_fold = subject_folds(np.array([rows[i]["subject"] for i in cv_rows]), n_folds) if n_folds > 1 else None

    def fit_candidate(cfg, idx, seeds=MLP_SEEDS):
        """Layers on the full standardised input (masked columns zero), fitted on rows idx."""
        cols = structural if cfg["features"] == "structural" else np.arange(dim)
        w = source_weights(sources[idx], cfg["source_weight_power"], measured[idx], cfg.get("measured_share"))
        layers, _ = fit(cfg, xs[idx][:, cols], y[idx], w,
                        offset=h_logit[idx] if cfg["kind"] == "anchored_logreg" else None, seeds=seeds)
        w0 = np.zeros((dim, layers[0][0].shape[1]))
        w0[cols] = layers[0][0]
        layers = [(w0, layers[0][1])] + layers[1:]
        if cfg["kind"] == "anchored_logreg":
            # heuristic on raw x == heuristic on standardised x with W = h_w * std, b = h_b + mean.h_w
            w_h_std = (h_w * std).reshape(dim, 1)
            b_h_std = np.array([h_b + float(mean @ h_w)])
            layers = [(layers[0][0] + w_h_std, layers[0][1] + b_h_std)]
        return layers

    results = []
    print(f"{'candidate':100s} {'valAUROC':>8s} {'balAUROC':>8s} {'valAPGR':>7s} {'cvAPGR':>7s} {'select':>7s} {'sec':>5s}")
    for cfg in grid:
        t = time.time()
        if cfg["features"] == "structural" and structural is None:
            continue  # needs feature names
        if cfg["kind"] == "anchored_logreg" and heur is None:
            continue  # needs the CLI's heuristic
        layers = fit_candidate(cfg, tr)
        scores = C.forward({"layers": layers}, xs).reshape(-1)
        m = evaluate_split(scores, va, rows, y)
        apgr_parts = [m["apgr"]] if "apgr" in m else []
        if cv_fold is not None:
            # Grouped CV: whole MMLU subjects of TRAIN held out per fold (all other rows stay in).
            oof = np.zeros(len(cv_rows))
            for k in range(n_folds):
                keep = np.setdiff1d(tr, cv_rows[cv_fold == k])
                lk = fit_candidate(cfg, keep, seeds=MLP_CV_SEEDS)
                oof[cv_fold == k] = C.forward({"layers": lk}, xs[cv_rows[cv_fold == k]]).reshape(-1)
            cvm = C.routing_metrics(oof, [rows[i]["weak_quality"] for i in cv_rows],
                                    [rows[i]["strong_quality"] for i in cv_rows])
            m["cv_train_mmlu_apgr"] = cvm.apgr
            m["cv_train_mmlu_auroc"] = C.auroc(y[cv_rows], oof)
            apgr_parts.append(cvm.apgr)
        apgr_sel = float(np.mean(apgr_parts)) if apgr_parts else m["auroc_source_balanced"]
        sel = 0.5 * m["auroc_source_balanced"] + 0.5 * apgr_sel
        results.append({"config": cfg, "val": m, "selection_score": sel, "layers": layers})
        desc = json.dumps(cfg)
        print(f"{desc:100s} {m['auroc']:8.4f} {m['auroc_source_balanced']:8.4f} {m.get('apgr', float('nan')):7.4f} "
              f"{m.get('cv_train_mmlu_apgr', float('nan')):7.4f} {sel:7.4f} {time.time() - t:5.1f}", flush=True)

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
    s_onnx = C.onnx_scores(onnx_path, x_all)
    max_diff = float(np.max(np.abs(s_onnx - s_folded)))
    print(f"onnxruntime vs numpy: max |diff| = {max_diff:.2e} over {n} rows")
    if max_diff > 1e-5:
        raise SystemExit("ONNX export disagrees with the numpy model by more than 1e-5")

    split_summary = {}
    for s in C.SPLITS:
        idx = np.nonzero(split == s)[0]
        per_src = collections.Counter(sources[idx])
        split_summary[s] = {"rows": int(len(idx)), "positives": int(y[idx].sum()),
                            "by_source": {k: int(v) for k, v in sorted(per_src.items())}}
    n_params = int(sum(np.asarray(w).size + np.asarray(b).size for w, b in params["layers"]))
    meta = {
        "model": "llm-router complexity classifier",
        "file": "router.onnx",
        "onnx_sha256": C.file_sha256(onnx_path),
        "onnx_bytes": size,
        "created_utc": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "input": {"name": "features", "shape": ["N", dim], "dtype": "float32"},
        "output": {"name": "score", "shape": ["N", 1], "dtype": "float32",
                   "meaning": "P(needs_frontier): probability the cheap model's answer is worse than the frontier model's"},
        "opset": 13,
        "feature_dim": dim,
        "feature_names_sha256": names_hash,
        "feature_names_count": len(names) if names else None,
        "feature_extractor": src.fingerprint,
        "feature_version": (src.heuristic() or {}).get("feature_version"),
        "model_kind": cfg["kind"],
        "hidden_units": hidden,
        "mlp_ensemble": (f"{MLP_SEEDS} MLPs with {cfg['hidden']} hidden units each (seeds {SEED}..{SEED + MLP_SEEDS - 1}, "
                         "full-batch L-BFGS), logits averaged, exported as one MLP" if cfg["kind"] == "mlp" else None),
        "parity_features_sha256": C.features_sha256(x_all[pick_parity_rows(rows, PARITY_ROWS)]),
        "hyperparameters": cfg,
        "parameters": n_params,
        "trained_on": "train split only (val and grouped CV on train used for model selection, test never read)",
        "standardisation": "folded into the first layer",
        "selection": ("max over candidates of 0.5*source-balanced val AUROC + 0.5*mean(val APGR, "
                      f"{n_folds}-fold grouped-CV APGR over the train split's MMLU subjects)" if cv_fold is not None
                      else "max over candidates of 0.5*source-balanced val AUROC + 0.5*val APGR"),
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
    args.parity_out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.parity_out, "w", encoding="utf-8") as f:
        for i in pidx:
            f.write(json.dumps({"id": rows[i]["id"], "source": rows[i]["source"],
                                "score": float(s_folded[i]), "request": rows[i]["request"]},
                               ensure_ascii=False) + "\n")
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
