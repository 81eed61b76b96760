#!/usr/bin/env python3
"""PyTorch side of the per-layer benchmark (same shapes as LayersBench.java). Prints median ms and the torch version."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import timing

torch.set_num_threads(2)
print(f"torch version {torch.__version__}, {torch.get_num_threads()} threads")
B, C, H, W, WARM, ITERS = 12, 64, 32, 32, 3, 10
x0 = torch.randn(B, C, H, W)
g = torch.randn(B, C, H, W)


def report(name, fn):
    timing.report(name, fn, WARM, ITERS, 40)


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


def attention(b, n, m, heads, d):
    """Attention core as diffusers 0.27.2 runs it on torch 2.x (AttnProcessor2_0): heads to a dimension of their own,
    the fused scaled_dot_product_attention, heads back; q, k, v given (as LayersBench: k = 0.5 kv, v = -kv)."""
    q0, kv0 = torch.randn(b, n, heads * d), torch.randn(b, m, heads * d)

    def split(t):
        return t.view(b, -1, heads, d).transpose(1, 2)

    def run(q, kv):
        out = F.scaled_dot_product_attention(split(q), split(0.5 * kv), split(-kv))
        return out.transpose(1, 2).reshape(b, n, heads * d)

    name = f"attention {heads}x{n}x{m}x{d} B={b}"
    with torch.no_grad():
        report(name + " fwd", lambda: run(q0, kv0))
    q, kv = q0.clone().requires_grad_(True), kv0.clone().requires_grad_(True)

    def fb():
        q.grad = kv.grad = None
        run(q, kv).backward(q0)
    report(name + " fwd+bwd", fb)


for shape in ((12, 1024, 1024, 8, 4), (12, 1024, 1024, 8, 8), (12, 256, 256, 8, 16), (12, 1024, 50, 8, 8),
              (2, 1024, 1024, 8, 40), (2, 256, 256, 8, 80), (2, 64, 64, 8, 160), (2, 1024, 50, 8, 40)):
    attention(*shape)


class GEGLU(nn.Module):  # diffusers' GEGLU after its projection: value * gelu(gate)
    def forward(self, p):
        value, gate = p.chunk(2, dim=-1)
        return value * F.gelu(gate)


for name, mod, shape, gshape in (("geglu 12288x512", GEGLU(), (B * 1024, 512), (B * 1024, 256)),
                                 ("gelu 12288x256", nn.GELU(), (B * 1024, 256), (B * 1024, 256)),
                                 ("layernorm 12288x64", nn.LayerNorm(64), (B * 1024, 64), (B * 1024, 64))):
    xin0, gout = torch.randn(*shape), torch.randn(*gshape)
    with torch.no_grad():
        report(name + " fwd", lambda: mod(xin0))
    xin = xin0.clone().requires_grad_(True)

    def fb():
        mod.zero_grad(); xin.grad = None
        mod(xin).backward(gout)
    report(name + " fwd+bwd", fb)
