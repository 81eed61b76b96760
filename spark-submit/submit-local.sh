#!/usr/bin/env bash
# Run a command through spark-submit on this machine:  spark-submit/submit-local.sh make-metadata --input ... --output ...
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
for kv in "${ENV_VARS[@]}"; do export "${kv?}"; done   # local mode: the driver is the executor
mapfile -t EXEC_JAVA < <(executor_java_conf)
exec "$SPARK_SUBMIT" --master "${SPARK_MASTER:-local[*]}" --driver-memory "${DRIVER_MEMORY:-8g}" \
  "${COMMON_CONF[@]}" "${EXEC_JAVA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "$@"
