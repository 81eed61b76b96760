#!/usr/bin/env bash
# Kubernetes:  K8S_API=https://host:6443 IMAGE=registry/avatar-train:0.1.0 UPLOAD_PATH=s3a://bucket/spark-uploads \
#              spark-submit/submit-k8s.sh train --config-dir s3a://bucket/conf
# IMAGE: Spark 3.5 on Java 17 with hadoop-aws and its AWS SDK; spark-submit/k8s/Dockerfile builds one (on NVIDIA's CUDA
# 11.8 + cuDNN 8 runtime image, for GPU executors too) with the cluster jar inside: AVATAR_TRAIN_JAR=local:///opt/...
# AVATAR_TRAIN_JAR may also be a URL the pods read (s3a://, https://), or a local file: local files are uploaded to
# UPLOAD_PATH (spark.kubernetes.file.upload.path), which the pods must be able to read (s3a://, hdfs://, gs://); for an
# s3a:// upload the submitting Spark needs hadoop-aws too, which --packages fetches (S3A_PACKAGES; empty when its jars/
# already have it), as Spark's Kubernetes guide does.
# HF_TOKEN never travels as plain pod environment: keep it in a Kubernetes secret and name it, HF_TOKEN_SECRET=name:key
# (kubectl create secret generic hf-token --from-literal=token=hf_...; HF_TOKEN_SECRET=hf-token:token).
# GPU=1 requests nvidia.com/gpu through Spark's resource scheduling. The discovery script must be in the image:
# Spark's distribution ships it as /opt/spark/examples/src/main/scripts/getGpusResources.sh (GPU_DISCOVERY_SCRIPT).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
: "${K8S_API:?set K8S_API=https://host:6443}"
: "${IMAGE:?set IMAGE to a Spark 3.5 / Java 17 image (spark-submit/k8s/Dockerfile builds one)}"
EXECUTOR_MEMORY="${EXECUTOR_MEMORY:-16g}"
EXECUTOR_MEMORY_OVERHEAD="${EXECUTOR_MEMORY_OVERHEAD:-6g}"
UPLOAD=()
if [[ "$JAR_IS_REMOTE" == 0 ]]; then
  : "${UPLOAD_PATH:?the jar is a local file: set UPLOAD_PATH to a folder the pods read (s3a://bucket/spark-uploads), or use a local:// or s3a:// jar}"
fi
if [[ -n "${UPLOAD_PATH:-}" ]]; then
  UPLOAD=(--conf "spark.kubernetes.file.upload.path=$UPLOAD_PATH")
  S3A_PACKAGES="${S3A_PACKAGES-org.apache.hadoop:hadoop-aws:3.3.4}"
  [[ "$UPLOAD_PATH" == s3a://* && -n "$S3A_PACKAGES" ]] && UPLOAD+=(--packages "$S3A_PACKAGES")
fi
SECRETS=()
if [[ -n "${HF_TOKEN_SECRET:-}" ]]; then
  SECRETS=(--conf "spark.kubernetes.driver.secretKeyRef.HF_TOKEN=$HF_TOKEN_SECRET"
           --conf "spark.kubernetes.executor.secretKeyRef.HF_TOKEN=$HF_TOKEN_SECRET")
elif [[ -n "${HF_TOKEN:-}" ]]; then
  echo "submit-k8s.sh: HF_TOKEN would reach the pods as plain environment: put it in a secret" >&2
  echo "(kubectl create secret generic hf-token --from-literal=token=\$HF_TOKEN) and set HF_TOKEN_SECRET=hf-token:token." >&2
  exit 2
fi
EXTRA=()
if [[ "${GPU:-0}" == 1 ]]; then
  EXTRA=("${GPU_CONF[@]}" --conf spark.executor.resource.gpu.vendor=nvidia.com
         --conf "spark.executor.resource.gpu.discoveryScript=${GPU_DISCOVERY_SCRIPT:-/opt/spark/examples/src/main/scripts/getGpusResources.sh}")
fi
# everything but the token, which comes from the secret above
KEEP=(); for kv in "${ENV_VARS[@]}"; do [[ "$kv" == HF_TOKEN=* ]] || KEEP+=("$kv"); done
ENV_VARS=("${KEEP[@]}")
mapfile -t ENV_CONF < <(env_conf spark.kubernetes.driverEnv spark.executorEnv)
EXEC_JAVA="$(executor_java_conf "$EXECUTOR_MEMORY" "$EXECUTOR_MEMORY_OVERHEAD")" || exit 2
mapfile -t EXEC_JAVA <<< "$EXEC_JAVA"
exec "$SPARK_SUBMIT" --master "k8s://$K8S_API" --deploy-mode cluster \
  --conf spark.kubernetes.container.image="$IMAGE" \
  --conf spark.kubernetes.namespace="${NAMESPACE:-default}" \
  --conf spark.kubernetes.authenticate.driver.serviceAccountName="${SERVICE_ACCOUNT:-spark}" \
  --conf spark.executor.instances="${NUM_EXECUTORS:-4}" "${TASK_CONF[@]}" "${UPLOAD[@]}" \
  --driver-memory "${DRIVER_MEMORY:-8g}" --executor-memory "$EXECUTOR_MEMORY" \
  --conf "spark.executor.memoryOverhead=$EXECUTOR_MEMORY_OVERHEAD" \
  "${COMMON_CONF[@]}" "${EXEC_JAVA[@]}" "${ENV_CONF[@]}" "${SECRETS[@]}" "${EXTRA[@]}" --class "$MAIN_CLASS" "$AVATAR_TRAIN_JAR" "$@"
