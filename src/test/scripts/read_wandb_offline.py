"""Reads an offline W&B run back with wandb's own reader (its DataStore and Record protobufs) and prints JSON:
{"history": [{key: value}], "config": {key: value}, "artifacts": [name], "exit_code": N}.
Usage: read_wandb_offline.py WANDB_DIR"""
import glob
import json
import sys

from wandb.proto import wandb_internal_pb2
from wandb.sdk.internal import datastore

files = glob.glob(sys.argv[1] + "/wandb/offline-run-*/run-*.wandb")
if len(files) != 1:
    sys.exit("expected one offline run under %s, found %s" % (sys.argv[1], files))
ds = datastore.DataStore()
ds.open_for_scan(files[0])
out = {"history": [], "config": {}, "artifacts": [], "exit_code": None}
while True:
    data = ds.scan_data()
    if data is None:
        break
    rec = wandb_internal_pb2.Record()
    rec.ParseFromString(data)
    kind = rec.WhichOneof("record_type")
    if kind == "history":
        out["history"].append({(i.key or "/".join(i.nested_key)): json.loads(i.value_json) for i in rec.history.item})
    elif kind == "config":
        for i in rec.config.update:
            out["config"][i.key or "/".join(i.nested_key)] = json.loads(i.value_json)
    elif kind == "artifact":
        out["artifacts"].append(rec.artifact.name)
    elif kind == "exit":
        out["exit_code"] = rec.exit.exit_code
print(json.dumps(out))
