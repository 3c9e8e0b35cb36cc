"""This machine's dense matrix-multiply rate: the bound every throughput benchmark compares against."""

import time

import numpy as np


def torch_matmul_gflops(device: str, dtype_name: str, size: int = 2048, seconds: float = 2.0) -> float:
    """Sustained size³ matmul rate of torch in one dtype (the kernels encoders and proxies run on)."""
    import torch

    dtype = getattr(torch, dtype_name)
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    for _ in range(3):  # warm-up: kernel choice, allocator
        a @ b
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    sync()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        runs += 1
        if runs % 50 == 0:  # keep the GPU queue from running far ahead of the clock
            sync()
    sync()
    return 2 * size**3 * runs / (time.perf_counter() - started) / 1e9


def numpy_matmul_gflops(size: int = 2048, repeats: int = 5) -> float:
    """numpy float32 size³ matmul rate (the figure docs/method.md quotes)."""
    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    a @ a
    started = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9
