#!/usr/bin/env python3
"""Sets the shipped thresholds: `llm-router calibrate` on a stated mixed pool of requests.

The pool (what "a share of traffic" refers to in README and docs/classifier.md): POOL_PER_SOURCE
seeded prompts from each of the 9 measured sources of data/dataset.jsonl (all of a source when
it has fewer) plus the 282 hand-written synthetic everyday requests. The scores come from the
release CLI, i.e. the model embedded at its build (rebuild after `llm-router export-mlp`).

Usage: .venv-train/bin/python scripts/train/calibrate_pool.py --cheap-share 0.5 --strong-share 0.2 [--write]
  --write  puts the thresholds into src/default_config.json (rebuild afterwards)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common as C  # noqa: E402

POOL_PER_SOURCE = 200
CONFIG = C.ROOT / "src" / "default_config.json"


def pool(rows: list[dict]) -> list[dict]:
    by_src: dict[str, list[dict]] = {}
    for r in rows:
        if r["label_kind"] == "measured":
            by_src.setdefault(r["source"], []).append(r)
    out = []
    for src in sorted(by_src):
        ranked = sorted(by_src[src], key=lambda r: hashlib.sha256(("pool:" + r["id"]).encode()).hexdigest())
        out += ranked[:POOL_PER_SOURCE]
    out += [r for r in rows if r["source"] == "synthetic"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cheap-share", type=float, required=True)
    ap.add_argument("--strong-share", type=float, required=True)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not C.CLI.exists():
        raise SystemExit(f"{C.CLI} not built: cargo build --release --bin llm-router")
    rows = pool(C.load_dataset())
    bodies = "".join(json.dumps(r["request"]) + "\n" for r in rows)
    out = subprocess.run([str(C.CLI), "calibrate", "--cheap-share", str(args.cheap_share),
                          "--strong-share", str(args.strong_share)],
                         input=bodies, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"llm-router calibrate failed: {out.stderr}")
    print(f"pool: {len(rows)} requests ({POOL_PER_SOURCE} per measured source + synthetic everyday)")
    print(out.stdout.strip())
    m = re.search(r'^"thresholds": (\[[^\]]*\])$', out.stdout, re.M)
    if m is None:
        raise SystemExit("no thresholds line in the output of llm-router calibrate")
    thresholds = json.loads(m.group(1))
    if args.write:
        text = CONFIG.read_text(encoding="utf-8")
        new, n = re.subn(r'"thresholds": \[[^\]]*\]',
                         '"thresholds": [' + ", ".join(f"{t:.4f}" for t in thresholds) + "]", text)
        if n != 1:
            raise SystemExit(f"expected one thresholds entry in {CONFIG}, found {n}")
        CONFIG.write_text(new, encoding="utf-8")
        print(f"wrote thresholds {thresholds} to {CONFIG.relative_to(C.ROOT)}")


if __name__ == "__main__":
    main()
