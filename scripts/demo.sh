#!/usr/bin/env bash
# End-to-end demo: setup, build the filter if needed, start 4 fake upstreams and
# Envoy in the background (own process group, stopped on exit), send a mix of
# requests and print where each went and what it cost vs. always using the
# baseline model.
#
# Uses random free ports so it does not clash with scripts/serve.sh.
# Logs and the JSON access log: tmp/demo/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WORK=tmp/demo
mkdir -p "$WORK"
rm -f "$WORK/ready" "$WORK/access.log"

bash scripts/setup.sh
if [ -n "${LLM_ROUTER_WASM:-}" ]; then
  echo "[build] using prebuilt LLM_ROUTER_WASM=$LLM_ROUTER_WASM"
else
  bash scripts/build.sh --if-stale
fi

echo "[demo] starting fake upstreams + Envoy (V8 compiles the filter first; this can take ~10-20 s)"
set -m   # the background job gets its own process group (pgid = its pid)
.venv/bin/python scripts/stack.py serve --free-ports --workdir "$WORK" \
  --access-log "$WORK/access.log" --ready-file "$WORK/ready" > "$WORK/stack.out" 2>&1 &
STACK_PID=$!
set +m

cleanup() {
  trap - EXIT INT TERM
  if kill -0 "$STACK_PID" 2>/dev/null; then
    kill -TERM -- "-$STACK_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$STACK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$STACK_PID" 2>/dev/null || true
  fi
  wait "$STACK_PID" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 600); do
  [ -f "$WORK/ready" ] && break
  if ! kill -0 "$STACK_PID" 2>/dev/null; then
    echo "[demo] the stack failed to start:" >&2
    cat "$WORK/stack.out" >&2
    exit 1
  fi
  sleep 0.25
done
[ -f "$WORK/ready" ] || { echo "[demo] Envoy not ready after 150 s; see $WORK/envoy.log" >&2; exit 1; }

.venv/bin/python scripts/demo_traffic.py --ready-file "$WORK/ready"
echo "[demo] JSON access log: $WORK/access.log   Envoy log: $WORK/envoy.log"
