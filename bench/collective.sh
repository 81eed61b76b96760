#!/usr/bin/env bash
# The ring collective between two JVMs on loopback (docs/benchmarks.md, "Collectives"; docs/engine.md, "The collective
# transport"): all-reduce of 297 MB (the 74 M adapter's gradients) in one call and in 25 MB buckets, seconds per GB
# all-reduced, GB/s sent per rank, then the sum loop (vector API against plain); beside it, the same cases on
# torch.distributed's Gloo between two processes (BENCH_PYTHON, default target/torch2: torch 2.13).
#   bench/collective.sh [chunk KiB ...]   (default: 1024, then 256 and 4096; the ring's chunk setting)
# Runs under the shared lock for heavy runs; each process holds ≈ 350 MB.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/env.sh"
chunks="${*:-1024 256 4096}"
flock /work/heavy.lock bash -c "
  set -euo pipefail
  echo \"load average at start: \$(cut -d' ' -f1-3 /proc/loadavg)\"
  first=1
  for chunk in $chunks; do
    BENCH_JAVA_OPTS='${BENCH_JAVA_OPTS:--Xmx1g -XX:MaxDirectMemorySize=1g}' '$ROOT/bench/java.sh' CollectiveBench \$chunk \
      | grep -E '^(collective|\|)'
    if [[ \$first == 1 ]]; then
      OMP_NUM_THREADS=1 '$BENCH_PYTHON' '$ROOT/bench/collective.py' 2>&1 | grep -E '^(torch|\|)'
      first=0
    fi
  done
  echo \"load average at end: \$(cut -d' ' -f1-3 /proc/loadavg)\""
