"""Reads a TensorBoard log directory with TensorBoard's own reader (EventAccumulator) and prints what it found as JSON.

Used by the Java tests (TrackingTest, EventFileWriterTest) to prove that the event files written by the JVM are
what TensorBoard reads. Usage: read_tensorboard.py LOGDIR
"""
import io
import json
import sys

from PIL import Image
from tensorboard.backend.event_processing import event_accumulator as ea

acc = ea.EventAccumulator(sys.argv[1], size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0})
acc.Reload()
tags = acc.Tags()
out = {"scalars": {}, "images": {}, "texts": {}}
for tag in tags["scalars"]:
    out["scalars"][tag] = [[e.step, e.value] for e in acc.Scalars(tag)]
for tag in tags["images"]:
    rows = []
    for e in acc.Images(tag):
        img = Image.open(io.BytesIO(e.encoded_image_string))
        img.load()  # decodes the whole PNG
        rows.append({"step": e.step, "width": e.width, "height": e.height, "decoded": list(img.size)})
    out["images"][tag] = rows
for tag in tags["tensors"]:
    events = acc.Tensors(tag)
    plugin = acc.SummaryMetadata(tag).plugin_data.plugin_name
    out["texts"][tag] = [{"step": e.step, "plugin": plugin, "text": b"".join(e.tensor_proto.string_val).decode("utf-8")} for e in events]
print(json.dumps(out))
