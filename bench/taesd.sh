#!/usr/bin/env bash
# TAESD encoder/decoder forward with the real TAEF2 weights, ND4J (SameDiff) then taesd.py (BENCH_PYTHON, default
# target/torch2), one run, serialised with other benchmarks.  bench/taesd.sh [batch] [size] [iterations]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/env.sh"
ARGS="${1:-12} ${2:-256} ${3:-5}"
flock /tmp/bench.lock bash -c "
  set -euo pipefail
  '$ROOT/bench/java.sh' TaesdBench $ARGS | grep -E '^java' || { echo 'bench/taesd.sh: the ND4J side printed no result' >&2; exit 1; }
  '$BENCH_PYTHON' '$ROOT/bench/taesd.py' $ARGS"
