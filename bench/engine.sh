#!/usr/bin/env bash
# The training engine at real sizes (docs/benchmarks.md, "Training engine"; docs/engine.md): seconds per round in
# compute vs communication and bytes per worker, for the default adapter (74 M parameters) and intermediate_dim 1536
# (200 M+), on local[2].  bench/engine.sh [workers] [accumulation] [rounds]
# Default-size runs take both machine slots here: run it as /work/tools/big bench/engine.sh (≈ 10 GB).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for dim in 512 1536; do
  flock /tmp/bench.lock bash -c "uptime; BENCH_JAVA_OPTS='${BENCH_JAVA_OPTS:--Xmx10g}' '$ROOT/bench/java.sh' EngineBench $dim ${1:-2} ${2:-1} ${3:-3} 2>/dev/null | grep -E '^(engine|\|)'"
done
