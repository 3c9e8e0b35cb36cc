"""Peak memory of the corpus-wide stages that sample the corpus, by corpus size (docs/architecture.md, scale).

    python benchmarks/stage_memory.py [--docs 200000 1000000] [--shards 20] [--out PATH]   # results/stage_memory.json

For each size, short news-like documents (an AG News title joined to another article's description) and
clustered float16 unit vectors are committed straight into `documents` and `embeddings` partitions (no
ingest, no embedder), then each stage's engine runs alone in a fresh process and reports its peak RSS
(VmHWM of /proc/self/status, which counts the touched pages of memory-mapped files too; not `ru_maxrss`,
which a child started by fork and exec inherits from its parent as a floor): the tokenizer's training
sample (BPE of 4,096 tokens on the default 20,000 documents) and the K-means fit (K = 1,000, 4 iterations: the
sample, 256,000 rows at this K, is what costs memory, not the iterations).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.labelled_corpora import data_dir_default  # noqa: E402

STAGES = ("tokenizer", "centroids")


def write_root(root: Path, documents: int, shards: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa

    from climb.core import Storage

    rows = list(csv.reader(open(Path(data_dir_default()) / "ag_news" / "test.csv", newline="", encoding="utf-8")))
    rng, vector_rng = random.Random(seed), np.random.default_rng(seed)
    storage, centers, per_shard = Storage(str(root)), vector_rng.normal(size=(32, 384)), documents // shards
    for shard in range(shards):
        key, ids = f"part_{shard:05d}.jsonl", [f"d{shard * per_shard + i}" for i in range(per_shard)]
        texts = [f"{rows[rng.randrange(len(rows))][1]}. {rows[rng.randrange(len(rows))][2]} ({i})" for i in ids]
        with storage.write_partition("documents", key) as writer:
            writer.write_table("documents.parquet", pa.table({"id": ids, "text": texts}))
        vectors = centers[vector_rng.integers(32, size=per_shard)] + 0.6 * vector_rng.normal(size=(per_shard, 384))
        with storage.write_partition("embeddings", key) as writer:
            writer.write_array("embeddings.npy",
                               (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float16))


def run_stage(root: str, stage: str) -> dict:
    """One stage's engine in this process; its seconds and this process's peak RSS."""
    from climb.core import Storage
    from climb.core.config_sections import ClusteringConfig, TokenizerConfig

    storage = Storage(root)
    keys, started = storage.committed_partitions("documents"), time.perf_counter()
    if stage == "tokenizer":
        from climb.climblab.build import build_tokenizer

        build_tokenizer(storage=storage, shard_keys=keys, config=TokenizerConfig(train_vocab_size=4096))
    else:
        from climb.semantic.clustering import fit_centroids

        fit_centroids(storage=storage, shard_keys=keys, config=ClusteringConfig(k_init=1000, iterations=4))
    return {"seconds": round(time.perf_counter() - started, 1), "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory since it was exec'd (VmHWM, in kB)."""
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--shards", type=int, default=20)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "stage_memory.json"))
    parser.add_argument("--stage", nargs=2, metavar=("ROOT", "STAGE"), help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(run_stage(*args.stage)))
        return
    rows = []
    with tempfile.TemporaryDirectory(prefix="climb-stage-memory-") as work:
        for documents in args.docs:
            root = Path(work) / str(documents)
            write_root(root, documents, args.shards)
            for stage in STAGES:
                out = subprocess.run([sys.executable, __file__, "--stage", str(root), stage], check=True,
                                     capture_output=True, text=True).stdout.strip().splitlines()[-1]
                rows.append({"documents": documents, "shards": args.shards, "stage": stage, **json.loads(out)})
                print(rows[-1], flush=True)
    result = {"machine": f"{platform.node()} ({__import__('os').cpu_count()} cores)", "date": time.strftime("%Y-%m-%d"),
              "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
