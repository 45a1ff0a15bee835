#!/usr/bin/env bash
# Benchmarks. Each prints its own baseline from the same run, so the ratios hold on a noisy,
# shared machine. SEKIA_BENCH_MESSAGES / SEKIA_BENCH_ROUNDS shorten them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export PATH="$PATH:/usr/sbin"
scripts/setup.sh
echo "bench: bus throughput (LocalBus; NatsBus against raw async-nats on one nats-server)"
cargo bench -q -p sekia-bus --bench throughput
