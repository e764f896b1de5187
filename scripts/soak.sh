#!/usr/bin/env bash
# Load and soak test (NOT part of scripts/test.sh): the real Envoy + wasm filter + stand-ins on
# loopback (scripts/stack.py serve --free-ports --concurrency 2), driven by wrk with
# scripts/soak.lua: routed, explicit, streaming and malformed requests in equal shares, every
# response checked against its kind, 2,000 customer ids (over the 1,000 cap).
#
#   bash scripts/soak.sh [TOTAL_REQUESTS] [CONNECTIONS]     defaults: 1000000 requests, 32 connections
#   LLM_ROUTER_WASM=/path/filter.wasm bash scripts/soak.sh   a prebuilt filter (no build)
#
# Bounded: wrk stops each of its 2 threads after TOTAL/2 responses, with a 90-minute cap.
# Records in tmp/soak/ (results.md, memory.tsv, wrk.out, stats-*.txt):
#   - per-kind outcome counts (must be 0 unexpected for well-formed requests), wrk socket errors
#   - Envoy's RSS and tcmalloc heap (admin /memory) every 15 s: start, middle, end
#   - throughput and latency, the filter's stats, Envoy's wasm VM stats (no reload)
# Installs wrk (Debian package) when missing. Exits non-zero if any response was unexpected.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TOTAL="${1:-1000000}"
CONNECTIONS="${2:-32}"
THREADS=2
OUT=tmp/soak
mkdir -p "$OUT"
rm -f "$OUT"/ready "$OUT"/memory.tsv "$OUT"/wrk.out "$OUT"/results.md

say() { printf '[soak] %s\n' "$*"; }

if ! command -v wrk >/dev/null 2>&1; then
  say "apt-get install wrk"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
bash scripts/setup.sh >/dev/null
if [ -n "${LLM_ROUTER_WASM:-}" ]; then
  say "using the prebuilt filter $LLM_ROUTER_WASM"
else
  bash scripts/build.sh --if-stale
fi
WASM_FILE="${LLM_ROUTER_WASM:-target/wasm32-wasip1/release/llm_router_filter.wasm}"

say "starting the stack (Envoy --concurrency 2, access log off)"
.venv/bin/python scripts/stack.py serve --free-ports --concurrency 2 --workdir "$OUT/stack" \
  --access-log /dev/null --ready-file "$OUT/ready" >"$OUT/stack.out" 2>&1 &
STACK=$!
SAMPLER=""
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  kill "$STACK" 2>/dev/null || true
  wait "$STACK" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 180); do
  [ -f "$OUT/ready" ] && break
  kill -0 "$STACK" 2>/dev/null || { cat "$OUT/stack.out" >&2; exit 1; }
  sleep 1
done
[ -f "$OUT/ready" ] || { say "stack not ready after 180 s"; cat "$OUT/stack.out" >&2; exit 1; }
LISTENER=$(.venv/bin/python -c "import json;print(json.load(open('$OUT/ready'))['listener'])")
ADMIN=$(.venv/bin/python -c "import json;print(json.load(open('$OUT/ready'))['admin'])")
ENVOY_PID=$(ps -o pid= --ppid "$STACK" -o comm= | awk '$2 == "envoy" {print $1}')
[ -n "$ENVOY_PID" ] || { say "cannot find the envoy process under $STACK"; exit 1; }
say "listener $LISTENER admin $ADMIN envoy pid $ENVOY_PID"

stat_sum() {  # sum of a Prometheus metric over all label sets
  curl -s "$ADMIN/stats/prometheus" | awk -v m="$1" '$1 ~ "^"m"(\\{|$)" {s += $NF} END {printf "%d", s}'
}
sample() {
  local rss heap alloc
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$ENVOY_PID/status")
  read -r alloc heap < <(curl -s "$ADMIN/memory" | .venv/bin/python -c 'import json,sys; m=json.load(sys.stdin); print(m.get("allocated",0), m.get("heap_size",0))')
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date +%s)" "$rss" "$alloc" "$heap" "$(stat_sum llm_router_requests_total)"
}
printf 'unix_time\tenvoy_rss_kib\ttcmalloc_allocated_bytes\ttcmalloc_heap_bytes\tllm_router_requests_total\n' > "$OUT/memory.tsv"
sample >> "$OUT/memory.tsv"
curl -s "$ADMIN/stats" > "$OUT/stats-before.txt"
( while sleep 15; do sample >> "$OUT/memory.tsv" 2>/dev/null || exit 0; done ) &
SAMPLER=$!

PER_THREAD=$(( (TOTAL + THREADS - 1) / THREADS ))
say "wrk: $TOTAL requests ($PER_THREAD per thread), $CONNECTIONS connections, $THREADS threads"
rm -f "$OUT"/done.*
START=$(date +%s)
wrk -t "$THREADS" -c "$CONNECTIONS" -d 90m --timeout 30s --latency -s scripts/soak.lua "$LISTENER" -- "$PER_THREAD" 2000 "$OUT" >"$OUT/wrk.out" 2>&1 &
WRK=$!
END=""
while kill -0 "$WRK" 2>/dev/null; do
  if [ -z "$END" ] && [ "$(find "$OUT" -maxdepth 1 -name 'done.*' | wc -l)" -ge "$THREADS" ]; then
    END=$(date +%s)
    kill -INT "$WRK" 2>/dev/null || true  # every thread is done; wrk prints its summary on SIGINT
  fi
  sleep 1
done
wait "$WRK" || true
[ -n "$END" ] || END=$(date +%s)
cat "$OUT/wrk.out"
sleep 2
sample >> "$OUT/memory.tsv"
kill "$SAMPLER" 2>/dev/null || true
SAMPLER=""
curl -s "$ADMIN/stats" > "$OUT/stats-after.txt"
curl -s "$ADMIN/stats/prometheus" | grep -E '^llm_router_(requests|errors|customer_overflow|usage_missing)_total' > "$OUT/stats-router.txt" || true
wasm_stats=$(grep -E '^wasm\.(llm_router\.vm_reload|envoy\.wasm\.runtime\.v8\.(created|active))' "$OUT/stats-after.txt" | tr '\n' ' ')

RESULT=$(grep '^SOAK_RESULT ' "$OUT/wrk.out" | sed 's/^SOAK_RESULT //')
[ -n "$RESULT" ] || { say "wrk printed no SOAK_RESULT"; exit 1; }
.venv/bin/python - "$RESULT" "$OUT" "$START" "$END" "$wasm_stats" "$WASM_FILE $(stat -c %s "$WASM_FILE") bytes, sha256 $(sha256sum "$WASM_FILE" | cut -c1-16)" <<'PY'
import json, sys
from pathlib import Path
r = json.loads(sys.argv[1]); out = Path(sys.argv[2]); start, end = int(sys.argv[3]), int(sys.argv[4])
rows = [line.split("\t") for line in (out / "memory.tsv").read_text().splitlines()[1:] if line.strip()]
mid = rows[len(rows) // 2]
def mib(kib): return f"{int(kib) / 1024:.1f} MiB"
def mb(b): return f"{int(b) / 1048576:.1f} MiB"
router = (out / "stats-router.txt").read_text()
def metric(name, label=""):
    return sum(float(l.rsplit(" ", 1)[1]) for l in router.splitlines() if l.startswith(name) and label in l)
well_formed = r["ok_routed"] + r["ok_explicit"] + r["ok_stream"]
lines = [
    f"- requests completed: {r['requests']:,} in {end - start} s = {r['requests'] / max(end - start, 1):,.0f} req/s",
    f"- outcomes: routed {r['ok_routed']:,}, explicit {r['ok_explicit']:,}, streaming {r['ok_stream']:,}, malformed (expected 400) {r['ok_malformed']:,}, **unexpected {r['bad']:,}**",
    f"- wrk socket errors: connect {r['errors_connect']}, read {r['errors_read']}, write {r['errors_write']}, timeout {r['errors_timeout']}; non-2xx {r['errors_status']:,} (= the malformed share)",
    f"- latency: p50 {r['latency_p50_us'] / 1000:.2f} ms, p99 {r['latency_p99_us'] / 1000:.2f} ms, max {r['latency_max_us'] / 1000:.1f} ms",
    f"- filter stats: llm_router_requests_total {metric('llm_router_requests_total'):,.0f} (well-formed responses {well_formed:,}), errors_total{{kind=\"invalid_json\"}} {metric('llm_router_errors_total', 'invalid_json'):,.0f}, customer_overflow_total {metric('llm_router_customer_overflow_total'):,.0f}",
    f"- Envoy RSS: start {mib(rows[0][1])}, middle {mib(mid[1])}, end {mib(rows[-1][1])} (tcmalloc heap {mb(rows[0][3])} / {mb(mid[3])} / {mb(rows[-1][3])}; allocated {mb(rows[0][2])} / {mb(mid[2])} / {mb(rows[-1][2])}); {len(rows)} samples in memory.tsv",
    f"- wasm: {sys.argv[5].strip()}",
    f"- filter: {sys.argv[6]}",
]
text = "\n".join(lines) + "\n"
(out / "results.md").write_text(text)
print(text)
PY
if [ -s "$OUT/wrk.out" ] && grep -q '^SOAK_BAD_SAMPLES' "$OUT/wrk.out"; then
  say "unexpected responses (samples in $OUT/wrk.out)"
fi
bad=$(.venv/bin/python -c "import json,sys; r=json.loads(sys.argv[1]); print(r['bad'] + r['errors_connect'] + r['errors_read'] + r['errors_write'] + r['errors_timeout'])" "$RESULT")
[ "$bad" = 0 ] || { say "FAILED: $bad unexpected responses or socket errors"; exit 1; }
say "ok (results in $OUT/results.md)"
