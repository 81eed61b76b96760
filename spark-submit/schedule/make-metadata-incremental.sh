#!/usr/bin/env bash
# The scheduled metadata scan: re-lists only new clips (and, on local disk, changed ones) and replaces the
# stable metadata location only once the new output is complete (make-metadata writes atomically and
# keeps the previous output until then).
#   METADATA=s3a://bucket/train-data/metadata.parquet INPUT=s3a://bucket/train-data/ \
#     spark-submit/schedule/make-metadata-incremental.sh [submit script, default submit-local.sh]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${INPUT:?set INPUT to the frame tree root (local, s3a:// or https://)}"
: "${METADATA:?set METADATA to the stable metadata location}"
SUBMIT="${1:-$HERE/../submit-local.sh}"
exec "$SUBMIT" make-metadata --mode scan --input "$INPUT" --output "$METADATA" --incremental "$METADATA"
