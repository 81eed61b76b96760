#!/usr/bin/env python3
"""PyTorch side of the adapter benchmark (same model, shapes and step as AdapterBench.java). Prints median ms."""
import os, sys
import torch

import timing

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "test", "scripts"))
from make_adapter_fixtures import AudioProj, make_batch, masked_loss  # noqa: E402

torch.set_num_threads(2)
torch.manual_seed(1)
B, T, WARM, ITERS = 2, 81, 2, 5
cfg = dict(audio_window=5, vae_scale=4, blocks=12, channels=768, intermediate_dim=512, context_tokens=32,
           output_dim=768, norm_output_audio=True)
model = AudioProj(**cfg)
audios = [torch.randn(T, 12, 768) for _ in range(B)]
first, later, mask = make_batch(audios, cfg)
n = mask.shape[1]
target = torch.randn(B, n, 32, 768)
weight = torch.ones(B)
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)


def report(name, fn):
    timing.report(name, fn, WARM, ITERS, 32)


print("torch params %.1f M, torch %s" % (sum(p.numel() for p in model.parameters()) / 1e6, torch.__version__))
report("windowing (make_batch)", lambda: make_batch(audios, cfg))
with torch.no_grad():
    report("forward", lambda: model(first, later))


def fb():
    model.zero_grad(set_to_none=True)
    masked_loss(model(first, later), target, mask, weight).backward()


report("forward+backward", fb)


def step():
    fb()
    opt.step()


report("AdamW step", step)
