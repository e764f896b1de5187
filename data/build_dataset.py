#!/usr/bin/env python3
"""Builds data/dataset.jsonl for the complexity classifier from data/raw/ and
data/synthetic_everyday.jsonl. Deterministic: same inputs give a byte-identical output.

Row schema (one JSON object per line):
  id              stable id, e.g. "mmlu/anatomy/17"
  source          data source (mmlu, gsm8k, mtbench, arena_hard_v0.1, arena_hard_v2.0, math500,
                  gpqa_diamond, mawps, svamp, asdiv, olympiadbench, minerva_math, amc23, aime24,
                  humaneval, synthetic)
  subject         group inside the source (MMLU subject, MT-Bench category, MATH subject, ...)
  split           train | val | test, assigned per (source, subject) GROUP, never per row
  label           needs_frontier in {0, 1} (measured or proxy, see data/README.md)
  label_kind      "measured" (correctness/judge based) or "proxy" (difficulty based) or "synthetic"
  weak_quality    quality of the cheap model in [0, 1] where measured, else null
  strong_quality  quality of the frontier model in [0, 1] where measured, else null
  request         OpenAI chat-completions body {"model": "auto", "messages": [...]}

See data/README.md for the label rules and the split. Usage:
  python3 data/build_dataset.py [--out data/dataset.jsonl]
"""
from __future__ import annotations

import argparse
import collections
import csv
import gzip
import hashlib
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
SEED = 20250101

# ------------------------------------------------------------------ split definition
# Everything not listed here is TRAIN. Groups are whole (source, subject) pairs.
MMLU_TEST_SUBJECTS = {
    "abstract_algebra", "college_computer_science", "econometrics", "high_school_physics",
    "high_school_us_history", "international_law", "machine_learning", "moral_disputes",
    "nutrition", "philosophy", "professional_accounting", "virology", "world_religions",
}
MMLU_VAL_SUBJECTS = {
    "anatomy", "college_chemistry", "computer_security", "formal_logic", "high_school_geography",
    "high_school_statistics", "human_sexuality", "management", "marketing", "prehistory",
    "public_relations", "security_studies",
}
MTBENCH_TEST = {"reasoning", "coding"}
MTBENCH_VAL = {"extraction", "humanities"}
MATH500_TEST = {"Number Theory", "Geometry"}
MATH500_VAL = {"Counting & Probability"}
LADDER_TEST = {"svamp", "amc23"}          # one whole easy source, one whole hard source
LADDER_VAL = {"asdiv", "aime24"}
ARENA_V2_TEST = {"creative_writing"}      # v2.0 subcategory held out whole
ARENA_V01_TEST_PCT = 20                   # v0.1: whole clusters, by stable hash of the cluster name
ARENA_V01_VAL_PCT = 15
SYNTH_TEST = {"translation", "classification", "short_writing", "hard_debugging"}
SYNTH_VAL = {"reformatting", "simple_code", "hard_analysis"}
WHOLE_SOURCE_SPLIT = {"gpqa_diamond": "test", "humaneval": "train"}

# MT-Bench: needs_frontier when GPT-4's judge score beats Mixtral's by at least this much (1-10 scale).
MTBENCH_GAP = 2.0
# Proxy labels by difficulty (no per-prompt correctness exists for these).
PROXY_LABEL_BY_SOURCE = {
    "mawps": 0, "svamp": 0, "asdiv": 0,
    "olympiadbench": 1, "amc23": 1, "aime24": 1, "minerva_math": 1,
    "gpqa_diamond": 1, "arena_hard_v0.1": 1, "arena_hard_v2.0": 1,
    "humaneval": 0,
}

# A generic system prompt is added to a seeded ~25% of rows of EVERY source, so that
# "has a system message" cannot become a source fingerprint.
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a helpful, concise assistant. Answer clearly.",
    "You are an AI assistant. Be accurate and brief.",
    "You are ChatBot, a friendly assistant for our customers.",
    "Answer the user's request. If you are unsure, say so.",
    "You are a knowledgeable assistant. Use markdown when it helps readability.",
]
SYSTEM_PROMPT_SHARE = 0.25
# MT-Bench turn 2 needs the first answer, which the data set does not include.
MTBENCH_PREV_ANSWER = "(previous answer omitted)"


def stable_unit(key: str) -> float:
    """Deterministic pseudo-random number in [0, 1) from a string."""
    return int(hashlib.sha256(f"{SEED}:{key}".encode()).hexdigest()[:12], 16) / float(1 << 48)


def split_for(source: str, subject: str) -> str:
    if source in WHOLE_SOURCE_SPLIT:
        return WHOLE_SOURCE_SPLIT[source]
    if source == "mmlu":
        return "test" if subject in MMLU_TEST_SUBJECTS else "val" if subject in MMLU_VAL_SUBJECTS else "train"
    if source == "mtbench":
        return "test" if subject in MTBENCH_TEST else "val" if subject in MTBENCH_VAL else "train"
    if source == "math500":
        return "test" if subject in MATH500_TEST else "val" if subject in MATH500_VAL else "train"
    if source in LADDER_TEST:
        return "test"
    if source in LADDER_VAL:
        return "val"
    if source == "arena_hard_v2.0":
        return "test" if subject in ARENA_V2_TEST else "train"
    if source == "arena_hard_v0.1":
        u = stable_unit("arena-v0.1-cluster:" + subject) * 100
        return "test" if u < ARENA_V01_TEST_PCT else "val" if u < ARENA_V01_TEST_PCT + ARENA_V01_VAL_PCT else "train"
    if source == "synthetic":
        return "test" if subject in SYNTH_TEST else "val" if subject in SYNTH_VAL else "train"
    return "train"


def read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def row(id_, source, subject, label, kind, messages, weak=None, strong=None):
    return {"id": id_, "source": source, "subject": subject, "label": int(label), "label_kind": kind,
            "weak_quality": weak, "strong_quality": strong, "messages": messages}


def load_routellm() -> list[dict]:
    out = []
    counters = collections.Counter()
    with gzip.open(RAW / "TRAIN_routellm_mmlu_gsm8k_labels.csv.gz", "rt", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["contaminated_in_routellm_train"] == "True":
                continue  # 17 rows RouteLLM itself trained on; dropped to keep the labels clean
            src, subj = r["source"], r["subject"]
            weak = 1.0 if r["mixtral_8x7b_correct"] == "True" else 0.0
            strong = 1.0 if r["gpt4_1106_correct"] == "True" else 0.0
            label = int(r["needs_frontier"])
            assert label == int(weak == 0.0 and strong == 1.0)
            key = (src, subj)
            out.append(row(f"{src}/{subj}/{counters[key]}", src, subj, label, "measured",
                           user(r["prompt"]), weak, strong))
            counters[key] += 1
    return out


def load_mtbench() -> list[dict]:
    out = []
    with open(RAW / "routellm_mtbench_gpt4judge_scores.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            g, m = float(r["gpt4_1106_score"]), float(r["mixtral_8x7b_score"])
            if r["turn"] == "1":
                msgs = user(r["turn1"])
            else:
                msgs = [{"role": "user", "content": r["turn1"]},
                        {"role": "assistant", "content": MTBENCH_PREV_ANSWER},
                        {"role": "user", "content": r["turn2"]}]
            out.append(row(f"mtbench/{r['question_id']}/turn{r['turn']}", "mtbench", r["category"],
                           int(g - m >= MTBENCH_GAP), "measured", msgs, m / 10.0, g / 10.0))
    return out


def load_arena() -> list[dict]:
    out = []
    for r in read_jsonl_gz(RAW / "arenahard_v0.1_questions.jsonl.gz"):
        out.append(row(f"arena_hard_v0.1/{r['uid']}", "arena_hard_v0.1", r["cluster"],
                       PROXY_LABEL_BY_SOURCE["arena_hard_v0.1"], "proxy", user(r["prompt"])))
    for r in read_jsonl_gz(RAW / "arenahard_v2.0_questions.jsonl.gz"):
        out.append(row(f"arena_hard_v2.0/{r['uid']}", "arena_hard_v2.0", r["subcategory"],
                       PROXY_LABEL_BY_SOURCE["arena_hard_v2.0"], "proxy", user(r["prompt"])))
    return out


def load_math500() -> list[dict]:
    out = []
    for r in read_jsonl_gz(RAW / "math500_levels.jsonl.gz"):
        level = int(r["level"])
        if level == 3:
            continue  # ambiguous middle level: left out rather than guessed
        out.append(row(f"math500/{r['idx']}", "math500", r["subject"], int(level >= 4), "proxy",
                       user(r["problem"])))
    return out


def load_gpqa() -> list[dict]:
    out = []
    for r in read_jsonl_gz(RAW / "gpqa_diamond.jsonl.gz"):
        options = [r["correct"], *r["incorrect"]]
        random.Random(f"{SEED}:gpqa:{r['idx']}").shuffle(options)
        # Same layout as the MMLU prompts, so the format itself does not give the label away.
        text = r["question"].strip() + "\n" + "\n".join(
            f"{letter}. {opt.strip()}" for letter, opt in zip("ABCD", options)) + "\nAnswer:"
        out.append(row(f"gpqa_diamond/{r['idx']}", "gpqa_diamond", "gpqa_diamond",
                       PROXY_LABEL_BY_SOURCE["gpqa_diamond"], "proxy", user(text)))
    return out


def load_ladder() -> list[dict]:
    out = []
    for r in read_jsonl_gz(RAW / "math_ladder.jsonl.gz"):
        src = r["set"]
        # Ladder sources are split as whole sources; the sub-type is kept as subject for reporting.
        out.append(row(f"{src}/{r['id']}", src, r["sub"], PROXY_LABEL_BY_SOURCE[src], "proxy",
                       user(r["question"])))
    return out


def load_humaneval() -> list[dict]:
    out = []
    for r in read_jsonl_gz(RAW / "humaneval_prompts.jsonl.gz"):
        text = "Complete the following Python function.\n\n```python\n" + r["prompt"].rstrip() + "\n```"
        out.append(row(r["task_id"].lower(), "humaneval", "humaneval",
                       PROXY_LABEL_BY_SOURCE["humaneval"], "proxy", user(text)))
    return out


def load_synthetic() -> list[dict]:
    out = []
    with open(HERE / "synthetic_everyday.jsonl", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.append(row(r["id"], "synthetic", r["category"], r["label"], "synthetic",
                               user(r["prompt"])))
    return out


def text_key(messages: list[dict]) -> str:
    return " ".join(" ".join(str(m["content"]).split()).lower() for m in messages if m["role"] == "user")


def build() -> list[dict]:
    rows = (load_routellm() + load_mtbench() + load_arena() + load_math500() + load_gpqa()
            + load_ladder() + load_humaneval() + load_synthetic())
    for r in rows:
        r["split"] = split_for(r["source"], r["subject"])
    # De-duplicate identical prompts (same user text). When copies fall into different splits,
    # the most held-out copy wins (test > val > train), so no test prompt is trained on.
    rank = {"test": 0, "val": 1, "train": 2}
    best: dict[str, dict] = {}
    for r in rows:
        k = text_key(r["messages"])
        if k not in best or rank[r["split"]] < rank[best[k]["split"]]:
            best[k] = r
    keep_ids = {id(r) for r in best.values()}
    rows = [r for r in rows if id(r) in keep_ids]
    assert len({r["id"] for r in rows}) == len(rows), "duplicate ids"

    out = []
    for r in rows:
        msgs = r.pop("messages")
        u = stable_unit("system:" + r["id"])
        if u < SYSTEM_PROMPT_SHARE:
            sp = SYSTEM_PROMPTS[int(stable_unit("system-pick:" + r["id"]) * len(SYSTEM_PROMPTS))]
            msgs = [{"role": "system", "content": sp}] + msgs
        r["request"] = {"model": "auto", "messages": msgs}
        out.append({k: r[k] for k in ["id", "source", "subject", "split", "label", "label_kind",
                                      "weak_quality", "strong_quality", "request"]})
    return out


def summarize(rows: list[dict]) -> str:
    by = collections.defaultdict(lambda: collections.Counter())
    for r in rows:
        c = by[(r["source"], r["split"])]
        c["n"] += 1
        c["pos"] += r["label"]
        c["q"] += r["weak_quality"] is not None and r["strong_quality"] is not None
    lines = [f"{'source':18s} {'split':5s} {'rows':>6s} {'label=1':>8s} {'with q':>7s}"]
    for (src, split), c in sorted(by.items()):
        lines.append(f"{src:18s} {split:5s} {c['n']:6d} {c['pos']:8d} {c['q']:7d}")
    tot = collections.Counter()
    for r in rows:
        tot[r["split"]] += 1
        tot[r["split"] + "_pos"] += r["label"]
    for s in ["train", "val", "test"]:
        lines.append(f"{'TOTAL':18s} {s:5s} {tot[s]:6d} {tot[s + '_pos']:8d}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(HERE / "dataset.jsonl"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    rows = build()
    with open(args.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    if not args.quiet:
        print(summarize(rows))
    print(f"wrote {len(rows)} rows to {args.out}")


if __name__ == "__main__":
    main()
