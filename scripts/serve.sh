#!/usr/bin/env bash
# Run the router locally in the foreground until Ctrl-C:
#   4 fake LLM upstreams on 127.0.0.1:18001-18004 (cheap, mid, frontier, default)
#   Envoy with the llm-router filter: listener :10000, admin 127.0.0.1:9901
# The JSON access log goes to this terminal, or to $LLM_ROUTER_ACCESS_LOG if set.
# Logs: tmp/serve/. Extra arguments go to scripts/stack.py serve (e.g. --free-ports).
#
#   curl -s localhost:10000/v1/chat/completions -H 'content-type: application/json' \
#        -d '{"model":"auto","messages":[{"role":"user","content":"hi"}]}' -i
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

[ -x .venv/bin/python ] || bash scripts/setup.sh
if [ -n "${LLM_ROUTER_WASM:-}" ]; then
  echo "[build] using prebuilt LLM_ROUTER_WASM=$LLM_ROUTER_WASM"
else
  bash scripts/build.sh --if-stale
fi
exec .venv/bin/python scripts/stack.py serve "$@"
