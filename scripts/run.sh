#!/usr/bin/env bash
# Runs sekia. With a display: the desktop tray app (the daemon and the tray in the tray host,
# sekia-tray; the UI in a window of its own, sekia-desktop). Without
# one (a server, SSH, CI): the headless daemon in the foreground with the dashboard on
# 127.0.0.1 (port 7777, or SEKIA_WEB_LISTEN), so the same UI is a browser away.
# SEKIA_HEADLESS=1 forces the headless daemon. Arguments go to sekiad.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh

build_ui() {
  if [ ! -f ui/dist/index.html ] || [ ! -d ui/dist/assets ]; then
    echo "run: building the UI (ui/dist)"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
  fi
}

if [ -z "${SEKIA_HEADLESS:-}" ] && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
  SEKIA_SKIP_E2E=1 SEKIA_SETUP_ONLY=1 scripts/desktop-test.sh >/dev/null
  build_ui
  echo "run: building the desktop app and its tray host (release)"
  cargo build --release --quiet --manifest-path src-tauri/Cargo.toml
  cargo build --release --quiet -p sekia-tray
  echo "run: starting sekia in the tray; sekiactl works against it"
  exec "$CARGO_TARGET_DIR/release/sekia-desktop"
fi

build_ui
echo "run: building sekiad and sekiactl (release)"
cargo build --release --quiet -p sekia-cli
export SEKIA_WEB_LISTEN="${SEKIA_WEB_LISTEN:-127.0.0.1:7777}"
export SEKIA_UI_DIR="${SEKIA_UI_DIR:-$PWD/ui/dist}"
echo "run: no display; starting sekiad with the dashboard on http://$SEKIA_WEB_LISTEN/ (Ctrl+C stops it)"
echo "run: in another shell: $CARGO_TARGET_DIR/release/sekiactl status"
exec "$CARGO_TARGET_DIR/release/sekiad" "$@"
