#!/usr/bin/env bash
# TAESD encoder/decoder forward with the real TAEF2 weights, ND4J (SameDiff) then taesd.py, one run, serialised with
# other benchmarks.  bench/taesd.sh [batch] [size] [iterations]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARGS="${1:-12} ${2:-256} ${3:-5}"
flock /tmp/bench.lock bash -c "'$ROOT/bench/java.sh' TaesdBench $ARGS 2>/dev/null | grep -E '^java'; /usr/bin/python3 '$ROOT/bench/taesd.py' $ARGS"
