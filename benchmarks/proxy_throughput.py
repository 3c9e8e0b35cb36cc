"""Proxy LM training throughput per preset, against this machine's measured matrix-multiply rate.

    python benchmarks/proxy_throughput.py [--presets tiny 62m 350m] [--seconds 60] [--device auto] [--cpu-bf16]
                                          [--batch-size 16] [--sequence-length 256]

Each preset trains with `train_proxy` (sequence 256, batch 16 by default, an 8,192-token vocabulary) on
two synthetic token stores (short repeated patterns, so the loss falls and precisions can be compared),
weights 0.5 / 0.5. A run is capped at about --seconds: a one-step calibration run sizes the next, until
a run takes at least a quarter of the cap; where one step alone does, that step is the measurement
(it includes first-step overhead, so it understates the rate). On a CPU whose free memory cannot hold
the batch (the estimate below), the batch is halved until it fits, and the row says so. Each row
records the 1-minute load average before it: the development machine is shared, and other work on
its two cores moves CPU figures several-fold.

Bound. FLOPs per trained token = 6 * (N_non_embedding + d * V) + 12 * L * d * T: 6 per weight per token
for forward + backward (Kaplan et al. 2020) over the non-embedding weights plus the tied output head
(its d x V matmul is real work; the input lookup is free), plus the attention score and mixing
products at full (non-causal) length T (PaLM appendix B, as nanoGPT's estimate_mfu). The bound is
torch's dense 2048^3 matmul rate in the training precision (float32; bf16 where autocast is used),
measured right after each run: bound tokens/s = matmul FLOP/s / FLOPs per token. The JSON also gives the
bound without the head term, 6 * N_non_embedding + attention, for comparison with the usual 6ND rule.
Writes benchmarks/results/proxy_throughput-<cpu|cuda>.json and prints Markdown rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from machine import torch_matmul_gflops  # noqa: E402  (benchmarks/ is on sys.path as the script folder)
RESULTS = REPO / "benchmarks" / "results"
VOCAB = 8192


def synthetic_stores(root: Path) -> dict:
    """Two 1M-token stores: documents repeat a 3-5 token pattern, from ids 1-4095 and from 4096-8191."""
    from climb.climblab.token_store import TokenStore, TokenStoreWriter

    rng = np.random.default_rng(0)
    stores = {}
    for cluster, (low, high) in enumerate([(1, 4095), (4096, VOCAB - 1)]):
        with TokenStoreWriter(str(root / str(cluster)), vocab_size=VOCAB, eos_id=0) as writer:
            written = 0
            while written < 1_000_000:
                document = np.tile(rng.integers(low, high + 1, size=rng.integers(3, 6)), rng.integers(5, 30))
                writer.add(document)
                written += document.size + 1
        stores[cluster] = TokenStore(str(root / str(cluster)))
    return stores


def flops_per_token(counts: dict, architecture, sequence: int, *, with_head: bool = True) -> float:
    a = architecture
    weights = counts["non_embedding"] + (a.hidden_size * VOCAB if with_head else 0)
    return 6.0 * weights + 12.0 * a.layers * a.hidden_size * sequence


def training_bytes(counts: dict, architecture, batch: int, sequence: int) -> float:
    """Peak memory estimate: 16 B per parameter (weights, grads, Adam m and v in float32) plus activations,
    about 150 B per token per layer per hidden unit (measured: 62m at batch 16 peaked at 5.0 GB) and 12 B
    per token per vocabulary entry (logits, their softmax and its gradient)."""
    a = architecture
    tokens = batch * sequence
    return 16 * counts["total"] + tokens * (150 * a.layers * a.hidden_size + 12 * VOCAB)


def available_bytes() -> float:
    with open("/proc/meminfo") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["MemAvailable"].split()[0]) * 1024


def measure(preset: str, stores: dict, device: str, precision: str, seconds: float, batch_size: int,
            sequence: int) -> dict:
    """Train one preset for about `seconds` and return its row."""
    from climb.search.proxy import ProxyConfig, llama_config, n_parameters, train_proxy

    architecture = ProxyConfig(preset=preset).architecture
    counts = n_parameters(llama_config(architecture, vocab_size=VOCAB))
    batch, notes = batch_size, []
    if device == "cpu":  # a 350m step at batch 16 needs ~20 GB: halve until it fits in 60% of what is free
        while batch > 1 and training_bytes(counts, architecture, batch, sequence) > 0.6 * available_bytes():
            batch //= 2
        if batch != batch_size:
            needs = training_bytes(counts, architecture, batch_size, sequence) / 1e9
            notes.append(f"batch {batch}: batch {batch_size} needs ~{needs:.0f} GB")
    steps = 1
    while True:  # one calibration step, then runs sized from the last one until a run fills a quarter of the cap
        config = ProxyConfig(preset=preset, tokens=steps * batch * sequence, sequence_length=sequence,
                             batch_size=batch, device=device, precision=precision)
        _, training = train_proxy(stores=stores, weights={0: 0.5, 1: 0.5}, config=config, vocab_size=VOCAB,
                             log_every=max(1, steps // 5))
        if training.seconds >= seconds / 4:
            break
        steps = max(2 * steps, int(steps * seconds / training.seconds))
    if training.steps == 1:
        notes.append("1 step (over a quarter of the cap): includes first-step overhead")
    note = "; ".join(notes)
    return {
        "preset": preset, "device": training.device, "precision": training.precision, "batch_size": batch,
        "sequence_length": sequence, "vocab_size": VOCAB, "parameters_total": counts["total"],
        "parameters_non_embedding": counts["non_embedding"], "steps": training.steps, "tokens": training.tokens,
        "seconds": round(training.seconds, 2), "tokens_per_second": round(training.tokens_per_second, 1),
        "first_loss": round(training.losses[0], 4), "final_loss": round(training.final_loss, 4),
        "flops_per_token": flops_per_token(counts, architecture, sequence),
        "flops_per_token_without_head": flops_per_token(counts, architecture, sequence, with_head=False), "note": note,
    }


def run(presets: list[str], device_choice: str, seconds: float, cpu_bf16: bool, batch_size: int, sequence: int) -> dict:
    import torch

    from climb.core.device import resolve_placement

    placement = resolve_placement(device_choice, "float32")
    device = placement.device
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        stores = synthetic_stores(Path(folder))
        for precision in ["auto", "bfloat16"] if cpu_bf16 and device == "cpu" else ["auto"]:
            for preset in presets:
                load_before = os.getloadavg()[0]
                row = measure(preset, stores, device, precision, seconds, batch_size, sequence)
                # The bound is measured right after each run: on a shared machine the rate moves by the minute.
                dtype = "float32" if row["precision"] == "float32" else "bfloat16"
                gflops = {name: torch_matmul_gflops(device, name) for name in {"float32", dtype}}
                bound = gflops[dtype] * 1e9
                rows.append({**row, "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                             "matmul_dtype": dtype, "torch_matmul_gflops": {k: round(v, 1) for k, v in gflops.items()},
                             "achieved_gflops": round(row["tokens_per_second"] * row["flops_per_token"] / 1e9, 1),
                             "bound_tokens_per_second": round(bound / row["flops_per_token"], 1),
                             "bound_tokens_per_second_without_head": round(bound / row["flops_per_token_without_head"], 1),
                             "fraction_of_bound": round(row["tokens_per_second"] * row["flops_per_token"] / bound, 3)})
    return {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
            "device": placement.name, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "cpus": os.cpu_count(), "seconds_cap": seconds, "rows": rows,
            "date": time.strftime("%Y-%m-%d")}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "62m", "350m"])
    parser.add_argument("--seconds", type=float, default=60.0, help="cap per preset run")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--cpu-bf16", action="store_true",
                        help="on CPU, also run every preset with precision=bfloat16 (the default there is float32)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--sequence-length", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = run(args.presets, args.device, args.seconds, args.cpu_bf16, args.batch_size, args.sequence_length)
    kind = "cuda" if results["device"].startswith("cuda") else "cpu"
    out = args.out or RESULTS / f"proxy_throughput-{kind}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{results['device']}; results in {out}")
    print("| preset | params (non-emb) | precision | batch | steps | tokens/s | GFLOP/s | matmul GFLOP/s | bound tokens/s "
          "| fraction | loss first → final | load | note |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|")
    for r in results["rows"]:
        print(f"| {r['preset']} | {r['parameters_total'] / 1e6:.2f}M ({r['parameters_non_embedding'] / 1e6:.2f}M) "
              f"| {r['precision']} | {r['batch_size']} | {r['steps']} | {r['tokens_per_second']:,.0f} "
              f"| {r['achieved_gflops']:,} | {r['torch_matmul_gflops'][r['matmul_dtype']]:,} "
              f"| {r['bound_tokens_per_second']:,.0f} | {r['fraction_of_bound']:.0%} "
              f"| {r['first_loss']:.2f} → {r['final_loss']:.2f} | {r['load_average_1min'][0]:.1f} | {r['note']} |")


if __name__ == "__main__":
    main()
