#!/usr/bin/env python3
"""One-time import of the public training data into data/raw/.

This is the ONLY script that reads the workplace's shared data folder (default ../shared/data,
relative to the repository root). Everything else (data/build_dataset.py, training,
evaluation) reads data/raw/ inside the repository, so the project does not need ../shared to run.

What it does, per file (see data/LICENSES.md for sources and licences):
  * copies small files as they are;
  * keeps only the fields we use (prompt text, category/subject/level) of the larger files,
    dropping reference solutions and explanations;
  * takes a seeded, reproducible subsample of the big easy math sets (MAWPS, SVAMP, ASDiv).

Re-running it with the same inputs gives byte-identical outputs (fixed seed, sorted keys,
gzip mtime 0). Usage:
  python3 scripts/train/import_shared_data.py [--shared ../shared/data]
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import shutil
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data" / "raw"
SEED = 20250101
EASY_LADDER_SAMPLE = 400  # rows kept from each of MAWPS, SVAMP, ASDiv
MEASURED_MULTI_MODEL = [
    "arena_bench_v1_gpt4judge_scores.csv.gz",
    "arenahard_v0.1_pairwise_vs_gpt4_0314.csv.gz",
    "zeroeval_crux_mathl5_gsm_correctness.csv.gz",
    "routerarena_sub10_haiku3_vs_gemini2flash.csv.gz",
    "llmfao_everyday_prompts_pairwise_winrates.csv.gz",
]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    buf = io.BytesIO()
    # mtime=0 and no file name so the output is byte-for-byte reproducible.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        for r in rows:
            gz.write((json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    path.write_bytes(buf.getvalue())


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tar_jsonl(tar: tarfile.TarFile, member: str) -> list[dict]:
    f = tar.extractfile(member)
    if f is None:
        raise SystemExit(f"missing {member} in ladder tarball")
    return [json.loads(line) for line in f.read().decode("utf-8").splitlines() if line.strip()]


def sample(rows: list[dict], n: int, tag: str) -> list[dict]:
    rng = random.Random(f"{SEED}:{tag}")
    idx = sorted(rng.sample(range(len(rows)), min(n, len(rows))))
    return [rows[i] for i in idx]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    shared = Path(args.shared)
    RAW.mkdir(parents=True, exist_ok=True)
    manifest = {}

    # 1. RouteLLM per-prompt correctness (MMLU + GSM8K): the only real correctness labels. Whole file.
    for name in ["TRAIN_routellm_mmlu_gsm8k_labels.csv.gz", "routellm_mtbench_gpt4judge_scores.csv",
                 "mtbench_question.jsonl"]:
        shutil.copyfile(shared / name, RAW / name)
        manifest[name] = {"from": name, "sha256_source": sha256(shared / name), "kept": "whole file"}

    # 2. Arena-Hard prompts (hard by construction). Whole files, gzipped.
    for name in ["arenahard_v0.1_questions.jsonl", "arenahard_v2.0_questions.jsonl"]:
        rows = read_jsonl(shared / name)
        write_jsonl_gz(RAW / (name + ".gz"), rows)
        manifest[name + ".gz"] = {"from": name, "sha256_source": sha256(shared / name),
                                  "kept": f"all {len(rows)} rows, all fields"}

    # 3. MATH-500 with levels: problem/subject/level only (reference solutions dropped).
    rows = read_jsonl(shared / "math500_with_levels.jsonl")
    keep = [{"idx": i, "problem": r["problem"], "subject": r["subject"], "level": r["level"]}
            for i, r in enumerate(rows)]
    write_jsonl_gz(RAW / "math500_levels.jsonl.gz", keep)
    manifest["math500_levels.jsonl.gz"] = {"from": "math500_with_levels.jsonl",
                                           "sha256_source": sha256(shared / "math500_with_levels.jsonl"),
                                           "kept": f"all {len(keep)} rows; fields problem, subject, level"}

    # 4. GPQA diamond: question and the four options (explanations dropped).
    rows = read_jsonl(shared / "gpqa_diamond.jsonl")
    keep = [{"idx": i, "question": r["Question"], "correct": r["Correct Answer"],
             "incorrect": [r["Incorrect Answer 1"], r["Incorrect Answer 2"], r["Incorrect Answer 3"]]}
            for i, r in enumerate(rows)]
    write_jsonl_gz(RAW / "gpqa_diamond.jsonl.gz", keep)
    manifest["gpqa_diamond.jsonl.gz"] = {"from": "gpqa_diamond.jsonl",
                                         "sha256_source": sha256(shared / "gpqa_diamond.jsonl"),
                                         "kept": f"all {len(keep)} rows; question + options"}

    # 5. Math difficulty ladder: easy word problems (subsampled) and competition/university math.
    tar_path = shared / "qwen25math_eval_data_difficulty_ladder.tar.gz"
    ladder = []
    with tarfile.open(tar_path) as tar:
        base = "evaluation/data/"
        mawps = tar_jsonl(tar, base + "mawps/test.jsonl")
        for r in sample(mawps, EASY_LADDER_SAMPLE, "mawps"):
            ladder.append({"set": "mawps", "sub": r["type"], "id": str(r["idx"]), "question": r["input"]})
        svamp = tar_jsonl(tar, base + "svamp/test.jsonl")
        for r in sample(svamp, EASY_LADDER_SAMPLE, "svamp"):
            q = r["Body"].strip()
            q = (q if q.endswith(".") else q + ".") + " " + r["Question"].strip()
            ladder.append({"set": "svamp", "sub": r["Type"], "id": str(r["ID"]), "question": q})
        asdiv = tar_jsonl(tar, base + "asdiv/test.jsonl")
        for r in sample(asdiv, EASY_LADDER_SAMPLE, "asdiv"):
            ladder.append({"set": "asdiv", "sub": r["solution_type"], "id": str(r["idx"]),
                           "question": (r["body"].strip() + " " + r["question"].strip()).strip()})
        for r in tar_jsonl(tar, base + "olympiadbench/test.jsonl"):
            ladder.append({"set": "olympiadbench", "sub": r["subfield"], "id": str(r["id"]),
                           "question": r["question"]})
        for r in tar_jsonl(tar, base + "minerva_math/test.jsonl"):
            ladder.append({"set": "minerva_math", "sub": r["type"], "id": str(r["idx"]), "question": r["problem"]})
        for name in ["amc23", "aime24"]:
            for r in tar_jsonl(tar, base + f"{name}/test.jsonl"):
                ladder.append({"set": name, "sub": name, "id": str(r["id"]), "question": r["question"]})
    write_jsonl_gz(RAW / "math_ladder.jsonl.gz", ladder)
    manifest["math_ladder.jsonl.gz"] = {
        "from": "qwen25math_eval_data_difficulty_ladder.tar.gz", "sha256_source": sha256(tar_path),
        "kept": (f"MAWPS/SVAMP/ASDiv: seeded sample of {EASY_LADDER_SAMPLE} each (seed {SEED}); "
                 "OlympiadBench, Minerva-Math, AMC23, AIME24: all rows; question text + sub-type only")}

    # 6. HumanEval: task id + prompt (function stub with docstring).
    with gzip.open(shared / "HumanEval.jsonl.gz", "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    keep = [{"task_id": r["task_id"], "prompt": r["prompt"]} for r in rows]
    write_jsonl_gz(RAW / "humaneval_prompts.jsonl.gz", keep)
    manifest["humaneval_prompts.jsonl.gz"] = {"from": "HumanEval.jsonl.gz",
                                              "sha256_source": sha256(shared / "HumanEval.jsonl.gz"),
                                              "kept": f"all {len(keep)} rows; task_id + prompt"}

    # 7. Per-prompt quality of many models (measured; see data/LICENSES.md): whole files. These
    # are the sources the leave-sources-out evaluation holds out.
    for name in MEASURED_MULTI_MODEL:
        shutil.copyfile(shared / name, RAW / name)
        manifest[name] = {"from": name, "sha256_source": sha256(shared / name), "kept": "whole file"}

    for name, m in manifest.items():
        m["sha256"] = sha256(RAW / name)
        m["bytes"] = (RAW / name).stat().st_size
    (RAW / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    total = sum(m["bytes"] for m in manifest.values())
    print(f"wrote {len(manifest)} files to {RAW} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
