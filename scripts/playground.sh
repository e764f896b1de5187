#!/usr/bin/env bash
# Build the browser playground (web/) and serve it on 127.0.0.1:
#
#   bash scripts/playground.sh              build, then serve until Ctrl-C (prints the URL)
#   bash scripts/playground.sh --port 9000  another port (default 8088)
#   bash scripts/playground.sh --build-only build dist/playground/ and exit (scripts/test.sh)
#
# The build: the core through wasm-bindgen for wasm32-unknown-unknown (cargo, release), then the
# JS bindings by wasm-bindgen-cli of exactly the version of the `wasm-bindgen` crate in
# Cargo.lock (the two must agree). The CLI is installed once from crates.io with `cargo install
# --locked` (a few minutes on 2 cores) into ~/.cache/llm-router/wasm-bindgen-cli-<version>, so
# later builds and fresh clones on the same machine reuse it. The page is then static files:
# dist/playground/ works from any static server, and offline once loaded.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[playground] %s\n' "$*"; }
die() { printf '[playground] ERROR: %s\n' "$*" >&2; exit 1; }

build_only=0
port=8088
while [ $# -gt 0 ]; do
  case "$1" in
    --build-only) build_only=1 ;;
    --port) port="${2:?--port needs a number}"; shift ;;
    *) die "unknown argument $1 (see the header of $0)" ;;
  esac
  shift
done

if ! command -v cargo >/dev/null 2>&1 && [ -f "$HOME/.cargo/env" ]; then
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: run scripts/setup.sh"

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || die "could not add the wasm32-unknown-unknown target"
fi

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
[ -n "$version" ] || die "no wasm-bindgen in Cargo.lock"
tools="${LLM_ROUTER_TOOLS:-$HOME/.cache/llm-router}/wasm-bindgen-cli-$version"
bindgen="$tools/bin/wasm-bindgen"
if [ "$("$bindgen" --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  say "cargo install wasm-bindgen-cli $version (once per machine) into $tools"
  start=$SECONDS
  cargo install -q wasm-bindgen-cli --version "$version" --locked --root "$tools" \
    || die "cargo install wasm-bindgen-cli --version $version failed"
  say "installed in $((SECONDS - start)) s"
fi

say "cargo build --release --target wasm32-unknown-unknown -p llm-router-playground"
cargo build -q --release --target wasm32-unknown-unknown -p llm-router-playground
wasm=target/wasm32-unknown-unknown/release/llm_router_playground.wasm
[ -f "$wasm" ] || die "cargo succeeded but $wasm is missing"

out=dist/playground
rm -rf "$out"
mkdir -p "$out"
"$bindgen" --target web --no-typescript --out-dir "$out/pkg" "$wasm"
cp web/www/index.html web/www/app.js web/www/chart.js web/www/style.css "$out/"
say "$out/pkg/llm_router_playground_bg.wasm: $(stat -c %s "$out/pkg/llm_router_playground_bg.wasm") bytes"

[ "$build_only" = 1 ] && exit 0

PYTHON=python3
[ -x .venv/bin/python ] && PYTHON=.venv/bin/python
say "serving $out on http://127.0.0.1:$port/ (Ctrl-C stops)"
exec "$PYTHON" -m http.server "$port" --bind 127.0.0.1 --directory "$out"
