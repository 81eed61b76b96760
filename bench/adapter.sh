#!/usr/bin/env bash
# Audio adapter (InfiniteTalk AudioProjModel, B=2, T=81, 12x768): ND4J and PyTorch (BENCH_PYTHON, default
# target/torch2: torch 2.13) in the same run, serialised with other benchmarks; BENCH_ROUNDS=n alternates the sides.
#   bench/adapter.sh [--graph]  (--graph also times the SameDiff graph path)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/env.sh"
ROUNDS="${BENCH_ROUNDS:-1}"
export ROOT
flock /tmp/bench.lock bash -c "
  set -euo pipefail
  echo \"load average at start: \$(cut -d' ' -f1-3 /proc/loadavg)\"
  for ((round = 1; round <= $ROUNDS; round++)); do
    '$ROOT/bench/java.sh' AdapterBench ${*:-} | grep -E '^java' || { echo 'bench/adapter.sh: the ND4J side printed no result' >&2; exit 1; }
    '$BENCH_PYTHON' '$ROOT/bench/adapter.py'
  done
  echo \"load average at end: \$(cut -d' ' -f1-3 /proc/loadavg)\""
