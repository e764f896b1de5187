#!/usr/bin/env bash
# cargo fuzz targets in fuzz/ (its own workspace, not built by `cargo` in the repo root):
#   request_policy  request body bytes -> inspect step (checked against the JSON-tree reader) -> features -> Router::decide -> splice;
#                   the same bytes through the Responses reader (checked against its tree oracle) and splice
#   sse_usage       SSE stream bytes in arbitrary chunkings -> SseScanner (+ usage_from_json, pricing)
#   anthropic_events  Anthropic event-stream bytes in arbitrary chunkings -> SseScanner::anthropic
#                   (+ the Messages usage and request readers, pricing)
#   responses_events  OpenAI Responses event-stream bytes in arbitrary chunkings -> SseScanner::responses
#                   (+ the Responses usage and request readers, pricing; request_policy also
#                   checks the Responses request reader against its tree-based oracle)
#   config          plugin configuration bytes -> Config::from_json / Router::from_json -> decide, price
#
#   bash scripts/fuzz.sh                      bounded: 60 s per target (the last step of scripts/test.sh)
#   bash scripts/fuzz.sh --long [SECONDS]     long run: SECONDS per target (default 600)
#   bash scripts/fuzz.sh --time SECONDS [TARGET ...]
#
# cargo-fuzz is installed from crates.io when missing. It passes nightly-only flags to rustc
# (-Zsanitizer=address, sanitizer coverage); with a stable toolchain RUSTC_BOOTSTRAP=1 allows them.
# Inputs: the committed seeds fuzz/seeds/<target>/ (read only) and the working corpus
# fuzz/corpus/<target>/ (gitignored, grows across runs), dictionary fuzz/json.dict.
# A crash or failed invariant stops the target, leaves the input in fuzz/artifacts/<target>/ and
# makes this script exit non-zero. Logs and a summary (executions per target) go to tmp/fuzz/
# (or $FUZZ_LOGDIR).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECONDS_PER_TARGET=60
if [ "${1:-}" = "--long" ]; then
  SECONDS_PER_TARGET="${2:-600}"
  shift $(( $# >= 2 ? 2 : 1 ))
elif [ "${1:-}" = "--time" ]; then
  SECONDS_PER_TARGET="${2:?--time needs seconds}"
  shift 2
fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(request_policy sse_usage config anthropic_events responses_events shadow_text)

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

LOGDIR="${FUZZ_LOGDIR:-tmp/fuzz}"
mkdir -p "$LOGDIR"
SUMMARY="$LOGDIR/summary.txt"
echo "[fuzz] cargo fuzz build ($(cargo fuzz --version), $(rustc --version))"
if ! cargo fuzz build --fuzz-dir fuzz >"$LOGDIR/build.log" 2>&1; then
  tail -40 "$LOGDIR/build.log" >&2
  echo "[fuzz] build failed (full log: $LOGDIR/build.log)" >&2
  exit 1
fi

status=0
: > "$SUMMARY"
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="$LOGDIR/$t.log"
  echo "[fuzz] $t: ${SECONDS_PER_TARGET}s (log $log)"
  set +e
  cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -dict=fuzz/json.dict -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  line="$t: exit=$rc seconds=$SECONDS_PER_TARGET executions=${execs:-?} coverage=${cov:-?} corpus=$corpus"
  echo "[fuzz] $line"
  echo "$line" >> "$SUMMARY"
  if [ "$rc" != 0 ]; then
    status=1
    echo "[fuzz] $t FAILED; the end of its log:" >&2
    grep -v '^#' "$log" | tail -40 >&2
    ls -1 "fuzz/artifacts/$t" 2>/dev/null | sed 's/^/[fuzz]   artifact: /' >&2 || true
  fi
done
# A plain closing line for CI log readers.
failed=$(grep -c 'exit=[1-9]' "$SUMMARY" || true)
echo "fuzz: $(( ${#TARGETS[@]} - failed )) passed, $failed failed"
exit "$status"
