#!/usr/bin/env bash
# The ring collective between two JVMs on loopback (docs/benchmarks.md, "Collectives"; docs/engine.md, "The collective
# transport"): all-reduce of 297 MB (the 74 M adapter's gradients) in one call and in 25 MB buckets, seconds per GB
# all-reduced, GB/s sent per rank; then the sum loop, vector API against plain.
#   bench/collective.sh [chunk KiB ...]   (default: 1024, then 256 and 4096, then 1024 with 4 MiB socket buffers)
# Runs under the shared lock for heavy runs; each JVM holds ≈ 350 MB of direct buffers.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
variants=("${@:-1024 0}")
[[ $# -gt 0 ]] || variants=("1024 0" "256 0" "4096 0" "1024 4096")
for v in "${variants[@]}"; do
  read -r chunk buffer <<<"$v"
  flock /work/heavy.lock bash -c "uptime; BENCH_JAVA_OPTS='${BENCH_JAVA_OPTS:--Xmx1g -XX:MaxDirectMemorySize=1g}' \
    '$ROOT/bench/java.sh' CollectiveBench $chunk ${buffer:-0} | grep -E '^(collective|\|)'"
done
