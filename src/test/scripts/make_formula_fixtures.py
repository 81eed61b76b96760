#!/usr/bin/env python3
"""Parity fixtures whose weights are computed, not stored, made by the REAL diffusers 0.27.2 UNet2DConditionModel.

Weights come from the parameter names on both sides (formula_weights.py, FormulaWeights.java), so a fixture holds
only inputs, outputs and gradient samples. Two cases:
* wide: the default UNet's widths: configuration/unet/config.json with two levels, [320, 1280], one layer each.
  A DownBlock2D of 1280 channels (the 850 M UNet's last down level), the mid block at 1280 (attention heads of 160
  channels), an UpBlock2D of 1280 whose ResNets see 2560 channels, and cross-attention blocks at 320 (heads of 40
  channels): the widths at which the fast kernels run (BlockedAttention, the GEMM convolution backward).
  UNetWideParityTest reads it.
* tiny: configuration/unet/tiny.json, forward only; ExportLayoutsTest reads it.

Run from the repository root with torch 2.13 (CPU) and numpy, with the originals found as originals.py says:
    python3 -m venv target/torch2
    target/torch2/bin/pip install torch==2.13.0+cpu numpy packaging filelock regex requests importlib-metadata \
        tqdm pyyaml
    target/torch2/bin/python src/test/scripts/make_formula_fixtures.py [CASE...]          # write the fixtures
    target/torch2/bin/python src/test/scripts/make_formula_fixtures.py --check [CASE...]  # recompute and compare
        # (exit 1 when a value differs by more than 1e-4 of its tensor's largest)
Writes, in src/test/resources/fixtures/unet/, <case>.json (the diffusers config), <case>.safetensors (inputs, output,
loss, and for a few parameters the gradient at 256 evenly spaced positions plus its sum of squares) and
<case>.provenance.json (the command and the versions that made them).
"""
import datetime, json, math, os, platform, struct, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import formula_weights  # noqa: E402
import originals  # noqa: E402

originals.use_reference()
from diffusers_ref import UNet2DConditionModel  # noqa: E402

ROOT = originals.ROOT
OUT = os.path.join(ROOT, "src", "test", "resources", "fixtures", "unet")
torch.set_num_threads(2)

SAMPLES = 256
# parameters whose gradients are compared: the GEMM convolution backward at 320 -> 1280, 1280, 2560 -> 1280 and the
# upsampler at 16x16; attention at heads of 160 (mid block) and 40 (level 0, down and up)
GRADS = ["conv_in.weight", "time_embedding.linear_1.weight",
         "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
         "down_blocks.0.downsamplers.0.conv.weight",
         "down_blocks.1.resnets.0.conv1.weight", "down_blocks.1.resnets.0.conv2.weight",
         "mid_block.attentions.0.transformer_blocks.0.attn1.to_k.weight",
         "mid_block.attentions.0.transformer_blocks.0.attn2.to_v.weight",
         "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
         "mid_block.resnets.1.norm1.weight",
         "up_blocks.0.resnets.0.conv1.weight", "up_blocks.0.resnets.0.conv_shortcut.weight",
         "up_blocks.0.upsamplers.0.conv.weight",
         "up_blocks.1.attentions.1.transformer_blocks.0.attn1.to_out.0.weight",
         "conv_out.weight"]
CASES = {
    "wide": dict(base="config", overrides=dict(block_out_channels=[320, 1280], layers_per_block=1,
                                               down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                                               up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"]),
                 batch=2, hw=(16, 16), seq=7, timestep=[999.0, 17.0], grads=GRADS,
                 # a check that the two formula implementations agree: the first values of one tensor
                 formula_check="down_blocks.1.resnets.0.conv1.weight"),
    "tiny": dict(base="tiny", overrides={}, batch=2, hw=(8, 8), seq=5, timestep=[0.0, 500.0], grads=[],
                 formula_check="down_blocks.0.attentions.0.proj_in.weight"),
}


def config(case):
    with open(os.path.join(ROOT, "configuration", "unet", CASES[case]["base"] + ".json")) as f:
        cfg = json.load(f)
    cfg.update(CASES[case]["overrides"])
    return cfg


def compute(case):
    """The fixture's tensors, from the real diffusers code."""
    spec = CASES[case]
    cfg = config(case)
    with torch.device("meta"):
        model = UNet2DConditionModel(**{k: v for k, v in cfg.items() if not k.startswith("_")})
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    weights = {k: torch.from_numpy(formula_weights.values(k, s)) for k, s in shapes.items()}
    model.load_state_dict(weights, strict=True, assign=True)
    model.float().train(False)
    gen = torch.Generator().manual_seed(20261207)
    b, hw = spec["batch"], spec["hw"]
    sample = torch.randn(b, cfg["in_channels"], *hw, generator=gen)
    ehs = torch.randn(b, spec["seq"], cfg["cross_attention_dim"], generator=gen)
    target = torch.randn(b, cfg["out_channels"], *hw, generator=gen)
    t = torch.tensor(spec["timestep"])
    out = model(sample, t, ehs).sample
    loss = torch.nn.functional.mse_loss(out, target)
    loss.backward()
    params = dict(model.named_parameters())
    tensors = {"io.sample": sample, "io.timestep": t, "io.encoder_hidden_states": ehs, "io.target": target,
               "io.out": out.detach(), "io.loss": loss.detach().reshape(1),
               "formula." + spec["formula_check"]: weights[spec["formula_check"]].reshape(-1)[:64].clone()}
    for name in spec["grads"]:
        g = params[name].grad.detach().reshape(-1)
        idx = torch.arange(SAMPLES, dtype=torch.int64) * g.numel() // SAMPLES
        tensors["grad." + name + ".index"] = idx
        tensors["grad." + name + ".value"] = g[idx].clone()
        tensors["grad." + name + ".sumsq"] = (g.double() ** 2).sum().reshape(1)
    return cfg, tensors, sum(p.numel() for p in model.parameters())


ST = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata):
    """safetensors written with struct + json: diffusers_ref stubs the safetensors package."""
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": ST[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dt = {v: k for k, v in ST.items()}
    return {k: torch.frombuffer(bytearray(data[e["data_offsets"][0]:e["data_offsets"][1]]), dtype=dt[e["dtype"]])
            .reshape(e["shape"]) for k, e in header.items() if k != "__metadata__"}


def check(case):
    """Recompute with the originals and compare with the stored fixture (relative to each tensor's largest value)."""
    _, tensors, _ = compute(case)
    stored = read_safetensors(os.path.join(OUT, case + ".safetensors"))
    worst = 0.0
    for name, t in tensors.items():
        s = stored[name]
        if name.endswith(".index") or name.startswith("formula."):
            ok = torch.equal(s, t)
            print(name, "equal" if ok else "DIFFERENT")
            worst = max(worst, 0.0 if ok else math.inf)
            continue
        rel = float((s.double() - t.double()).abs().max() / (s.double().abs().max() + 1e-12))
        worst = max(worst, rel)
    print(case + ": live diffusers with torch", torch.__version__, "against the stored fixture: largest relative "
          "difference", worst)
    return worst <= 1e-4


def main():
    args = sys.argv[1:]
    checking = args[:1] == ["--check"]
    cases = [a for a in args if a != "--check"] or list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        raise SystemExit("unknown case " + ", ".join(unknown) + "; the cases are " + ", ".join(CASES))
    if checking:
        sys.exit(0 if all([check(c) for c in cases]) else 1)
    for case in cases:
        write(case)


def write(case):
    cfg, tensors, params = compute(case)
    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
                "diffusers": "0.27.2 (the model code diffusers_ref.py imports)"}
    command = "python src/test/scripts/make_formula_fixtures.py " + case
    write_safetensors(os.path.join(OUT, case + ".safetensors"), tensors,
                      {"command": command, **{k: str(v) for k, v in versions.items()}})
    with open(os.path.join(OUT, case + ".json"), "w") as f:
        json.dump(cfg, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(OUT, case + ".provenance.json"), "w") as f:
        json.dump({"command": command, "versions": versions, "parameters": params,
                   "made": datetime.date.today().isoformat()}, f, indent=1)
        f.write("\n")
    print(case + ": parameters", params, "out", tuple(tensors["io.out"].shape), "loss", float(tensors["io.loss"]))


if __name__ == "__main__":
    main()
