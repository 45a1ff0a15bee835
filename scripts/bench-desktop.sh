#!/usr/bin/env bash
# Desktop figures for README, against a baseline measured in the same run: the minimal Tauri 2
# app in bench/minimal-tauri (one window with a static page, a tray icon), built the same way
# (release, custom protocol). For each app under Xvfb: launch to first mapped window; PSS of the
# app and its WebKit processes with the window open and after closing it (WM_DELETE_WINDOW);
# CPU ticks (utime+stime of all of them) over 60 idle seconds with the window closed; and the
# .deb size. Needs scripts/deb-test.sh (or `npx tauri build`) to have built sekia's release app.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/apt.sh
apt_install bench-desktop xdotool xvfb xauth dbus-daemon python3-xlib
IDLE="${IDLE_SECONDS:-60}"

cargo build --release --quiet --manifest-path bench/minimal-tauri/Cargo.toml
SEKIA_APP="$CARGO_TARGET_DIR/release/sekia-desktop"
[ -x "$SEKIA_APP" ] || { echo "bench-desktop: build the release app first (scripts/deb-test.sh)" >&2; exit 1; }
OUT=test-output/desktop-bench.txt
mkdir -p test-output
export IDLE ROOT="$PWD"

measure() { # NAME BINARY WINDOW-TITLE
  local sandbox
  sandbox="$(mktemp -d -t sekia-bench.XXXXXX)"
  mkdir -p "$sandbox/home" "$sandbox/run"
  chmod 700 "$sandbox/run"
  HOME="$sandbox/home" XDG_RUNTIME_DIR="$sandbox/run" NAME="$1" APP="$2" TITLE="$3" \
    xvfb-run -a -s '-screen 0 1280x800x24' dbus-run-session -- bash -c '
    tree() { local p=$1; echo $p; for c in $(cat /proc/$p/task/*/children 2>/dev/null); do tree $c; done; }
    pss() { local kb=0 p v; for p in $(tree $1); do
        v=$(awk "/^Pss:/{print \$2}" /proc/$p/smaps_rollup 2>/dev/null || echo 0); kb=$((kb + ${v:-0})); done
      echo $((kb / 1024)); }
    ticks() { local t=0 p v; for p in $(tree $1); do
        v=$(awk "{print \$14 + \$15}" /proc/$p/stat 2>/dev/null || echo 0); t=$((t + ${v:-0})); done
      echo $t; }
    t0=$(date +%s%N)
    "$APP" >/dev/null 2>&1 & pid=$!
    for i in $(seq 400); do xdotool search --onlyvisible --name "^$TITLE\$" >/dev/null 2>&1 && break; sleep 0.025; done
    first=$((($(date +%s%N) - t0) / 1000000))
    sleep 5
    open=$(pss $pid)
    /usr/bin/python3 "$ROOT/src-tauri/e2e/close-window.py" "$TITLE"
    sleep 5
    closed=$(pss $pid)
    # WebKit winds down after its last webview (its 60 Hz VBlankMonitor thread runs on for a
    # while, then exits): idle is measured once that is over, for both apps alike.
    sleep 20
    a=$(ticks $pid); sleep "$IDLE"; b=$(ticks $pid)
    printf "%-14s first window %5d ms   PSS open %4d MiB   PSS closed %4d MiB   CPU ticks in %ss idle %d\n" \
      "$NAME" "$first" "$open" "$closed" "$IDLE" $((b - a))
    kill -TERM $pid; wait $pid 2>/dev/null || true'
  rm -rf "$sandbox"
}

{
  echo "# $(date -u +%FT%TZ) $(nproc) cores"
  measure minimal-tauri "$CARGO_TARGET_DIR/release/minimal-tauri" minimal
  measure sekia "$SEKIA_APP" sekia
  deb="$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb 2>/dev/null | head -1)"
  [ -n "$deb" ] && echo "sekia .deb: $(($(stat -c %s "$deb") / 1024)) KiB"
} | tee "$OUT"
