"""Makes the tensor-file fixtures in src/test/resources/fixtures/tensors with the real torch and numpy.

Run from the repository root with Debian's python3-torch / python3-numpy:
    /usr/bin/python3 src/test/scripts/make_tensor_fixtures.py [path/to/taef2/weights]
Every fixture is small; expected values are written with numpy (np.savez / json), not by our code.
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch

OUT = "src/test/resources/fixtures/tensors"
os.makedirs(OUT, exist_ok=True)
g = torch.Generator().manual_seed(7)


def p(name):
    return os.path.join(OUT, name)


def safetensors_bytes(tensors, metadata=None):
    """The safetensors format written by hand (the python package is not installed here)."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                 torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                 torch.uint8: "U8", torch.bool: "BOOL"}[t.dtype]
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def as_f64(t):
    return t.to(torch.float64).numpy() if t.dtype != torch.bool else t.to(torch.float64).numpy()


# ---- every dtype: safetensors + expected values ------------------------------------------------------
base = torch.randn(2, 3, generator=g) * 3
dtypes = {
    "f64": base.double(), "f32": base.float(), "f16": base.half(), "bf16": base.bfloat16(),
    "i64": torch.tensor([[-(2 ** 40), 5, 7]], dtype=torch.int64), "i32": torch.tensor([-3, 2 ** 30], dtype=torch.int32),
    "i16": torch.tensor([-300, 300], dtype=torch.int16), "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
    "u8": torch.tensor([0, 200, 255], dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
    "scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4),
}
with open(p("dtypes.safetensors"), "wb") as f:
    f.write(safetensors_bytes(dtypes, {"format": "pt", "note": "fixture"}))
np.savez(p("dtypes_expected.npz"), **{k: as_f64(v) for k, v in dtypes.items()})

# ---- torch.save: nested containers, views, strides, offsets, shared storages, fp16/bf16 ------------------
big = torch.arange(24, dtype=torch.float32).reshape(4, 6)
shared = torch.randn(10, generator=g)
model = collections.OrderedDict()
model["conv.weight"] = torch.randn(3, 2, 3, 3, generator=g)
model["conv.bias"] = torch.nn.Parameter(torch.randn(3, generator=g))
model["half"] = torch.randn(2, 5, generator=g).half()
model["bfloat"] = torch.randn(3, 2, generator=g).bfloat16()
model["view_offset"] = big[1:3, 2:5]          # storage offset + non-contiguous
model["transposed"] = big.t()                  # strides (1, 6)
model["shared_a"] = shared[:4]
model["shared_b"] = shared[3:9].view(2, 3)     # same storage, other offset
model["long"] = torch.tensor([1, -2, 3], dtype=torch.int64)
model["flags"] = torch.tensor([True, False])
model["bytes"] = torch.tensor([1, 255], dtype=torch.uint8)
model["scalar"] = torch.tensor(3.25, dtype=torch.float64)
model["empty"] = torch.zeros(2, 0)
nested = {"state_dict": model, "list": [torch.ones(2), torch.full((1,), 7.0)], "tuple": (torch.zeros(1, dtype=torch.int32),),
          "epoch": 5, "lr": 0.001, "name": "fixture", "none": None}
torch.save(nested, p("nested.pt"))
flat = {}
for k, v in model.items():
    flat["state_dict." + k] = v.detach()
flat["list.0"], flat["list.1"], flat["tuple.0"] = nested["list"][0], nested["list"][1], nested["tuple"][0]
np.savez(p("nested_expected.npz"), **{k: as_f64(v) for k, v in flat.items()})
with open(p("nested_expected_order.json"), "w") as f:
    json.dump(list(flat.keys()), f)

torch.save(torch.randn(3, 4, generator=g), p("bare_tensor.pt"))
np.save(p("bare_tensor_expected.npy"), torch.load(p("bare_tensor.pt")).double().numpy())
torch.save({"a": 1, "b": [2, 3]}, p("no_tensors.pt"))
torch.save(model, p("legacy.pt"), _use_new_zipfile_serialization=False)

# ---- numpy: versions, byte orders, memory orders, strings, object arrays, npz ---------------------------
arr = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 7
for version in [(1, 0), (2, 0), (3, 0)]:
    with open(p("v%d.npy" % version[0]), "wb") as f:
        np.lib.format.write_array(f, arr.astype(np.float32), version=version)
np.save(p("big_endian_f8.npy"), arr.astype(">f8"))
np.save(p("big_endian_i4.npy"), np.arange(6, dtype=">i4").reshape(2, 3) - 3)
np.save(p("fortran.npy"), np.asfortranarray(arr))
np.save(p("bool.npy"), np.array([[True, False], [False, True]]))
np.save(p("f16.npy"), arr.astype(np.float16))
np.save(p("strings.npy"), np.array(["HDTF-0001", "x", "ünï"]))
np.save(p("object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
np.save(p("arr_expected.npy"), arr)
np.savez(p("stored.npz"), a=arr.astype(np.float32), names=np.array(["a", "bb"]), n=np.int64(3))
np.savez_compressed(p("deflated.npz"), a=arr.astype(np.float32), names=np.array(["a", "bb"]), n=np.int64(3))
# What np.save writes for arrays our writer must reproduce byte for byte.
np.save(p("np_save_f32_2x3.npy"), np.arange(6, dtype=np.float32).reshape(2, 3))
np.save(p("np_save_i64_4.npy"), np.array([1, -2, 3, 4], dtype=np.int64))
np.save(p("np_save_u10.npy"), np.array(["HDTF-0001", "HDTF-10"]))


# ---- malicious files: each must be refused with nothing executed -------------------------------------
def torch_zip(path, pickle_bytes, extra=None):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/version", "3\n")
        for name, data in (extra or {}).items():
            z.writestr(name, data)


MARKER = "/tmp/avatar-train-pwned-%s"


class Reduce:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


torch_zip(p("evil_os_system.pt"), pickle.dumps(Reduce(os.system, ("touch " + MARKER % "os-system",)), protocol=2))
torch_zip(p("evil_eval.pt"), pickle.dumps(Reduce(eval, ("open('%s','w').write('x')" % (MARKER % "eval"),)), protocol=2))
torch_zip(p("evil_exec.pt"), pickle.dumps(Reduce(exec, ("open('%s','w').write('x')" % (MARKER % "exec"),)), protocol=2))
# A global from a module that does not exist here (pickled by hand: GLOBAL 'evilmod Thing').
torch_zip(p("evil_unknown_module.pt"), b"\x80\x02cevilmod\nThing\nq\x00)\x81q\x01.")
# subprocess via STACK_GLOBAL (protocol 4 style)
torch_zip(p("evil_subprocess.pt"), b"\x80\x04\x8c\nsubprocess\x8c\x05Popen\x93\x8c\x05touch\x85R.")
# BUILD on a plain list: EMPTY_LIST, EMPTY_DICT, BUILD, STOP
torch_zip(p("evil_build.pt"), b"\x80\x02]}b.")
# A member whose name climbs out of the archive.
torch_zip(p("evil_traversal.pt"), pickle.dumps({}, protocol=2), {"../../avatar-train-pwned-traversal": "x"})
with open(p("nested.pt"), "rb") as f:
    whole = f.read()
with open(p("truncated.pt"), "wb") as f:
    f.write(whole[: len(whole) // 2])

ok = safetensors_bytes({"a": torch.ones(4), "b": torch.zeros(2)})
hlen = struct.unpack("<Q", ok[:8])[0]
header = json.loads(ok[8:8 + hlen])


def with_header(h, data_len):
    hb = json.dumps(h).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"\0" * data_len


h = json.loads(json.dumps(header)); h["b"]["data_offsets"] = [16, 40]; h["b"]["shape"] = [6]
open(p("bad_past_end.safetensors"), "wb").write(with_header(h, 24))
h = json.loads(json.dumps(header)); h["b"]["data_offsets"] = [8, 16]
open(p("bad_overlap.safetensors"), "wb").write(with_header(h, 24))
open(p("bad_header_2gb.safetensors"), "wb").write(struct.pack("<Q", 2 ** 31) + b"{}" + b" " * 6)
h = json.loads(json.dumps(header)); h["b"]["dtype"] = "F8_E4M3"
open(p("bad_dtype.safetensors"), "wb").write(with_header(h, 24))
open(p("bad_json.safetensors"), "wb").write(struct.pack("<Q", 8) + b"{nope:1}")

# ---- checksums of the real pretrained weights (float16 torch.save files) -----------------------------
weights = sys.argv[1] if len(sys.argv) > 1 else "configuration/demo/taef2"
sums = {}
for part in ("encoder", "decoder"):
    path = os.path.join(weights, "taef2_%s.pth" % part)
    if not os.path.exists(path):
        print("skipping checksums: no", path)
        continue
    sd = torch.load(path, map_location="cpu")
    sums[part] = {k: {"dtype": str(v.dtype), "shape": list(v.shape), "sum": float(v.double().sum()),
                      "sumsq": float((v.double() ** 2).sum()), "first": float(v.flatten()[0].double())}
                  for k, v in sd.items()}
if sums:
    with open(p("taef2_checksums.json"), "w") as f:
        json.dump(sums, f, indent=0, sort_keys=True)
print("fixtures written to", OUT)
