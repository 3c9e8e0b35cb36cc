"""The pipeline up to ClimbLab at corpus scale: cost per stage, memory per stage, Dagster's share, the rerun.

    python benchmarks/scale.py real --docs 10000 100000          # the real embedder, short documents
    python benchmarks/scale.py synthetic --docs 1000000         # every stage after embedding, synthetic vectors
    python benchmarks/scale.py shards --shards 1000             # 1,000 small shards: Dagster's cost per shard
    python benchmarks/scale.py table                            # the Markdown tables of BENCHMARKS.md
    [--shards N] [--keep DIR] [--out FILE]

Each case is `climb run --until climblab` as a user runs it (a subprocess, its own storage root and Dagster
instance), then the same command again on the unchanged corpus. Documents are short news texts: an AG News
title joined to another article's description (all distinct, so exact deduplication keeps them all), split
into equal JSONL shards.

Both runs use the CLI's in-process executor (one process: what is left besides the steps is Dagster's own
work: startup, runs, events, planning). For `real` and `synthetic`, a third pass re-materialises the stages
after embedding (`--force`) under the multiprocess executor, so each step is its own process and its peak
memory (RSS, sampled every 0.2 s from /proc, matched to the step by the pid of its events) is the stage's
alone. `synthetic` first materialises `documents`, then writes clustered random unit vectors where the
embedder would (with the documents' digest, so the `embeddings` step keeps them, reading and checking every
vector, instead of running the model), then runs the rest. `shards` divides Dagster's seconds by the number
of shards.

Per stage: wall seconds (summed over its steps) and, in the memory pass, CPU seconds and the peak RSS of its
step processes (each holds the interpreter, Dagster and the imported libraries: about 200-350 MB before any
data). Results merge into benchmarks/results/scale.json, keyed by case and size.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import (REPO, SAMPLE_SECONDS, _children_by_parent, _children_cpu_seconds, breakdown,  # noqa: E402
                        run_sampled, step_timings)

RESULTS = REPO / "benchmarks" / "results" / "scale.json"
AFTER_EMBEDDING = ("key:quality_scores or key:tokenizer or key:centroids or key:cluster_assignments or "
                   "key:clusters or key:super_clusters or key:climblab")
AG_NEWS = REPO.parent / "shared" / "data" / "ag_news" / "test.csv"
# Near-duplicate removal off: the corpus joins 7,600 AG News titles and descriptions, so at 100,000 documents
# each description recurs ~13 times (~130 at 1M) and bigram near-dedup would rightly remove most of them; its
# cost at scale is measured by `benchmarks/dedup.py scale`.
CONFIG = """corpus: {paths: ["corpus/*.jsonl"], id_field: id}
dedup: {near: null}
embedding: {max_length: 32, batch_size: 128}
clustering: {k_init: 64, prune: none}
tokenizer: {train_vocab_size: 4096}
"""


class PerProcessPeaks(threading.Thread):
    """Peak RSS (MiB) and last CPU seconds of every process in a tree, until stopped."""

    def __init__(self, root_pid: int) -> None:
        super().__init__(daemon=True)
        self.root_pid, self.stopped = root_pid, threading.Event()
        self.rss_mb: dict[int, float] = defaultdict(float)
        self.cpu_seconds: dict[int, float] = {}
        self.tree_rss_mb = 0.0

    def run(self) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        while not self.stopped.wait(SAMPLE_SECONDS):
            tree, todo, total = _children_by_parent(), [self.root_pid], 0.0
            while todo:
                pid = todo.pop()
                todo += tree.get(pid, [])
                try:
                    rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                self.rss_mb[pid] = max(self.rss_mb[pid], rss)
                self.cpu_seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
                total += rss
            self.tree_rss_mb = max(self.tree_rss_mb, total)


def write_corpus(root: Path, documents: int, shards: int, seed: int = 0) -> None:
    rows = list(csv.reader(open(AG_NEWS, newline="", encoding="utf-8")))
    rng = random.Random(seed)
    (root / "corpus").mkdir(parents=True)
    per_shard = -(-documents // shards)
    for shard in range(shards):
        lines = []
        for i in range(shard * per_shard, min(documents, (shard + 1) * per_shard)):
            title, description = rows[rng.randrange(len(rows))][1], rows[rng.randrange(len(rows))][2]
            lines.append(json.dumps({"id": f"d{i}", "text": f"{title}. {description} ({i})"}))
        (root / "corpus" / f"part_{shard:05d}.jsonl").write_text("\n".join(lines) + "\n")
    (root / "climb.yaml").write_text(CONFIG)


def synthetic_embeddings(root: Path, dim: int = 384, topics: int = 32, seed: int = 0) -> None:
    """Clustered unit vectors for every committed documents partition, stamped as the embedder's would be."""
    import numpy as np
    import pyarrow as pa

    from climb.core import Storage, load_config
    from climb.semantic.embedding_store import ASSET, embedder_settings, embeddings_source

    config = load_config(str(root / "climb.yaml"), home=str(root / "home"))
    storage, settings = Storage(config.storage_root), embedder_settings(config.embedding)
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(topics, dim))
    for shard in storage.committed_partitions("documents"):
        ids = storage.read_table("documents", "documents.parquet", shard, columns=["id"]).column("id")
        vectors = centers[rng.integers(topics, size=len(ids))] + 0.6 * rng.normal(size=(len(ids), dim))
        vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float16)
        report = {"count": len(ids), "dim": dim, "model": settings.model, "device": "synthetic", "dtype": "float16",
                  "max_length": settings.max_length, "docs_per_second": 0.0, "tokens_per_second": 0.0,
                  "tokens": 0, "seconds": 0.0, "path": ""}
        with storage.write_partition(ASSET, shard) as writer:
            writer.write_array("embeddings.npy", vectors)
            writer.write_table("ids.parquet", pa.table({"id": ids, "n_tokens": pa.array([16] * len(ids), pa.int32())}))
            writer.write_json("stats.json", {**report, "source": embeddings_source(storage, shard, settings)})


def climb_run(root: Path, args: list[str], executor: str) -> dict:
    """One `climb run ARGS`: wall, CPU, the split between steps and Dagster, per-stage peaks (multiprocess)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CLIMB_CONFIG", "CLIMB_HOME", "DAGSTER_HOME")}
    env["CLIMB_EXECUTOR"] = executor
    command = [sys.executable, "-m", "climb_assets.cli", "run", "--config", str(root / "climb.yaml"),
               "--home", str(root / "home"), *args]
    cpu_before = _children_cpu_seconds()
    output, returncode, spawned, exited, peaks = run_sampled(command, env, PerProcessPeaks)
    if returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` exited {returncode}:\n{output[-3000:]}")
    timings = step_timings(root / "home" / "dagster")
    row = {"wall_seconds": round(exited - spawned, 2), "cpu_seconds": round(_children_cpu_seconds() - cpu_before, 1),
           "peak_tree_rss_mb": round(peaks.tree_rss_mb, 1)}
    new_runs = [r for r in timings["runs"] if (r["start"] or 0) >= spawned]
    if new_runs:
        ids = {r["run"] for r in new_runs}
        timings = {**timings, "runs": new_runs, "steps": [s for s in timings["steps"] if s["run"] in ids]}
        row.update(breakdown(timings, spawned, exited))
        if executor == "multiprocess":
            row["per_stage_peak"] = stage_peaks(root / "home" / "dagster", ids, peaks)
    else:
        row.update(runs=0, dagster_seconds=row["wall_seconds"], per_asset={})
    return row


def stage_peaks(dagster_home: Path, run_ids: set[str], peaks: PerProcessPeaks) -> dict:
    """Per asset: the largest RSS and the summed CPU of the step processes that materialised it."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    pids, names = defaultdict(set), defaultdict(set)
    for run_id in run_ids:
        for entry in instance.all_logs(run_id):
            # STEP_START comes from the step's own process; the run's process logs other events of the step too
            if entry.dagster_event and entry.dagster_event.event_type_value == "STEP_START":
                pids[(run_id, entry.step_key)].add(entry.dagster_event.pid)
            if entry.dagster_event and entry.dagster_event.event_type_value == "ASSET_MATERIALIZATION":
                names[(run_id, entry.step_key)].add(entry.dagster_event.asset_key.to_user_string())
    instance.dispose()
    out: dict[str, dict] = defaultdict(lambda: {"peak_rss_mb": 0.0, "cpu_seconds": 0.0, "steps": 0})
    for step, step_pids in pids.items():
        name = "+".join(sorted(names[step])) or step[1]
        stage = out[name]
        stage["steps"] += 1
        stage["peak_rss_mb"] = round(max([stage["peak_rss_mb"], *(peaks.rss_mb.get(p, 0.0) for p in step_pids)]), 1)
        stage["cpu_seconds"] = round(stage["cpu_seconds"] + sum(peaks.cpu_seconds.get(p, 0.0) for p in step_pids), 1)
    return dict(out)


def run_case(case: str, documents: int, shards: int, work: Path) -> dict:
    root = work / f"{case}_{documents}_{shards}"
    write_corpus(root, documents, shards)
    row = {"case": case, "documents": documents, "shards": shards, "executor": "in_process",
           "machine": f"{platform.node()} ({os.cpu_count()} cores)", "date": time.strftime("%Y-%m-%d")}
    if case == "synthetic":
        row["documents_stage"] = climb_run(root, ["--until", "documents"], "in_process")
        started = time.time()
        synthetic_embeddings(root)
        row["synthetic_vectors_seconds"] = round(time.time() - started, 1)
    row["first"] = climb_run(root, ["--until", "climblab"], "in_process")
    row["rerun"] = climb_run(root, ["--until", "climblab"], "in_process")
    row["rerun_share"] = round(row["rerun"]["wall_seconds"] / row["first"]["wall_seconds"], 3)
    row["dagster_seconds_per_shard"] = round(row["first"]["dagster_seconds"] / shards, 3)
    if case != "shards":
        row["memory_pass"] = climb_run(root, ["--select", AFTER_EMBEDDING, "--force"], "multiprocess")
    return row


def tables(results: dict) -> str:
    """Markdown: one row per case (times, Dagster's share, the rerun), then the per-stage peaks."""
    lines = ["| case | documents | shards | first run s | CPU s | Dagster s (per shard) | rerun s (share) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in results.values():
        first, rerun = row["first"], row["rerun"]
        lines.append(f"| {row['case']} | {row['documents']:,} | {row['shards']:,} | {first['wall_seconds']:,.1f} | "
                     f"{first['cpu_seconds']:,.1f} | {first['dagster_seconds']:,.1f} "
                     f"({row['dagster_seconds_per_shard']:.2f}) | {rerun['wall_seconds']:.1f} "
                     f"({row['rerun_share']:.1%}) |")
    stages = sorted({stage for row in results.values() for stage in row.get("memory_pass", {}).get(
        "per_stage_peak", {})})
    sized = [row for row in results.values() if "memory_pass" in row]
    if sized:
        lines += ["", "| stage: peak RSS of a step process, MB | " + " | ".join(
            f"{r['case']} {r['documents']:,}" for r in sized) + " |", "|---|" + "---:|" * len(sized)]
        for stage in stages:
            lines.append(f"| {stage} | " + " | ".join(
                str(r["memory_pass"]["per_stage_peak"].get(stage, {}).get("peak_rss_mb", "")) for r in sized) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("case", choices=["real", "synthetic", "shards", "table"])
    parser.add_argument("--docs", type=int, nargs="+", default=[10_000])
    parser.add_argument("--shards", type=int, default=None, help="default: 10 (real, synthetic), 1,000 (shards)")
    parser.add_argument("--docs-per-shard", type=int, default=5, help="shards case: documents in each shard")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    shards = args.shards or (1000 if args.case == "shards" else 10)
    sizes = [shards * args.docs_per_shard] if args.case == "shards" else args.docs
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.case == "table":
        print(tables(results))
        return
    with tempfile.TemporaryDirectory(dir=args.keep) as work:
        for documents in sizes:
            row = run_case(args.case, documents, shards, Path(work))
            results[f"{args.case}-{documents}-{shards}"] = row
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1))
            print(json.dumps({k: v for k, v in row.items()
                              if k not in ("first", "rerun", "documents_stage", "memory_pass")}))
            print(json.dumps(row.get("memory_pass", {}).get("per_stage_peak", {}), indent=1))


if __name__ == "__main__":
    main()
