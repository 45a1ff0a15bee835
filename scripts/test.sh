#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (real nats-server, real files).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export PATH="$PATH:/usr/sbin"

scripts/setup.sh
echo "test: cargo fmt --check"
cargo fmt --all --check
echo "test: cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "test: cargo test"
cargo test --workspace
echo "test: the UI (svelte-check, Vitest, build, Chromium end to end against sekiad)"
scripts/ui-test.sh
echo "test: desktop shell (src-tauri: mock runtime + WebDriver under Xvfb)"
scripts/desktop-test.sh
