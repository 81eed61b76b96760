# Sourced by the bench scripts. BENCH_PYTHON is the interpreter of the PyTorch side: default the checkout's
# target/torch2 venv (torch 2.13, the speed anchor: python3 -m venv target/torch2 &&
# target/torch2/bin/pip install torch==2.13.0+cpu numpy packaging requests pillow pyyaml; the last four for
# diffusers_ref), else python3 (Debian's torch 1.13: history only).
# Prints which interpreter and torch version ran; fails when that interpreter has no torch.
BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${BENCH_PYTHON:-}" ]]; then
  if [[ -x "$BENCH_ROOT/target/torch2/bin/python" ]]; then
    BENCH_PYTHON="$BENCH_ROOT/target/torch2/bin/python"
  else
    BENCH_PYTHON=python3
  fi
fi
export BENCH_PYTHON
if ! BENCH_TORCH="$("$BENCH_PYTHON" -c 'import torch; print(torch.__version__)' 2>&1)"; then
  echo "bench: BENCH_PYTHON=$BENCH_PYTHON cannot import torch: $BENCH_TORCH" >&2
  echo "bench: make the torch 2.13 venv: python3 -m venv target/torch2 && target/torch2/bin/pip install torch==2.13.0+cpu numpy packaging requests pillow pyyaml" >&2
  exit 1
fi
echo "python side: $BENCH_PYTHON, torch $BENCH_TORCH"
