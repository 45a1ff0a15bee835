#!/usr/bin/env bash
# The desktop shell's tests (src-tauri/). Installs what they need, only what is missing (safe to
# run again), then:
#   1. cargo fmt --check and clippy (warnings are errors) on src-tauri/
#   2. the command layer and the updater under Tauri's mock runtime (cargo test --features
#      updater,mock-runtime; no display needed)
#   3. the end-to-end WebDriver smoke test of the real binary under Xvfb (tauri-driver +
#      WebKitWebDriver), screenshots in test-output/
#   4. the tray test of the real binary: its D-Bus menu clicked as a panel does, a second
#      launch, start at login, notifications (src-tauri/e2e/tray.py)
#   SEKIA_SKIP_E2E=1 skips 3 and 4.
# Everything runs in a temporary HOME and XDG_RUNTIME_DIR: no real sekia files are touched.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sekia-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PATH="$HOME/.cargo/bin:$PATH"
mkdir -p "$CARGO_TARGET_DIR"
MANIFEST=src-tauri/Cargo.toml

# --- system packages (Debian/Ubuntu) ---------------------------------------------------------
pkgs=(build-essential pkg-config file curl libwebkit2gtk-4.1-dev libayatana-appindicator3-dev
  librsvg2-dev xvfb xauth dbus-daemon webkit2gtk-driver python3-xlib python3-dbus python3-gi
  gir1.2-glib-2.0)
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
source scripts/apt.sh
apt_install desktop-test "${pkgs[@]}"

# --- tools ------------------------------------------------------------------------------------
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "desktop-test: installing tauri-driver 2 (cargo install, ~1 min)"
  cargo install tauri-driver --version '^2' --locked --quiet
fi
if [ ! -x src-tauri/node_modules/.bin/tauri ]; then
  echo "desktop-test: npm install in src-tauri (the Tauri CLI)"
  (cd src-tauri && npm install --no-audit --no-fund --loglevel=error)
fi

# The window's files are compiled into the binary: build the UI first if it is not built.
if [ ! -f ui/dist/index.html ] || [ ! -d ui/dist/assets ]; then
  echo "desktop-test: building the UI (ui/dist)"
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)
fi

if [ -n "${SEKIA_SETUP_ONLY:-}" ]; then
  exit 0
fi

# --- lint and unit tests ---------------------------------------------------------------------
echo "desktop-test: cargo fmt --check"
cargo fmt --manifest-path "$MANIFEST" --check
echo "desktop-test: cargo clippy (warnings are errors; development and release feature sets)"
# `mock-runtime` (Tauri's mock runtime) builds tests/; the release set is compiled by deb-test.
cargo clippy --manifest-path "$MANIFEST" --all-targets --features mock-runtime --quiet -- -D warnings
cargo clippy --manifest-path "$MANIFEST" --all-targets --features updater,mock-runtime --quiet -- -D warnings
# The Linux release's window-only binary (the daemon is in the tray host): no embedded daemon.
cargo clippy --manifest-path "$MANIFEST" --all-targets --no-default-features --features updater,mock-runtime --quiet -- -D warnings
# With the release builds' `updater` feature, so tests/updater.rs (the signed-update round trip
# against a local release feed) runs too.
echo "desktop-test: cargo test (mock runtime)"
cargo test --manifest-path "$MANIFEST" --features updater,mock-runtime

if [ -n "${SEKIA_SKIP_E2E:-}" ]; then
  echo "desktop-test: SEKIA_SKIP_E2E set; skipping the WebDriver test"
  exit 0
fi

# --- end to end: the real binary under Xvfb --------------------------------------------------
# A development build (no `updater` feature): it never tries to update itself.
echo "desktop-test: building sekia-desktop, the tray host (sekia-tray) and sekiactl"
# With the tests' features minus the updater, so tauri is built once for both.
cargo build --manifest-path "$MANIFEST" --features mock-runtime --quiet
cargo build -p sekia-cli -p sekia-tray --quiet
APP_BIN="$CARGO_TARGET_DIR/debug/sekia-desktop"
SEKIACTL="$CARGO_TARGET_DIR/debug/sekiactl"
SEKIAD="$CARGO_TARGET_DIR/debug/sekiad"
OUT_DIR="$ROOT/test-output"
mkdir -p "$OUT_DIR"

sandbox="$(mktemp -d -t sekia-desktop-e2e.XXXXXX)"
trap 'rm -rf "$sandbox"' EXIT
mkdir -p "$sandbox/home" "$sandbox/run"
chmod 700 "$sandbox/run"

echo "desktop-test: WebDriver smoke test under Xvfb (log: $OUT_DIR/desktop-driver.log)"
export APP_BIN SEKIACTL SEKIAD OUT_DIR
TAURI_DRIVER="$(command -v tauri-driver)"
# Free loopback ports for tauri-driver and the WebKitWebDriver behind it (others share this machine).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"; NATIVE_PORT="$(free_port)"
DRIVER="http://127.0.0.1:$PORT"
export TAURI_DRIVER PORT NATIVE_PORT DRIVER
HOME="$sandbox/home" XDG_RUNTIME_DIR="$sandbox/run" \
  timeout 300 xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- bash -c '
    "$TAURI_DRIVER" --port "$PORT" --native-port "$NATIVE_PORT" >"$OUT_DIR/desktop-driver.log" 2>&1 & D=$!
    for i in $(seq 100); do curl -sf -o /dev/null "$DRIVER/status" && break; sleep 0.2; done
    node src-tauri/e2e/smoke.mjs; rc=$?
    kill $D 2>/dev/null; wait $D 2>/dev/null
    exit $rc'

# Its own Xvfb and D-Bus session, and a fresh HOME: the tray test starts from a first launch.
tray_sandbox="$(mktemp -d -t sekia-desktop-tray.XXXXXX)"
trap 'rm -rf "$sandbox" "$tray_sandbox"' EXIT
mkdir -p "$tray_sandbox/home" "$tray_sandbox/run"
chmod 700 "$tray_sandbox/run"
echo "desktop-test: tray menu, second launch and start at login under Xvfb (app log: $OUT_DIR/desktop-tray-app.log)"
HOME="$tray_sandbox/home" XDG_RUNTIME_DIR="$tray_sandbox/run" \
  timeout 300 xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- \
  /usr/bin/python3 src-tauri/e2e/tray.py
