#!/usr/bin/env bash
# `make run` on a machine without a display, as the README promises it: it starts sekiad (not
# the tray app, which would fail there), prints the dashboard's address on 127.0.0.1, the
# dashboard serves the UI there, sekiactl talks to the daemon, and Ctrl+C/SIGTERM stops it
# cleanly (socket removed). In a temporary HOME and XDG_RUNTIME_DIR, on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/apt.sh
apt_install run-test curl

sandbox="$(mktemp -d -t sekia-run.XXXXXX)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  rm -rf "$sandbox"
}
trap cleanup EXIT
mkdir -p "$sandbox/home" "$sandbox/run"
chmod 700 "$sandbox/run"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# The toolchain and the build stay where they are (env.sh fixed CARGO_TARGET_DIR already); only
# sekia's config, data and socket move into the sandbox.
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export npm_config_cache="${npm_config_cache:-$HOME/.npm}"
export HOME="$sandbox/home" XDG_RUNTIME_DIR="$sandbox/run"
fail() {
  echo "run-test: $*" >&2
  tail -20 "$sandbox/out" >&2
  exit 1
}

env -u DISPLAY -u WAYLAND_DISPLAY SEKIA_WEB_LISTEN="127.0.0.1:$port" scripts/run.sh >"$sandbox/out" 2>&1 &
pid=$!
url="http://127.0.0.1:$port/"
# The first run builds sekiad in release: give it time.
for _ in $(seq 1200); do
  kill -0 "$pid" 2>/dev/null || fail "make run exited"
  if grep -qF "dashboard on $url" "$sandbox/out" && curl -fsS "$url" 2>/dev/null | grep -q 'id="app"'; then
    break
  fi
  sleep 1
done
grep -qF "dashboard on $url" "$sandbox/out" || fail "no dashboard address printed"
curl -fsS "$url" | grep -q 'id="app"' || fail "the dashboard does not serve the UI at $url"
echo "run-test: no display → sekiad with the dashboard at $url"

"$CARGO_TARGET_DIR/release/sekiactl" status --json | grep -q '"status": *"ok"' ||
  fail "sekiactl status does not answer"
echo "run-test: sekiactl answers"

kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=""
[ "$code" -eq 0 ] || fail "sekiad exited $code on SIGTERM"
[ ! -e "$XDG_RUNTIME_DIR/sekia/sekiad.sock" ] || fail "the socket is left behind"
echo "run-test: SIGTERM stops it cleanly; ok"
