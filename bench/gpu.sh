#!/usr/bin/env bash
# GPU benchmark, run from the bundle bench/gpu-pack.sh makes (a machine with an NVIDIA GPU, no Java needed):
#   gpu-bundle/gpu.sh            (GPU_STEPS=10 steps per case; finishes in a few minutes)
# 1. The GPU and what DL4J's CUDA build (nd4j-cuda-11.6 1.0.0-M2.1: sm_37 to sm_86, no PTX) can do on it.
# 2. Where it can (sm_8x, and a bundle packed with GPU_PACK_DL4J=1): the UNet and adapter steps on DL4J's CUDA backend
#    (the SameDiff graph; the hand-written kernels are CPU code). Where it cannot (H100/H200 sm_90, B200): says so.
# 3. The new CUDA backend's op checks and steps (marked below).
# 4. PyTorch's diffusers UNet (bench/unet.py --device cuda) with whatever torch this machine has.
# Prints ms/step, samples/s and peak GPU memory per case, and the ratio where both sides ran.
set -uo pipefail
B="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ -f "$B/gpu-report.jar" ]] || B="$(cd "$B/.." && pwd)"   # run as gpu-bundle/gpu.sh or gpu-bundle/bench/gpu.sh
STEPS="${GPU_STEPS:-10}"
JAVA="$B/jre/bin/java"
cd "$B"
echo "== machine"
date -u; nvidia-smi --query-gpu=index,name,compute_cap,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi failed"

echo "== DL4J's CUDA build on this GPU"
"$JAVA" -cp gpu-report.jar dev.avatartrain.gpu.GpuReport --as-cuda-build
report=$?
dl4j_ms=""
if [[ $report -eq 4 ]]; then
  echo "DL4J: not run: no NVIDIA GPU seen."
elif [[ $report -ne 0 ]]; then
  echo "DL4J: not run: DL4J's CUDA build (nd4j-cuda-11.6 1.0.0-M2.1) cannot run on this GPU: it carries machine code for"
  echo "      sm_37 to sm_86 and no PTX, which the driver could compile for a newer architecture."
elif [[ ! -f avatar-train-cuda.jar ]]; then
  echo "DL4J: not run: this bundle has no DL4J CUDA jar (pack it with GPU_PACK_DL4J=1 bench/gpu-pack.sh)."
else
  read -r -a FLAGS < jvm-options.txt
  CP="avatar-train-cuda.jar:bench-classes.jar"
  for c in "tiny 12 32 50" "bench 12 32 50"; do
    # shellcheck disable=SC2086
    out="$(timeout 240 jre-full/bin/java -Xmx24g "${FLAGS[@]}" -Dbench.graph -cp "$CP" dev.avatartrain.bench.UNetBench $c "$STEPS" 2>dl4j.log)"
    echo "$out" | grep -E 'median|params' || { echo "DL4J UNet $c failed; dl4j.log ends:"; tail -n 20 dl4j.log; }
    [[ "$c" == bench* ]] && dl4j_ms="$(echo "$out" | sed -n 's/.*training step (forward+backward+AdamW) \([0-9.]*\) ms.*/\1/p')"
  done
  timeout 240 jre-full/bin/java -Xmx24g "${FLAGS[@]}" -cp "$CP" dev.avatartrain.bench.AdapterBench --graph 2>>dl4j.log \
    || { echo "DL4J adapter failed; dl4j.log ends:"; tail -n 20 dl4j.log; }
fi

echo "== the new CUDA backend (op checks and steps)"
# >>> CUDA backend entry point (branch cuda): its op checks and UNet/adapter steps go here, e.g.
# >>>   jre-full/bin/java -cp avatar-train-cuda.jar:... <its main class> --check-ops --steps "$STEPS"
echo "not in this build yet"

echo "== PyTorch"
PY="${GPU_PYTHON:-python3}"
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "PyTorch: not run (no torch with CUDA for $PY)"
elif [[ ! -f reference/diffusers_ref.py ]]; then
  echo "PyTorch: not run (the bundle has no diffusers reference: REFERENCE_DIR when packing)"
else
  torch_ms=""
  for c in "tiny 12 32 50" "bench 12 32 50" "default 32 32 50"; do
    # shellcheck disable=SC2086
    out="$(PYTHONPATH="$B/reference" timeout 240 "$PY" bench/unet.py $c "$STEPS" --device cuda 2>torch.log)"
    echo "$out" | grep -E 'median|torch=' || { echo "PyTorch UNet $c failed; torch.log ends:"; tail -n 20 torch.log; }
    [[ "$c" == bench* ]] && torch_ms="$(echo "$out" | sed -n 's/.*training step (forward+backward+AdamW) \([0-9.]*\) ms.*/\1/p')"
  done
  if [[ -n "$dl4j_ms" && -n "$torch_ms" ]]; then
    echo "ratio (bench UNet step, DL4J / PyTorch): $(awk -v a="$dl4j_ms" -v b="$torch_ms" 'BEGIN { printf "%.1f", a / b }')"
  else
    echo "ratio: n/a (DL4J did not run here)"
  fi
fi
