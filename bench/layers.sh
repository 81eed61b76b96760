#!/usr/bin/env bash
# Per-layer benchmark, ND4J (SameDiff) and PyTorch in the same run; serialised with other benchmarks.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
flock /tmp/bench.lock bash -c "'$ROOT/bench/java.sh' LayersBench 2>/dev/null | grep -E '^java'; /usr/bin/python3 '$ROOT/bench/layers.py'"
