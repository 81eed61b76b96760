"""The reference for bench/collective.sh: torch.distributed's Gloo all-reduce between two processes on loopback, the
cases of CollectiveBench (297 MB in one call and in 25 MB buckets, one 25 MB bucket, 4 doubles), same table."""
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

ADAPTER_BYTES = 297_000_000
BUCKET_BYTES = 25_000_000


def measure(rank, name, data, bucket_floats, warm, calls):
    seconds = []
    for i in range(-warm, calls):
        dist.barrier()
        t = time.perf_counter()
        for b in torch.split(data, bucket_floats):
            dist.all_reduce(b)
        if i >= 0:
            seconds.append(time.perf_counter() - t)
    if rank == 0:
        s = statistics.median(seconds)
        gb = data.numel() * 4 / 1e9
        # a ring all-reduce sends 2(N-1)/N of the buffer per rank: the buffer's size at N = 2
        print(f"| {name} | {gb * 1e3:.0f} | {calls} | {s:.3f} | {s / gb:.2f} | {gb / s:.2f} (if a ring) | |",
              flush=True)


def run(rank, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    if rank == 0:
        print(f"torch {torch.__version__} gloo, 2 processes on loopback", flush=True)
        print("| case | MB | calls timed | median s | s per GB all-reduced | GB/s sent per rank | |")
        print("|---|---|---|---|---|---|---|")
    whole = torch.full((ADAPTER_BYTES // 4,), 1e-3, dtype=torch.float32)
    measure(rank, "all-reduce, one call", whole, whole.numel(), 1, 5)
    measure(rank, "all-reduce in 25 MB buckets", whole, BUCKET_BYTES // 4, 1, 5)
    bucket = torch.full((BUCKET_BYTES // 4,), 1e-3, dtype=torch.float32)
    measure(rank, "all-reduce, one 25 MB bucket", bucket, bucket.numel(), 2, 10)
    small = torch.zeros(4, dtype=torch.float64)
    us = []
    for i in range(-50, 300):
        t = time.perf_counter()
        dist.all_reduce(small)
        if i >= 0:
            us.append((time.perf_counter() - t) * 1e6)
    if rank == 0:
        print(f"torch  all_reduce(float64[4]) median {statistics.median(us):.0f} µs over {len(us)} calls", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 29517
    mp.spawn(run, args=(port,), nprocs=2, join=True)
