#!/usr/bin/python3
"""Fixtures for dev.avatartrain.data.AudioPositionalEncoding: MuseTalk's audio positional encoding re-stated in torch.

MuseTalk (musetalk/models/unet.py, PositionalEncoding(d_model=384, max_len=5000)) adds to the whisper features
x [B, S, D], right before unet(..., encoder_hidden_states=pe(x)), the transformer sinusoid
    div[i]       = exp(2i * (-ln(10000) / D))          (float32, i = 0 .. D/2-1)
    pe[s, 2i]    = sin(s * div[i])
    pe[s, 2i+1]  = cos(s * div[i])                     (float32 products, s = 0 .. S-1)
    out          = x + pe[:S]
Run from the repository root with Debian's torch:
    /usr/bin/python3 src/test/scripts/make_pe_fixtures.py
Writes src/test/resources/fixtures/pe/musetalk_pe.safetensors: for each case "<S>x<D>" the input "<case>.x" [2, S, D]
and the output "<case>.out"; the cases are MuseTalk's own shape (50 x 384) and the demo's (25 x 16, 5 frames x 5 tokens).
"""
import math, os, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_unet_fixtures import write_safetensors, ROOT  # noqa: E402


def encode(x):
    b, s, d = x.shape
    position = torch.arange(0, s, dtype=torch.float).unsqueeze(1)
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe = torch.zeros(s, d)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return x + pe.unsqueeze(0)


def main():
    gen = torch.Generator().manual_seed(19)
    tensors = {}
    for s, d in ((50, 384), (25, 16)):
        x = torch.randn(2, s, d, generator=gen)
        tensors[f"{s}x{d}.x"] = x
        tensors[f"{s}x{d}.out"] = encode(x)
    out = os.path.join(ROOT, "src", "test", "resources", "fixtures", "pe")
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "musetalk_pe.safetensors"), tensors, {"source": "make_pe_fixtures.py"})
    print("wrote", len(tensors), "tensors to", out)


if __name__ == "__main__":
    main()
