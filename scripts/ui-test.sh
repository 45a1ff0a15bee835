#!/usr/bin/env bash
# The UI's tests (ui/). Installs what they need, only what is missing (safe to run again), then:
#   1. npm ci, svelte-check (types; warnings are errors) and Vitest (UI logic, the backend module
#      against a fake transport)
#   2. the production build into ui/dist (the desktop window and the dashboard both serve it)
#   3. the end-to-end test in Debian's Chromium (playwright-core, no browser download) against a
#      real sekiad with the dashboard on, on a real nats-server; screenshots in test-output/ui.
#      SEKIA_SKIP_E2E=1 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export PATH="$PATH:/usr/sbin"

pkgs=(chromium nats-server)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
source scripts/apt.sh
apt_install ui-test "${pkgs[@]}"

echo "ui-test: npm ci"
(cd ui && npm ci --no-audit --no-fund --loglevel=error)
echo "ui-test: svelte-check"
(cd ui && npm run --silent check)
echo "ui-test: vitest"
(cd ui && npm test --silent)
echo "ui-test: build"
(cd ui && npm run --silent build)

if [ -n "${SEKIA_SKIP_E2E:-}" ]; then
  echo "ui-test: SEKIA_SKIP_E2E set; skipping the browser test"
  exit 0
fi
echo "ui-test: end to end in Chromium"
cargo build -p sekia-cli --quiet
(cd ui/e2e && npm ci --no-audit --no-fund --loglevel=error)
SEKIAD="$CARGO_TARGET_DIR/debug/sekiad" OUT_DIR="$PWD/test-output/ui" node ui/e2e/dashboard.mjs
