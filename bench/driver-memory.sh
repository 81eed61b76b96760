#!/usr/bin/env bash
# The driver's memory while training (docs/benchmarks.md, "Driver memory"; docs/engine.md, "Memory"): train-adapter
# on a real standalone cluster on loopback (two one-core workers), the driver's peak live heap (from its GC log) and
# peak RSS against the model state, for a 0.2 M adapter (Spark's own baseline), the default 74 M and 224 M.
#   bench/driver-memory.sh [steps] [older-commit ...]
# Each older commit is built into its own cluster jar (a git worktree under target/) and measured in the same run,
# beside this checkout's jar. Takes the whole machine (≈ 16 GB): run it as /work/tools/big bench/driver-memory.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STEPS="${1:-4}"; shift || true
mvn -q -B -o -DskipTests package >target/driver-memory-build.log 2>&1 || { tail -n 40 target/driver-memory-build.log >&2; exit 1; }
JARS=("$(ls "$ROOT"/target/avatar-train-*-cluster.jar)")
for commit in "$@"; do
  wt="$ROOT/target/bench-worktree-$commit"
  [[ -d "$wt" ]] || git worktree add --detach "$wt" "$commit" >/dev/null
  (cd "$wt" && mvn -q -B -o -DskipTests package >"$ROOT/target/driver-memory-build-$commit.log" 2>&1) \
    || { tail -n 40 "$ROOT/target/driver-memory-build-$commit.log" >&2; exit 1; }
  JARS+=("$(ls "$wt"/target/avatar-train-*-cluster.jar)")
done
uptime
BENCH_JAVA_OPTS="${BENCH_JAVA_OPTS:--Xmx2g}" flock /tmp/bench.lock "$ROOT/bench/java.sh" DriverMemoryBench "$STEPS" "${JARS[@]}"
