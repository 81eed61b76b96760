#!/usr/bin/env bash
# Per-layer benchmark, ND4J (SameDiff and the hand-written kernels) and PyTorch (BENCH_PYTHON, default target/torch2:
# torch 2.13) in the same run, same shapes; serialised with other benchmarks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/env.sh"
export ROOT
flock /tmp/bench.lock bash -c "
  set -euo pipefail
  '$ROOT/bench/java.sh' LayersBench | grep -E '^java' || { echo 'bench/layers.sh: the ND4J side printed no result' >&2; exit 1; }
  '$BENCH_PYTHON' '$ROOT/bench/layers.py'"
