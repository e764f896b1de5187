#!/usr/bin/env python3
"""Export the heuristic classifier as the bootstrap ONNX model (models/router.onnx).

The heuristic's bias and dense weights come from the Rust core itself
(`llm-router export-heuristic`), so there is one definition. The graph is
features[N, D] -> MatMul(W[D,1]) -> Add(b) -> Sigmoid -> score[N, 1].
It also writes tests/data/parity_sample.jsonl: fixed requests with the numpy
(float64) score, which the Rust parity test compares with tract's output.

The trained model (scripts/train/lso.py --export) replaces both files; this script
exists so a fresh checkout can always produce a model that the tract path loads.
"""
import json
import pathlib
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent
CLI = ["cargo", "run", "-q", "--no-default-features", "--bin", "llm-router", "--"]

SAMPLE_PROMPTS = [
    "hi",
    "Translate 'good morning' to French.",
    "Summarize: the meeting moved to Tuesday at 3pm.",
    "Extract the email address from: contact bob@example.com for details.",
    "What is the capital of Australia?",
    "Prove rigorously that there are infinitely many primes and explain each step.",
    "Write a Python function that merges two sorted lists in O(n).\n```python\ndef merge(a, b):\n    pass\n```",
    "Compute $\\int_0^1 x^2 \\, dx$ and justify the result.",
    "Design a distributed rate limiter architecture with strict consistency; discuss tradeoffs.",
    "List three fruits.",
]


def cli(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(CLI + list(args), cwd=ROOT, check=True, capture_output=True, text=True, input=stdin).stdout


def main() -> int:
    h = json.loads(cli("export-heuristic"))
    dim = h["dim"]
    w = np.asarray(h["weights"], dtype=np.float32).reshape(dim, 1)
    b = np.asarray([h["bias"]], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["z0"]),
            helper.make_node("Add", ["z0", "b"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["score"]),
        ],
        "llm_router_heuristic",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", dim])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="llm-router")
    model.ir_version = 8
    model.doc_string = f"bootstrap heuristic, feature_version={h['feature_version']}"
    onnx.checker.check_model(model)
    path = ROOT / "models" / "router.onnx"
    onnx.save(model, path)
    meta = {"kind": "heuristic-bootstrap", "feature_version": h["feature_version"], "dim": dim}
    (ROOT / "models" / "router.meta.json").write_text(json.dumps(meta, indent=2) + "\n")

    requests = [{"model": "auto", "messages": [{"role": "user", "content": p}]} for p in SAMPLE_PROMPTS]
    feats = cli("features", stdin="".join(json.dumps(r) + "\n" for r in requests))
    x = np.asarray([json.loads(line)["features"] for line in feats.splitlines()], dtype=np.float64)
    scores = 1.0 / (1.0 + np.exp(-(x @ w.astype(np.float64)[:, 0] + float(b[0]))))
    parity = ROOT / "tests" / "data" / "parity_sample.jsonl"
    parity.parent.mkdir(parents=True, exist_ok=True)
    with open(parity, "w", encoding="utf-8") as f:
        for i, (r, s) in enumerate(zip(requests, scores)):
            f.write(json.dumps({"id": f"bootstrap-{i}", "source": "bootstrap", "score": float(s), "request": r}) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes) and {parity} ({len(requests)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
