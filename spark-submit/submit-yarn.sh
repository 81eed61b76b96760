#!/usr/bin/env bash
# YARN (EMR, Dataproc, on-premises Hadoop):
#   CONFIG_DIR=conf spark-submit/submit-yarn.sh train --config-dir conf
# CONFIG_DIR ships that folder's four YAML files with --files and points --config-dir at the container's copy;
# --config-dir may also be a storage URL (s3a://bucket/conf) or a folder bundled in the jar (configuration/demo).
# GPU=1 requests one GPU per executor (YARN 3 with the GPU resource plugin); the discovery script is shipped with
# --files, so nothing has to be installed on the nodes.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/common.sh"
FILES=()
EXTRA=()
if [[ "${GPU:-0}" == 1 ]]; then
  FILES+=("${GPU_DISCOVERY_SCRIPT:-$HERE/get-gpus-resources.sh}")
  EXTRA=("${GPU_CONF[@]}" --conf "spark.executor.resource.gpu.discoveryScript=./$(basename "${GPU_DISCOVERY_SCRIPT:-get-gpus-resources.sh}")")
fi
ARGS=("$@")
if [[ -n "${CONFIG_DIR:-}" ]]; then
  for f in data train model optimizer; do FILES+=("$CONFIG_DIR/$f.yaml"); done
  # the files land flat in the containers' working directory
  for i in "${!ARGS[@]}"; do [[ "${ARGS[$i]}" == "--config-dir" ]] && ARGS[i+1]="."; done
fi
FILES_ARG=(); if ((${#FILES[@]})); then FILES_ARG=(--files "$(IFS=,; echo "${FILES[*]}")"); fi
mapfile -t ENV_CONF < <(env_conf spark.yarn.appMasterEnv spark.executorEnv)
exec "$SPARK_SUBMIT" --master yarn --deploy-mode "${DEPLOY_MODE:-cluster}" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "${EXECUTOR_MEMORY:-16g}" \
  --conf "spark.executor.memoryOverhead=${EXECUTOR_MEMORY_OVERHEAD:-6g}" \
  --num-executors "${NUM_EXECUTORS:-4}" "${TASK_CONF[@]}" "${FILES_ARG[@]}" \
  "${COMMON_CONF[@]}" "${ENV_CONF[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "${ARGS[@]}"
