#!/usr/bin/env bash
# The training engine at real sizes (docs/benchmarks.md, "Training engine"; docs/engine.md): per optimizer step the
# wall time, the compute time and the exposed communication, for the default adapter (74 M parameters) and
# intermediate_dim 1536 (224 M), 2 workers on local[2], then 1 worker on local[1] (samples/s, same batch per worker).
#   flock /work/heavy.lock bench/engine.sh [accumulation] [steps]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for dim in 512 1536; do
  for workers in 2 1; do
    uptime
    BENCH_JAVA_OPTS="${BENCH_JAVA_OPTS:--Xmx10g}" "$ROOT/bench/java.sh" EngineBench $dim $workers "${1:-1}" "${2:-6}" 2>/dev/null \
      | grep -E '^(engine|\|)'
  done
done
