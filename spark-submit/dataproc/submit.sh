#!/usr/bin/env bash
# Google Dataproc 2.2 (Spark 3.5; its JVMs start on Java 11, this job's on Java 17):
#   AVATAR_TRAIN_JAR=gs://bucket/jars/avatar-train-...-cluster.jar spark-submit/dataproc/submit.sh CLUSTER REGION <command> [options]
# The driver runs where Dataproc puts it. Client mode (DEPLOY_MODE=client, the default: a train driver holds the model
# state, DRIVER_MEMORY, more than a worker has left beside its executor): on the master node, in the JVM of the
# cluster's spark-env JAVA_HOME, so the cluster must be created on Java 17 (below); this script asks the cluster and
# refuses otherwise. Cluster mode (DEPLOY_MODE=cluster): in a YARN container, which this job starts on Java 17 itself.
# A GPU cluster (the CUDA 11.6 backend runs on T4, V100, A100, L4; not H100): the GPU initialization action installs
# the driver, CUDA 11.8 and cuDNN 8 (the libraries nd4j-cuda-11.6 loads; its default, CUDA 12, has neither
# libcudart.so.11.0 nor libcudnn.so.8) and sets up YARN's GPU scheduling; its RAPIDS SQL plugin is turned off for this
# job (GPU=1), which uses the GPU through ND4J:
#   gcloud dataproc clusters create avatar-train --region=$REGION --image-version=2.2-ubuntu22 \
#     --properties=spark-env:JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64,spark:spark.executorEnv.JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64,spark:spark.yarn.appMasterEnv.JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64 \
#     --master-machine-type=n1-highmem-4 --worker-machine-type=n1-standard-8 --worker-accelerator=type=nvidia-tesla-t4,count=1 \
#     --initialization-actions=gs://goog-dataproc-initialization-actions-$REGION/gpu/install_gpu_driver.sh \
#     --metadata=gpu-driver-provider=NVIDIA,cuda-version=11.8,cudnn-version=8.6.0.163,install-gpu-agent=true
# n1-standard-8: 8 vCPUs, 30 GB, of which YARN offers about 24 GB: one executor of 16 GB heap + 6 GB native.
# HF_* of this shell reach the executors (spark.executorEnv) and the driver (as -D properties in client mode, which the
# Hub client reads like the variables; job properties are visible in the job's description: for a token prefer
# HF_TOKEN_PATH, a file on every node).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLUSTER="${1:?cluster name}"; REGION="${2:?region}"; shift 2
: "${AVATAR_TRAIN_JAR:?set AVATAR_TRAIN_JAR=gs://bucket/jars/avatar-train-...-cluster.jar}"
source "$HERE/../common.sh"
GCLOUD="${GCLOUD:-gcloud}"
JAVA17="${JAVA17_HOME:-/usr/lib/jvm/temurin-17-jdk-amd64}"
MODE="${DEPLOY_MODE:-client}"
CORES="${EXECUTOR_CORES:-8}"
EXECUTOR_MEMORY="${EXECUTOR_MEMORY:-16g}"
EXECUTOR_MEMORY_OVERHEAD="${EXECUTOR_MEMORY_OVERHEAD:-6g}"

if [[ "$MODE" == client ]]; then
  describe="$("$GCLOUD" dataproc clusters describe "$CLUSTER" --region="$REGION" --format=json)" || exit 2
  driver_java="$(python3 -c 'import json, sys
print(json.load(sys.stdin).get("config", {}).get("softwareConfig", {}).get("properties", {}).get("spark-env:JAVA_HOME", ""))' <<< "$describe")"
  if [[ "$driver_java" != *17* ]]; then
    echo "dataproc/submit.sh: cluster $CLUSTER starts its client-mode driver on ${driver_java:-the default Java 11 of Dataproc 2.2}, and" >&2
    echo "avatar-train needs Java 17: create the cluster with --properties=spark-env:JAVA_HOME=$JAVA17 (header of this file)," >&2
    echo "or run the driver in a YARN container with DEPLOY_MODE=cluster." >&2
    exit 2
  fi
fi

LIMITS="$(javacpp_limits "$EXECUTOR_MEMORY" "$EXECUTOR_MEMORY_OVERHEAD")" || exit 2
DRIVER_HF=""
for kv in "${ENV_VARS[@]}"; do [[ "$kv" == HF_* ]] && DRIVER_HF+=" -D$kv"; done
# '#' separates the properties (gcloud's ^#^ syntax): the Java options hold commas and spaces
P=("spark.submit.deployMode=$MODE" "spark.driver.memory=${DRIVER_MEMORY:-8g}"
   "spark.serializer=org.apache.spark.serializer.KryoSerializer" "spark.speculation=false"
   "spark.executorEnv.JAVA_HOME=$JAVA17" "spark.yarn.appMasterEnv.JAVA_HOME=$JAVA17"
   "spark.driver.extraJavaOptions=$JAVA17_OPTS$DRIVER_HF"
   "spark.executor.extraJavaOptions=$JAVA17_OPTS $LIMITS"
   "spark.executor.cores=$CORES" "spark.task.cpus=$CORES"
   "spark.executor.memory=$EXECUTOR_MEMORY" "spark.executor.memoryOverhead=$EXECUTOR_MEMORY_OVERHEAD")
for kv in "${ENV_VARS[@]}"; do P+=("spark.executorEnv.$kv" "spark.yarn.appMasterEnv.$kv"); done
if [[ "${GPU:-0}" == 1 ]]; then
  P+=("spark.executor.resource.gpu.amount=1" "spark.task.resource.gpu.amount=1"
      "spark.executor.resource.gpu.discoveryScript=/usr/lib/spark/scripts/gpu/getGpusResources.sh"
      "spark.plugins=" "spark.rapids.sql.enabled=false")
fi
exec "$GCLOUD" dataproc jobs submit spark --cluster="$CLUSTER" --region="$REGION" \
  --class="$MAIN_CLASS" --jars="$AVATAR_TRAIN_JAR" --properties="^#^$(IFS='#'; echo "${P[*]}")" -- "$@"
