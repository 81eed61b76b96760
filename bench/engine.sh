#!/usr/bin/env bash
# Averaging overhead of the training engine per round, averaging_frequency 1, 4, 16 (docs/benchmarks.md,
# "Training engine").  bench/engine.sh [partitions] [batch] [rounds]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
flock /tmp/bench.lock bash -c "uptime; '$ROOT/bench/java.sh' dev.avatartrain.train.EngineBench ${1:-2} ${2:-4} ${3:-3} 2>/dev/null | grep -E '^(engine|\|)'; uptime"
