#!/usr/bin/env bash
# THE test command (also what CI runs via .ci/run):
#   setup -> cargo fmt --check -> cargo test -> clippy -> wasm build -> envoy config validation -> integration tests
#   -> playground build + browser test -> bounded fuzzing
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "setup"
bash scripts/setup.sh
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

step "cargo fmt --all --check (rustfmt.toml)"
cargo fmt --all --check

step "cargo test --workspace"
cargo test --workspace

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "build the wasm filter"
bash scripts/build.sh

step "envoy --mode validate (every Envoy config under envoy-config/)"
shopt -s nullglob
configs=()
for cfg in envoy-config/*.yaml envoy-config/*.yml; do
  # envoy-config/prometheus*.yml belong to Prometheus: promtool checks them below.
  case "$(basename "$cfg")" in prometheus*) continue ;; esac
  configs+=("$cfg")
done
[ ${#configs[@]} -gt 0 ] || { echo "no Envoy configs under envoy-config/" >&2; exit 1; }
for cfg in "${configs[@]}"; do
  # Validation instantiates the wasm module, so it runs after the build, from the repo root.
  if out=$(.venv/bin/envoy --mode validate -c "$cfg" --disable-hot-restart -l warn 2>&1); then
    echo "ok: $cfg"
  else
    printf '%s\nFAILED: envoy --mode validate -c %s\n' "$out" "$cfg" >&2
    exit 1
  fi
done

step "promtool check (envoy-config/prometheus.yml and its recording rules)"
promtool check config envoy-config/prometheus.yml
promtool check rules envoy-config/prometheus-rules.yml

step "integration tests (pytest tests/integration)"
# pytest exits 5 when it collected no tests, which fails this script too.
.venv/bin/pytest tests/integration -q -p no:cacheprovider

step "browser playground: build (wasm32-unknown-unknown + wasm-bindgen), then headless Chromium (pytest tests/browser)"
# The first build on a machine also installs wasm-bindgen-cli from crates.io (cached in
# ~/.cache/llm-router, a few minutes on 2 cores); the page is checked against the debug CLI.
bash scripts/playground.sh --build-only
.venv/bin/pytest tests/browser -q -p no:cacheprovider

step "cargo fuzz, bounded (60 s per target: request_policy, sse_usage, config, anthropic_events, responses_events)"
# Installs cargo-fuzz from crates.io if missing; builds fuzz/ with RUSTC_BOOTSTRAP=1 (stable
# toolchain). The long run: bash scripts/fuzz.sh --long 600 (README, "Fuzzing").
bash scripts/fuzz.sh
