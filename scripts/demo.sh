#!/usr/bin/env bash
# The main job: set up, then rate the bundled sample photos; prints where the table and page are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/affectscope demo --out-dir "${1:-runs/demo}"
