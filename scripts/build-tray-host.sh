#!/usr/bin/env bash
# The tray host for the Linux packages: `cargo build --profile dist -p sekia-tray`, copied to
# src-tauri/bundle-bin/sekia-tray, where tauri.linux-release.conf.json puts it into the .deb and
# .rpm as /usr/bin/sekia-tray. The Tauri CLI runs this as the release's beforeBundleCommand.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
cargo build --profile dist -p sekia-tray --locked --quiet
mkdir -p src-tauri/bundle-bin
cp "$target_dir/dist/sekia-tray" src-tauri/bundle-bin/sekia-tray
