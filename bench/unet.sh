#!/usr/bin/env bash
# UNet training step, ND4J (hand-written kernels; BENCH_JAVA_OPTS='-Xmx12g -Dbench.graph' for the SameDiff graph) and
# the real diffusers UNet in PyTorch (BENCH_PYTHON, default target/torch2: torch 2.13), same configs and inputs' shapes,
# one run, serialised with other benchmarks; BENCH_ROUNDS=n alternates the two sides n times.
#   bench/unet.sh [tiny|bench|all|default] [steps] [profile] [batch]
# ("default" = configuration/unet/config.json, not part of "all": ~30 s per step and ~15-18 GB on 2 cores)
# BENCH_CHECKPOINTING=1: gradient checkpointing on both sides (ours; diffusers' enable_gradient_checkpointing()).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/bench/env.sh"
WHICH="${1:-all}"; STEPS="${2:-5}"; PROFILE="${3:-}"; BATCH="${4:-2}"; ROUNDS="${BENCH_ROUNDS:-1}"
run() { # config batch size seq
  for ((round = 1; round <= ROUNDS; round++)); do
    "$ROOT/bench/java.sh" UNetBench "$1" "$2" "$3" "$4" "$STEPS" $PROFILE | grep -E '^java' \
      || { echo "bench/unet.sh: the ND4J side of $1 printed no result" >&2; return 1; }
    "$BENCH_PYTHON" "$ROOT/bench/unet.py" "$1" "$2" "$3" "$4" "$STEPS"
  done
}
export -f run; export ROOT STEPS PROFILE ROUNDS
flock /tmp/bench.lock bash -c "
  set -euo pipefail
  uptime
  if [[ '$WHICH' == tiny || '$WHICH' == all ]]; then run tiny 12 32 50; fi
  if [[ '$WHICH' == bench || '$WHICH' == all ]]; then run bench 12 32 50; fi
  if [[ '$WHICH' == default ]]; then run default $BATCH 32 50; fi
  uptime"
