"""Hand-built committed partitions for the search-round tests: ClimbLab's cluster summary and documents, the
tokenizer's stats, the target, proxy runs, and a configuration -- everything `climb.search.rounds` reads,
written with `Storage.write_partition`, without training a tokenizer or a proxy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from climb.climblab.build import CLUSTERS_FILE, DATA, cluster_folder
from climb.core.config import ClimbConfig, load_config
from climb.core.storage import Storage

TARGET_ID = "target-0123456789abcdef"
VOCAB_SIZE = 512
TOKENIZER_SOURCE = "trained"

# (cluster_id, label, documents, tokens, store_tokens); written unsorted on purpose: readers must sort by id.
CLUSTERS = (
    (7, "seven", 4, 40_000, 40_000),
    (2, "two", 6, 120_000, 120_000),
    (5, "five", 2, 40_000, 20_000),
)


def write_climblab(storage: Storage, clusters: Sequence[tuple] = CLUSTERS, *, documents: dict[int, list] | None = None,
                   vocab_size: int = VOCAB_SIZE, source: str = TOKENIZER_SOURCE) -> None:
    """Commit `climblab` (its cluster profiles and one documents file per super-cluster) and `tokenizer`.

    Args:
        clusters: (cluster_id, label, documents, tokens, store_tokens) per super-cluster.
        documents: cluster_id -> [(id, token_count), ...]; default: `documents` rows "c<cid>-<i>" splitting
            the cluster's tokens evenly.
    """
    if documents is None:
        documents = {cid: [(f"c{cid}-{i}", tokens // max(docs, 1)) for i in range(docs)]
                     for cid, _, docs, tokens, _ in clusters}
    table = pa.Table.from_pylist([{"cluster_id": cid, "label": label, "documents": docs, "tokens": tokens,
                                   "store_tokens": store} for cid, label, docs, tokens, store in clusters])
    with storage.write_partition("climblab") as writer:
        writer.write_table(CLUSTERS_FILE, table)
        for cid, rows in documents.items():
            writer.write_table(f"{DATA}/{cluster_folder(cid)}/part-00000.parquet", pa.table({
                "id": pa.array([r[0] for r in rows], pa.string()),
                "cluster_id": pa.array([cid] * len(rows), pa.int32()),
                "token_count": pa.array([r[1] for r in rows], pa.int64())}))
    with storage.write_partition("tokenizer") as writer:
        writer.write_json("stats.json", {"vocab_size": vocab_size, "source": source})


def write_target(storage: Storage, target_id: str = TARGET_ID) -> None:
    with storage.write_partition("target_set") as writer:
        writer.write_json("target.json", {"target_id": target_id, "parts": []})


def write_runs(storage: Storage, round_number: int, weights: np.ndarray, scores: np.ndarray,
               cluster_ids: Sequence[int], *, stats: dict | None = None, key_prefix: str = "run") -> list[str]:
    """Commit `proxy_runs/<round>/runs.parquet` (w_<cid>, round, index, key, search_score, holdout_score) and,
    when given, its stats.json. Returns the keys."""
    weights = np.asarray(weights, dtype=float)
    keys = [f"{key_prefix}-{round_number}-{i}" for i in range(len(weights))]
    columns = {"round": [round_number] * len(weights), "index": list(range(len(weights))), "key": keys,
               "search_score": [float(s) for s in scores], "holdout_score": [float(s) for s in scores]}
    columns.update({f"w_{cid}": pa.array(weights[:, i], pa.float64()) for i, cid in enumerate(cluster_ids)})
    with storage.write_partition("proxy_runs", str(round_number)) as writer:
        writer.write_table("runs.parquet", pa.table(columns))
        if stats is not None:
            writer.write_json("stats.json", stats)
    return keys


def make_config(tmp_path: Path, *, rounds: Sequence[int] = (6, 4), pool_size: int = 400, top_n: int | None = 20,
                proxy_tokens: int = 100_000, max_epochs: float = 1.0, seed: int = 3) -> ClimbConfig:
    """A configuration file with the search and proxy settings the rounds read, loaded like the CLI does."""
    top = "null" if top_n is None else str(top_n)
    text = (f"corpus:\n  paths: [data/*.jsonl]\n  text_field: text\n"
            f"search:\n  rounds: [{', '.join(map(str, rounds))}]\n  pool_size: {pool_size}\n  top_n: {top}\n"
            f"  seed: {seed}\n  max_epochs: {max_epochs}\n  workers: 1\n"
            f"proxy:\n  preset: tiny\n  tokens: {proxy_tokens}\n  device: cpu\n")
    path = tmp_path / "climb.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, home=str(tmp_path / "home"))


def linear_scores(weights: np.ndarray, coef: Sequence[float]) -> np.ndarray:
    """A known ground truth: score = weights @ coef."""
    return np.asarray(weights, dtype=float) @ np.asarray(coef, dtype=float)
