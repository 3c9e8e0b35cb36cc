"""Embedding throughput on a real corpus, against this machine's measured matrix-multiply rate.

    python benchmarks/embed_throughput.py [--docs 1000] [--max-lengths 128 256] [--device auto]

Corpus: AG News test.csv from ../shared/data (title + description). The bound is the dense
float32 (CPU) or bf16/fp16 (GPU) matrix-multiply rate of torch on this machine, measured in the
same run; the encoder's work is counted as 2 FLOPs per non-embedding weight per token plus the
attention score and mixing products (4 * layers * tokens * hidden per token, with the batch's
padded length), so `fraction_of_matmul_bound` says how close to the hardware limit we run.
Writes benchmarks/results/embed_throughput-<device>.json and prints a Markdown row per setting.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from machine import numpy_matmul_gflops, torch_matmul_gflops

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def ag_news_texts(limit: int) -> list[str]:
    path = Path(os.environ.get("CLIMB_SHARED_DATA", REPO.parent / "shared" / "data")) / "ag_news" / "test.csv"
    if not path.exists():
        raise SystemExit(f"{path} not found: the benchmark needs ../shared/data")
    rows = list(csv.reader(open(path, encoding="utf-8")))[:limit]
    return [f"{r[1]}\n\n{r[2]}" for r in rows]


def encoder_flops(embedder, n_tokens: np.ndarray) -> float:
    """Forward FLOPs: 2 per non-embedding weight per token, plus attention over each batch's padded length."""
    config = embedder.encoder.config
    weights = sum(p.numel() for name, p in embedder.encoder.named_parameters() if "embeddings" not in name)
    layers, hidden = config.num_hidden_layers, config.hidden_size
    ordered = np.sort(n_tokens)  # the engine batches documents sorted by length
    batch = embedder.settings.batch_size
    flops = 2.0 * weights * n_tokens.sum()
    for start in range(0, len(ordered), batch):
        members = ordered[start : start + batch]
        padded = int(members.max())
        flops += 4.0 * layers * padded * padded * hidden * len(members)
    return flops


def run(docs: int, max_lengths: list[int], device: str, dtypes: list[str], model: str, batch_size: int) -> dict:
    from climb.semantic.embedding import Embedder, EmbedderSettings

    texts = ag_news_texts(docs)
    rows = []
    for max_length, dtype in [(m, d) for d in dtypes for m in max_lengths]:
        embedder = Embedder(EmbedderSettings(model=model, max_length=max_length, device=device, dtype=dtype,
                                             batch_size=batch_size))
        embedder.embed(texts[:64])  # warm-up: kernels, allocator
        result = embedder.embed(texts)
        placement = embedder.placement
        bound = torch_matmul_gflops(placement.device, placement.dtype, seconds=3.0)
        achieved = encoder_flops(embedder, result.n_tokens) / result.seconds / 1e9
        rows.append({
            "model": embedder.settings.model, "device": placement.name, "dtype": placement.dtype,
            "max_length": embedder.max_length, "batch_size": embedder.settings.batch_size, "documents": len(texts),
            "tokens": int(result.n_tokens.sum()), "seconds": round(result.seconds, 2),
            "docs_per_second": round(result.docs_per_second, 1), "tokens_per_second": round(result.tokens_per_second),
            "achieved_gflops": round(achieved, 1), "torch_matmul_gflops": round(bound, 1),
            "fraction_of_matmul_bound": round(achieved / bound, 3),
        })
    return {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
            "numpy_matmul_gflops_float32": round(numpy_matmul_gflops(), 1), "rows": rows,
            "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--max-lengths", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "auto"], help="auto = the engine's rule")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="the bundled MiniLM, or a model folder")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    results = run(args.docs, args.max_lengths, args.device, args.dtypes, args.model, args.batch_size)
    device = "cuda" if results["rows"][0]["device"].startswith("cuda") else "cpu"
    out = args.out or RESULTS / f"embed_throughput-{device}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"numpy float32 matmul: {results['numpy_matmul_gflops_float32']} GFLOP/s; results in {out}")
    print("| device | dtype | max_length | docs/s | tokens/s | achieved GFLOP/s | matmul GFLOP/s | fraction |")
    for r in results["rows"]:
        print(f"| {r['device']} | {r['dtype']} | {r['max_length']} | {r['docs_per_second']} | {r['tokens_per_second']:,} "
              f"| {r['achieved_gflops']} | {r['torch_matmul_gflops']} | {r['fraction_of_matmul_bound']:.0%} |")


if __name__ == "__main__":
    main()
