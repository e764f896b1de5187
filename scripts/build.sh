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
