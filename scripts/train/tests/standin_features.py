#!/usr/bin/env python3
"""TEST-ONLY stand-in for `llm-router features` (same stdin/stdout protocol).

Not used by the committed pipeline, which always calls the Rust CLI. It exists so the Python
tests can exercise train.py/evaluate.py end to end without building the Rust binary.
Protocol: JSON Lines requests on stdin -> one {"features":[...]} or {"error":"..."} per line;
`--names` prints the feature names, one per line.
"""
import hashlib
import json
import math
import re
import sys

HASH_DIM = 64
STRUCT = ["log_chars", "log_messages", "has_system", "digit_ratio", "math_ratio", "code_ratio",
          "questions", "log_words"]
NAMES = STRUCT + [f"hash_{i}" for i in range(HASH_DIM)]


def feats(req):
    msgs = req["messages"]
    text = "\n".join(m["content"] for m in msgs if isinstance(m.get("content"), str))
    n = max(len(text), 1)
    words = re.findall(r"\w+", text.lower())
    v = [math.log1p(len(text)) / 10, math.log1p(len(msgs)) / 3,
         float(any(m["role"] == "system" for m in msgs)),
         sum(c.isdigit() for c in text) / n, sum(c in "$^\\" for c in text) / n,
         sum(c in "{}();=<>[]" for c in text) / n, min(text.count("?"), 10) / 10,
         math.log1p(len(words)) / 10]
    h = [0.0] * HASH_DIM
    for w in words:
        h[int(hashlib.md5(w.encode()).hexdigest()[:8], 16) % HASH_DIM] += 1
    norm = math.sqrt(sum(math.log1p(x) ** 2 for x in h)) or 1.0
    return v + [math.log1p(x) / norm for x in h]


def main():
    if "--names" in sys.argv:
        print("\n".join(NAMES))
        return
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out.write(json.dumps({"features": feats(json.loads(line))}) + "\n")
        except Exception as e:  # noqa: BLE001 - mirror the CLI's per-line error
            out.write(json.dumps({"error": str(e)}) + "\n")


if __name__ == "__main__":
    main()
