#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test (real nats-server, real files).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export PATH="$PATH:/usr/sbin"

scripts/setup.sh
echo "test: cargo fmt --check"
cargo fmt --all --check
echo "test: release workflows (actionlint)"
scripts/release-lint.sh
echo "test: cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
scripts/accounts-setup.sh
echo "test: cargo test"
cargo test --workspace --exclude sekia-accounts
echo "test: sekia-accounts (real oauth2-mock-server; a real Secret Service in a private D-Bus session)"
scripts/accounts-setup.sh with-keyring cargo test -p sekia-accounts
echo "test: the UI (svelte-check, Vitest, build, Chromium end to end against sekiad)"
scripts/ui-test.sh
echo "test: make run without a display (sekiad with the dashboard, its address printed)"
scripts/run-test.sh
# After the UI build: the desktop app embeds ui/dist, for Windows too.
echo "test: the Windows build (clippy for x86_64-pc-windows-gnu)"
scripts/windows-check.sh
echo "test: desktop shell (src-tauri: mock runtime + WebDriver under Xvfb)"
scripts/desktop-test.sh
echo "test: the .deb (build, contents, dpkg -i, launch, remove)"
scripts/deb-test.sh
