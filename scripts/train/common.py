"""Shared pieces of the classifier training/evaluation pipeline.

* loading data/dataset.jsonl (building it first when missing),
* feature extraction through the Rust CLI (`llm-router features`), with an on-disk cache,
* routing metrics (AUROC, PGR curve, APGR, CPT, cost at a quality target),
* the numpy forward pass and the ONNX export of the fitted model.

Features always come from the CLI so that the Envoy filter, the CLI and training share one
implementation. `--features-cmd` exists only so tests can plug in a stand-in that speaks the
same protocol; the default is the release binary.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data"
DATASET = DATA / "dataset.jsonl"
CACHE = DATA / "cache"
MODELS = ROOT / "models"
DOCS = ROOT / "docs"
CLI = ROOT / "target" / "release" / "llm-router"

# Prices for the cost metric (USD per million tokens) and the assumed request shape.
WEAK_MODEL, WEAK_PRICE_IN, WEAK_PRICE_OUT = "claude-haiku-4.5", 1.00, 5.00
STRONG_MODEL, STRONG_PRICE_IN, STRONG_PRICE_OUT = "claude-sonnet-4.6", 3.00, 15.00
TOKENS_IN, TOKENS_OUT = 500, 200
WEAK_COST = (TOKENS_IN * WEAK_PRICE_IN + TOKENS_OUT * WEAK_PRICE_OUT) / 1e6     # USD per request
STRONG_COST = (TOKENS_IN * STRONG_PRICE_IN + TOKENS_OUT * STRONG_PRICE_OUT) / 1e6


# ------------------------------------------------------------------ data
def load_dataset(path: Path = DATASET) -> list[dict]:
    if not path.exists():
        if path != DATASET:
            raise SystemExit(f"{path} not found")
        print(f"{path} missing: building it with data/build_dataset.py", file=sys.stderr)
        subprocess.run([sys.executable, str(DATA / "build_dataset.py"), "--quiet"], check=True)
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def features_sha256(x: np.ndarray) -> str:
    """Fingerprint of feature values (float32, little endian), to detect feature drift."""
    return hashlib.sha256(np.ascontiguousarray(x, dtype="<f4").tobytes()).hexdigest()


def check_onnx_matches(onnx_path: Path, x: np.ndarray, scores: np.ndarray) -> None:
    """Stop unless onnxruntime's scores of the exported graph equal the numpy model's (1e-5)."""
    max_diff = float(np.max(np.abs(onnx_scores(onnx_path, x) - scores)))
    print(f"onnxruntime vs numpy: max |diff| = {max_diff:.2e} over {len(x)} rows")
    if max_diff > 1e-5:
        raise SystemExit("ONNX export disagrees with the numpy model by more than 1e-5")


def meta_header(onnx_path: Path, dim: int, names: list[str] | None, names_hash: str | None, src: "FeatureSource") -> dict:
    """The fields every `models/router.meta.json` starts with: the file, its I/O and the features it expects."""
    return {
        "model": "llm-router complexity classifier",
        "file": onnx_path.name,
        "onnx_sha256": file_sha256(onnx_path),
        "onnx_bytes": onnx_path.stat().st_size,
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
    }


def write_parity_sample(path: Path, rows: list[dict], idx, scores: np.ndarray) -> None:
    """The rows the Rust parity test replays, with the numpy model's scores."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for i in idx:
            f.write(json.dumps({"id": rows[i]["id"], "source": rows[i]["source"],
                                "score": float(scores[i]), "request": rows[i]["request"]},
                               ensure_ascii=False) + "\n")


def request_chars(req: dict) -> int:
    """Input length for the length baseline: characters of all message text."""
    n = 0
    for m in req.get("messages", []):
        c = m.get("content")
        if isinstance(c, str):
            n += len(c)
        elif isinstance(c, list):
            n += sum(len(p.get("text", "")) for p in c if isinstance(p, dict))
    return n


# ------------------------------------------------------------------ features via the CLI
@dataclass
class FeatureSource:
    cmd: list[str]          # command that reads request JSON lines on stdin
    names_cmd: list[str]    # command that prints feature names, one per line
    fingerprint: str        # identifies the extractor for the cache (binary hash)

    @staticmethod
    def from_args(features_cmd: str | None) -> "FeatureSource":
        if features_cmd:
            cmd = shlex.split(features_cmd)
            exe = Path(cmd[-1]) if Path(cmd[-1]).exists() else Path(cmd[0])
            fp = file_sha256(exe) if exe.exists() else features_cmd
            return FeatureSource(cmd, cmd + ["--names"], "custom:" + fp)
        if not CLI.exists():
            raise SystemExit(
                f"feature CLI not found at {CLI}.\n"
                "Build it first:  cargo build --release --bin llm-router")
        return FeatureSource([str(CLI), "features"], [str(CLI), "features", "--names"],
                             "cli:" + file_sha256(CLI))

    def heuristic(self) -> dict | None:
        """The Rust core's built-in heuristic ({feature_version, dim, bias, weights}), if the
        extractor is the CLI and has `export-heuristic`; used as an extra baseline and to record
        the feature version."""
        if not self.fingerprint.startswith("cli:"):
            return None
        try:
            out = subprocess.run([self.cmd[0], "export-heuristic"], capture_output=True, text=True, timeout=60)
            return json.loads(out.stdout) if out.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
            return None

    def names(self) -> list[str] | None:
        try:
            out = subprocess.run(self.names_cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode != 0:
            return None
        names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        return names or None

    def extract(self, requests: list[dict], desc: str = "features") -> np.ndarray:
        """Runs the extractor over all requests in one process; returns float32 [N, D]."""
        from tqdm import tqdm

        proc = subprocess.Popen(self.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1 << 16)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        err_chunks: list[str] = []

        def feed() -> None:
            try:
                for r in requests:
                    proc.stdin.write(json.dumps(r) + "\n")  # ASCII-escaped: one request per line, always
                proc.stdin.close()
            except BrokenPipeError:
                pass

        def drain_err() -> None:
            err_chunks.append(proc.stderr.read())

        threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=drain_err, daemon=True)]
        for t in threads:
            t.start()
        rows: list[list[float]] = []
        errors: list[tuple[int, str]] = []
        with tqdm(total=len(requests), desc=desc, unit="req", file=sys.stderr, mininterval=0.5) as bar:
            for line in proc.stdout:
                if not line.strip():
                    continue
                obj = json.loads(line)
                if "features" in obj:
                    rows.append(obj["features"])
                else:
                    errors.append((len(rows) + len(errors), str(obj.get("error"))))
                    rows.append([])
                bar.update(1)
        rc = proc.wait()
        for t in threads:
            t.join(timeout=5)
        if rc != 0:
            raise SystemExit(f"feature command {self.cmd} exited {rc}: {''.join(err_chunks)[-2000:]}")
        if len(rows) != len(requests):
            raise SystemExit(f"feature command returned {len(rows)} lines for {len(requests)} requests")
        if errors:
            sample = "; ".join(f"line {i}: {e}" for i, e in errors[:5])
            raise SystemExit(f"feature command rejected {len(errors)} requests ({sample})")
        dims = {len(r) for r in rows}
        if len(dims) != 1:
            raise SystemExit(f"feature vectors have different lengths: {sorted(dims)[:10]}")
        x = np.asarray(rows, dtype=np.float32)
        if not np.all(np.isfinite(x)):
            raise SystemExit("feature command produced non-finite values")
        return x


def features_for(rows: list[dict], src: FeatureSource, tag: str) -> np.ndarray:
    """Features of `rows` (in order), cached under data/cache by extractor + request content."""
    h = hashlib.sha256(src.fingerprint.encode())
    for r in rows:
        h.update(json.dumps(r["request"], sort_keys=True, ensure_ascii=False).encode())
        h.update(b"\n")
    key = h.hexdigest()[:24]
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"features-{tag}-{key}.npy"
    if path.exists():
        x = np.load(path)
        if x.shape[0] == len(rows):
            print(f"features: cached {path.relative_to(ROOT)} {x.shape}", file=sys.stderr)
            return x
    x = src.extract([r["request"] for r in rows], desc=f"features ({tag})")
    np.save(path, x)
    # Keep the cache small: the 2 newest files per (tag, row count); older ones are stale
    # (earlier binaries or data sets).
    same = sorted(CACHE.glob(f"features-{tag}-*.npy"), key=lambda p: p.stat().st_mtime, reverse=True)
    same = [p for p in same if p != path and np.load(p, mmap_mode="r").shape[0] == len(rows)]
    for old in same[1:]:
        old.unlink(missing_ok=True)
    return x


# ------------------------------------------------------------------ metrics
def auroc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels)
    if labels.min() == labels.max():
        return float("nan")
    return float(roc_auc_score(labels, scores, sample_weight=weights))


def quality_curve(scores: np.ndarray, weak_q: np.ndarray, strong_q: np.ndarray):
    """Mean quality when the top-k requests by score go to the strong model, for k = 0..N.

    Ties are handled exactly in expectation: inside a block of equal scores the order is random,
    so the curve is linear between block boundaries. Returns (share, quality) arrays at block
    boundaries (including share 0 and 1)."""
    scores = np.asarray(scores, dtype=np.float64)
    weak_q = np.asarray(weak_q, dtype=np.float64)
    strong_q = np.asarray(strong_q, dtype=np.float64)
    n = len(scores)
    order = np.argsort(-scores, kind="stable")
    s_sorted = scores[order]
    gain = (strong_q - weak_q)[order]
    cum_gain = np.concatenate([[0.0], np.cumsum(gain)])
    # boundaries: k where s_sorted[k-1] != s_sorted[k], plus 0 and n
    change = np.nonzero(s_sorted[1:] != s_sorted[:-1])[0] + 1
    ks = np.concatenate([[0], change, [n]])
    base = weak_q.sum()
    quality = (base + cum_gain[ks]) / n
    return ks / n, quality


def interp_share_for(share: np.ndarray, value: np.ndarray, target: float) -> float:
    """Smallest share where the piecewise-linear curve first reaches `target` (nan if never)."""
    if value[0] >= target:
        return 0.0
    for i in range(1, len(share)):
        if value[i] >= target:
            v0, v1 = value[i - 1], value[i]
            t = 0.0 if v1 == v0 else (target - v0) / (v1 - v0)
            return float(share[i - 1] + t * (share[i] - share[i - 1]))
    return float("nan")


@dataclass
class RoutingMetrics:
    n: int
    q_weak: float
    q_strong: float
    apgr: float
    cpt50: float           # strong share needed for PGR >= 0.5
    share_q95: float       # strong share needed for quality >= 95% of all-strong quality
    cost_saved_q95: float  # cost saving vs all-strong at that share
    share: np.ndarray
    pgr: np.ndarray
    quality: np.ndarray


def cost_at_share(s: float | np.ndarray):
    return s * STRONG_COST + (1 - s) * WEAK_COST


def routing_metrics(scores, weak_q, strong_q) -> RoutingMetrics:
    weak_q = np.asarray(weak_q, dtype=np.float64)
    strong_q = np.asarray(strong_q, dtype=np.float64)
    q_weak, q_strong = float(weak_q.mean()), float(strong_q.mean())
    share, quality = quality_curve(scores, weak_q, strong_q)
    gap = q_strong - q_weak
    pgr = (quality - q_weak) / gap if gap != 0 else np.full_like(quality, np.nan)
    apgr = float(np.trapezoid(pgr, share))
    cpt50 = interp_share_for(share, pgr, 0.5)
    s95 = interp_share_for(share, quality, 0.95 * q_strong - 1e-12)
    saved = float(1 - cost_at_share(s95) / STRONG_COST) if not np.isnan(s95) else float("nan")
    return RoutingMetrics(len(weak_q), q_weak, q_strong, apgr, cpt50, s95, saved, share, pgr, quality)


def source_balanced_weights(sources: list[str]) -> np.ndarray:
    """Weights giving each source the same total weight (for source-balanced AUROC)."""
    uniq, inv, counts = np.unique(np.asarray(sources), return_inverse=True, return_counts=True)
    return (1.0 / counts)[inv] * len(sources) / len(uniq)


# ------------------------------------------------------------------ model: forward pass + ONNX
def forward(params: dict, x: np.ndarray) -> np.ndarray:
    """Score = sigmoid(MLP(x)) in float64, from the folded weights that the ONNX file holds."""
    h = np.asarray(x, dtype=np.float64)
    layers = params["layers"]
    for i, (w, b) in enumerate(layers):
        h = h @ np.asarray(w, dtype=np.float64) + np.asarray(b, dtype=np.float64)
        if i < len(layers) - 1:
            h = np.maximum(h, 0.0)
    return 1.0 / (1.0 + np.exp(-h))


def export_onnx(params: dict, dim: int, path: Path, doc: str, metadata: dict[str, str]) -> None:
    """Hand-built graph: [MatMul -> Add -> Relu]* -> MatMul -> Add -> Sigmoid, opset 13."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    cur = "features"
    layers = params["layers"]
    for i, (w, b) in enumerate(layers):
        w = np.asarray(w, dtype=np.float32)
        b = np.asarray(b, dtype=np.float32).reshape(-1)
        inits += [numpy_helper.from_array(w, f"W{i}"), numpy_helper.from_array(b, f"B{i}")]
        nodes.append(helper.make_node("MatMul", [cur, f"W{i}"], [f"mm{i}"], name=f"matmul{i}"))
        last = i == len(layers) - 1
        out = "logit" if last else f"pre{i}"
        nodes.append(helper.make_node("Add", [f"mm{i}", f"B{i}"], [out], name=f"add{i}"))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"h{i}"], name=f"relu{i}"))
            cur = f"h{i}"
    nodes.append(helper.make_node("Sigmoid", ["logit"], ["score"], name="sigmoid"))
    graph = helper.make_graph(
        nodes, "llm_router_complexity",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", dim])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="llm-router scripts/train/lso.py",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.doc_string = doc
    for k, v in metadata.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))


def onnx_scores(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    out = sess.run(["score"], {"features": np.asarray(x, dtype=np.float32)})[0]
    return out.reshape(-1)
