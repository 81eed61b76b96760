#!/usr/bin/python3
"""PyTorch side of the per-layer benchmark (same shapes as LayersBench.java). Prints median ms."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import timing

torch.set_num_threads(2)
B, C, H, W, WARM, ITERS = 12, 64, 32, 32, 3, 10
x0 = torch.randn(B, C, H, W)
g = torch.randn(B, C, H, W)


def report(name, fn):
    timing.report(name, fn, WARM, ITERS, 28)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(32, C), nn.Conv2d(C, C, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(32, C), nn.Conv2d(C, C, 3, padding=1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class GroupNormSiLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.GroupNorm(32, C)

    def forward(self, x):
        return F.silu(self.norm(x))


for name, mod in (("conv3x3", nn.Conv2d(C, C, 3, padding=1)), ("groupnorm", nn.GroupNorm(32, C)),
                  ("groupnorm_silu", GroupNormSiLU()), ("silu", nn.SiLU()), ("resnet_block", Block())):
    with torch.no_grad():
        report(name + " fwd", lambda: mod(x0))
    x = x0.clone().requires_grad_(True)

    def fb():
        mod.zero_grad(); x.grad = None
        mod(x).backward(g)
    report(name + " fwd+bwd", fb)


def attention(x, heads=8):
    """diffusers' AttnProcessor (torch 1.13): heads to batch, baddbmm with the scale, softmax, bmm, heads back."""
    b, n, inner = x.shape
    d = inner // heads

    def split(t):
        return t.reshape(b, n, heads, d).permute(0, 2, 1, 3).reshape(b * heads, n, d)

    q, k, v = split(x), split(0.5 * x), split(-x)
    scores = torch.baddbmm(torch.empty(b * heads, n, n), q, k.transpose(-1, -2), beta=0, alpha=d ** -0.5)
    out = torch.bmm(scores.softmax(dim=-1), v)
    return out.reshape(b, heads, n, d).permute(0, 2, 1, 3).reshape(b, n, inner)


xa0 = torch.randn(B, 1024, 32)
with torch.no_grad():
    report("attention 8x1024x1024x4 fwd", lambda: attention(xa0))
xa = xa0.clone().requires_grad_(True)


def attention_fb():
    xa.grad = None
    attention(xa).backward(xa0)


report("attention 8x1024x1024x4 fwd+bwd", attention_fb)
