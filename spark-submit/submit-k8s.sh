#!/usr/bin/env bash
# Kubernetes:  K8S_API=https://host:6443 IMAGE=registry/spark:3.5.3-java17 spark-submit/submit-k8s.sh train ...
# The image needs Spark 3.5 on Java 17; the jar is read from AVATAR_TRAIN_JAR (local:///, s3a://, https://).
# GPU=1 requests nvidia.com/gpu through Spark's resource scheduling (vendor nvidia.com).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${K8S_API:?set K8S_API=https://host:6443}"
: "${IMAGE:?set IMAGE to a Spark 3.5 / Java 17 image}"
EXTRA=()
if [[ "${GPU:-0}" == 1 ]]; then
  EXTRA=("${GPU_CONF[@]}" --conf spark.executor.resource.gpu.vendor=nvidia.com)
fi
exec "$SPARK_SUBMIT" --master "k8s://$K8S_API" --deploy-mode cluster \
  --conf spark.kubernetes.container.image="$IMAGE" \
  --conf spark.kubernetes.namespace="${NAMESPACE:-default}" \
  --conf spark.kubernetes.authenticate.driver.serviceAccountName="${SERVICE_ACCOUNT:-spark}" \
  --conf spark.executor.instances="${NUM_EXECUTORS:-4}" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "${EXECUTOR_MEMORY:-24g}" \
  "${COMMON_CONF[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "$@"
