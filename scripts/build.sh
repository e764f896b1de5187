#!/usr/bin/env bash
# Build the Envoy wasm filter:
#   target/wasm32-wasip1/release/llm_router_filter.wasm
# A release build takes several minutes on 2 cores.
#
#   scripts/build.sh              always run cargo (incremental)
#   scripts/build.sh --if-stale   only when the wasm is missing or older than
#                                 src/, filters/, models/, Cargo.toml or Cargo.lock
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WASM=target/wasm32-wasip1/release/llm_router_filter.wasm

if [ "${1:-}" = "--if-stale" ]; then
  shift
  if [ -f "$WASM" ] && [ -z "$(find src filters models Cargo.toml Cargo.lock -type f -newer "$WASM" 2>/dev/null | head -n 1)" ]; then
    printf '[build] %s is up to date (%s bytes)\n' "$WASM" "$(stat -c %s "$WASM")"
    exit 0
  fi
fi

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

printf '[build] cargo build --release --target wasm32-wasip1 -p llm-router-filter\n'
cargo build --release --target wasm32-wasip1 -p llm-router-filter "$@"

[ -f "$WASM" ] || { printf '[build] ERROR: cargo succeeded but %s is missing\n' "$WASM" >&2; exit 1; }
bytes=$(stat -c %s "$WASM")
printf '[build] %s: %s bytes (%s KiB)\n' "$WASM" "$bytes" "$(( (bytes + 1023) / 1024 ))"

# Optional: a size-optimised copy with binaryen's wasm-opt (the npm package; Debian's binaryen
# is too old for this Rust's output). It is smaller but, measured here, not faster to start:
# V8 compiles it with TurboFan either way. BENCHMARKS.md has the figures.
if [ "${LLM_ROUTER_WASM_OPT:-0}" = "1" ]; then
  WASM_OPT=.tools/binaryen/node_modules/.bin/wasm-opt
  if [ ! -x "$WASM_OPT" ]; then
    printf '[build] installing binaryen (npm) into .tools/binaryen\n'
    npm install --silent --prefix .tools/binaryen binaryen@132.0.0 >/dev/null
  fi
  mkdir -p dist
  "$WASM_OPT" -Oz --enable-bulk-memory --enable-simd --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-mutable-globals --enable-multivalue --enable-reference-types "$WASM" -o dist/llm_router_filter.opt.wasm
  printf '[build] dist/llm_router_filter.opt.wasm: %s bytes\n' "$(stat -c %s dist/llm_router_filter.opt.wasm)"
fi
