#!/usr/bin/env bash
# The seed's configuration as shipped (configuration/global: the 850 M UNet of configuration/unet/config.json,
# train_batch_size 12, 256 px, gradient checkpointing on) trained for one step on one worker, overriding only the data
# paths, max_train_steps (1) and gradient_accumulation_steps (1), with the heap the launcher picks: prints the train
# process's peak resident memory (VmHWM) and its step, then torch 2.13's training step at the same batch with
# diffusers' gradient checkpointing (bench/unet.py). Needs ≈ 21 GB of free memory and runs for many minutes on 2 cores:
#   flock /work/heavy.lock bench/seed-train.sh        (SEED_RUN_DIR: where data and outputs go; default target/seed-run)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/env.sh"
D="${SEED_RUN_DIR:-$ROOT/target/seed-run}"
rm -rf "$D"
mkdir -p "$D"
# the TAESD weights (madebyollin/taesd) come from the Hugging Face Hub; without a network or a filled cache,
# SEED_VAE=random uses seeded random TAESD weights (same shapes and cost; the validation grids show no picture)
SET=(--set "model.vae_pretrained_model_name_or_path=${SEED_VAE:-madebyollin/taesd}" --set "data.s3_data_base_url=" --set "data.local_data_base_url=$D/data/" --set "data.metadata_url=$D/data/metadata.json" --set "data.output_dir=$D/out")
uptime; free -g | head -2
"$ROOT/bin/avatar-train" synth --out "$D/data" --clips 3 --frames 40 --size 256 --audio-shape 10,384 --seed 42 >"$D/synth.log" 2>&1
"$ROOT/bin/avatar-train" encode "${SET[@]}" >"$D/encode.log" 2>&1
# one worker with both cores (a local task's kernels get spark.task.cpus cores); the launcher picks the heap
JAVA_TOOL_OPTIONS="-Dspark.task.cpus=2" "$ROOT/bin/avatar-train" train --master 'local[2]' "${SET[@]}" \
  --set train.max_train_steps=1 --set train.gradient_accumulation_steps=1 --set train.num_workers=1 >"$D/train.log" 2>&1 &
PID=$!
PEAK=0
while kill -0 "$PID" 2>/dev/null; do
  HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0)
  [[ -n "$HWM" && "$HWM" -gt "$PEAK" ]] && PEAK=$HWM
  sleep 1
done
rc=0; wait "$PID" || rc=$?
grep -E "avatar-train: heap|precision|gradient_checkpointing|step 1/1|samples/s|done at step|Exception|Error" "$D/train.log" | head -20 || true
echo "seed train: exit $rc, peak resident memory $(awk -v k="$PEAK" 'BEGIN {printf "%.1f GB", k * 1024 / 1e9}')"
uptime
BENCH_CHECKPOINTING=1 "$BENCH_PYTHON" "$ROOT/bench/unet.py" default 12 32 50 1
uptime
