#!/usr/bin/env bash
# Spark standalone cluster:  SPARK_MASTER=spark://host:7077 spark-submit/submit-standalone.sh train [options]
# GPU=1 adds GPU scheduling (workers started with a GPU discovery script and resource amounts).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${SPARK_MASTER:?set SPARK_MASTER=spark://host:7077}"
EXTRA=(); [[ "${GPU:-0}" == 1 ]] && EXTRA=("${GPU_CONF[@]}")
exec "$SPARK_SUBMIT" --master "$SPARK_MASTER" --deploy-mode "${DEPLOY_MODE:-client}" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "${EXECUTOR_MEMORY:-24g}" \
  --executor-cores "${EXECUTOR_CORES:-4}" --total-executor-cores "${TOTAL_EXECUTOR_CORES:-16}" \
  "${COMMON_CONF[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "$@"
