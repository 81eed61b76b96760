#!/usr/bin/env bash
# Spark GPU discovery script: prints the GPUs of this node as Spark's resource JSON,
# e.g. {"name": "gpu", "addresses": ["0", "1"]}. Needs nvidia-smi on the worker.
ADDRS=$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | sed -e 's/^ *//' -e 's/.*/"&"/' | paste -sd, -)
echo "{\"name\": \"gpu\", \"addresses\": [${ADDRS}]}"
