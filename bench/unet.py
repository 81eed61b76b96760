#!/usr/bin/python3
"""PyTorch side of bench/unet.sh: the real diffusers 0.27.2 UNet2DConditionModel, forward + backward + AdamW.

Args: tiny|bench|default batch size seq steps. Prints "torch <config> ..." lines, including the GEMM/conv FLOP count of
one training step (3x the forward's multiply-adds x 2, counted with hooks) used for the share of peak.
"""
import json, os, sys, time
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
for shared in (os.path.join(ROOT, "..", "shared"), os.path.join(ROOT, "..", "..", "shared"), "/work/shared"):
    if os.path.isdir(os.path.join(shared, "reference")):
        sys.path.insert(0, os.path.join(shared, "reference"))
        break
from diffusers_ref import UNet2DConditionModel  # noqa: E402

BENCH = dict(in_channels=8, out_channels=4, block_out_channels=[64, 128, 256], layers_per_block=2,
             down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
             up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
             cross_attention_dim=384, attention_head_dim=8, norm_num_groups=32)


def config(which):
    if which in ("tiny", "default"):
        name = "tiny.json" if which == "tiny" else "config.json"
        with open(os.path.join(ROOT, "configuration", "unet", name)) as f:
            return {k: v for k, v in json.load(f).items() if not k.startswith("_")}
    return BENCH


def forward_flops(model, args):
    """Multiply-add FLOPs (2 per MAC) of conv, linear and attention matmuls in one forward."""
    total = [0]
    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(lambda m, i, o: total.__setitem__(
                0, total[0] + 2 * o.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(lambda m, i, o: total.__setitem__(
                0, total[0] + 2 * o.numel() * m.in_features)))
    orig = {n: getattr(torch, n) for n in ("baddbmm", "bmm")}

    def baddbmm(inp, b1, b2, **k):
        total[0] += 2 * b1.shape[0] * b1.shape[1] * b1.shape[2] * b2.shape[2]
        return orig["baddbmm"](inp, b1, b2, **k)

    def bmm(b1, b2, **k):
        total[0] += 2 * b1.shape[0] * b1.shape[1] * b1.shape[2] * b2.shape[2]
        return orig["bmm"](b1, b2, **k)

    torch.baddbmm, torch.bmm = baddbmm, bmm
    try:
        with torch.no_grad():
            model(*args)
    finally:
        torch.baddbmm, torch.bmm = orig["baddbmm"], orig["bmm"]
        for h in hooks:
            h.remove()
    return total[0]


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "bench"
    b, hw, seq, steps = (int(a) for a in (sys.argv[2:6] + ["12", "32", "50", "3"][len(sys.argv[2:6]):]))
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    torch.manual_seed(0)
    model = UNet2DConditionModel(**config(which)).float().train()
    cfg = model.config
    sample = torch.randn(b, cfg.in_channels, hw, hw)
    t = torch.full((b,), 500, dtype=torch.int64)
    ehs = torch.randn(b, seq, cfg.cross_attention_dim)
    target = torch.randn(b, cfg.out_channels, hw, hw)
    nparams = sum(p.numel() for p in model.parameters())
    flops = 3 * forward_flops(model, (sample, t, ehs))
    print(f"torch {which} params={nparams} B={b} {hw}x{hw} S={seq} threads={torch.get_num_threads()} "
          f"step GFLOP (conv+linear+attention matmuls, fwd x3)={flops / 1e9:.1f}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-2)
    fwds, stepts = [], []
    for s in range(steps + 1):
        t0 = time.perf_counter()
        with torch.no_grad():
            model(sample, t, ehs)
        t1 = time.perf_counter()
        out = model(sample, t, ehs).sample
        loss = torch.nn.functional.mse_loss(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        t2 = time.perf_counter()
        print(f"torch {which} step {s}: forward {1e3 * (t1 - t0):.0f} ms, training step {1e3 * (t2 - t1):.0f} ms",
              flush=True)
        if s > 0:
            fwds.append(t1 - t0)
            stepts.append(t2 - t1)
    fwds.sort(); stepts.sort()
    st = stepts[len(stepts) // 2]
    print(f"torch {which} median: forward {1e3 * fwds[len(fwds) // 2]:.0f} ms, training step (forward+backward+AdamW) "
          f"{1e3 * st:.0f} ms, {flops / st / 1e9:.1f} GFLOP/s = {100 * flops / st / 1e9 / 170:.0f}% of the 170 GFLOP/s "
          f"GEMM peak", flush=True)


if __name__ == "__main__":
    main()
