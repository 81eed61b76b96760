#!/usr/bin/env bash
# Runs a benchmark main class from src/test/java/dev/avatartrain/bench with the test classpath and the
# JVM flags of the build:  bench/java.sh PngDecodeBench [args]
# Fails loudly (exit 1, the build log's end on stderr) when the offline build cannot compile or resolve; the JVM's
# stderr (ND4J's start-up logging) goes to target/bench-java.log, and its end is shown when the JVM fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mkdir -p target
if ! mvn -q -B -o -Dstyle.color=never test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt \
    >target/bench-build.log 2>&1; then
  echo "bench/java.sh: the offline build (mvn -o test-compile dependency:build-classpath) failed; target/bench-build.log ends:" >&2
  tail -n 40 target/bench-build.log >&2
  exit 1
fi
read -r -a JVM_FLAGS < target/classes/avatar-train/jvm-options.txt
CLASS="$1"; shift
export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1" # as bin/avatar-train
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" # as bin/avatar-train
[[ "$CLASS" == *.* ]] || CLASS="dev.avatartrain.bench.$CLASS"
rc=0
java ${BENCH_JAVA_OPTS:--Xmx12g} "${JVM_FLAGS[@]}" -Davatartrain.home="$ROOT" \
  -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" "$CLASS" "$@" 2>target/bench-java.log || rc=$?
if [[ $rc -ne 0 ]]; then
  echo "bench/java.sh: $CLASS exited with $rc; target/bench-java.log ends:" >&2
  tail -n 40 target/bench-java.log >&2
  exit "$rc"
fi
