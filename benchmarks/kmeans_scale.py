"""K-means fit and assignment at scale, against this machine's measured matrix-multiply rate.

    python benchmarks/kmeans_scale.py [--sizes 100000 1000000] [--k 1000] [--iterations 20] [--use-gpu auto]

Data: n random 384-d unit vectors (float32, seeded, generated in chunks of 65,536 rows so no float64
temporary of the whole array exists). The engine runs as the pipeline will: `sample_rows` draws the fit
sample (at most k * 256 rows, faiss' own cap), `fit_kmeans` trains spherical K-means on it, `assign`
labels every row. Work is counted as matrix products: fit 2 * sample * k * d * iterations, assign
2 * n * k * d; the bound is numpy's float32 matmul rate (2048² products) measured in the same process
before the fit, between the phases and after the assignment, and the highest reading is taken: the
development machine is shared, so a single reading can catch a neighbour's load. Each phase also records
its CPU utilisation (process CPU seconds / (wall seconds * threads)); well below 1 means it was starved.
Each size runs in a fresh process so its peak resident memory (ru_maxrss, which includes the torch and
faiss libraries: see `rss_after_imports_mb`) is its own. Writes
benchmarks/results/kmeans_scale-<cpu|cuda>.json and prints a Markdown row per size.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

from machine import numpy_matmul_gflops

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DIM = 384  # all-MiniLM-L6-v2's width, the project's default embedder
CHUNK = 65_536  # rows generated at a time


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def random_unit_vectors(n: int, d: int, seed: int) -> np.ndarray:
    """(n, d) float32 unit vectors, chunk by chunk (each chunk seeded by (seed, chunk))."""
    x = np.empty((n, d), dtype=np.float32)
    for chunk, start in enumerate(range(0, n, CHUNK)):
        block = np.random.default_rng([seed, chunk]).standard_normal((min(CHUNK, n - start), d), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        x[start : start + len(block)] = block
    return x


def run_size(n: int, k: int, iterations: int, use_gpu: str, seed: int) -> dict:
    """One size, in the calling process: generate, sample, fit, assign; timings and peak memory."""
    sys.path.insert(0, str(REPO))
    from climb.semantic.kmeans import KMeansSettings, _faiss, assign, fit_kmeans, sample_rows
    from climb.core.device import available_cpus

    faiss = _faiss()
    rss_imports = peak_rss_mb()
    settings = KMeansSettings(k=k, iterations=iterations, seed=seed, use_gpu=use_gpu)
    x = random_unit_vectors(n, DIM, seed)
    rows = sample_rows({"random": n}, budget=k * settings.max_points_per_centroid, seed=seed)["random"]
    sample = x[rows]  # (n_sample, d) copy, as the pipeline gathers rows from its shards
    bounds = [numpy_matmul_gflops()]
    cpu, started = cpu_seconds(), time.perf_counter()
    fit = fit_kmeans(sample, settings=settings)
    fit_wall, fit_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    trained_on = min(len(sample), fit.k * settings.max_points_per_centroid)
    bounds.append(numpy_matmul_gflops())
    cpu, started = cpu_seconds(), time.perf_counter()
    ids, _ = assign(x, fit.centroids, use_gpu=use_gpu)
    assign_seconds, assign_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    bounds.append(numpy_matmul_gflops())
    threads = available_cpus()
    fit_gflops = 2 * trained_on * fit.k * DIM * iterations / fit.seconds / 1e9
    assign_gflops = 2 * n * fit.k * DIM / assign_seconds / 1e9
    return {
        "n": n, "dim": DIM, "k": fit.k, "iterations": iterations, "sample_size": fit.sample_size,
        "trained_on": trained_on, "device": fit.device, "faiss": faiss.__version__,
        "fit_seconds": round(fit.seconds, 2), "fit_wall_seconds_with_inertia_pass": round(fit_wall, 2),
        "fit_gflops": round(fit_gflops, 1), "fit_cpu_utilisation": round(fit_cpu / (fit_wall * threads), 2),
        "assign_seconds": round(assign_seconds, 2), "assign_gflops": round(assign_gflops, 1),
        "assign_cpu_utilisation": round(assign_cpu / (assign_seconds * threads), 2),
        # per CPU-second of this process: what the work costs whatever the neighbours do (times threads = rate)
        "fit_gflop_per_cpu_second": round(2 * trained_on * fit.k * DIM * iterations / fit_cpu / 1e9, 1),
        "assign_gflop_per_cpu_second": round(2 * n * fit.k * DIM / assign_cpu / 1e9, 1),
        "numpy_matmul_gflops_readings": [round(b, 1) for b in bounds],
        "inertia_per_point": round(fit.inertia / fit.sample_size, 4),
        "clusters_used": int(len(np.unique(ids))), "data_mb": round(x.nbytes / 2**20, 1),
        "rss_after_imports_mb": round(rss_imports, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _child(queue, *args) -> None:
    queue.put(run_size(*args))


def run(sizes: list[int], k: int, iterations: int, use_gpu: str, seed: int) -> dict:
    context = multiprocessing.get_context("spawn")  # a fresh process per size: its own ru_maxrss
    rows = []
    for n in sizes:
        queue = context.Queue()
        child = context.Process(target=_child, args=(queue, n, k, iterations, use_gpu, seed))
        child.start()
        row = queue.get()
        child.join()
        bound = max(row["numpy_matmul_gflops_readings"])
        rows.append({**row, "numpy_matmul_gflops_float32": bound,
                     "fit_fraction_of_matmul": round(row["fit_gflops"] / bound, 3),
                     "assign_fraction_of_matmul": round(row["assign_gflops"] / bound, 3)})
    return {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
            "seed": seed, "rows": rows, "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--use-gpu", default="auto", choices=["auto", "never", "always"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = run(args.sizes, args.k, args.iterations, args.use_gpu, args.seed)
    device = "cuda" if results["rows"][0]["device"].startswith("cuda") else "cpu"
    out = args.out or RESULTS / f"kmeans_scale-{device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results in {out}")
    print("| device | n | fit sample | K | fit s | fit GFLOP/s | assign s | assign GFLOP/s | matmul GFLOP/s "
          "| fit / assign fraction | CPU use fit / assign | peak RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results["rows"]:
        print(f"| {r['device']} | {r['n']:,} | {r['trained_on']:,} | {r['k']} | {r['fit_seconds']} | {r['fit_gflops']} "
              f"| {r['assign_seconds']} | {r['assign_gflops']} | {r['numpy_matmul_gflops_float32']} "
              f"| {r['fit_fraction_of_matmul']:.0%} / {r['assign_fraction_of_matmul']:.0%} "
              f"| {r['fit_cpu_utilisation']:.0%} / {r['assign_cpu_utilisation']:.0%} | {r['peak_rss_mb']:,.0f} |")


if __name__ == "__main__":
    main()
