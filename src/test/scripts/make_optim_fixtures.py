#!/usr/bin/python3
"""Parity fixtures for dev.avatartrain.train.optim (learning-rate schedules, clip_grad_norm_, AdamW).

Run from anywhere with Debian's torch 1.13: /usr/bin/python3 src/test/scripts/make_optim_fixtures.py
Writes src/test/resources/fixtures/optim/schedules.npz and adamw.npz.
"""
import math, os
from functools import partial
import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
OUT = os.path.join(ROOT, "src", "test", "resources", "fixtures", "optim")
torch.manual_seed(0)

# --- Schedules -------------------------------------------------------------------------------------
# The lambdas below mirror diffusers' src/diffusers/optimization.py (get_scheduler and the
# get_*_schedule_with_warmup functions it dispatches to); diffusers is not installed here, so they are
# written out from its formulas. get_scheduler passes num_cycles only to cosine_with_restarts (plain
# cosine keeps its default 0.5 half-wave) and power only to polynomial (lr_end stays 1e-7).

def warm(s, w):
    return float(s) / float(max(1, w))

def constant(s, w, n, lr0, cycles, power):
    return 1.0

def constant_with_warmup(s, w, n, lr0, cycles, power):
    if s < w:
        return float(s) / float(max(1.0, w))
    return 1.0

def linear(s, w, n, lr0, cycles, power):
    if s < w:
        return warm(s, w)
    return max(0.0, float(n - s) / float(max(1, n - w)))

def cosine(s, w, n, lr0, cycles, power):
    if s < w:
        return warm(s, w)
    progress = float(s - w) / float(max(1, n - w))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(0.5) * 2.0 * progress)))

def cosine_with_restarts(s, w, n, lr0, cycles, power):
    if s < w:
        return warm(s, w)
    progress = float(s - w) / float(max(1, n - w))
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(cycles) * progress) % 1.0))))

def polynomial(s, w, n, lr0, cycles, power, lr_end=1e-7):
    if s < w:
        return warm(s, w)
    if s > n:
        return lr_end / lr0
    pct_remaining = 1 - (s - w) / (n - w)
    return ((lr0 - lr_end) * pct_remaining ** power + lr_end) / lr0

MAX_STEPS, BASE_LR, CYCLES, POWER, RECORDED = 30, 1e-3, 3, 2.0, 36

def schedules():
    d = {"config": np.array([MAX_STEPS, BASE_LR, CYCLES, POWER], dtype=np.float64)}
    for f in (constant, constant_with_warmup, linear, cosine, cosine_with_restarts, polynomial):
        for w in (0, 5):
            p = torch.nn.Parameter(torch.zeros(1))
            opt = torch.optim.SGD([p], lr=BASE_LR)
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, partial(f, w=w, n=MAX_STEPS, lr0=BASE_LR, cycles=CYCLES, power=POWER))
            lrs = []
            for _ in range(RECORDED):  # lr in effect at optimizer steps 0, 1, ...; past MAX_STEPS too
                lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
            d[f"lr.{f.__name__}.{w}"] = np.array(lrs, dtype=np.float64)
    return d

# --- clip_grad_norm_ + AdamW -------------------------------------------------------------------------
# Three small parameters; "c.weight" gets tiny gradients so eps matters. Gradients alternate between
# large (clipped) and small (not clipped). Recorded per step: gradients before clipping, the norm
# clip_grad_norm_ returns, and params, exp_avg, exp_avg_sq after the step. To keep the file small, each
# record is the parameters flattened (C order) and concatenated in SHAPES order.
SHAPES = {"a": (4, 3), "b": (5,), "c.weight": (2, 3, 2)}
LRS = [1e-2, 5e-3, 2e-2, 1e-2]
GRAD_SCALE = [3.0, 0.05, 1.0, 0.02]
BETA1, BETA2, EPS, WD, MAX_NORM = 0.9, 0.99, 1e-6, 0.1, 1.0

def flat(tensors):
    return np.concatenate([t.detach().numpy().reshape(-1) for t in tensors])

def adamw(dtype, tag):
    g = torch.Generator().manual_seed(1)
    params = [torch.nn.Parameter(torch.randn(s, generator=g, dtype=torch.float64).to(dtype)) for s in SHAPES.values()]
    d = {f"{tag}.init": flat(params)}
    opt = torch.optim.AdamW(params, lr=LRS[0], betas=(BETA1, BETA2), eps=EPS, weight_decay=WD)
    for i, (lr, scale) in enumerate(zip(LRS, GRAD_SCALE)):
        step = i + 1
        for k, p in zip(SHAPES, params):
            grad = torch.randn(p.shape, generator=g, dtype=torch.float64) * scale
            if k == "c.weight":
                grad = grad * 1e-5
            p.grad = grad.to(dtype)
        d[f"{tag}.{step}.grad"] = flat(p.grad for p in params)
        norm = torch.nn.utils.clip_grad_norm_(params, MAX_NORM)
        d[f"{tag}.{step}.norm"] = np.array(float(norm), dtype=np.float64)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        d[f"{tag}.{step}.param"] = flat(params)
        d[f"{tag}.{step}.exp_avg"] = flat(opt.state[p]["exp_avg"] for p in params)
        d[f"{tag}.{step}.exp_avg_sq"] = flat(opt.state[p]["exp_avg_sq"] for p in params)
    return d

def main():
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "schedules.npz"), **schedules())
    d = {"config": np.array([BETA1, BETA2, EPS, WD, MAX_NORM], dtype=np.float64),
         "lrs": np.array(LRS, dtype=np.float64)}
    d.update(adamw(torch.float64, "double"))
    d.update(adamw(torch.float32, "float"))
    np.savez_compressed(os.path.join(OUT, "adamw.npz"), **d)
    for f in ("schedules.npz", "adamw.npz"):
        print(f, os.path.getsize(os.path.join(OUT, f)), "bytes")

if __name__ == "__main__":
    main()
