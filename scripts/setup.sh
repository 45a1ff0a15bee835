#!/usr/bin/env bash
# Installs what building and testing sekia needs on Debian/Ubuntu, only what is missing.
# Safe to run again.
set -euo pipefail

source "$(dirname "$0")/apt.sh"
apt_install setup build-essential pkg-config nats-server openssl

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo is missing; install Rust from https://rustup.rs and run again" >&2
  exit 1
fi
