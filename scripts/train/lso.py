#!/usr/bin/env python3
"""Leave-sources-out training, selection and export of the complexity classifier.

Why this shape: within one source (which MMLU question, which GSM8K problem) no cheap signal
transfers much beyond a coin; what transfers to traffic the model never saw is the *kind of
task*. So every candidate is judged only on whole sources it did not train on:

* the 9 measured sources (data/build_dataset.py MEASURED_SOURCES) are split into 3 folds of 3,
  REPEATS times with different seeded partitions (every source is held out once per repeat);
* a candidate is trained on everything outside the held-out families (other measured sources,
  proxy-labelled sources and the hand-written synthetic rows; a proxy source that samples a
  held-out source's distribution, e.g. MATH-500 for MATH level 5, is held out with it);
* on the held-out measured rows it is compared with random, input length, reversed length and
  the core's hand-written heuristic: AUROC (needs_frontier), APGR, CPT(50%) and cost saved at
  95% of always-frontier quality, on the POOLED held-out mixture (each held-out source weighs
  min(rows, SOURCE_CAP), so MMLU's 14k rows do not make the mixture MMLU) and per source;
* selection: the highest mean pooled held-out APGR over all folds. Proxy and synthetic rows
  train but never count in selection (they are never evaluated).

The chosen configuration is then fitted on all rows and exported (with --export):
models/router.onnx, models/router.meta.json, tests/data/parity_sample.jsonl; run
`llm-router export-mlp` afterwards for the embedded models/router.mlp (scripts/train/README.md).
The Results section of docs/classifier.md and docs/img/cost_quality.png are rewritten from the
run (with --docs).

With --production-labels FILE (judged samples, the output of `llm-router judge`), the operator's
own traffic joins as one more measured source, `production` (scripts/train/production.py): held
out in the same folds as the public sources, evaluated on the same metrics, and trained on when
not held out. docs/quality.md, "Retraining from production".

Usage: .venv-train/bin/python scripts/train/lso.py [--quick] [--export] [--docs]
                                                   [--production-labels FILE]
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C  # noqa: E402
import production  # noqa: E402

_spec = importlib.util.spec_from_file_location("build_dataset", C.DATA / "build_dataset.py")
assert _spec is not None and _spec.loader is not None
BD = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(BD)
MEASURED = list(BD.MEASURED_SOURCES)

SEED = 20261201
REPEATS = 4
FOLDS = 3
SOURCE_CAP = 500  # pooled weight of a held-out source = min(rows, SOURCE_CAP)
PARITY_ROWS = 50
BEGIN = "<!-- BEGIN lso.py output (generated; do not edit by hand) -->"
END = "<!-- END lso.py output -->"

# Candidate grid. features: "v1" = the 28 version-1 structural features, "structural" = every
# named (non-hashed) feature, "all" = structural + hashed n-grams. target: "binary" =
# needs_frontier; "soft" = clip(strong - weak, 0, 1) on measured rows (the label elsewhere).
_NO_GPQA_HE = ["gpqa_diamond", "humaneval"]
_HARD_MATH = ["olympiadbench", "aime24", "amc23", "minerva_math"]
_EASY_MATH = ["mawps", "svamp", "asdiv"]
GRID = (
    # the recipe of the version-1 model (5 x 16-unit MLP on the 28 v1 features, needs_frontier,
    # every proxy source), here with 3 seeds, for comparison
    [{"kind": "mlp", "features": "v1", "hidden": 16, "l2": 0.001, "target": "binary", "power": 0.5, "proxy": 1.0}]
    # logistic regression on needs_frontier / clip(gap, 0, 1) (the family of earlier versions)
    + [{"kind": "logreg", "features": f, "l2": 0.01, "target": t, "power": 1.0, "proxy": pw}
     for f in ["v1", "structural"] for t in ["binary", "soft"] for pw in [0.0, 1.0]]
    # ridge regression of the gap (ranks by expected gain directly)
    + [{"kind": "ridge", "features": "structural", "l2": l2, "target": "gap", "power": p, "proxy": pw}
       for l2 in [0.1, 1.0, 3.0, 10.0] for p in [0.5, 1.0] for pw in [0.0, 0.5]]
    + [{"kind": "ridge", "features": "v1", "l2": 3.0, "target": "gap", "power": 1.0, "proxy": 0.5, "drop": _NO_GPQA_HE}]
    # proxy sources whose label contradicts the gap framing: GPQA (MC layout, label 1) and
    # HumanEval (code, label 0), hard competition math (both classes fail: gap 0), Arena-Hard v2
    + [{"kind": "ridge", "features": "structural", "l2": l2, "target": "gap", "power": 1.0, "proxy": pw, "drop": drop}
       for l2 in [1.0, 3.0, 10.0] for pw in [0.25, 0.5, 1.0]
       for drop in [_NO_GPQA_HE, _NO_GPQA_HE + ["arena_hard_v2.0"], _NO_GPQA_HE + _HARD_MATH,
                    _NO_GPQA_HE + _HARD_MATH + ["arena_hard_v2.0"], _NO_GPQA_HE + _EASY_MATH,
                    _NO_GPQA_HE + ["synthetic"]]]
    + [{"kind": "ridge", "features": "structural", "l2": 3.0, "target": "gap", "power": 1.0, "proxy": 0.5,
        "proxy_hi": hi, "proxy_lo": lo, "drop": _NO_GPQA_HE} for hi, lo in [(0.6, 0.05), (0.3, 0.1)]]
    + [{"kind": "ridge", "features": "all", "l2": l2, "target": "gap", "power": 1.0, "proxy": 0.5, "drop": _NO_GPQA_HE}
       for l2 in [1.0, 10.0]]
    # ridge anchored on the core's hand-written heuristic (heuristic logit as a free input)
    + [{"kind": "ridge", "anchor": True, "features": "structural", "l2": l2, "target": "gap", "power": 1.0,
        "proxy": 0.5, "drop": _NO_GPQA_HE + ["arena_hard_v2.0"]} for l2 in [3.0, 30.0, 300.0]]
    # small MLP regression of the gap (3 seeds averaged, exported as one MLP)
    + [{"kind": "mlpreg", "features": "structural", "hidden": 8, "l2": l2, "target": "gap", "power": 1.0,
        "proxy": 0.5, "drop": _NO_GPQA_HE + ["arena_hard_v2.0"]} for l2 in [0.1, 1.0]]
)
QUICK_GRID = [{"kind": "ridge", "features": "structural", "l2": 3.0, "target": "gap", "power": 1.0, "proxy": 0.5,
               "drop": _NO_GPQA_HE + ["arena_hard_v2.0"]}]
MLP_SEEDS = 3
# ridge candidates predict the gap (about 0..0.6); the exported score is
# sigmoid(RIDGE_SCALE * (gap - RIDGE_CENTRE)), the same order as the predicted gap.
RIDGE_SCALE = 10.0
RIDGE_CENTRE = 0.2


# ------------------------------------------------------------------ weighted routing metrics
def weighted_curve(scores, weak_q, strong_q, w):
    """Mean quality when the top share (by weight) of requests by score go to the strong model.
    Ties are broken in expectation (linear inside a block of equal scores). Returns (share,
    quality) at block boundaries, including 0 and 1."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    s = np.asarray(scores, dtype=np.float64)[order]
    w = np.asarray(w, dtype=np.float64)[order]
    gain = (np.asarray(strong_q, dtype=np.float64) - np.asarray(weak_q, dtype=np.float64))[order]
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cg = np.concatenate([[0.0], np.cumsum(w * gain)])
    change = np.nonzero(s[1:] != s[:-1])[0] + 1
    ks = np.concatenate([[0], change, [len(s)]])
    total = cw[-1]
    base = float(np.sum(w * np.asarray(weak_q, dtype=np.float64)[order]))
    return cw[ks] / total, (base + cg[ks]) / total


def metrics(scores, weak_q, strong_q, y, w) -> dict:
    share, quality = weighted_curve(scores, weak_q, strong_q, w)
    qw, qs = float(quality[0]), float(quality[-1])
    pgr = (quality - qw) / (qs - qw) if qs != qw else np.full_like(quality, np.nan)
    s95 = C.interp_share_for(share, quality, 0.95 * qs - 1e-12)
    saved = float(1 - C.cost_at_share(s95) / C.STRONG_COST) if not np.isnan(s95) else float("nan")
    return {"auroc": C.auroc(y, scores, w), "apgr": float(np.trapezoid(pgr, share)),
            "cpt50": C.interp_share_for(share, pgr, 0.5), "share_q95": s95, "saved_q95": saved,
            "q_weak": qw, "q_strong": qs, "curve": (share, quality)}


def pooled_weights(sources: np.ndarray) -> np.ndarray:
    _, inv, counts = np.unique(sources, return_inverse=True, return_counts=True)
    return (np.minimum(counts, SOURCE_CAP) / counts)[inv]


# ------------------------------------------------------------------ fitting
def fit_logreg(x, y, w, l2):
    from scipy.optimize import minimize

    d = x.shape[1]
    wn = w / w.sum()

    def f(theta):
        beta, b = theta[:d], theta[d]
        z = x @ beta + b
        loss = wn @ (y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z))
        gz = wn * (1.0 / (1.0 + np.exp(-z)) - y)
        return loss + 0.5 * l2 * beta @ beta, np.concatenate([x.T @ gz + l2 * beta, [gz.sum()]])

    res = minimize(f, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 3000})
    return [(res.x[:d].reshape(d, 1), np.array([res.x[d]]))]


def fit_ridge(x, y, w, l2, free: np.ndarray | None = None):
    """Weighted least squares of the target on x (+ intercept) with an L2 penalty: ranks by the
    expected quality gap directly. Exported as sigmoid(SCALE * linear) (same order)."""
    wn = w / w.sum()
    xm = wn @ x
    ym = wn @ y
    xc = x - xm
    pen = np.ones(x.shape[1]) if free is None else np.where(free, 0.0, 1.0)
    a = xc.T @ (xc * wn[:, None]) + l2 * np.diag(pen)
    beta = np.linalg.solve(a, xc.T @ (wn * (y - ym)))
    b = ym - xm @ beta
    # logit = SCALE * (x.beta + b - 0.5 * (ridge centre)): a spread of scores over (0, 1)
    return [(beta.reshape(-1, 1) * RIDGE_SCALE, np.array([(b - RIDGE_CENTRE) * RIDGE_SCALE]))]


def fit_mlp(x, y, w, hidden, l2, seed, loss: str):
    """One-hidden-layer ReLU MLP, L-BFGS, penalty 0.5*l2*|W|^2. loss "log": weighted log loss of
    the output logit (soft y allowed); "squared": weighted squared error of the output (a
    regression of the gap, started from a small output layer and the mean target).
    Returns (W1 [d, h], b1 [h], w2 [h], c2)."""
    from scipy.optimize import minimize

    n, d = x.shape
    rng = np.random.default_rng(seed)
    wn = w / w.sum()
    w1 = rng.normal(0.0, np.sqrt(2.0 / d), (d, hidden))
    if loss == "log":
        w2, c2, maxiter = rng.normal(0.0, np.sqrt(1.0 / hidden), hidden), 0.0, 400
    else:
        w2, c2, maxiter = rng.normal(0.0, 0.1 / np.sqrt(hidden), hidden), float(wn @ y), 300
    k1, k2, k3 = d * hidden, d * hidden + hidden, d * hidden + 2 * hidden

    def f(theta):
        a1, c1, a2, c2 = theta[:k1].reshape(d, hidden), theta[k1:k2], theta[k2:k3], theta[k3]
        pre = x @ a1 + c1
        h = np.maximum(pre, 0.0)
        z = h @ a2 + c2
        if loss == "log":
            val = wn @ (y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z))
            gz = wn * (1.0 / (1.0 + np.exp(-z)) - y)
        else:
            r = z - y
            val = 0.5 * wn @ (r * r)
            gz = wn * r
        gh = np.outer(gz, a2) * (pre > 0)
        val = val + 0.5 * l2 * (np.sum(a1 * a1) + a2 @ a2)
        grad = np.concatenate([(x.T @ gh + l2 * a1).ravel(), gh.sum(axis=0), h.T @ gz + l2 * a2, [gz.sum()]])
        return val, grad

    theta0 = np.concatenate([w1.ravel(), np.full(hidden, 0.01), w2, [c2]])
    res = minimize(f, theta0, jac=True, method="L-BFGS-B", options={"maxiter": maxiter})
    t = res.x
    return t[:k1].reshape(d, hidden), t[k1:k2], t[k2:k3], float(t[k3])


def seed_ensemble(parts, scale: float = 1.0, centre: float = 0.0):
    """The mean of the seeds' outputs, then scale * (mean - centre), as one MLP: the hidden layers
    side by side and the output weights divided by the number of seeds."""
    return [(np.hstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])),
            (np.concatenate([p[2] for p in parts]).reshape(-1, 1) * scale / len(parts),
             np.array([(np.mean([p[3] for p in parts]) - centre) * scale]))]


class Data:
    def __init__(self, rows: list[dict], x: np.ndarray, names: list[str]):
        self.rows = rows
        self.x = x.astype(np.float64)
        self.names = names
        self.source = np.array([r["source"] for r in rows])
        self.family = np.array([r["family"] for r in rows])
        self.kind = np.array([r["label_kind"] for r in rows])
        self.y = np.array([r["label"] for r in rows], dtype=np.float64)
        self.wq = np.array([r["weak_quality"] if r["weak_quality"] is not None else np.nan for r in rows])
        self.sq = np.array([r["strong_quality"] if r["strong_quality"] is not None else np.nan for r in rows])
        self.measured = self.kind == "measured"
        self.chars = np.array([C.request_chars(r["request"]) for r in rows], dtype=np.float64)
        structural = [i for i, n in enumerate(names) if not n.startswith("hash_")]
        self.heur = None  # (weights [D], bias) of the core's heuristic, set by main
        self.cols = {"structural": np.array(structural), "all": np.arange(x.shape[1]),
                     "v1": np.array(structural[:28])}


def targets(d: Data, idx, cfg: dict) -> np.ndarray:
    target = cfg["target"]
    if target == "binary":
        return d.y[idx]
    if target == "gap":
        # proxy / synthetic rows: label 1 -> proxy_hi, 0 -> proxy_lo on the gap scale
        gap = d.sq[idx] - d.wq[idx]
        proxy = np.where(d.y[idx] > 0, cfg.get("proxy_hi", 0.4), cfg.get("proxy_lo", 0.05))
        return np.where(d.measured[idx], gap, proxy)
    soft = np.clip(d.sq[idx] - d.wq[idx], 0.0, 1.0)
    return np.where(d.measured[idx], soft, d.y[idx])


def train_weights(d: Data, idx, power: float, proxy: float) -> np.ndarray:
    """n_source^-power per source (power 1 = every source the same total weight), proxy and
    synthetic sources scaled by `proxy`; normalised to mean 1."""
    src = d.source[idx]
    _, inv, counts = np.unique(src, return_inverse=True, return_counts=True)
    w = counts[inv].astype(np.float64) ** (-power)
    w = np.where(d.measured[idx], w, w * proxy)
    return w / w.mean()


def fit(cfg: dict, d: Data, idx):
    """Fits on rows idx; returns raw-feature layers [(W [D, h], b), ...] (standardisation folded
    in), so scores = C.forward({"layers": layers}, x) on the CLI's feature vectors."""
    cols = d.cols[cfg["features"]]
    idx = idx[~np.isin(d.source[idx], cfg.get("drop", []))]
    if cfg.get("anchor"):
        return fit_anchored(cfg, d, idx, cols)
    xt = d.x[idx][:, cols]
    mean, std = xt.mean(axis=0), xt.std(axis=0)
    std[std < 1e-6] = 1.0
    xs = (xt - mean) / std
    y = targets(d, idx, cfg)
    w = train_weights(d, idx, cfg["power"], cfg["proxy"])
    if cfg["kind"] == "logreg":
        layers = fit_logreg(xs, y, w, cfg["l2"])
    elif cfg["kind"] == "ridge":
        layers = fit_ridge(xs, y, w, cfg["l2"])
    elif cfg["kind"] == "mlpreg":
        # a regression of the gap: sigmoid(RIDGE_SCALE * (gap - RIDGE_CENTRE)), like ridge
        parts = [fit_mlp(xs, y, w, cfg["hidden"], cfg["l2"], SEED + k, "squared") for k in range(MLP_SEEDS)]
        layers = seed_ensemble(parts, RIDGE_SCALE, RIDGE_CENTRE)
    else:
        # the logits of the seeds averaged
        parts = [fit_mlp(xs, y, w, cfg["hidden"], cfg["l2"], SEED + k, "log") for k in range(MLP_SEEDS)]
        layers = seed_ensemble(parts)
    w0, b0 = layers[0]
    full = np.zeros((d.x.shape[1], w0.shape[1]))
    full[cols] = w0 / std[:, None]
    return [(full, b0 - (mean / std) @ w0)] + layers[1:]


def fit_anchored(cfg: dict, d: Data, idx, cols):
    """Ridge on the gap with the core's hand-written heuristic logit as one more, unpenalised
    input: the data moves the score away from the heuristic only where it has evidence (the L2
    penalty pulls the other weights to 0, i.e. towards "heuristic, rescaled")."""
    assert d.heur is not None, "anchored candidates need the CLI's export-heuristic"
    hw, hb = d.heur
    xt = np.column_stack([d.x[idx][:, cols], d.x[idx] @ hw + hb])
    mean, std = xt.mean(axis=0), xt.std(axis=0)
    std[std < 1e-6] = 1.0
    xs = (xt - mean) / std
    free = np.zeros(xs.shape[1], dtype=bool)
    free[-1] = True
    (beta, b), = fit_ridge(xs, targets(d, idx, cfg), train_weights(d, idx, cfg["power"], cfg["proxy"]), cfg["l2"], free)
    beta = beta[:, 0] / std
    b = float(b[0]) - float(mean @ beta)
    full = np.zeros(d.x.shape[1])
    full[cols] = beta[:-1]
    full += beta[-1] * hw
    return [(full.reshape(-1, 1), np.array([b + beta[-1] * hb]))]


def score(layers, x) -> np.ndarray:
    return C.forward({"layers": layers}, x).reshape(-1)


# ------------------------------------------------------------------ folds
def fold_plan() -> list[list[str]]:
    plan = []
    for r in range(REPEATS):
        fams = list(MEASURED)
        np.random.default_rng(SEED + r).shuffle(fams)
        plan += [sorted(fams[i::FOLDS]) for i in range(FOLDS)]
    return plan


def fold_sizes() -> str:
    """How many sources a fold holds out: "3", or "3 or 4" when they do not divide evenly (the
    production source makes 10)."""
    lo, extra = divmod(len(MEASURED), FOLDS)
    return f"{lo} or {lo + 1}" if extra else str(lo)


def baseline_scores(d: Data, heur) -> dict[str, np.ndarray]:
    out = {"random": np.zeros(len(d.rows)), "length": d.chars, "reversed length": -d.chars}
    if heur is not None:
        out["heuristic"] = d.x @ np.asarray(heur["weights"], dtype=np.float64) + float(heur["bias"])
    return out


def evaluate_fold(d: Data, held: list[str], scores_by: dict[str, np.ndarray]) -> dict:
    """Metrics of each router on the held-out measured rows: pooled and per held-out source."""
    ev = np.nonzero(d.measured & np.isin(d.source, held))[0]
    w = pooled_weights(d.source[ev])
    out = {"pooled": {}, "per_source": {}}
    for name, s in scores_by.items():
        out["pooled"][name] = metrics(s[ev], d.wq[ev], d.sq[ev], d.y[ev], w)
        for src in held:
            e = ev[d.source[ev] == src]
            out["per_source"].setdefault(src, {})[name] = metrics(s[e], d.wq[e], d.sq[e], d.y[e], np.ones(len(e)))
    return out


def cross_validate(cfg: dict, d: Data, plan, baseline_folds: list[dict]) -> list[dict]:
    """The candidate's metrics per fold, next to the baselines' (evaluated once per fold by the
    caller, since they do not depend on the candidate)."""
    folds = []
    for held, base in zip(plan, baseline_folds):
        tr = np.nonzero(~np.isin(d.family, held))[0]
        fold = evaluate_fold(d, held, {"model": score(fit(cfg, d, tr), d.x)})
        fold["pooled"].update(base["pooled"])
        for src in held:
            fold["per_source"][src].update(base["per_source"][src])
        folds.append(fold)
    return folds


def summary(folds: list[dict], router: str, key: str) -> tuple[float, float]:
    v = np.array([f["pooled"][router][key] for f in folds], dtype=np.float64)
    return float(np.nanmean(v)), float(np.nanstd(v))


# ------------------------------------------------------------------ report
def fmt(v, nd=3):
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{nd}f}"


def render(folds, d: Data, routers, all_results, meta_line) -> str:
    lines = [meta_line, ""]
    lines.append(f"Leave-sources-out: {REPEATS} seeded partitions of the {len(MEASURED)} measured sources into "
                 f"{FOLDS} folds of {fold_sizes()} ({len(folds)} folds; every source held out "
                 f"{REPEATS} times). Pooled = the held-out sources of a fold together, each weighing "
                 f"min(rows, {SOURCE_CAP}). Mean over folds, standard deviation in brackets.")
    lines.append("")
    lines.append("| router | pooled AUROC | pooled APGR | CPT(50%) | frontier share @95% quality | cost saved @95% quality |")
    lines.append("|---|---|---|---|---|---|")
    for r in routers:
        a, asd = summary(folds, r, "auroc")
        p, psd = summary(folds, r, "apgr")
        c, _ = summary(folds, r, "cpt50")
        s, _ = summary(folds, r, "share_q95")
        v, _ = summary(folds, r, "saved_q95")
        label = "**model**" if r == "model" else r
        lines.append(f"| {label} | {fmt(a)} ({fmt(asd, 2)}) | {fmt(p)} ({fmt(psd, 2)}) | {fmt(c)} | {fmt(s)} | "
                     f"{'n/a' if np.isnan(v) else f'{100 * v:.1f}%'} |")
    lines.append("")
    lines.append("Per held-out source (APGR / AUROC, mean over the repeats in which it was held out; "
                 "the model's scores come from models that never saw that source):")
    lines.append("")
    lines.append("| source | rows | needs_frontier | mean gap | " + " | ".join(routers) + " |")
    lines.append("|---|---|---|---|" + "---|" * len(routers))
    for src in MEASURED:
        vals = {r: [] for r in routers}
        for f in folds:
            if src in f["per_source"]:
                for r in routers:
                    vals[r].append((f["per_source"][src][r]["apgr"], f["per_source"][src][r]["auroc"]))
        m = d.source == src
        cells = []
        for r in routers:
            a = np.nanmean([v[0] for v in vals[r]])
            u = np.nanmean([v[1] for v in vals[r]]) if not all(np.isnan(v[1]) for v in vals[r]) else float("nan")
            cells.append(f"{fmt(a)} / {fmt(u)}")
        lines.append(f"| {src} | {int(m.sum())} | {d.y[m].mean():.2f} | {np.mean(d.sq[m] - d.wq[m]):.3f} | "
                     + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Per held-out source, CPT(50%) / cost saved at 95% of always-frontier quality (same folds):")
    lines.append("")
    lines.append("| source | " + " | ".join(routers) + " |")
    lines.append("|---|" + "---|" * len(routers))
    for src in MEASURED:
        cells = []
        for r in routers:
            got = [f["per_source"][src][r] for f in folds if src in f["per_source"]]
            c = np.nanmean([g["cpt50"] for g in got]) if got else float("nan")
            v = np.nanmean([g["saved_q95"] for g in got]) if got else float("nan")
            cells.append(f"{fmt(c)} / {'n/a' if np.isnan(v) else f'{100 * v:.1f}%'}")
        lines.append(f"| {src} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Every candidate tried (mean over folds; selection = pooled APGR):")
    lines.append("")
    lines.append("| candidate | pooled APGR | pooled AUROC | worst source APGR - random |")
    lines.append("|---|---|---|---|")
    for res in sorted(all_results, key=lambda r: -r["apgr"]):
        lines.append(f"| `{json.dumps(res['config'])}` | {res['apgr']:.3f} | {res['auroc']:.3f} | {res['worst']:+.3f} |")
    return "\n".join(lines)


def worst_source_margin(folds) -> float:
    per = {}
    for f in folds:
        for src, r in f["per_source"].items():
            per.setdefault(src, []).append(r["model"]["apgr"] - r["random"]["apgr"])
    return float(min(np.nanmean(v) for v in per.values()))


def plot(folds, routers, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    grid = np.linspace(0, 1, 101)
    for r in routers:
        pgr, cost = [], []
        for f in folds:
            share, quality = f["pooled"][r]["curve"]
            q = np.interp(grid, share, quality)
            qw, qs = quality[0], quality[-1]
            pgr.append((q - qw) / (qs - qw))
            cost.append(q / qs)
        ax[0].plot(grid, np.mean(pgr, axis=0), label=r)
        ax[1].plot(1000 * C.cost_at_share(grid), np.mean(cost, axis=0), label=r)
    ax[0].set_xlabel("share sent to the frontier model")
    ax[0].set_ylabel("PGR (mean over held-out folds)")
    ax[0].set_title("Performance gap recovered, pooled held-out sources")
    ax[1].set_xlabel(f"USD per 1k requests ({C.WEAK_MODEL} / {C.STRONG_MODEL})")
    ax[1].set_ylabel("quality / always-frontier quality")
    ax[1].set_title("Quality vs cost, pooled held-out sources")
    for a in ax:
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def write_docs(body: str):
    doc = C.DOCS / "classifier.md"
    text = doc.read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        _, post = rest.split(END, 1)
        text = pre + BEGIN + "\n\n" + body + "\n\n" + END + post
    else:
        text += "\n" + BEGIN + "\n\n" + body + "\n\n" + END + "\n"
    doc.write_text(text, encoding="utf-8")


def pick_parity_rows(rows: list[dict], n: int) -> list[int]:
    """A spread of sources and lengths, chosen by a stable hash (not by score)."""
    keyed = sorted(range(len(rows)), key=lambda i: hashlib.sha256(rows[i]["id"].encode()).hexdigest())
    by_src: dict[str, list[int]] = {}
    for i in keyed:
        by_src.setdefault(rows[i]["source"], []).append(i)
    out: list[int] = []
    while len(out) < n and any(by_src.values()):
        for src in sorted(by_src):
            if by_src[src] and len(out) < n:
                out.append(by_src[src].pop(0))
    return sorted(out)


def add_production(rows: list[dict], x: np.ndarray, path: Path, features) -> tuple[list[dict], np.ndarray]:
    """The judged samples of `path` appended as measured rows of source `production` (their
    features from `features(rows, tag)`, the CLI path of every other row), and `production`
    added to the sources the folds hold out."""
    loaded = production.load(path)
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(loaded.skipped.items())) or "none"
    print(f"production labels {path}: {len(loaded.rows)} rows "
          f"({sum(r['label'] for r in loaded.rows)} losses); skipped: {skipped}", file=sys.stderr)
    if not loaded.rows:
        raise SystemExit(f"{path}: no judged record with a verdict")
    if production.SOURCE not in MEASURED:
        MEASURED.append(production.SOURCE)
    return rows + loaded.rows, np.vstack([x, features(loaded.rows, production.SOURCE)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one candidate (for a smoke run)")
    ap.add_argument("--only", default=None, help="JSON of one candidate config to evaluate (skips the grid)")
    ap.add_argument("--export", action="store_true", help="fit the chosen candidate on all rows and export it")
    ap.add_argument("--docs", action="store_true", help="rewrite docs/classifier.md Results and the plot")
    ap.add_argument("--table", action="store_true", help="print the Results tables")
    ap.add_argument("--parity-out", type=Path, default=C.ROOT / "tests" / "data" / "parity_sample.jsonl")
    ap.add_argument("--production-labels", type=Path, default=None,
                    help="judged samples (llm-router judge output) as one more measured, held-out source")
    args = ap.parse_args()
    t0 = time.time()

    rows = C.load_dataset()
    src = C.FeatureSource.from_args(None)
    names = src.names()
    x = C.features_for(rows, src, "all")
    if args.production_labels is not None:
        rows, x = add_production(rows, x, args.production_labels, lambda r, tag: C.features_for(r, src, tag))
    if names is None or len(names) != x.shape[1]:
        raise SystemExit("the CLI must give one name per feature (llm-router features --names)")
    d = Data(rows, x, names)
    heur = src.heuristic()
    if heur is not None and heur.get("dim") != x.shape[1]:
        heur = None
    if heur is not None:
        d.heur = (np.asarray(heur["weights"], dtype=np.float64), float(heur["bias"]))
    baselines = baseline_scores(d, heur)
    plan = fold_plan()
    baseline_folds = [evaluate_fold(d, held, baselines) for held in plan]
    print(f"{len(rows)} rows, {x.shape[1]} features ({len(d.cols['structural'])} structural); "
          f"{len(plan)} folds; held out: {plan[:3]} ...", file=sys.stderr)

    grid = [json.loads(args.only)] if args.only else QUICK_GRID if args.quick else GRID
    results = []
    for cfg in grid:
        t = time.time()
        folds = cross_validate(cfg, d, plan, baseline_folds)
        apgr, _ = summary(folds, "model", "apgr")
        auc, _ = summary(folds, "model", "auroc")
        res = {"config": cfg, "apgr": apgr, "auroc": auc, "worst": worst_source_margin(folds),
               "folds": folds}
        results.append(res)
        print(f"{json.dumps(cfg):110s} APGR {apgr:.4f} AUROC {auc:.4f} worst {res['worst']:+.3f} "
              f"({time.time() - t:.0f}s)", flush=True)
    best = max(results, key=lambda r: r["apgr"])
    folds = best["folds"]
    routers = ["model"] + list(baselines)
    print("chosen:", json.dumps(best["config"]))
    for r in routers:
        print(f"  {r:16s} pooled APGR {summary(folds, r, 'apgr')[0]:.4f}  AUROC {summary(folds, r, 'auroc')[0]:.4f}")

    if args.table:
        print(render(folds, d, routers, results, ""))
    if args.export:
        cfg = best["config"]
        layers = fit(cfg, d, np.arange(len(rows)))
        s_all = score(layers, d.x)
        dim = x.shape[1]
        names_hash = hashlib.sha256("\n".join(names).encode()).hexdigest()
        onnx_path = C.MODELS / "router.onnx"
        C.export_onnx({"layers": layers}, dim, onnx_path,
                      doc=("llm-router complexity classifier: score in [0,1], higher = needs a stronger model. "
                           "Input: features from `llm-router features`. See docs/classifier.md."),
                      metadata={"feature_dim": str(dim), "feature_names_sha256": names_hash,
                                "model_kind": cfg["kind"]})
        C.check_onnx_matches(onnx_path, x, s_all)
        pidx = pick_parity_rows(rows, PARITY_ROWS)
        meta = {
            **C.meta_header(onnx_path, dim, names, names_hash, src),
            "config": cfg,
            "selection": "mean pooled held-out APGR over leave-sources-out folds (scripts/train/lso.py)",
            "held_out": {r: {k: summary(folds, r, k)[0] for k in ["auroc", "apgr", "cpt50", "saved_q95"]}
                         for r in routers},
            "candidates": [{"config": r["config"], "apgr": r["apgr"], "auroc": r["auroc"], "worst": r["worst"]}
                           for r in results],
            "trained_on_rows": len(rows),
            "parity_features_sha256": C.features_sha256(x[pidx]),
        }
        (C.MODELS / "router.meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        C.write_parity_sample(args.parity_out, rows, pidx, s_all)
        print(f"exported {onnx_path} and router.meta.json; parity sample {args.parity_out}")
    if args.docs:
        meta_line = (f"Model: `{json.dumps(best['config'])}`, fitted on all {len(rows)} rows for shipping; "
                     f"the tables below are its configuration's held-out scores. Cost: weak = {C.WEAK_MODEL}, "
                     f"strong = {C.STRONG_MODEL}, {C.TOKENS_IN} input + {C.TOKENS_OUT} output tokens per request.")
        body = render(folds, d, routers, results, meta_line)
        body += "\n\n![PGR and quality vs cost, pooled held-out sources](img/cost_quality.png)"
        write_docs(body)
        plot(folds, routers, C.DOCS / "img" / "cost_quality.png")
        print("wrote docs/classifier.md Results and docs/img/cost_quality.png")
    print(f"done in {time.time() - t0:.0f}s")


if __name__ == "__main__":
    main()
