#!/usr/bin/python3
"""Parity fixtures for dev.avatartrain.models.unet, made by the REAL diffusers 0.27.2 UNet2DConditionModel.

Run from the repository root with Debian's torch:
    /usr/bin/python3 src/test/scripts/make_unet_fixtures.py            # write the fixtures
    /usr/bin/python3 src/test/scripts/make_unet_fixtures.py --check-export DIR
        # load every DIR/<case>.safetensors (written by UNetParityTest from Java) into diffusers with
        # strict=True and compare its output with the fixture; exit 1 on any mismatch
    /usr/bin/python3 src/test/scripts/make_unet_fixtures.py --check-checkpoint CONFIG.json MODEL.safetensors
        # load a trained checkpoint (train's model.safetensors or export's output) into diffusers with
        # strict=True and run it once on random inputs; exit 1 if it does not load or gives non-finite output
Needs the PyTorch originals (diffusers_ref.py, found as originals.py says). Writes src/test/resources/fixtures/unet/:
  <case>.json          the diffusers config
  <case>.safetensors   weights under "unet." (float16 values, which the fp32 run uses exactly), the inputs
                       "io.sample", "io.timestep", "io.encoder_hidden_states", "io.target", the output "io.out",
                       the MSE loss "io.loss" and its gradient "grad.<param>" for a few parameters (fp32)
  names_<config>.json  parameter names and shapes of configuration/unet/<config>.json (no weights)
  rejected.json        configs diffusers 0.27 refuses or that change the network unsupported (Java must reject)
Safetensors are written and read by hand (struct + json): the python safetensors package is not installed.
"""
import json, os, struct, sys
import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import originals  # noqa: E402

originals.use_reference()
from diffusers_ref import UNet2DConditionModel  # noqa: E402

OUT = os.path.join(ROOT, "src", "test", "resources", "fixtures", "unet")
torch.set_num_threads(2)

# torch 1.13's CPU baddbmm with beta=0 (documented to ignore `input`) returns NaN at random for small batched
# shapes with a transposed batch2 (uninitialised memory times 0, measured here); diffusers' AttnProcessor calls it
# exactly so. Compute the documented result, alpha * (batch1 @ batch2), instead.
_baddbmm = torch.baddbmm


def _baddbmm_beta0_fixed(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    if beta == 0 and out is None:
        return torch.bmm(batch1, batch2) * alpha
    return _baddbmm(input, batch1, batch2, beta=beta, alpha=alpha, out=out)


torch.baddbmm = _baddbmm_beta0_fixed

# Each case: a tiny config covering options, the input size and the timesteps (dtype matters: int or float).
CASES = {
    # conv projection, int head count, silu, flip_sin_to_cos, padding 1, int timesteps
    "conv_int_heads": dict(
        config=dict(in_channels=4, out_channels=3, block_out_channels=[8, 16], layers_per_block=1,
                    down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
                    norm_num_groups=4, cross_attention_dim=12, attention_head_dim=2, sample_size=8),
        batch=2, hw=(8, 8), seq=5, timestep=torch.tensor([3, 999], dtype=torch.int64)),
    # linear projection, per-block head list, per-block layers, gelu, no flip, freq_shift 1,
    # downsample_padding 0 (asymmetric pad), mid_block_scale_factor, center_input_sample, non-square input
    "linear_list_heads": dict(
        config=dict(in_channels=3, out_channels=2, block_out_channels=[4, 8, 12], layers_per_block=[1, 2, 1],
                    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
                    norm_num_groups=2, norm_eps=1e-6, cross_attention_dim=6, attention_head_dim=[2, 4, 3],
                    use_linear_projection=True, act_fn="gelu", flip_sin_to_cos=False, freq_shift=1,
                    downsample_padding=0, mid_block_scale_factor=1.5, center_input_sample=True,
                    upcast_attention=True, _name_or_path="fixture", transformer_layers_per_block=1),
        batch=3, hw=(4, 12), seq=3, timestep=torch.tensor([0.5, 250.25, 17.0], dtype=torch.float32)),
    # relu, cross-attention only at the lowest resolution, one head, a single token, broadcast timestep
    "relu_one_head": dict(
        config=dict(in_channels=2, out_channels=2, block_out_channels=[8, 8], layers_per_block=2,
                    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                    up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
                    norm_num_groups=2, cross_attention_dim=4, attention_head_dim=1, act_fn="relu",
                    freq_shift=3),
        batch=2, hw=(6, 4), seq=1, timestep=torch.tensor([42], dtype=torch.int64)),
}
GRAD_PARAMS = ["conv_in.weight", "time_embedding.linear_1.weight", "down_blocks.0.resnets.0.norm1.weight",
               "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight",
               "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.bias",
               "up_blocks.1.resnets.0.conv_shortcut.weight", "conv_out.bias"]

# Configs Java must reject, with the key its message names.
REJECTED = [
    ("num_attention_heads", dict(num_attention_heads=2), True),
    ("transformer_layers_per_block", dict(transformer_layers_per_block=2), False),
    ("class_embed_type", dict(class_embed_type="timestep"), False),
    ("down_block_types", dict(down_block_types=["AttnDownBlock2D", "DownBlock2D"]), False),
    ("mid_block_type", dict(mid_block_type="UNetMidBlock2DSimpleCrossAttn"), False),
    ("only_cross_attention", dict(only_cross_attention=True), False),
    ("time_embedding_type", dict(time_embedding_type="fourier"), False),
    ("act_fn", dict(act_fn="mish"), False),
    ("attention_head_dim", dict(attention_head_dim=3), False),
    ("norm_num_groups", dict(norm_num_groups=3), False),
    ("block_out_channels", dict(block_out_channels=[8, 16, 32]), True),
    ("downsample_padding", dict(downsample_padding=2), False),
    ("not_a_key", dict(not_a_key=1), False),
]

ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.float64: "F64",
             torch.bfloat16: "BF16"}
ST_TORCH = {v: k for k, v in ST_DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        b = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        s, t = e["data_offsets"]
        dt = ST_TORCH[e["dtype"]]
        raw = torch.frombuffer(bytearray(data[s:t]), dtype=torch.uint8) if t > s else torch.zeros(0, dtype=torch.uint8)
        out[name] = raw.view(dt).reshape(e["shape"]).clone()
    return out


def randomize(model, gen):
    """Default init, plus noise on norms/biases so they are exercised; rounded to fp16 so fp16 storage is exact."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith(".weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif name.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            p.copy_(p.half().float())


def make_case(index, name, spec):
    gen = torch.Generator().manual_seed(1000 + index)
    torch.manual_seed(11)
    model = UNet2DConditionModel(**spec["config"]).float()
    randomize(model, gen)
    model.eval()
    b, (h, w), s = spec["batch"], spec["hw"], spec["seq"]
    cfg = model.config
    sample = torch.randn(b, cfg.in_channels, h, w, generator=gen)
    ehs = torch.randn(b, s, cfg.cross_attention_dim, generator=gen)
    t = spec["timestep"]
    target = torch.randn(b, cfg.out_channels, h, w, generator=gen)
    out = model(sample, t, ehs).sample
    if not torch.isfinite(out).all():
        raise SystemExit(name + ": diffusers produced non-finite outputs")
    loss = torch.nn.functional.mse_loss(out, target)
    model.zero_grad()
    loss.backward()
    params = dict(model.named_parameters())
    tensors = {"unet." + k: v.detach().half() for k, v in model.state_dict().items()}
    tensors.update({"io.sample": sample, "io.timestep": t, "io.encoder_hidden_states": ehs, "io.target": target,
                    "io.out": out.detach(), "io.loss": loss.detach().reshape(1)})
    for g in GRAD_PARAMS:
        if g in params:
            tensors["grad." + g] = params[g].grad.detach().clone()
    write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors)
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(dict(model.config, _class_name="UNet2DConditionModel", _diffusers_version="0.27.2"), f, indent=1,
                  sort_keys=True, default=list)
    print(name, "params", sum(p.numel() for p in model.parameters()), "out", tuple(out.shape),
          "max|out|", float(out.abs().max()))


def names_of(config_name):
    path = os.path.join(ROOT, "configuration", "unet", config_name + ".json")
    with open(path) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    # torch 1.13 has no meta-device context: build on CPU with the (slow) random init switched off
    saved = {f: getattr(torch.nn.init, f) for f in ("kaiming_uniform_", "uniform_", "normal_")}
    try:
        for f in saved:
            setattr(torch.nn.init, f, lambda t, *a, **k: t)
        model = UNet2DConditionModel(**cfg)
    finally:
        for f, fn in saved.items():
            setattr(torch.nn.init, f, fn)
    names = {k: list(v.shape) for k, v in model.state_dict().items()}
    with open(os.path.join(OUT, "names_" + config_name + ".json"), "w") as f:
        json.dump(names, f, indent=0)
    print("names", config_name, len(names), "params", sum(v.numel() for v in model.parameters()))


def rejected():
    base = CASES["conv_int_heads"]["config"]
    out = []
    for key, change, diffusers_refuses in REJECTED:
        cfg = dict(base, **change)
        refused = False
        try:
            UNet2DConditionModel(**{k: v for k, v in cfg.items() if k != "not_a_key"})
        except Exception:  # noqa: BLE001 - we only record whether diffusers accepts it
            refused = True
        if diffusers_refuses and not refused:
            raise SystemExit("diffusers accepted " + key + ", expected it to refuse")
        out.append({"key": key, "config": cfg, "diffusers_refuses": refused})
    with open(os.path.join(OUT, "rejected.json"), "w") as f:
        json.dump(out, f, indent=1)


def check_export(directory):
    bad = 0
    for name in CASES:
        path = os.path.join(directory, name + ".safetensors")
        if not os.path.exists(path):
            print("missing export", path)
            bad += 1
            continue
        with open(os.path.join(OUT, name + ".json")) as f:
            cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
        model = UNet2DConditionModel(**cfg).float().eval()
        weights = read_safetensors(path)
        model.load_state_dict(weights, strict=True)  # raises on missing/unexpected/wrong shape
        fx = read_safetensors(os.path.join(OUT, name + ".safetensors"))
        with torch.no_grad():
            out = model(fx["io.sample"], fx["io.timestep"], fx["io.encoder_hidden_states"]).sample
        exp = fx["io.out"]
        rel = float((out - exp).abs().max() / (exp.abs().max() + 1e-6))
        dtypes = sorted({str(v.dtype) for v in weights.values()})
        print(name, "loaded strictly,", len(weights), "tensors", dtypes, "relative error", rel)
        if not rel <= 1e-4:
            bad += 1
    sys.exit(1 if bad else 0)


def check_checkpoint(config_path, weights_path):
    with open(config_path) as f:
        cfg = {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    model = UNet2DConditionModel(**cfg).float().eval()
    weights = {k: v.float() for k, v in read_safetensors(weights_path).items()}
    model.load_state_dict(weights, strict=True)  # raises on missing/unexpected/wrong shape
    size = 2 ** (len(cfg["block_out_channels"]) - 1) * 2
    with torch.no_grad():
        out = model(torch.randn(2, cfg["in_channels"], size, size), torch.zeros(2),
                    torch.randn(2, 3, cfg["cross_attention_dim"])).sample
    finite = bool(torch.isfinite(out).all())
    print(weights_path, "loaded strictly into diffusers,", len(weights), "tensors; output", tuple(out.shape),
          "finite" if finite else "NOT FINITE")
    sys.exit(0 if finite else 1)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check-checkpoint":
        check_checkpoint(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    for i, (name, spec) in enumerate(CASES.items()):
        make_case(i, name, spec)
    for c in ("tiny", "config"):
        names_of(c)
    rejected()


if __name__ == "__main__":
    main()
