#!/usr/bin/env bash
# Kubernetes:  K8S_API=https://host:6443 IMAGE=registry/spark:3.5-java17 UPLOAD_PATH=s3a://bucket/spark-uploads \
#              spark-submit/submit-k8s.sh train --config-dir s3a://bucket/conf
# The image needs Spark 3.5 on Java 17. AVATAR_TRAIN_JAR may be local:///opt/... (in the image), a URL the pods read
# (s3a://, https://), or a local file: local files are uploaded to UPLOAD_PATH (spark.kubernetes.file.upload.path),
# which the pods must be able to read (s3a://, hdfs://, gs://).
# GPU=1 requests nvidia.com/gpu through Spark's resource scheduling. The discovery script must be in the image:
# Spark's images ship it as /opt/spark/examples/src/main/scripts/getGpusResources.sh (GPU_DISCOVERY_SCRIPT to change).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${K8S_API:?set K8S_API=https://host:6443}"
: "${IMAGE:?set IMAGE to a Spark 3.5 / Java 17 image}"
UPLOAD=()
if [[ "$JAR_IS_REMOTE" == 0 ]]; then
  : "${UPLOAD_PATH:?the jar is a local file: set UPLOAD_PATH to a folder the pods read (s3a://bucket/spark-uploads), or use a local:// or s3a:// jar}"
fi
[[ -n "${UPLOAD_PATH:-}" ]] && UPLOAD=(--conf "spark.kubernetes.file.upload.path=$UPLOAD_PATH")
EXTRA=()
if [[ "${GPU:-0}" == 1 ]]; then
  EXTRA=("${GPU_CONF[@]}" --conf spark.executor.resource.gpu.vendor=nvidia.com
         --conf "spark.executor.resource.gpu.discoveryScript=${GPU_DISCOVERY_SCRIPT:-/opt/spark/examples/src/main/scripts/getGpusResources.sh}")
fi
mapfile -t ENV_CONF < <(env_conf spark.kubernetes.driverEnv spark.executorEnv)
exec "$SPARK_SUBMIT" --master "k8s://$K8S_API" --deploy-mode cluster \
  --conf spark.kubernetes.container.image="$IMAGE" \
  --conf spark.kubernetes.namespace="${NAMESPACE:-default}" \
  --conf spark.kubernetes.authenticate.driver.serviceAccountName="${SERVICE_ACCOUNT:-spark}" \
  --conf spark.executor.instances="${NUM_EXECUTORS:-4}" "${TASK_CONF[@]}" "${UPLOAD[@]}" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "${EXECUTOR_MEMORY:-16g}" \
  --conf "spark.executor.memoryOverhead=${EXECUTOR_MEMORY_OVERHEAD:-6g}" \
  "${COMMON_CONF[@]}" "${ENV_CONF[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "$@"
