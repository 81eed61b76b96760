#!/usr/bin/env bash
# Google Dataproc 2.2 (Spark 3.5; containers start on Java 11, so Java 17 is selected for the driver and the
# executors below).   spark-submit/dataproc/submit.sh CLUSTER REGION <command> [options]
# A GPU cluster (the CUDA 11.6 backend runs on T4, V100, A100, L4; not H100). The GPU initialization action installs
# the driver, CUDA 11.8 and cuDNN 8 (which the CUDA backend loads) and sets up YARN's GPU scheduling:
#   gcloud dataproc clusters create avatar-train --region=$REGION --image-version=2.2-ubuntu22 \
#     --properties=spark-env:JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64,spark:spark.executorEnv.JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64,spark:spark.yarn.appMasterEnv.JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64 \
#     --worker-machine-type=n1-standard-8 --worker-accelerator=type=nvidia-tesla-t4,count=1 \
#     --initialization-actions=gs://goog-dataproc-initialization-actions-$REGION/gpu/install_gpu_driver.sh \
#     --metadata=gpu-driver-provider=NVIDIA,cuda-version=11.8,cudnn-version=8.6.0.163,install-gpu-agent=true
# n1-standard-8: 8 vCPUs, 30 GB, of which YARN offers about 24 GB: one executor of 16 GB heap + 6 GB native.
set -euo pipefail
CLUSTER="${1:?cluster name}"; REGION="${2:?region}"; shift 2
JAR="${AVATAR_TRAIN_JAR:?set AVATAR_TRAIN_JAR=gs://bucket/jars/avatar-train-...-cluster.jar}"
JAVA17="${JAVA17_HOME:-/usr/lib/jvm/temurin-17-jdk-amd64}"
CORES="${EXECUTOR_CORES:-8}"
PROPS="spark.serializer=org.apache.spark.serializer.KryoSerializer,spark.speculation=false"
PROPS+=",spark.executorEnv.JAVA_HOME=$JAVA17,spark.yarn.appMasterEnv.JAVA_HOME=$JAVA17"
PROPS+=",spark.executor.cores=$CORES,spark.task.cpus=$CORES"
PROPS+=",spark.executor.memory=${EXECUTOR_MEMORY:-16g},spark.executor.memoryOverhead=${EXECUTOR_MEMORY_OVERHEAD:-6g}"
PROPS+=",spark.executorEnv.GLIBC_TUNABLES=glibc.malloc.hugetlb=1,spark.executorEnv.OMP_WAIT_POLICY=PASSIVE"
PROPS+=",spark.yarn.appMasterEnv.GLIBC_TUNABLES=glibc.malloc.hugetlb=1,spark.yarn.appMasterEnv.OMP_WAIT_POLICY=PASSIVE"
if [[ "${GPU:-0}" == 1 ]]; then
  PROPS+=",spark.executor.resource.gpu.amount=1,spark.task.resource.gpu.amount=1"
  PROPS+=",spark.executor.resource.gpu.discoveryScript=/usr/lib/spark/scripts/gpu/getGpusResources.sh"
fi
exec gcloud dataproc jobs submit spark --cluster="$CLUSTER" --region="$REGION" \
  --class=dev.avatartrain.cli.Main --jars="$JAR" --properties="$PROPS" -- "$@"
