"""Shared timing for the PyTorch side of the benchmarks: median (min) of `iters` calls after `warm` warm-ups."""
import time


def report(name, fn, warm, iters, width=32):
    for _ in range(warm):
        fn()
    t = []
    for _ in range(iters):
        s = time.perf_counter(); fn(); t.append((time.perf_counter() - s) * 1e3)
    t.sort()
    print(f"torch {name:<{width}s} {t[iters // 2]:8.1f} ms (min {t[0]:.1f})")
