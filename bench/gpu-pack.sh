#!/usr/bin/env bash
# Packs what bench/gpu.sh needs on a machine with an NVIDIA GPU and no Java into target/gpu-bundle/ (at most 64 MiB):
# a jlink'ed Java runtime (java.base only), the GPU report (dev.avatartrain.gpu: nvidia-smi and this build's CUDA
# coverage, no other library), bench/gpu.sh, bench/unet.py with the UNet configurations, and the diffusers reference
# unet.py imports (REFERENCE_DIR, default shared/reference beside the checkout or its parent, when present).
#   bench/gpu-pack.sh                 # then copy target/gpu-bundle/ over and run gpu-bundle/gpu.sh there
#   GPU_PACK_DL4J=1 bench/gpu-pack.sh # also the -Pcuda cluster jar (CUDA_JAR) and the benchmark classes, for sm_8x GPUs
#                                     # (A100, A10G, L4): about 850 MB, past the 64 MiB limit
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/target/gpu-bundle"
LIMIT_MIB=64
cd "$ROOT"
mvn -q -B -o -DskipTests compile >target/gpu-pack-build.log 2>&1 || { tail -n 40 target/gpu-pack-build.log >&2; exit 1; }
rm -rf "$OUT" && mkdir -p "$OUT/bench" "$OUT/configuration/unet"
jlink --add-modules java.base --strip-debug --no-man-pages --no-header-files --compress=2 --output "$OUT/jre"
(cd target/classes && jar cf "$OUT/gpu-report.jar" dev/avatartrain/gpu/GpuReport*.class dev/avatartrain/gpu/NvidiaSmi*.class \
  dev/avatartrain/gpu/CudaBuild.class dev/avatartrain/gpu/GpuInfo.class)
cp bench/gpu.sh bench/unet.py "$OUT/bench/"
cp bench/gpu.sh "$OUT/gpu.sh"
cp configuration/unet/*.json "$OUT/configuration/unet/"
if [[ -z "${REFERENCE_DIR:-}" ]]; then
  for d in "$ROOT/../shared/reference" "$ROOT/../../shared/reference"; do [[ -d "$d" ]] && REFERENCE_DIR="$d" && break; done
fi
REFERENCE_DIR="${REFERENCE_DIR:-$ROOT/../shared/reference}"
if [[ -f "$REFERENCE_DIR/diffusers_ref.py" ]]; then
  cp -r "$REFERENCE_DIR" "$OUT/reference"
else
  echo "gpu-pack: no diffusers reference at $REFERENCE_DIR: gpu.sh will skip PyTorch's UNet (set REFERENCE_DIR)" >&2
fi
if [[ "${GPU_PACK_DL4J:-0}" == 1 ]]; then
  CUDA_JAR="${CUDA_JAR:-$(ls target/avatar-train-*-cluster.jar | head -1)}"
  unzip -l "$CUDA_JAR" | grep -q org/nd4j/linalg/jcublas/JCublasBackend.class \
    || { echo "gpu-pack: $CUDA_JAR has no CUDA backend: build it with mvn -Pcuda -DskipTests package" >&2; exit 2; }
  mvn -q -B -o test-compile >>target/gpu-pack-build.log 2>&1 || { tail -n 40 target/gpu-pack-build.log >&2; exit 1; }
  jlink --add-modules java.se,jdk.unsupported,jdk.incubator.vector --strip-debug --no-man-pages --no-header-files \
    --compress=2 --output "$OUT/jre-full"
  cp "$CUDA_JAR" "$OUT/avatar-train-cuda.jar"
  (cd target/test-classes && jar cf "$OUT/bench-classes.jar" dev/avatartrain/bench)
  cp target/classes/avatar-train/jvm-options.txt "$OUT/jvm-options.txt"
  LIMIT_MIB=0
fi
SIZE_MIB=$(( $(du -sk "$OUT" | cut -f1) / 1024 ))
echo "gpu-pack: $OUT, ${SIZE_MIB} MiB"
if (( LIMIT_MIB > 0 && SIZE_MIB > LIMIT_MIB )); then
  echo "gpu-pack: the bundle is past ${LIMIT_MIB} MiB" >&2
  exit 1
fi
