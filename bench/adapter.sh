#!/usr/bin/env bash
# Audio adapter (InfiniteTalk AudioProjModel, B=2, T=81, 12x768): ND4J and PyTorch in the same run, serialised with
# other benchmarks. bench/adapter.sh [--graph]  (--graph also times the SameDiff graph path)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
flock /tmp/bench.lock bash -c "echo \"load average at start: \$(cut -d' ' -f1-3 /proc/loadavg)\"; '$ROOT/bench/java.sh' AdapterBench ${*:-} 2>/dev/null | grep -E '^java'; /usr/bin/python3 '$ROOT/bench/adapter.py'; echo \"load average at end: \$(cut -d' ' -f1-3 /proc/loadavg)\""
