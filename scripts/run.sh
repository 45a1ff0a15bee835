#!/usr/bin/env bash
# Runs sekia: for now the headless daemon in the foreground, on the in-process bus.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/setup.sh
echo "run: building sekiad and sekiactl (release)"
cargo build --release --quiet -p sekia-cli
echo "run: starting sekiad (Ctrl+C stops it); in another shell: $CARGO_TARGET_DIR/release/sekiactl status"
exec "$CARGO_TARGET_DIR/release/sekiad" "$@"
