#!/usr/bin/env python3
"""Checks tests/data/parity_sample.jsonl against the Rust path WITHOUT rebuilding anything:
runs `llm-router score --config <default config + models/router.onnx inline>` (tract, the same
code the filter runs) on the sample's requests and compares with the stored numpy scores.

This is the same check as the Rust test tests/parity.rs (which uses the model embedded at build
time); use it right after training, before the next cargo build picks the new model up.

Usage: .venv-train/bin/python scripts/train/check_parity_cli.py [--tol 1e-5]
Exit code 0 when every row is within the tolerance.
"""
from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C  # noqa: E402

DEFAULT_CONFIG = C.ROOT / "src" / "default_config.json"


def check(model: Path, sample: Path, tol: float) -> tuple[bool, str]:
    if not C.CLI.exists():
        return False, f"skipped: {C.CLI} not built"
    if not DEFAULT_CONFIG.exists():
        return False, f"skipped: {DEFAULT_CONFIG} not found"
    rows = [json.loads(line) for line in sample.read_text(encoding="utf-8").split("\n") if line.strip()]
    meta_path = model.with_name(model.stem + ".meta.json")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    if meta.get("parity_features_sha256"):
        x = C.FeatureSource.from_args(None).extract([r["request"] for r in rows], desc="parity features")
        if C.features_sha256(x) != meta["parity_features_sha256"]:
            return False, ("the CLI's features for the sample differ from the ones at training time: "
                           "the feature code changed, rerun scripts/train/lso.py --export")
    base = json.loads(DEFAULT_CONFIG.read_text())
    # The source tree's default config may be newer than the built binary; fall back to its
    # core (tiers as name/model/cluster, thresholds) when the binary rejects the full file.
    core = {"tiers": [{k: t[k] for k in ("name", "model", "cluster") if k in t} for t in base.get("tiers", [])],
            "thresholds": base.get("thresholds")}
    if "max_inspect_chars" in base:
        core["max_inspect_chars"] = base["max_inspect_chars"]
    inline = {"kind": "inline", "onnx_base64": base64.b64encode(model.read_bytes()).decode()}
    stdin = "".join(json.dumps(r["request"]) + "\n" for r in rows)
    out = None
    for cfg in (dict(base, classifier=inline), dict(core, classifier=inline)):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(cfg, f)
            cfg_path = f.name
        try:
            out = subprocess.run([str(C.CLI), "score", "--config", cfg_path], capture_output=True,
                                 text=True, input=stdin, timeout=300)
        finally:
            Path(cfg_path).unlink(missing_ok=True)
        if out.returncode == 0 or "configuration" not in out.stderr:
            break
    assert out is not None
    if out.returncode != 0:
        return False, f"llm-router score failed ({out.returncode}): {out.stderr[-500:]}"
    got = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if len(got) != len(rows):
        return False, f"{len(got)} decisions for {len(rows)} requests"
    worst, bad = 0.0, []
    for r, g in zip(rows, got):
        if g.get("score") is None:
            bad.append(f"{r['id']}: no score ({g})")
            continue
        d = abs(float(g["score"]) - float(r["score"]))
        worst = max(worst, d)
        if d > tol:
            bad.append(f"{r['id']}: tract {g['score']} vs numpy {r['score']} (diff {d:.2e})")
    if bad:
        return False, f"{len(bad)} of {len(rows)} rows over {tol}: " + "; ".join(bad[:5])
    return True, f"{len(rows)} rows, worst |tract - numpy| = {worst:.2e} (tolerance {tol})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=C.MODELS / "router.onnx")
    ap.add_argument("--sample", type=Path, default=C.ROOT / "tests" / "data" / "parity_sample.jsonl")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    ok, msg = check(args.model, args.sample, args.tol)
    print(("parity OK: " if ok else "parity FAILED: ") + msg)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
