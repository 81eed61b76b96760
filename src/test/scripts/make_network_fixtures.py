#!/usr/bin/python3
"""Parity fixtures for dev.avatartrain.models.nn blocks and models.taesd.

Run from the repository root with Debian's torch: /usr/bin/python3 src/test/scripts/make_network_fixtures.py
Needs the PyTorch originals (taesd.py, diffusers_ref.py; found as originals.py says) and the real TAEF2 weights the
demo ships (configuration/demo/taef2).
Writes src/test/resources/fixtures/nn/blocks.npz and fixtures/taesd/*.npz.
"""
import math, os, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import originals  # noqa: E402

originals.use_reference()
OUT = os.path.join(ROOT, "src", "test", "resources", "fixtures")
torch.manual_seed(0)


def a(t):
    return t.detach().numpy().astype(np.float32)


def nn_blocks():
    d = {}
    x = torch.randn(2, 3, 9, 9)
    conv = nn.Conv2d(3, 5, 3, stride=2, padding=1)
    d.update({"conv.x": a(x), "conv.weight": a(conv.weight), "conv.bias": a(conv.bias), "conv.y": a(conv(x))})
    conv1 = nn.Conv2d(3, 4, 1, bias=False)
    d.update({"conv1x1.weight": a(conv1.weight), "conv1x1.y": a(conv1(x))})
    xl = torch.randn(2, 3, 6)
    lin = nn.Linear(6, 4)
    d.update({"linear.x": a(xl), "linear.weight": a(lin.weight), "linear.bias": a(lin.bias), "linear.y": a(lin(xl))})
    xg = torch.randn(2, 8, 5, 5) * 3 + 1
    gn = nn.GroupNorm(4, 8, eps=1e-5)
    with torch.no_grad():
        gn.weight.copy_(torch.randn(8)); gn.bias.copy_(torch.randn(8))
    d.update({"gn.x": a(xg), "gn.weight": a(gn.weight), "gn.bias": a(gn.bias), "gn.y": a(gn(xg))})
    ln = nn.LayerNorm(6, eps=1e-6)
    with torch.no_grad():
        ln.weight.copy_(torch.randn(6)); ln.bias.copy_(torch.randn(6))
    d.update({"ln.weight": a(ln.weight), "ln.bias": a(ln.bias), "ln.y": a(ln(xl))})
    d["silu.y"] = a(F.silu(xg)); d["gelu.y"] = a(F.gelu(xg)); d["relu.y"] = a(F.relu(xg))
    d["up.y"] = a(F.interpolate(xg, scale_factor=2, mode="nearest"))
    t = torch.randn(2, 8, 5, 5)
    d["loss.target"] = a(t)
    d["mse"] = np.array(F.mse_loss(xg, t).item(), dtype=np.float32)
    d["l1"] = np.array(F.l1_loss(xg, t).item(), dtype=np.float32)
    np.savez(os.path.join(OUT, "nn", "blocks.npz"), **d)


def det_fill(sd):
    """Deterministic weights the Java test recomputes from the names (see TaesdTest.deterministicWeights)."""
    for name, t in sd.items():
        k = sum(ord(c) for c in name) % 101
        n = t.numel()
        fan = n // t.shape[0] if t.dim() >= 2 else 1
        scale = 1.0 / math.sqrt(fan) if t.dim() >= 2 else 0.1
        i = torch.arange(n, dtype=torch.float64)
        v = scale * torch.sin(0.37 * i + k)
        if t.dim() == 1 and name.endswith("weight"):
            v = v + 1.0
        t.copy_(v.reshape(t.shape).to(t.dtype))


def image(h, w):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    c = [0.5 + 0.5 * torch.sin(0.11 * xx + 0.07 * yy + p) for p in (0.0, 1.0, 2.0)]
    return torch.stack(c)[None].float()


def taesd_synthetic():
    import taesd
    for lat, gn in ((4, False), (16, True)):
        enc, dec = taesd.Encoder(lat, use_midblock_gn=gn), taesd.Decoder(lat, use_midblock_gn=gn)
        with torch.no_grad():
            det_fill(enc.state_dict(keep_vars=True)); det_fill(dec.state_dict(keep_vars=True))
            img = image(16, 24)
            z = enc(img)
            z_in = torch.randn(1, lat, 2, 3) * 2
            y = dec(z_in)
        tag = f"c{lat}{'_gn' if gn else ''}"
        np.savez(os.path.join(OUT, "taesd", f"synthetic_{tag}.npz"),
                 image=a(img), latent=a(z), latent_in=a(z_in), decoded=a(y))
        if not gn:
            check_diffusers_layout(enc, dec, lat, img, z_in)


def check_diffusers_layout(enc, dec, lat, img, z_in):
    """The name mapping used by the Java loader, proven against diffusers' AutoencoderTiny (strict)."""
    from diffusers_ref import AutoencoderTiny
    m = AutoencoderTiny(latent_channels=lat)
    sd = {}
    for k, v in enc.state_dict().items():
        sd["encoder.layers." + k] = v
    for k, v in dec.state_dict().items():
        i, rest = k.split(".", 1)
        sd[f"decoder.layers.{int(i) - 1}.{rest}"] = v
    m.load_state_dict(sd, strict=True)
    with torch.no_grad():
        z = m.encoder(img * 2 - 1)
        y = m.decoder(z_in)  # [-1, 1]
        assert torch.allclose(z, enc(img), atol=1e-5), "diffusers encoder differs"
        assert torch.allclose((y + 1) / 2, dec(z_in), atol=1e-5), "diffusers decoder differs"
    print("diffusers AutoencoderTiny layout matches taesd.py (strict load)")


def taef2_real():
    import taesd
    wdir = os.path.join(ROOT, "configuration", "demo", "taef2")
    enc, dec = taesd.Encoder(32, use_midblock_gn=True), taesd.Decoder(32, use_midblock_gn=True)
    enc.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(wdir, "taef2_encoder.pth")).items()})
    dec.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(wdir, "taef2_decoder.pth")).items()})
    with torch.no_grad():
        img = image(64, 64)
        z = enc(img)
        y = dec(z)
    np.savez(os.path.join(OUT, "taesd", "taef2_real.npz"), image=a(img), latent=a(z), decoded=a(y))


if __name__ == "__main__":
    nn_blocks()
    taesd_synthetic()
    taef2_real()
    print("ok")
