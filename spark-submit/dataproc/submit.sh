#!/usr/bin/env bash
# Google Dataproc (image 2.2: Spark 3.5, Java 11 default — select Java 17 with the cluster property below).
#   spark-submit/dataproc/submit.sh CLUSTER REGION <command> [options]
# A GPU cluster (the CUDA 11.6 backend runs on T4, V100, A100, L4; not H100):
#   gcloud dataproc clusters create avatar-train --region=$REGION --image-version=2.2-debian12 \
#     --properties=dataproc:conda.env.config.uri=,spark-env:JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64 \
#     --worker-machine-type=n1-standard-8 --worker-accelerator=type=nvidia-tesla-t4,count=1 \
#     --initialization-actions=gs://goog-dataproc-initialization-actions-$REGION/gpu/install_gpu_driver.sh \
#     --metadata=gpu-driver-provider=NVIDIA,cuda-version=11.8
# CPU executors: also append --add-modules=jdk.incubator.vector to the cluster's spark.executor.extraJavaOptions
# (the UNet's vectorised softmax; without it a scalar loop gives the same results, slower — spark-submit/emr/README.md).
set -euo pipefail
CLUSTER="${1:?cluster name}"; REGION="${2:?region}"; shift 2
JAR="${AVATAR_TRAIN_JAR:?set AVATAR_TRAIN_JAR=gs://bucket/jars/avatar-train-...-cluster.jar}"
GPU_PROPS=""
if [[ "${GPU:-0}" == 1 ]]; then
  GPU_PROPS=",spark.executor.resource.gpu.amount=1,spark.task.resource.gpu.amount=1,spark.executor.resource.gpu.discoveryScript=/usr/lib/spark/scripts/gpu/getGpusResources.sh"
fi
exec gcloud dataproc jobs submit spark --cluster="$CLUSTER" --region="$REGION" \
  --class=dev.avatartrain.cli.Main --jars="$JAR" \
  --properties="spark.serializer=org.apache.spark.serializer.KryoSerializer,spark.kryoserializer.buffer.max=1g,spark.driver.maxResultSize=4g,spark.speculation=false,spark.executorEnv.GLIBC_TUNABLES=glibc.malloc.hugetlb=1,spark.executorEnv.OMP_WAIT_POLICY=PASSIVE${GPU_PROPS}" \
  -- "$@"
