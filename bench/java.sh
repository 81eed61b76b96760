#!/usr/bin/env bash
# Runs a benchmark main class from src/test/java/dev/avatartrain/bench with the test classpath and the
# JVM flags of the build:  bench/java.sh PngDecodeBench [args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
mvn -q -B -o -Dstyle.color=never test-compile dependency:build-classpath -Dmdep.outputFile=target/test-classpath.txt >target/bench-build.log 2>&1 || { cat target/bench-build.log; exit 1; }
read -r -a JVM_FLAGS < target/classes/avatar-train/jvm-options.txt
CLASS="$1"; shift
export GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1" # as bin/avatar-train
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" # as bin/avatar-train
[[ "$CLASS" == *.* ]] || CLASS="dev.avatartrain.bench.$CLASS"
exec java ${BENCH_JAVA_OPTS:--Xmx12g} "${JVM_FLAGS[@]}" -Davatartrain.home="$ROOT" \
  -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" "$CLASS" "$@"
