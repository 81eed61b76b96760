#!/usr/bin/env bash
# UNet training step, ND4J (hand-written kernels; BENCH_JAVA_OPTS='-Xmx12g -Dbench.graph' for the SameDiff graph) then the
# real diffusers UNet in PyTorch, same configs, one run, serialised
# with other benchmarks.  bench/unet.sh [tiny|bench|all|default] [steps] [profile] [batch]
# ("default" = configuration/unet/config.json, not part of "all": minutes per step on 2 cores)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHICH="${1:-all}"; STEPS="${2:-3}"; PROFILE="${3:-}"
run() { # config batch size seq
  "$ROOT/bench/java.sh" UNetBench "$1" "$2" "$3" "$4" "$STEPS" $PROFILE 2>/dev/null | grep -E '^java'
  /usr/bin/python3 "$ROOT/bench/unet.py" "$1" "$2" "$3" "$4" "$STEPS"
}
export -f run; export ROOT STEPS PROFILE
flock /tmp/bench.lock bash -c "
  uptime
  if [[ '$WHICH' == tiny || '$WHICH' == all ]]; then run tiny 12 32 50; fi
  if [[ '$WHICH' == bench || '$WHICH' == all ]]; then run bench 12 32 50; fi
  if [[ '$WHICH' == default ]]; then run default ${4:-2} 32 50; fi
  uptime"
