#!/usr/bin/env bash
# Audio adapter (InfiniteTalk AudioProjModel, B=2, T=81, 12x768): ND4J (SameDiff) and PyTorch in the same run,
# serialised with other benchmarks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
flock /tmp/bench.lock bash -c "'$ROOT/bench/java.sh' AdapterBench ${*:-} 2>/dev/null | grep -E '^java'; /usr/bin/python3 '$ROOT/bench/adapter.py'"
