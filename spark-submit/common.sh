# Sourced by the submit scripts: the cluster jar, the main class and the JVM flags Java 17 needs.
# Override any variable from the environment.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AVATAR_TRAIN_JAR="${AVATAR_TRAIN_JAR:-$(ls "$ROOT"/target/avatar-train-*-cluster.jar 2>/dev/null | head -1)}"
MAIN_CLASS=dev.avatartrain.cli.Main
SPARK_SUBMIT="${SPARK_SUBMIT:-spark-submit}"

if [[ -z "$AVATAR_TRAIN_JAR" || ! -f "$AVATAR_TRAIN_JAR" ]]; then
  echo "No cluster jar: build it with 'mvn -B -DskipTests package' (GPU workers: 'mvn -B -Pcuda -DskipTests package')," >&2
  echo "or set AVATAR_TRAIN_JAR to its path (s3://, gs:// and hdfs:// paths work where the cluster reads them)." >&2
  exit 2
fi

# Spark's add-opens list for Java 17 (DESIGN.md §4, the list in pom.xml), for the driver and every executor.
if [[ -f "$ROOT/target/classes/avatar-train/jvm-options.txt" ]]; then
  JAVA17_FLAGS="$(cat "$ROOT/target/classes/avatar-train/jvm-options.txt")"
else
  JAVA17_FLAGS="$(unzip -p "$AVATAR_TRAIN_JAR" avatar-train/jvm-options.txt)"
fi
JAVA17_OPTS="-XX:+IgnoreUnrecognizedVMOptions $JAVA17_FLAGS"

COMMON_CONF=(
  --conf "spark.driver.extraJavaOptions=$JAVA17_OPTS"
  --conf "spark.executor.extraJavaOptions=$JAVA17_OPTS"
  --conf spark.serializer=org.apache.spark.serializer.KryoSerializer
  --conf spark.kryoserializer.buffer.max=1g
  --conf spark.driver.maxResultSize=4g
  # Training tasks hold a whole model: one task per executor core group, no speculation duplicates.
  --conf spark.speculation=false
  # Transparent huge pages for ND4J's large native arrays (glibc >= 2.35; ignored by older glibc).
  --conf spark.executorEnv.GLIBC_TUNABLES=glibc.malloc.hugetlb=1
  --conf spark.yarn.appMasterEnv.GLIBC_TUNABLES=glibc.malloc.hugetlb=1
  # OpenMP threads sleep between libnd4j calls, leaving the cores to the Java kernels in between.
  --conf spark.executorEnv.OMP_WAIT_POLICY=PASSIVE
  --conf spark.yarn.appMasterEnv.OMP_WAIT_POLICY=PASSIVE
)

# GPU scheduling (Spark 3 resource scheduling): one GPU per executor, one task per GPU.
GPU_CONF=(
  --conf spark.executor.resource.gpu.amount=1
  --conf spark.task.resource.gpu.amount=1
  --conf spark.executor.resource.gpu.discoveryScript="${GPU_DISCOVERY_SCRIPT:-$ROOT/spark-submit/get-gpus-resources.sh}"
)
