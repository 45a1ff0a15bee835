#!/usr/bin/env bash
# Desktop figures for README, against a baseline measured in the same run: the minimal Tauri 2
# app in bench/minimal-tauri (one window with a static page, a tray icon), built the same way
# (release, custom protocol). For each app under Xvfb: launch to first mapped window; PSS of the
# app and its WebKit processes — for sekia also its tray host (sekia-tray, which holds the
# daemon and stays when the window's process ends) — with the window open and after closing it
# (WM_DELETE_WINDOW); CPU ticks (utime+stime of all of them) over 60 idle seconds with the
# window closed; and the .deb size. Needs scripts/deb-test.sh to have built sekia's release
# app (the window binary and the tray host, as the .deb ships them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/apt.sh
apt_install bench-desktop xdotool xvfb xauth dbus-daemon python3-xlib
IDLE="${IDLE_SECONDS:-60}"

cargo build --release --quiet --manifest-path bench/minimal-tauri/Cargo.toml
# The two binaries side by side, as /usr/bin holds them: the window finds the tray host there.
APP_DIR="$(mktemp -d -t sekia-bench-app.XXXXXX)"
trap 'rm -rf "$APP_DIR"' EXIT
cp "$CARGO_TARGET_DIR/release/sekia-desktop" src-tauri/bundle-bin/sekia-tray "$APP_DIR/" 2>/dev/null ||
  { echo "bench-desktop: build the release app first (scripts/deb-test.sh)" >&2; exit 1; }
SEKIA_APP="$APP_DIR/sekia-desktop"
OUT=test-output/desktop-bench.txt
mkdir -p test-output
export IDLE ROOT="$PWD"

measure() { # NAME BINARY WINDOW-TITLE [TRAY-HOST-BINARY-NAME]
  local sandbox
  sandbox="$(mktemp -d -t sekia-bench.XXXXXX)"
  mkdir -p "$sandbox/home" "$sandbox/run"
  chmod 700 "$sandbox/run"
  HOME="$sandbox/home" XDG_RUNTIME_DIR="$sandbox/run" NAME="$1" APP="$2" TITLE="$3" HOST="${4:-}" \
    xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- bash -c '
    tree() { local p=$1; echo $p; for c in $(cat /proc/$p/task/*/children 2>/dev/null); do tree $c; done; }
    # The app: the window process and what it started, and the tray host (once reparented).
    all() { tree $pid; [ -n "$HOST" ] && pgrep -x "$HOST" | grep -vxF "$(tree $pid)"; true; }
    pss() { local kb=0 p v; for p in $(all); do
        v=$(awk "/^Pss:/{print \$2}" /proc/$p/smaps_rollup 2>/dev/null || echo 0); kb=$((kb + ${v:-0})); done
      echo $((kb / 1024)); }
    ticks() { local t=0 p v; for p in $(all); do
        v=$(awk "{print \$14 + \$15}" /proc/$p/stat 2>/dev/null || echo 0); t=$((t + ${v:-0})); done
      echo $t; }
    t0=$(date +%s%N)
    "$APP" >/dev/null 2>&1 & pid=$!
    for i in $(seq 400); do xdotool search --onlyvisible --name "^$TITLE\$" >/dev/null 2>&1 && break; sleep 0.025; done
    first=$((($(date +%s%N) - t0) / 1000000))
    sleep 5
    open=$(pss)
    /usr/bin/python3 "$ROOT/src-tauri/e2e/close-window.py" "$TITLE"
    sleep 5
    closed=$(pss)
    # WebKit winds down after its last webview (its 60 Hz VBlankMonitor thread runs on for a
    # while, then exits), and sekia looks for updates once a minute after its start: idle is
    # measured once both are over, 80 s after the launch, for both apps alike.
    while [ $((($(date +%s%N) - t0) / 1000000000)) -lt 80 ]; do sleep 1; done
    a=$(ticks); sleep "$IDLE"; b=$(ticks)
    printf "%-14s first window %5d ms   PSS open %4d MiB   PSS closed %4d MiB   CPU ticks in %ss idle %d\n" \
      "$NAME" "$first" "$open" "$closed" "$IDLE" $((b - a))
    kill -TERM $pid 2>/dev/null; [ -n "$HOST" ] && pkill -TERM -x "$HOST"; wait $pid 2>/dev/null || true'
  rm -rf "$sandbox"
}

{
  echo "# $(date -u +%FT%TZ) $(nproc) cores"
  measure minimal-tauri "$CARGO_TARGET_DIR/release/minimal-tauri" minimal
  measure sekia "$SEKIA_APP" sekia sekia-tray
  # Where there is no GPU (here: Xvfb) sekia has WebKit paint in software instead of through
  # Mesa's CPU-emulated OpenGL (src-tauri/src/painting.rs); the minimal app made to do the same,
  # for a like-for-like figure.
  WEBKIT_DISABLE_COMPOSITING_MODE=1 measure minimal-sw "$CARGO_TARGET_DIR/release/minimal-tauri" minimal
  deb="$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb 2>/dev/null | head -1)"
  [ -n "$deb" ] && echo "sekia .deb: $(($(stat -c %s "$deb") / 1024)) KiB"
} | tee "$OUT"
