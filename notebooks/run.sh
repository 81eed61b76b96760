#!/usr/bin/env bash
# Executes every notebook in notebooks/ against a run folder (default: the demo's output/demo) with
# Debian's jupyter-nbconvert, python3-pandas and python3-matplotlib, into target/notebooks. Fails on any error.
#   AVATAR_RUN_DIR=/path/to/run notebooks/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export AVATAR_RUN_DIR="$(realpath -m "${AVATAR_RUN_DIR:-$ROOT/output/demo}")"

need=()
command -v jupyter-nbconvert >/dev/null 2>&1 || need+=(jupyter-nbconvert python3-ipykernel)
python3 -c 'import pandas' 2>/dev/null || need+=(python3-pandas)
python3 -c 'import matplotlib' 2>/dev/null || need+=(python3-matplotlib)
python3 -c 'import ipykernel' 2>/dev/null || need+=(python3-ipykernel)
if ((${#need[@]})); then bin/install-debian-packages "${need[@]}"; fi

if [ ! -f "$AVATAR_RUN_DIR/metrics.jsonl" ]; then
  echo "notebooks/run.sh: no run at $AVATAR_RUN_DIR; running the demo"
  bin/avatar-train demo
fi

mkdir -p target/notebooks
for nb in notebooks/*.ipynb; do
  echo "notebooks/run.sh: executing $nb against $AVATAR_RUN_DIR"
  (cd notebooks && jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=600 \
      --output-dir "$ROOT/target/notebooks" "$(basename "$nb")")
done
echo "notebooks/run.sh: all notebooks executed (target/notebooks)"
