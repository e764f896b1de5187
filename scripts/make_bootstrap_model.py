#!/usr/bin/env python3
"""Export the heuristic classifier as the bootstrap ONNX model (models/router.onnx).

The heuristic's bias and dense weights come from the Rust core itself
(`llm-router export-heuristic`), so there is one definition. The graph is
features[N, D] -> MatMul(W[D,1]) -> Add(b) -> Sigmoid -> score[N, 1].

The trained model (scripts/train/) replaces this file; this script exists so a
fresh checkout can always produce a model that the tract path loads.
"""
import json
import pathlib
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    out = subprocess.run(
        ["cargo", "run", "-q", "--no-default-features", "--bin", "llm-router", "--", "export-heuristic"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    h = json.loads(out)
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
    print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
