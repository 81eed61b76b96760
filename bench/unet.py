#!/usr/bin/env python3
"""PyTorch side of bench/unet.sh: the real diffusers 0.27.2 UNet2DConditionModel, forward + backward + AdamW.

Args: tiny|bench|default batch size seq steps [--device cuda]. BENCH_CHECKPOINTING=1: diffusers'
enable_gradient_checkpointing() (each ResNet/transformer block recomputed in the backward pass), as UNetBench does with
the same variable. Prints "torch <config> ..." lines: the torch version, the GEMM/conv
FLOP count of one training step (3x the forward's multiply-adds x 2, counted with hooks, attention included whether it
runs as bmm or as the fused scaled_dot_product_attention) used for the share of peak, and the process's resident
memory after each step with its peak so far (as UNetBench prints the JVM's).
"""
import json, os, resource, sys, time
import torch
import torch.nn.functional as F

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "src", "test", "scripts"))
import originals  # noqa: E402  (where diffusers_ref.py is: $AVATAR_TRAIN_REFERENCE)

originals.use_reference()
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

    sdpa = F.scaled_dot_product_attention

    def fused_attention(q, k, v, *a, **kw):  # [B, heads, n, d] x [B, heads, m, d]: two matmuls
        total[0] += 2 * 2 * q.shape[0] * q.shape[1] * q.shape[2] * k.shape[2] * q.shape[3]
        return sdpa(q, k, v, *a, **kw)

    torch.baddbmm, torch.bmm, F.scaled_dot_product_attention = baddbmm, bmm, fused_attention
    try:
        with torch.no_grad():
            model(*args)
    finally:
        torch.baddbmm, torch.bmm, F.scaled_dot_product_attention = orig["baddbmm"], orig["bmm"], sdpa
        for h in hooks:
            h.remove()
    return total[0]


def resident_gb():
    """Current resident set (from /proc) and the peak so far (ru_maxrss), in GB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e9, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def main():
    argv = sys.argv[1:]
    device = "cpu"
    if "--device" in argv:  # bench/gpu.sh: --device cuda
        i = argv.index("--device")
        device = argv[i + 1]
        del argv[i:i + 2]
    cuda = device.startswith("cuda")
    which = argv[0] if argv else "bench"
    b, hw, seq, steps = (int(a) for a in (argv[1:5] + ["12", "32", "50", "3"][len(argv[1:5]):]))
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "2")))
    torch.manual_seed(0)
    model = UNet2DConditionModel(**config(which)).float().train().to(device)
    checkpointing = os.environ.get("BENCH_CHECKPOINTING", "") not in ("", "0")
    if checkpointing:
        model.enable_gradient_checkpointing()
    cfg = model.config
    sample = torch.randn(b, cfg.in_channels, hw, hw, device=device)
    t = torch.full((b,), 500, dtype=torch.int64, device=device)
    ehs = torch.randn(b, seq, cfg.cross_attention_dim, device=device)
    target = torch.randn(b, cfg.out_channels, hw, hw, device=device)
    nparams = sum(p.numel() for p in model.parameters())
    flops = 3 * forward_flops(model, (sample, t, ehs))
    processors = sorted({type(p).__name__ for p in model.attn_processors.values()})
    where = f"device={torch.cuda.get_device_name(device)}" if cuda else f"threads={torch.get_num_threads()}"
    print(f"torch {which} torch={torch.__version__} params={nparams} B={b} {hw}x{hw} S={seq} "
          f"{where} checkpointing={'on' if checkpointing else 'off'} attention={'+'.join(processors)} "
          f"step GFLOP (conv+linear+attention matmuls, fwd x3)={flops / 1e9:.1f}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-2)
    fwds, stepts = [], []
    sync = torch.cuda.synchronize if cuda else (lambda: None)  # GPU work is asynchronous: time it finished
    for s in range(steps + 1):
        sync()
        t0 = time.perf_counter()
        with torch.no_grad():
            model(sample, t, ehs)
        sync()
        t1 = time.perf_counter()
        out = model(sample, t, ehs).sample
        loss = torch.nn.functional.mse_loss(out, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sync()
        t2 = time.perf_counter()
        if cuda:
            memory = f"GPU memory peak {torch.cuda.max_memory_allocated(device) / 1e9:.2f} GB"
        else:
            rss, peak = resident_gb()
            memory = f"resident {rss:.1f} GB (peak {peak:.1f} GB)"
        print(f"torch {which} step {s}: forward {1e3 * (t1 - t0):.0f} ms, training step {1e3 * (t2 - t1):.0f} ms, "
              f"{memory}", flush=True)
        if s > 0:
            fwds.append(t1 - t0)
            stepts.append(t2 - t1)
    fwds.sort(); stepts.sort()
    st = stepts[len(stepts) // 2]
    if cuda:
        print(f"torch {which} median: forward {1e3 * fwds[len(fwds) // 2]:.1f} ms, training step (forward+backward+AdamW) "
              f"{1e3 * st:.1f} ms, {b / st:.1f} samples/s, {flops / st / 1e12:.1f} TFLOP/s, GPU memory peak "
              f"{torch.cuda.max_memory_allocated(device) / 1e9:.2f} GB", flush=True)
        return
    print(f"torch {which} median: forward {1e3 * fwds[len(fwds) // 2]:.0f} ms, training step (forward+backward+AdamW) "
          f"{1e3 * st:.0f} ms, {flops / st / 1e9:.1f} GFLOP/s = {100 * flops / st / 1e9 / 170:.0f}% of the 170 GFLOP/s "
          f"GEMM peak", flush=True)


if __name__ == "__main__":
    main()
