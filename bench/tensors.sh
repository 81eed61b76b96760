#!/usr/bin/env bash
# Tensor-file read benchmark (issue 9): a 1 GB safetensors file and a 1 GB torch.save .pt file (64 float32
# tensors of 4 Mi elements) read into ND4J arrays, next to torch.load and np.load of the same data in the
# same run. The files are generated under /tmp (never committed). Run: flock /tmp/bench.lock bench/tensors.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${TENSORS_BENCH_DIR:-/tmp/tensors-bench}"
mkdir -p "$DIR"
PY=/usr/bin/python3
$PY - "$DIR" <<'PY'
import json, os, struct, sys, numpy as np, torch
d = sys.argv[1]
if not os.path.exists(os.path.join(d, "big.safetensors")):
    g = torch.Generator().manual_seed(0)
    sd = {f"layer{i:02d}.weight": torch.randn(2048, 2048, generator=g) for i in range(64)}
    torch.save(sd, os.path.join(d, "big.pt"))
    np.save(os.path.join(d, "big.npy"), np.concatenate([t.numpy().ravel() for t in sd.values()]))
    # safetensors layout written by hand (the python safetensors package is not installed here)
    header, off = {}, 0
    for k, t in sd.items():
        n = t.numel() * 4
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, "big.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h)
        for t in sd.values(): f.write(t.numpy().tobytes())
PY
ls -l "$DIR"
sync
for f in big.pt; do
  $PY -c "
import time, torch, sys
best = 1e9
for r in range(3):
    t = time.perf_counter(); sd = torch.load('$DIR/$f'); s = sum(float(v.view(-1)[0]) for v in sd.values()); best = min(best, time.perf_counter() - t); del sd
print('python torch.load $f best %.3f s' % best)"
done
$PY -c "
import time, numpy as np
best = 1e9
for r in range(3):
    t = time.perf_counter(); a = np.load('$DIR/big.npy'); best = min(best, time.perf_counter() - t); del a
print('python np.load big.npy best %.3f s' % best)"
"$ROOT/bench/java.sh" TensorReadBench "$DIR/big.safetensors" "$DIR/big.pt" "$DIR/big.npy"
