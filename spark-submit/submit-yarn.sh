#!/usr/bin/env bash
# YARN (EMR, Dataproc, on-premises Hadoop):
#   CONFIG_DIR=conf spark-submit/submit-yarn.sh train --config-dir conf
# --config-dir may be a local folder, a storage URL (s3a://bucket/conf) or a folder bundled in the jar
# (configuration/demo). In cluster mode (DEPLOY_MODE=cluster, the default) the driver runs in a YARN container: with
# CONFIG_DIR set, that folder's four YAML files are shipped with --files and --config-dir (either form, "--config-dir
# D" or "--config-dir=D") points at the container's copies. In client mode the driver reads the local folder as is.
# GPU=1 requests one GPU per executor and per task (YARN 3 with the GPU resource plugin); the discovery script is
# shipped with --files, so nothing has to be installed on the nodes.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/common.sh"
MODE="${DEPLOY_MODE:-cluster}"
EXECUTOR_MEMORY="${EXECUTOR_MEMORY:-16g}"
EXECUTOR_MEMORY_OVERHEAD="${EXECUTOR_MEMORY_OVERHEAD:-6g}"
FILES=()
EXTRA=()
if [[ "${GPU:-0}" == 1 ]]; then
  FILES+=("${GPU_DISCOVERY_SCRIPT:-$HERE/get-gpus-resources.sh}")
  EXTRA=("${GPU_CONF[@]}" --conf "spark.executor.resource.gpu.discoveryScript=./$(basename "${GPU_DISCOVERY_SCRIPT:-get-gpus-resources.sh}")")
fi
ARGS=("$@")
if [[ -n "${CONFIG_DIR:-}" && "$MODE" == cluster ]]; then
  for f in data train model optimizer; do FILES+=("$CONFIG_DIR/$f.yaml"); done
  # the files land flat in the driver container's working directory
  for i in "${!ARGS[@]}"; do
    if [[ "${ARGS[$i]}" == "--config-dir" ]]; then ARGS[i+1]="."; fi
    if [[ "${ARGS[$i]}" == --config-dir=* ]]; then ARGS[i]="--config-dir=."; fi
  done
fi
FILES_ARG=(); if ((${#FILES[@]})); then FILES_ARG=(--files "$(IFS=,; echo "${FILES[*]}")"); fi
mapfile -t ENV_CONF < <(env_conf spark.yarn.appMasterEnv spark.executorEnv)
# a client-mode driver is this shell's child: it gets the environment directly
if [[ "$MODE" == client ]]; then for kv in "${ENV_VARS[@]}"; do export "${kv?}"; done; fi
EXEC_JAVA="$(executor_java_conf "$EXECUTOR_MEMORY" "$EXECUTOR_MEMORY_OVERHEAD")" || exit 2
mapfile -t EXEC_JAVA <<< "$EXEC_JAVA"
exec "$SPARK_SUBMIT" --master yarn --deploy-mode "$MODE" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "$EXECUTOR_MEMORY" \
  --conf "spark.executor.memoryOverhead=$EXECUTOR_MEMORY_OVERHEAD" \
  --num-executors "${NUM_EXECUTORS:-4}" "${TASK_CONF[@]}" "${FILES_ARG[@]}" \
  "${COMMON_CONF[@]}" "${EXEC_JAVA[@]}" "${ENV_CONF[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "${ARGS[@]}"
