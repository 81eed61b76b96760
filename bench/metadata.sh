#!/usr/bin/env bash
# Metadata scan benchmark: find and a plain Python os.scandir scan (the orientation numbers of issue 10)
# next to the make-metadata listing phase on local disk and over s3proxy (bench/java.sh MetadataScanBench).
#   flock /tmp/bench.lock bench/metadata.sh [TREE] [WORKDIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TREE="${1:-/tmp/metadata-bench/tree-1b}"
WORK="${2:-/tmp/metadata-bench/work}"
PY=/usr/bin/python3
if [[ ! -d "$TREE/aligned-frames" ]]; then
  $PY - "$TREE" <<'PYEOF'
import os, sys
root = sys.argv[1]
for c in range(100):
    for sub, ext in (("aligned-frames", ".png"), ("audio", ".npy")):
        d = os.path.join(root, sub, "clip-%03d" % c); os.makedirs(d, exist_ok=True)
        for f in range(751):  # one byte each: a 0-byte image is not a frame
            with open(os.path.join(d, "%06d%s" % (f, ext)), "wb") as fh: fh.write(b"\0")
PYEOF
fi
sync
for i in 1 2 3; do
  /usr/bin/time -f "find: %e s" bash -c "find '$TREE' -type f | wc -l"
done
for i in 1 2 3; do
  /usr/bin/time -f "python scandir scan + json: %e s" $PY - "$TREE" "$WORK/python.json" <<'PYEOF'
import os, sys, json
root, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(out), exist_ok=True)
img = os.path.join(root, "aligned-frames")
data = []
for clip in sorted(e.name for e in os.scandir(img) if e.is_dir()):
    names = sorted(os.path.splitext(e.name)[0] for e in os.scandir(os.path.join(img, clip)) if e.name.endswith(".png"))
    data.append({"folder_name": clip, "image_count": len(names), "image_names": names})
json.dump({"folder_data": data}, open(out, "w"))
PYEOF
done
"$ROOT/bench/java.sh" MetadataScanBench "$TREE" "$WORK" 100 751 ${LOCAL_ONLY:+local-only}
