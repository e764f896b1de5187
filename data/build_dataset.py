#!/usr/bin/env python3
"""Builds data/dataset.jsonl for the complexity classifier from data/raw/ and
data/synthetic_everyday.jsonl. Deterministic: same inputs give a byte-identical output.

Row schema (one JSON object per line):
  id              stable id, e.g. "mmlu/anatomy/17"
  source          data source (the 9 MEASURED_SOURCES, and proxy sources: arena_hard_v2.0,
                  math500, gpqa_diamond, mawps, svamp, asdiv, olympiadbench, minerva_math,
                  amc23, aime24, humaneval; synthetic)
  family          the unit the leave-sources-out evaluation holds out (FAMILY_OF, else source)
  subject         group inside the source (MMLU subject, MT-Bench category, cluster, ...)
  label           needs_frontier in {0, 1} (measured: strong - weak >= GAP_LABEL; proxy: by source)
  label_kind      "measured", "proxy" (difficulty based) or "synthetic" (hand label)
  weak_quality    mean quality of the cheap-class models in [0, 1] where measured, else null
  strong_quality  mean quality of the frontier-class models in [0, 1] where measured, else null
  request         OpenAI chat-completions body {"model": "auto", "messages": [...]}

See data/README.md for the classes of models, the label rules and the families. Usage:
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

# MT-Bench: needs_frontier when GPT-4's judge score beats Mixtral's by at least this much (1-10 scale).
MTBENCH_GAP = 2.0
# Proxy labels by difficulty (no per-prompt correctness exists for these).
PROXY_LABEL_BY_SOURCE = {
    "mawps": 0, "svamp": 0, "asdiv": 0,
    "olympiadbench": 1, "amc23": 1, "aime24": 1, "minerva_math": 1,
    "gpqa_diamond": 1, "arena_hard_v0.1": 1, "arena_hard_v2.0": 1,
    "humaneval": 0,
}

# Sources with per-prompt quality for several models (data/raw/*.csv.gz, see data/README.md).
# Per prompt, weak_quality / strong_quality = the mean quality of the cheap-class / frontier-class
# models listed here that have a score for that prompt (judge labels are noisy: averaging several
# models per class beats trusting one pair). Qualities are in [0, 1].
ARENA_BENCH_WEAK = ["mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-3.5-turbo", "gpt-3.5-turbo-1106",
                    "claude-instant-1", "Starling-LM-7B-alpha", "openchat_3.5"]
ARENA_BENCH_STRONG = ["gpt-4-0314", "gpt-4-1106-preview"]
ARENAHARD_WEAK = ["gpt-3.5-turbo-0125", "llama3_1_8b", "mistral_nemo", "gemma-2-27b-it",
                  "mixtral-8x22b-instruct-v0.1", "gpt-4o-mini"]
ARENAHARD_STRONG = ["gpt-4o", "claude-3-5-sonnet-20240620", "claude-3-opus-20240229",
                    "gemini-1.5-pro-api-0514", "llama-3.1-405b-instruct", "mistral-large-2407"]
ZEROEVAL_WEAK = ["gemma-2-9b-it", "Meta-Llama-3.1-8B-Instruct", "gpt-3.5-turbo-0125",
                 "claude-3-haiku-20240307", "Qwen2-7B-Instruct", "Phi-3.5-mini-instruct",
                 "gemini-1.5-flash", "Yi-1.5-9B-Chat"]
ZEROEVAL_STRONG = ["gpt-4o-2024-08-06", "gpt-4o-2024-05-13", "claude-3-5-sonnet-20240620",
                   "claude-3-5-sonnet-20241022", "gemini-1.5-pro", "Llama-3.1-405B-Inst@sambanova",
                   "Mistral-Large-2", "claude-3-opus-20240229"]
ROUTERARENA_WEAK = ["claude-3-haiku-20240307"]
ROUTERARENA_STRONG = ["gemini-2.0-flash-001"]
LLMFAO_WEAK = ["LLaMA-2-Chat (7B)", "LLaMA-2-Chat (13B)", "Vicuna v1.3 (7B)", "Falcon Instruct (7B)",
               "Alpaca (7B)", "MPT-Chat (7B)", "Claude Instant v1", "GPT 3.5 Turbo"]
LLMFAO_STRONG = ["GPT 4", "Claude v2", "Claude v1"]
ZEROEVAL_SOURCE = {"code reasoning (CRUXEval output prediction)": "crux",
                   "math (MATH level 5)": "math_l5", "math word problem (GSM8K test)": "gsm8k"}
# needs_frontier for averaged qualities: the frontier class beats the cheap class by at least this
# much (on [0, 1]); for one pair of 0/1 correctness it is "weak wrong and strong right".
GAP_LABEL = 0.25
# Leave-out families: a proxy source that is another sample of a measured source's distribution is
# held out with it (MATH-500 with MATH level 5, Arena-Hard v2.0 with Arena-Hard v0.1).
FAMILY_OF = {"math500": "math_l5", "arena_hard_v2.0": "arenahard"}
MEASURED_SOURCES = ["mmlu", "gsm8k", "mtbench", "arena_bench", "arenahard", "crux", "math_l5",
                    "routerarena", "llmfao"]

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
            if src == "gsm8k":
                continue  # GSM8K comes from ZeroEval, with 8 cheap-class and 8 frontier-class models
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
    # v0.1 has measured qualities (load_arenahard_measured); only v2.0 is a proxy source.
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
        # The sub-type is kept as subject for reporting.
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


def read_csv_gz(name: str) -> list[dict]:
    with gzip.open(RAW / name, "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def class_means(records: list[dict], weak: list[str], strong: list[str], scale: float = 1.0):
    """Per prompt id: (prompt, category, mean weak quality, mean strong quality), over the models
    of each class with a parseable score (scores of one model under several judges are averaged
    first, so every model counts once)."""
    per: dict[str, dict] = {}
    for r in records:
        if r["score"] == "" or r["model"] not in weak + strong:
            continue
        p = per.setdefault(r["prompt_id"], {"prompt": r["prompt"], "category": r["category"], "m": {}})
        p["m"].setdefault(r["model"], []).append(float(r["score"]) / scale)
    out = {}
    for pid, p in per.items():
        m = {k: sum(v) / len(v) for k, v in p["m"].items()}
        w = [m[k] for k in weak if k in m]
        st = [m[k] for k in strong if k in m]
        if w and st:
            out[pid] = (p["prompt"], p["category"], sum(w) / len(w), sum(st) / len(st))
    return out


def measured_rows(source: str, means: dict, subject_of=lambda cat: cat) -> list[dict]:
    out = []
    for pid in sorted(means):
        prompt, cat, wq, sq = means[pid]
        out.append(row(f"{source}/{pid}", source, subject_of(cat), int(sq - wq >= GAP_LABEL - 1e-9),
                       "measured", user(prompt), round(wq, 6), round(sq, 6)))
    return out


def load_arena_bench() -> list[dict]:
    recs = read_csv_gz("arena_bench_v1_gpt4judge_scores.csv.gz")
    return measured_rows("arena_bench", class_means(recs, ARENA_BENCH_WEAK, ARENA_BENCH_STRONG, 10.0),
                         lambda cat: cat or "arena_bench")


def load_arenahard_measured() -> list[dict]:
    recs = read_csv_gz("arenahard_v0.1_pairwise_vs_gpt4_0314.csv.gz")
    return measured_rows("arenahard", class_means(recs, ARENAHARD_WEAK, ARENAHARD_STRONG))


def load_zeroeval() -> list[dict]:
    recs = read_csv_gz("zeroeval_crux_mathl5_gsm_correctness.csv.gz")
    out = []
    for cat, src in ZEROEVAL_SOURCE.items():
        sub = [r for r in recs if r["category"] == cat]
        out += measured_rows(src, class_means(sub, ZEROEVAL_WEAK, ZEROEVAL_STRONG), lambda c, s=src: s)
    return out


def load_routerarena() -> list[dict]:
    recs = read_csv_gz("routerarena_sub10_haiku3_vs_gemini2flash.csv.gz")
    return measured_rows("routerarena", class_means(recs, ROUTERARENA_WEAK, ROUTERARENA_STRONG))


def load_llmfao() -> list[dict]:
    recs = read_csv_gz("llmfao_everyday_prompts_pairwise_winrates.csv.gz")
    return measured_rows("llmfao", class_means(recs, LLMFAO_WEAK, LLMFAO_STRONG))


def text_key(messages: list[dict]) -> str:
    return " ".join(" ".join(str(m["content"]).split()).lower() for m in messages if m["role"] == "user")


def build() -> list[dict]:
    measured = (load_routellm() + load_mtbench() + load_arena_bench() + load_arenahard_measured()
                + load_zeroeval() + load_routerarena() + load_llmfao())
    assert {r["source"] for r in measured} == set(MEASURED_SOURCES), {r["source"] for r in measured}
    rows = measured + load_arena() + load_math500() + load_gpqa() + load_ladder() + load_humaneval() + load_synthetic()
    # De-duplicate identical prompts (same user text): measured copies win over proxy and synthetic
    # ones (they come first), so a prompt is never both evaluated and trained on under another name.
    seen: set[str] = set()
    kept = []
    for r in rows:
        k = text_key(r["messages"])
        if k not in seen:
            seen.add(k)
            kept.append(r)
    rows = kept
    assert len({r["id"] for r in rows}) == len(rows), "duplicate ids"

    out = []
    for r in rows:
        msgs = r.pop("messages")
        u = stable_unit("system:" + r["id"])
        if u < SYSTEM_PROMPT_SHARE:
            sp = SYSTEM_PROMPTS[int(stable_unit("system-pick:" + r["id"]) * len(SYSTEM_PROMPTS))]
            msgs = [{"role": "system", "content": sp}] + msgs
        r["family"] = FAMILY_OF.get(r["source"], r["source"])
        r["request"] = {"model": "auto", "messages": msgs}
        out.append({k: r[k] for k in ["id", "source", "family", "subject", "label", "label_kind",
                                      "weak_quality", "strong_quality", "request"]})
    return out


def summarize(rows: list[dict]) -> str:
    by = collections.defaultdict(lambda: collections.Counter())
    gap = collections.defaultdict(float)
    for r in rows:
        c = by[(r["source"], r["label_kind"], r["family"])]
        c["n"] += 1
        c["pos"] += r["label"]
        if r["weak_quality"] is not None:
            c["q"] += 1
            gap[r["source"]] += r["strong_quality"] - r["weak_quality"]
    lines = [f"{'source':16s} {'kind':9s} {'family':12s} {'rows':>6s} {'label=1':>8s} {'mean gap':>9s}"]
    for (src, kind, fam), c in sorted(by.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        g = f"{gap[src] / c['q']:9.3f}" if c["q"] else f"{'':9s}"
        lines.append(f"{src:16s} {kind:9s} {fam:12s} {c['n']:6d} {c['pos']:8d} {g}")
    lines.append(f"{'TOTAL':16s} {'':9s} {'':12s} {len(rows):6d} {sum(r['label'] for r in rows):8d}")
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
