#!/usr/bin/env bash
# scripts/bench/run.sh — build (normal -O2 build, not SANITIZE) and run the
# benchmarks; prints a Markdown table. Also `make bench`.
#
#   scripts/bench/run.sh [--only menu|far|slow|ceiling|floor|calls|llm-draft|llm-500] [--users N] [--runs N]
#
# The bot runs as a child process against the fake Bot API (tests/fake_tg)
# served inside bin/bench; see scripts/bench/bench.c for what each row does.
set -euo pipefail
cd "$(dirname "$0")/../.."
make --no-print-directory -j"$(nproc)" bin/rental bin/slowbench bin/bench bin/bench-floor >/dev/null
echo "machine: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(uname -sr)"
echo "command: scripts/bench/run.sh $*"
echo
exec bin/bench --bot bin/rental --slow-bot bin/slowbench --floor-bin bin/bench-floor "$@"
