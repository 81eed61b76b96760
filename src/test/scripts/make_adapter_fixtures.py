#!/usr/bin/python3
"""Parity fixtures for dev.avatartrain.models.adapter: InfiniteTalk's AudioProjModel and its windowing in PyTorch.

The model and windowing below are written from InfiniteTalk's wan/modules/multitalk_model.py (AudioProjModel and
the slicing in WanModel.forward) and wan/multitalk.py (the clamped window of frames around each frame), so the
fixtures are computed the way the original computes them. Run from the repository root with Debian's torch:
    /usr/bin/python3 src/test/scripts/make_adapter_fixtures.py            # write the fixtures
    /usr/bin/python3 src/test/scripts/make_adapter_fixtures.py --check-export DIR
        # load every DIR/<case>.safetensors (written by AudioProjExportTest from Java) into the PyTorch model with
        # strict=True and compare its output on the fixture's inputs; exit 1 on any mismatch
    /usr/bin/python3 src/test/scripts/make_adapter_fixtures.py --check-weights CONFIG_JSON WEIGHTS
        # load trained weights (train-adapter's adapter.safetensors, with or without "audio_proj.") strictly into the
        # PyTorch model of CONFIG_JSON (a JSON object string) and run it once; exit 1 if that fails
Writes src/test/resources/fixtures/adapter/<case>.safetensors holding
  config            (JSON, in __metadata__)
  proj1.weight ...  weights (values rounded to fp16, so an fp16 export is exact)
  io.audio.<i>      each clip's audio [T_i, L, C] (different lengths, some not 1 + k*vae_scale)
  io.target.<i>     each clip's teacher tokens [1 + ceil((T_i-1)/vs), tokens, dim]
  io.weight         per-example loss weights [B]
  io.audio_embeds, io.audio_embeds_vf, io.mask   the windowed, padded batch (model inputs)
  io.out, io.loss   output [B, N, tokens, dim] and the masked, weighted MSE
  grad.<param>      gradient of io.loss for every parameter
and, for AdapterManifestTest, manifest_audio_fp16.pt (a bare fp16 tensor [5, 2, 8]), manifest_target_bf16.pt
(a dict {"target": bf16 [2, 3, 8]}, so with vae_scale 4 the pair is valid) and not_a_tensor.pt (a dict of a
string and an int: a .pt file with no tensors).
Safetensors are written and read by hand (struct + json): the python safetensors package is not installed.
"""
import json, math, os, struct, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
OUT = os.path.join(ROOT, "src", "test", "resources", "fixtures", "adapter")
torch.set_num_threads(2)

CASES = {
    # InfiniteTalk's window and vae scale, with the output LayerNorm; one clip needs end padding (T=6)
    "w5_vs4_norm": dict(config=dict(audio_window=5, vae_scale=4, blocks=2, channels=8, intermediate_dim=16,
                                    context_tokens=3, output_dim=8, norm_output_audio=True),
                        lengths=[9, 6], weights=[1.0, 2.5]),
    # window 3, vae scale 2, no norm; a one-frame clip, an exact clip and one padded by a frame
    "w3_vs2_plain": dict(config=dict(audio_window=3, vae_scale=2, blocks=2, channels=8, intermediate_dim=12,
                                     context_tokens=2, output_dim=6, norm_output_audio=False),
                         lengths=[7, 1, 4], weights=[0.5, 1.0, 3.0]),
    # wide window, vae scale 3, norm, a single long clip
    "w7_vs3_norm": dict(config=dict(audio_window=7, vae_scale=3, blocks=3, channels=4, intermediate_dim=10,
                                    context_tokens=4, output_dim=5, norm_output_audio=True),
                        lengths=[11], weights=[1.0]),
}


class AudioProj(nn.Module):
    """InfiniteTalk's AudioProjModel: seq_len = audio_window, seq_len_vf = audio_window + vae_scale - 1."""

    def __init__(self, audio_window, vae_scale, blocks, channels, intermediate_dim, context_tokens, output_dim,
                 norm_output_audio):
        super().__init__()
        self.tokens, self.dim = context_tokens, output_dim
        self.proj1 = nn.Linear(audio_window * blocks * channels, intermediate_dim)
        self.proj1_vf = nn.Linear((audio_window + vae_scale - 1) * blocks * channels, intermediate_dim)
        self.proj2 = nn.Linear(intermediate_dim, intermediate_dim)
        self.proj3 = nn.Linear(intermediate_dim, context_tokens * output_dim)
        self.norm = nn.LayerNorm(output_dim) if norm_output_audio else nn.Identity()

    def forward(self, audio_embeds, audio_embeds_vf):
        b = audio_embeds.shape[0]
        frames = audio_embeds.shape[1] + audio_embeds_vf.shape[1]
        first = torch.relu(self.proj1(audio_embeds.reshape(audio_embeds.shape[0] * audio_embeds.shape[1], -1)))
        later = torch.relu(self.proj1_vf(audio_embeds_vf.reshape(b * audio_embeds_vf.shape[1], -1)))
        h = torch.cat([first.reshape(b, -1, first.shape[-1]), later.reshape(b, -1, later.shape[-1])], dim=1)
        h = torch.relu(self.proj2(h.reshape(b * frames, -1)))
        t = self.proj3(h).reshape(b * frames, self.tokens, self.dim)
        t = self.norm(t)
        return t.reshape(b, frames, self.tokens, self.dim)


def frame_windows(audio, window, length):
    """wan/multitalk.py: for frames 0..length-1 the frames t-w/2..t+w/2 clamped to the clip, [length, w, L, C]."""
    half = window // 2
    offsets = torch.arange(window) - half
    idx = torch.arange(length).unsqueeze(1) + offsets.unsqueeze(0)
    idx = torch.clamp(idx, min=0, max=audio.shape[0] - 1)
    return audio[idx]


def split_windows(windows, window, vae_scale):
    """WanModel.forward: frame 0 alone; later frames in groups of vae_scale (first's left half + centre, middle
    centres, last's centre + right half). windows [1, T, w, L, C] -> [1, 1, w, L, C], [1, n, w+vs-1, L, C]."""
    first = windows[:, :1]
    later = windows[:, 1:]
    b, t = later.shape[0], later.shape[1]
    later = later.reshape(b, t // vae_scale, vae_scale, *later.shape[2:])
    mid = window // 2
    a = later[:, :, :1, :mid + 1].flatten(2, 3)
    m = later[:, :, 1:-1, mid:mid + 1].flatten(2, 3)
    z = later[:, :, -1:, mid:].flatten(2, 3)
    return first, torch.cat([a, m, z], dim=2)


def out_frames(length, vs):
    return 1 + math.ceil((length - 1) / vs)


def make_batch(audios, cfg):
    """Pad each clip at the end (last frame repeated) to the batch's common 1 + (N-1)*vs frames, N >= 2; window."""
    w, vs = cfg["audio_window"], cfg["vae_scale"]
    n = max(2, max(out_frames(a.shape[0], vs) for a in audios))
    length = 1 + (n - 1) * vs
    firsts, laters, masks = [], [], []
    for a in audios:
        padded = torch.cat([a, a[-1:].expand(length - a.shape[0], *a.shape[1:])], dim=0)
        f, l = split_windows(frame_windows(padded, w, length)[None], w, vs)
        firsts.append(f)
        laters.append(l)
        mk = torch.zeros(n)
        mk[:out_frames(a.shape[0], vs)] = 1
        masks.append(mk)
    return torch.cat(firsts), torch.cat(laters), torch.stack(masks)


def masked_loss(out, target, mask, weight):
    per_frame = ((out - target) ** 2).mean(dim=(2, 3))
    return (per_frame * mask * weight[:, None]).sum() / mask.sum().clamp(min=1)


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
    out, meta = {}, header.pop("__metadata__", {})
    for name, e in header.items():
        s, t = e["data_offsets"]
        raw = torch.frombuffer(bytearray(data[s:t]), dtype=torch.uint8) if t > s else torch.zeros(0, dtype=torch.uint8)
        out[name] = raw.view(ST_TORCH[e["dtype"]]).reshape(e["shape"]).clone()
    return out, meta


def make_case(index, name, spec):
    gen = torch.Generator().manual_seed(2000 + index)
    torch.manual_seed(21 + index)
    cfg = spec["config"]
    model = AudioProj(**cfg).float()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname == "norm.weight":
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            elif pname.endswith(".bias"):
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
            p.copy_(p.half().float())
    audios = [torch.randn(t, cfg["blocks"], cfg["channels"], generator=gen) for t in spec["lengths"]]
    first, later, mask = make_batch(audios, cfg)
    n = mask.shape[1]
    targets = [torch.randn(out_frames(t, cfg["vae_scale"]), cfg["context_tokens"], cfg["output_dim"], generator=gen)
               for t in spec["lengths"]]
    target = torch.zeros(len(audios), n, cfg["context_tokens"], cfg["output_dim"])
    for i, t in enumerate(targets):
        target[i, :t.shape[0]] = t
    weight = torch.tensor(spec["weights"])
    out = model(first, later)
    loss = masked_loss(out, target, mask, weight)
    model.zero_grad()
    loss.backward()
    tensors = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for i, (a, t) in enumerate(zip(audios, targets)):
        tensors["io.audio.%d" % i] = a
        tensors["io.target.%d" % i] = t
    tensors.update({"io.weight": weight, "io.audio_embeds": first, "io.audio_embeds_vf": later, "io.mask": mask,
                    "io.target": target, "io.out": out.detach(), "io.loss": loss.detach().reshape(1)})
    for pname, p in model.named_parameters():
        tensors["grad." + pname] = p.grad.detach().clone()
    write_safetensors(os.path.join(OUT, name + ".safetensors"), tensors, {"config": json.dumps(cfg)})
    print(name, "params", sum(p.numel() for p in model.parameters()), "out", tuple(out.shape),
          "loss", float(loss))


def check_export(directory):
    bad = 0
    for name in CASES:
        path = os.path.join(directory, name + ".safetensors")
        if not os.path.exists(path):
            print("missing export", path)
            bad += 1
            continue
        fx, meta = read_safetensors(os.path.join(OUT, name + ".safetensors"))
        model = AudioProj(**json.loads(meta["config"])).float().eval()
        weights, _ = read_safetensors(path)
        prefix = "audio_proj." if any(k.startswith("audio_proj.") for k in weights) else ""
        stripped = {k[len(prefix):]: v.float() for k, v in weights.items()}
        model.load_state_dict(stripped, strict=True)  # raises on missing/unexpected/wrong shape
        with torch.no_grad():
            out = model(fx["io.audio_embeds"], fx["io.audio_embeds_vf"])
        exp = fx["io.out"]
        rel = float((out - exp).abs().max() / (exp.abs().max() + 1e-6))
        dtypes = sorted({str(v.dtype) for v in weights.values()})
        print(name, "loaded strictly,", len(weights), "tensors", dtypes, "prefix", repr(prefix), "relative error", rel)
        if not rel <= 1e-4:
            bad += 1
    sys.exit(1 if bad else 0)


def check_weights(config_json, path):
    cfg = json.loads(config_json)
    model = AudioProj(**cfg).float().eval()
    weights, _ = read_safetensors(path)
    prefix = "audio_proj." if any(k.startswith("audio_proj.") for k in weights) else ""
    model.load_state_dict({k[len(prefix):]: v.float() for k, v in weights.items()}, strict=True)
    w, vs, l, c = cfg["audio_window"], cfg["vae_scale"], cfg["blocks"], cfg["channels"]
    with torch.no_grad():
        out = model(torch.randn(1, 1, w, l, c), torch.randn(1, 2, w + vs - 1, l, c))
    finite = bool(torch.isfinite(out).all())
    print(path, "loaded strictly,", len(weights), "tensors, prefix", repr(prefix), "output", tuple(out.shape),
          "finite" if finite else "NOT FINITE")
    sys.exit(0 if finite else 1)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check-weights":
        check_weights(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--check-export":
        check_export(sys.argv[2])
        return
    os.makedirs(OUT, exist_ok=True)
    for i, (name, spec) in enumerate(CASES.items()):
        make_case(i, name, spec)
    gen = torch.Generator().manual_seed(77)
    torch.save(torch.randn(5, 2, 8, generator=gen).half(), os.path.join(OUT, "manifest_audio_fp16.pt"))
    torch.save({"target": torch.randn(2, 3, 8, generator=gen).bfloat16()}, os.path.join(OUT, "manifest_target_bf16.pt"))
    torch.save({"name": "clip", "frames": 5}, os.path.join(OUT, "not_a_tensor.pt"))


if __name__ == "__main__":
    main()
