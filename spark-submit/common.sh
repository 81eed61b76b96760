# Sourced by the submit scripts: the cluster jar, the main class, the JVM flags Java 17 needs and the settings the
# training engine implies. Override any variable from the environment.
# shellcheck shell=bash disable=SC2034,SC2012  # variables used by the scripts that source this file
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AVATAR_TRAIN_JAR="${AVATAR_TRAIN_JAR:-$(ls "$ROOT"/target/avatar-train-*-cluster.jar 2>/dev/null | head -1)}"
MAIN_CLASS=dev.avatartrain.cli.Main
SPARK_SUBMIT="${SPARK_SUBMIT:-spark-submit}"

# The jar: a local file, or a URL the cluster reads itself (spark-submit passes it on unchanged).
case "$AVATAR_TRAIN_JAR" in
  s3://*|s3a://*|gs://*|hdfs://*|viewfs://*|abfs://*|abfss://*|wasbs://*|http://*|https://*|local://*) JAR_IS_REMOTE=1 ;;
  *) JAR_IS_REMOTE=0
     if [[ -z "$AVATAR_TRAIN_JAR" || ! -f "$AVATAR_TRAIN_JAR" ]]; then
       echo "No cluster jar${AVATAR_TRAIN_JAR:+ at $AVATAR_TRAIN_JAR}: build it with 'mvn -B -DskipTests package' (GPU workers:" >&2
       echo "'mvn -B -Pcuda -DskipTests package'), or set AVATAR_TRAIN_JAR to its path or URL (s3://, s3a://, gs://, hdfs://," >&2
       echo "https://, or local:// for a jar already in the image or on every node)." >&2
       exit 2
     fi ;;
esac
export JAR_IS_REMOTE

# Spark's add-opens list for Java 17 (DESIGN.md §4, generated from pom.xml into the jar), for the driver and every
# executor. A remote jar is not opened here: the list comes from a local build, else the copy below.
if [[ -f "$ROOT/target/classes/avatar-train/jvm-options.txt" ]]; then
  JAVA17_FLAGS="$(cat "$ROOT/target/classes/avatar-train/jvm-options.txt")"
elif [[ "$JAR_IS_REMOTE" == 0 ]]; then
  JAVA17_FLAGS="$(unzip -p "$AVATAR_TRAIN_JAR" avatar-train/jvm-options.txt)"
else
  JAVA17_FLAGS="--add-modules=jdk.incubator.vector"
  for p in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
           java.util.concurrent.atomic jdk.internal.ref sun.nio.ch sun.nio.cs sun.security.action sun.util.calendar; do
    JAVA17_FLAGS+=" --add-opens=java.base/$p=ALL-UNNAMED"
  done
fi
JAVA17_OPTS="-XX:+IgnoreUnrecognizedVMOptions $JAVA17_FLAGS"

# Executor size. The engine runs one training task per executor with all its cores (its kernels use them all).
EXECUTOR_CORES="${EXECUTOR_CORES:-4}"

COMMON_CONF=(
  --conf "spark.driver.extraJavaOptions=$JAVA17_OPTS"
  --conf spark.serializer=org.apache.spark.serializer.KryoSerializer
  # Training tasks hold a whole model: no speculative duplicates.
  --conf spark.speculation=false
)

# mib SIZE: a Spark memory size (16g, 6144m, 6gb, 1t; no unit = MiB, as spark.executor.memoryOverhead reads it) in MiB.
mib() {
  local v="${1,,}"
  case "$v" in
    *tb|*t) v="${v%b}"; echo $(( ${v%t} * 1024 * 1024 )) ;;
    *gb|*g) v="${v%b}"; echo $(( ${v%g} * 1024 )) ;;
    *mb|*m) v="${v%b}"; echo $(( ${v%m} )) ;;
    *[0-9]) echo $(( v )) ;;
    *) echo "spark-submit/common.sh: '$1' is not a memory size (use e.g. 16g or 6144m)" >&2; return 2 ;;
  esac
}

# javacpp_limits MEMORY OVERHEAD: the JavaCPP limits for an executor container of MEMORY heap + OVERHEAD native memory
# (YARN and Kubernetes kill a container past their sum). ND4J's arrays live outside the heap and JavaCPP caps them at
# org.bytedeco.javacpp.maxbytes, by default the heap size, and the process at maxphysicalbytes (default 4x the heap),
# both beyond the container: so ND4J memory = OVERHEAD - 1 GiB (the JVM's own native memory: metaspace, threads,
# Netty buffers), the process = MEMORY + OVERHEAD - 512 MiB. Past them ND4J's allocation fails with an OutOfMemoryError
# naming the limit, before the platform kills the container.
javacpp_limits() {
  local heap overhead
  heap="$(mib "$1")" || return 2
  overhead="$(mib "$2")" || return 2
  if (( overhead < 2048 )); then
    echo "spark-submit: EXECUTOR_MEMORY_OVERHEAD=$2 leaves ND4J no native memory: give it at least 2g (ND4J's arrays live there)." >&2
    return 2
  fi
  echo "-Dorg.bytedeco.javacpp.maxbytes=$(( overhead - 1024 ))m -Dorg.bytedeco.javacpp.maxphysicalbytes=$(( heap + overhead - 512 ))m"
}

# executor_java_conf [MEMORY OVERHEAD]: the executors' JVM options (Java 17 flags, and the JavaCPP limits of a container).
executor_java_conf() {
  local limits=""
  if (( $# == 2 )); then limits=" $(javacpp_limits "$1" "$2")" || return 2; fi
  printf '%s\n' --conf "spark.executor.extraJavaOptions=$JAVA17_OPTS$limits"
}

# One task per executor, owning all its cores (not for local mode, where the driver is the only executor).
TASK_CONF=(--conf "spark.executor.cores=$EXECUTOR_CORES" --conf "spark.task.cpus=$EXECUTOR_CORES")

# Environment of the driver and the executors: huge pages for ND4J's native arrays (glibc >= 2.35), passive OpenMP
# threads, and the Hugging Face settings of the submitting shell (HF_TOKEN is redacted in Spark's UI).
ENV_VARS=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1 OMP_WAIT_POLICY=PASSIVE)
for v in HF_ENDPOINT HF_TOKEN HF_HUB_OFFLINE HF_HOME HF_HUB_CACHE; do
  [[ -n "${!v:-}" ]] && ENV_VARS+=("$v=${!v}")
done
# env_conf PREFIX...: --conf PREFIX.NAME=VALUE for every variable above and every prefix given.
env_conf() {
  local prefix kv
  for prefix in "$@"; do
    for kv in "${ENV_VARS[@]}"; do printf '%s\n' --conf "$prefix.$kv"; done
  done
}

# GPU scheduling (Spark 3 resource scheduling): one GPU per executor and per task. The discovery script must exist
# where executors start: each platform script ships it or points at a copy on the nodes/in the image.
GPU_CONF=(
  --conf spark.executor.resource.gpu.amount=1
  --conf spark.task.resource.gpu.amount=1
)
