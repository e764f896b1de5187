#!/usr/bin/env python3
"""Evaluates the exported classifier (models/router.onnx, run with onnxruntime) against two
baselines, side by side, on the VALIDATION and TEST splits:

  * model   - the ONNX score on CLI features (what the filter ships);
  * random  - uniform random scores, averaged over --seeds seeds (seeded, reproducible);
  * length  - score = input length (characters of all message text);
  * heuristic - the Rust core's built-in heuristic classifier (`llm-router export-heuristic`),
                shown as an extra baseline when the CLI provides it.

Metrics per split:
  AUROC           needs_frontier vs score over all labelled rows of the split
  bal. AUROC      the same with every source weighted equally
  APGR            RouteLLM average performance gap recovered, on the rows with both a weak and a
                  strong quality (MMLU/GSM8K correctness, MT-Bench judge score / 10); random ~ 0.5
  CPT(50%)        smallest strong-model share with PGR >= 0.5
  saved@95%       cost saved vs always-strong at the smallest strong share whose mean quality
                  reaches 95% of the always-strong quality (prices below)
Plus AUROC per held-out source (single-class sources are ranked against the split's rows of
the other class from the other sources, marked *).

Writes the tables into docs/classifier.md (between the evaluate.py markers) and the plot
docs/img/cost_quality.png. Usage:
  .venv-train/bin/python scripts/train/evaluate.py
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C  # noqa: E402

BEGIN = "<!-- BEGIN evaluate.py output (generated; do not edit by hand) -->"
END = "<!-- END evaluate.py output -->"
ROUTERS = ("model", "random", "length", "heuristic")  # heuristic only when the CLI exports it


def routers_of(res: dict) -> list[str]:
    return [r for r in ROUTERS if r in res]
BOOT = 300  # group-bootstrap resamples for the 90% intervals


def fmt(v, nd=3):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:.{nd}f}"


def pct(v):
    return "n/a" if v is None or np.isnan(v) else f"{100 * v:.1f}%"


def bootstrap_ci(y, scores, groups, q_pos, wq, sq, n_boot=BOOT, seed=0):
    """90% intervals for AUROC and APGR by resampling whole (source, subject) groups."""
    rng = np.random.default_rng(seed)
    uniq, inv = np.unique(groups, return_inverse=True)
    members = [np.nonzero(inv == g)[0] for g in range(len(uniq))]
    q_pos = np.asarray(q_pos, dtype=int)
    in_q = np.full(len(y), -1)
    in_q[q_pos] = np.arange(len(q_pos))
    aucs, apgrs = [], []
    for _ in range(n_boot):
        pick = np.concatenate([members[g] for g in rng.integers(0, len(uniq), len(uniq))])
        if y[pick].min() != y[pick].max():
            aucs.append(C.auroc(y[pick], scores[pick]))
        qp = in_q[pick]
        qp = qp[qp >= 0]
        if len(qp) > 1 and sq[qp].mean() != wq[qp].mean():
            apgrs.append(C.routing_metrics(scores[q_pos][qp], wq[qp], sq[qp]).apgr)
    ci = lambda v: (float(np.percentile(v, 5)), float(np.percentile(v, 95))) if v else (np.nan, np.nan)  # noqa: E731
    return {"auroc_ci": ci(aucs), "apgr_ci": ci(apgrs)}


def with_ci(v, ci):
    if ci is None:
        return fmt(v)
    return f"{fmt(v)} [{fmt(ci[0], 2)}, {fmt(ci[1], 2)}]"


def split_metrics(rows, idx, scores_by_router, seeds_scores):
    """Metrics of one split for each router. `seeds_scores` is a list of random score arrays."""
    y = np.array([rows[i]["label"] for i in idx])
    bal = C.source_balanced_weights([rows[i]["source"] for i in idx])
    q_pos = [k for k, i in enumerate(idx)
             if rows[i]["weak_quality"] is not None and rows[i]["strong_quality"] is not None]
    wq = np.array([rows[idx[k]]["weak_quality"] for k in q_pos], dtype=np.float64)
    sq = np.array([rows[idx[k]]["strong_quality"] for k in q_pos], dtype=np.float64)

    def one(s):
        out = {"auroc": C.auroc(y, s), "auroc_bal": C.auroc(y, s, bal)}
        if q_pos:
            m = C.routing_metrics(s[q_pos], wq, sq)
            out.update(apgr=m.apgr, cpt50=m.cpt50, share95=m.share_q95, saved95=m.cost_saved_q95, curve=m)
        return out

    res = {r: one(s) for r, s in scores_by_router.items()}
    groups = np.array([f"{rows[i]['source']}/{rows[i]['subject']}" for i in idx])
    for r in scores_by_router:
        res[r].update(bootstrap_ci(y, scores_by_router[r], groups, q_pos, wq, sq))
    per_seed = [one(s) for s in seeds_scores]
    rnd = {k: float(np.nanmean([p[k] for p in per_seed])) for k in per_seed[0] if k != "curve"}
    if q_pos:
        grid = np.linspace(0, 1, 1001)
        rnd["curve_grid"] = grid
        rnd["pgr_mean"] = np.mean([np.interp(grid, p["curve"].share, p["curve"].pgr) for p in per_seed], axis=0)
        rnd["quality_mean"] = np.mean([np.interp(grid, p["curve"].share, p["curve"].quality) for p in per_seed], axis=0)
    res["random"] = rnd
    info = {"rows": len(idx), "positives": int(y.sum()), "apgr_rows": len(q_pos),
            "q_weak": float(wq.mean()) if q_pos else None, "q_strong": float(sq.mean()) if q_pos else None,
            "apgr_sources": sorted({rows[idx[k]]["source"] for k in q_pos})}
    return res, info


def per_source_table(rows, idx, scores_by_router):
    idx = np.asarray(idx)
    y = np.array([rows[i]["label"] for i in idx])
    src = np.array([rows[i]["source"] for i in idx])
    lines = []
    for s in sorted(set(src)):
        mine = src == s
        ys = y[mine]
        entry = {"source": s, "rows": int(mine.sum()), "pos_rate": float(ys.mean())}
        if ys.min() != ys.max():
            sel, star = mine, ""
        else:
            other = (~mine) & (y != ys[0])  # rows of the other class from the other sources
            sel, star = mine | other, "*"
        for r in scores_by_router:
            a = C.auroc(y[sel], scores_by_router[r][sel]) if sel.sum() > mine.sum() or star == "" else float("nan")
            entry[r] = a
        entry["star"] = star
        entry["mean_score"] = float(scores_by_router["model"][mine].mean())
        lines.append(entry)
    return lines


def render(results, infos, per_source, meta, n_seeds) -> str:
    out = []
    out.append(f"Model: `models/router.onnx` ({meta.get('model_kind')}, {meta.get('parameters')} parameters, "
               f"{meta.get('onnx_bytes')} bytes, feature dim {meta.get('feature_dim')}; "
               f"hyperparameters `{json.dumps(meta.get('hyperparameters'))}`). "
               f"Random router averaged over {n_seeds} seeds. Cost: weak = {C.WEAK_MODEL} "
               f"(${C.WEAK_PRICE_IN:.2f}/${C.WEAK_PRICE_OUT:.2f} per Mtok), strong = {C.STRONG_MODEL} "
               f"(${C.STRONG_PRICE_IN:.2f}/${C.STRONG_PRICE_OUT:.2f}), {C.TOKENS_IN} input + {C.TOKENS_OUT} "
               f"output tokens per request: ${C.WEAK_COST * 1000:.2f} vs ${C.STRONG_COST * 1000:.2f} per 1k requests.")
    out.append("")
    for split in results:
        info = infos[split]
        out.append(f"### {split.upper()} split: {info['rows']} rows ({info['positives']} needs_frontier); "
                   f"APGR on {info['apgr_rows']} rows with measured qualities "
                   f"({', '.join(info['apgr_sources'])}; q_weak {fmt(info['q_weak'])}, q_strong {fmt(info['q_strong'])})")
        out.append("")
        out.append("| router | AUROC [90% CI] | bal. AUROC | APGR [90% CI] | CPT(50%) | strong share @95% quality | cost saved @95% quality |")
        out.append("|---|---|---|---|---|---|---|")
        for r in routers_of(results[split]):
            m = results[split][r]
            out.append(f"| {r} | {with_ci(m['auroc'], m.get('auroc_ci'))} | {fmt(m['auroc_bal'])} | "
                       f"{with_ci(m.get('apgr'), m.get('apgr_ci') if 'apgr' in m else None)} | "
                       f"{fmt(m.get('cpt50'))} | {fmt(m.get('share95'))} | "
                       f"{pct(m.get('saved95'))} |")
        out.append("")
        out.append("90% intervals: group bootstrap over (source, subject) groups, "
                   f"{BOOT} resamples; random is the mean over seeds.")
        out.append("")
        out.append(f"Per source ({split}); `*` = single-class source, ranked against the other class "
                   "of the other sources in this split:")
        out.append("")
        others = [r for r in routers_of(results[split]) if r not in ("model", "random")]
        out.append("| source | rows | label=1 share | model AUROC | " + " | ".join(f"{r} AUROC" for r in others)
                   + " | mean model score |")
        out.append("|---|---|---|---|" + "---|" * len(others) + "---|")
        for e in per_source[split]:
            out.append(f"| {e['source']} | {e['rows']} | {e['pos_rate']:.2f} | {fmt(e['model'])}{e['star']} | "
                       + "".join(f"{fmt(e[r])}{e['star']} | " for r in others) + f"{e['mean_score']:.3f} |")
        out.append("")
    return "\n".join(out)


def plot(results, infos, path: Path, split: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = results[split]
    if "curve" not in res["model"]:
        return False
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"model": "tab:blue", "random": "tab:gray", "length": "tab:orange", "heuristic": "tab:green"}
    for r in routers_of(res):
        if r == "random":
            share, pgr, qual = res[r]["curve_grid"], res[r]["pgr_mean"], res[r]["quality_mean"]
            label = f"random (APGR {res[r]['apgr']:.3f})"
        else:
            c = res[r]["curve"]
            share, pgr, qual = c.share, c.pgr, c.quality
            label = f"{r} (APGR {res[r]['apgr']:.3f})"
        ls = "--" if r == "heuristic" else "-"
        a1.plot(share, pgr, label=label, color=colors[r], lw=1.6, ls=ls)
        cost = C.cost_at_share(np.asarray(share)) * 1000
        a2.plot(cost, qual, label=r, color=colors[r], lw=1.6, ls=ls)
    a1.axhline(0.5, color="k", lw=0.6, ls=":")
    a1.set_xlabel("share of requests sent to the strong model")
    a1.set_ylabel("PGR (performance gap recovered)")
    a1.set_title(f"{split} split: PGR vs strong share")
    a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    qs = infos[split]["q_strong"]
    a2.axhline(0.95 * qs, color="k", lw=0.6, ls=":", label="95% of all-strong quality")
    a2.set_xlabel(f"cost, USD per 1k requests ({C.WEAK_MODEL} / {C.STRONG_MODEL})")
    a2.set_ylabel("mean quality")
    a2.set_title(f"{split} split: quality vs cost ({infos[split]['apgr_rows']} rows)")
    a2.legend(fontsize=8)
    a2.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_docs(doc_path: Path, body: str):
    block = f"{BEGIN}\n\n{body}\n{END}"
    if doc_path.exists():
        text = doc_path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            pre, rest = text.split(BEGIN, 1)
            _, post = rest.split(END, 1)
            text = pre + block + post
        else:
            text = text.rstrip() + "\n\n## Results\n\n" + block + "\n"
    else:
        text = "# Complexity classifier\n\n## Results\n\n" + block + "\n"
    doc_path.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=C.DATASET)
    ap.add_argument("--model", type=Path, default=C.MODELS / "router.onnx")
    ap.add_argument("--features-cmd", default=None,
                    help="TESTS ONLY: feature command speaking the CLI protocol (default: the Rust CLI)")
    ap.add_argument("--splits", default="val,test")
    ap.add_argument("--seeds", type=int, default=10, help="random-router seeds to average")
    ap.add_argument("--docs", type=Path, default=C.DOCS / "classifier.md")
    ap.add_argument("--img", type=Path, default=C.DOCS / "img" / "cost_quality.png")
    ap.add_argument("--no-docs", action="store_true", help="print only; do not touch docs/")
    ap.add_argument("--json-out", type=Path, default=None, help="also write the metrics as JSON")
    args = ap.parse_args()

    rows = C.load_dataset(args.dataset)
    src = C.FeatureSource.from_args(args.features_cmd)
    x = C.features_for(rows, src, "all")
    meta_path = args.model.with_name(args.model.stem + ".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("feature_dim") not in (None, x.shape[1]):
        raise SystemExit(f"model expects {meta['feature_dim']} features, CLI gives {x.shape[1]}: retrain")
    if meta.get("feature_extractor") and meta["feature_extractor"] != src.fingerprint:
        print("warning: the feature extractor binary changed since training "
              f"({meta['feature_extractor'][:20]}... -> {src.fingerprint[:20]}...). Fine if the "
              "features did not change; otherwise retrain.", file=sys.stderr)
    if meta.get("parity_features_sha256"):
        # The features of the parity-sample requests must be the ones the model was trained on.
        try:
            sample = [json.loads(line) for line in
                      (C.ROOT / "tests" / "data" / "parity_sample.jsonl").read_text(encoding="utf-8").split("\n") if line.strip()]
            pos = {r["id"]: i for i, r in enumerate(rows)}
            pidx = [pos[r["id"]] for r in sample]
        except (OSError, KeyError, ValueError):
            pidx = []
        if pidx and C.features_sha256(x[pidx]) != meta["parity_features_sha256"]:
            raise SystemExit("the CLI's features changed since the model was trained (parity-sample "
                             "features differ): rerun scripts/train/train.py")
    if meta.get("feature_names_sha256"):
        import hashlib
        names = src.names()
        if names and hashlib.sha256("\n".join(names).encode()).hexdigest() != meta["feature_names_sha256"]:
            raise SystemExit("feature names differ from the ones the model was trained on: retrain")

    model_scores = C.onnx_scores(args.model, x)
    length_scores = np.array([C.request_chars(r["request"]) for r in rows], dtype=np.float64)
    heur = src.heuristic()
    heur_scores = None
    if heur and heur.get("dim") == x.shape[1]:
        z = x.astype(np.float64) @ np.asarray(heur["weights"], dtype=np.float64) + float(heur["bias"])
        heur_scores = 1.0 / (1.0 + np.exp(-z))
    results, infos, per_source = {}, {}, {}
    for split in args.splits.split(","):
        idx = [i for i, r in enumerate(rows) if r["split"] == split]
        if not idx:
            continue
        by_router = {"model": model_scores[idx], "length": length_scores[idx]}
        if heur_scores is not None:
            by_router["heuristic"] = heur_scores[idx]
        seeds = [np.random.default_rng(seed).random(len(idx)) for seed in range(args.seeds)]
        results[split], infos[split] = split_metrics(rows, idx, by_router, seeds)
        per_source[split] = per_source_table(rows, idx, by_router)

    body = render(results, infos, per_source, meta, args.seeds)
    print(body)
    if args.json_out:
        def clean(d):
            return {k: v for k, v in d.items() if not isinstance(v, (np.ndarray, C.RoutingMetrics))}
        js = {s: {"info": infos[s], "routers": {r: clean(results[s][r]) for r in routers_of(results[s])},
                  "per_source": per_source[s]} for s in results}
        args.json_out.write_text(json.dumps(js, indent=2, default=float) + "\n")
    if not args.no_docs:
        plot_split = "test" if "test" in results else next(iter(results))
        img_ok = plot(results, infos, args.img, plot_split)
        extra = ""
        if img_ok:
            rel = args.img.relative_to(args.docs.parent) if args.img.is_relative_to(args.docs.parent) else args.img
            extra = f"\n![PGR and quality vs cost, {plot_split} split]({rel})\n"
        write_docs(args.docs, body + extra)
        print(f"updated {args.docs} and {args.img}", file=sys.stderr)


if __name__ == "__main__":
    main()
