#!/usr/bin/env bash
# YARN (EMR, Dataproc, on-premises Hadoop):  spark-submit/submit-yarn.sh train --config-dir conf/
# GPU=1 requests one GPU per executor (YARN 3 with the GPU resource plugin).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
EXTRA=(); [[ "${GPU:-0}" == 1 ]] && EXTRA=("${GPU_CONF[@]}")
exec "$SPARK_SUBMIT" --master yarn --deploy-mode "${DEPLOY_MODE:-cluster}" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "${EXECUTOR_MEMORY:-24g}" \
  --executor-cores "${EXECUTOR_CORES:-4}" --num-executors "${NUM_EXECUTORS:-4}" \
  ${CONFIG_DIR:+--files "$CONFIG_DIR/data.yaml,$CONFIG_DIR/train.yaml,$CONFIG_DIR/model.yaml,$CONFIG_DIR/optimizer.yaml"} \
  "${COMMON_CONF[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "$@"
