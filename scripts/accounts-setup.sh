#!/usr/bin/env bash
# What sekia-accounts' tests need, and a way to run commands with a real OS keychain.
#
#   scripts/accounts-setup.sh                      install: dbus + gnome-keyring (apt, only if
#                                                  missing) and oauth2-mock-server (npm ci in
#                                                  crates/sekia-accounts/tests/oauth-server)
#   scripts/accounts-setup.sh with-keyring CMD...  run CMD inside a private D-Bus session with
#                                                  an unlocked gnome-keyring (Secret Service),
#                                                  keyring files in a temporary folder, and
#                                                  SEKIA_KEYRING_SESSION=1 set for the tests
#
# e.g. scripts/accounts-setup.sh && scripts/accounts-setup.sh with-keyring cargo test -p sekia-accounts
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

install() {
  source "$root/scripts/apt.sh"
  apt_install accounts-setup dbus gnome-keyring
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "accounts-setup: node and npm are missing; install Node.js 20+ and run again" >&2
    exit 1
  fi
  echo "accounts-setup: npm ci in crates/sekia-accounts/tests/oauth-server"
  (cd "$root/crates/sekia-accounts/tests/oauth-server" && npm ci --no-audit --no-fund --loglevel=error)
}

with_keyring() {
  if [ $# -eq 0 ]; then
    echo "usage: $0 with-keyring COMMAND [ARGS...]" >&2
    exit 2
  fi
  for tool in dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" >/dev/null 2>&1 || {
      echo "accounts-setup: $tool is missing; run $0 first" >&2
      exit 1
    }
  done
  local tmp
  tmp="$(mktemp -d)"
  mkdir -m 700 "$tmp/runtime" "$tmp/data"
  # The keyring lives in the temp folder, not in the user's home, and goes with it.
  local status=0
  XDG_RUNTIME_DIR="$tmp/runtime" XDG_DATA_HOME="$tmp/data" \
    SEKIA_KEYRING_PASSWORD="$(head -c 18 /dev/urandom | base64)" \
    dbus-run-session -- bash -c '
      set -euo pipefail
      printf %s "$SEKIA_KEYRING_PASSWORD" |
        gnome-keyring-daemon --unlock --components=secrets >/dev/null
      unset SEKIA_KEYRING_PASSWORD
      export SEKIA_KEYRING_SESSION=1
      exec "$@"' bash "$@" || status=$?
  rm -rf "$tmp"
  return "$status"
}

case "${1:-install}" in
  install) install ;;
  with-keyring) shift; with_keyring "$@" ;;
  *) echo "usage: $0 [install | with-keyring COMMAND...]" >&2; exit 2 ;;
esac
