#!/usr/bin/env bash
# Spark standalone cluster:  SPARK_MASTER=spark://host:7077 spark-submit/submit-standalone.sh train [options]
# GPU=1 adds GPU scheduling: the workers must be started with a discovery script and GPU amounts
# (SPARK_WORKER_OPTS="-Dspark.worker.resource.gpu.amount=N -Dspark.worker.resource.gpu.discoveryScript=/path/get-gpus-resources.sh").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${SPARK_MASTER:?set SPARK_MASTER=spark://host:7077}"
EXTRA=(); [[ "${GPU:-0}" == 1 ]] && EXTRA=("${GPU_CONF[@]}")
mapfile -t ENV_CONF < <(env_conf spark.executorEnv)
for kv in "${ENV_VARS[@]}"; do export "${kv?}"; done   # client-mode driver
# no container limit on a standalone worker: JavaCPP's own limits (the heap size for ND4J's arrays) stay
mapfile -t EXEC_JAVA < <(executor_java_conf)
exec "$SPARK_SUBMIT" --master "$SPARK_MASTER" --deploy-mode "${DEPLOY_MODE:-client}" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "${EXECUTOR_MEMORY:-24g}" \
  --total-executor-cores "${TOTAL_EXECUTOR_CORES:-16}" "${TASK_CONF[@]}" \
  "${COMMON_CONF[@]}" "${EXEC_JAVA[@]}" "${ENV_CONF[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "$@"
