#!/usr/bin/env python3
"""PyTorch side of bench/taesd.sh: taesd.py's Encoder/Decoder with the real TAEF2 weights, same batch and size as
TaesdBench.java. Args: batch size iterations. Prints "torch ..." lines, median ms after one warm-up."""
import os, sys, time
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "src", "test", "scripts"))
import originals  # noqa: E402  (where taesd.py is: $AVATAR_TRAIN_REFERENCE)

originals.use_reference()
from taesd import TAESD  # noqa: E402


def median(iters, fn):
    fn()
    t = []
    for _ in range(iters):
        s = time.perf_counter()
        fn()
        t.append((time.perf_counter() - s) * 1e3)
    return sorted(t)[iters // 2]


def main():
    b, size, iters = (int(a) for a in (sys.argv[1:4] + ["12", "256", "5"][len(sys.argv[1:4]):]))
    torch.set_num_threads(2)
    w = os.path.join(ROOT, "configuration", "demo", "taef2")
    model = TAESD(None, None, latent_channels=32, arch_variant="flux_2").float().eval()
    model.encoder.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(w, "taef2_encoder.pth")).items()})
    model.decoder.load_state_dict({k: v.float() for k, v in torch.load(os.path.join(w, "taef2_decoder.pth")).items()})
    torch.manual_seed(1)
    images = torch.rand(b, 3, size, size)
    with torch.no_grad():
        latents = model.encoder(images)
        print(f"torch taesd B={b} {size}x{size} latents {list(latents.shape)}")
        print(f"torch taesd encoder forward {median(iters, lambda: model.encoder(images)):.0f} ms")
        print(f"torch taesd decoder forward {median(iters, lambda: model.decoder(latents)):.0f} ms")


main()
