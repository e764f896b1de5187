#!/usr/bin/env bash
# Creates the training venv at <repo>/.venv-train with the pinned requirements.
# Usage: bash scripts/train/setup.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.venv-train"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
# keep the venv out of git (like newer `python -m venv` does)
echo "*" > "$venv/.gitignore"
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
"$venv/bin/python" -c "import numpy, sklearn, onnx, onnxruntime, matplotlib, tqdm; print('training venv ready:', '$venv')"
