"""Semantic duplicates (SemDeDup, Abbas et al. 2023) inside each fine cluster (docs/method.md, deduplication).

Two documents whose stored embeddings have cosine > 1 - eps say the same thing, even when no word n-gram
is shared (a translation, a paraphrase, a template filled alike). Within each fine cluster the documents are
ranked by what to keep (`centroid`: nearest the centroid first, as the paper; `rating`: the highest mean of the
four raters first), and a document goes when an earlier-ranked one is that close, whether or not that one
stays (the paper's rule; the first of a group always stays). Only pairs inside a fine cluster are compared:
the paper's approximation, which makes the work the sum of squared cluster sizes instead of the corpus's.

Memory: the similarities of a cluster are computed in blocks of rows, at most BLOCK_ELEMENTS float32 values
at a time (128 MB) whatever the cluster's size, and only one cluster's vectors are in memory.
`<root>/semantic_duplicates/semantic_duplicates.parquet`: id, shard, fine_cluster_id, reason, detail, twin, cosine.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from climb.core.storage import Storage
from climb.semantic.pruning import RATERS

SEMANTIC_DUPLICATES = "semantic_duplicates"
SEMANTIC_DUPLICATE = "duplicate:semantic"
BLOCK_ELEMENTS = 1 << 25  # similarity values held at once: 32M float32 = 128 MB
SCHEMA = pa.schema([("id", pa.string()), ("shard", pa.string()), ("fine_cluster_id", pa.int32()),
                    ("reason", pa.string()), ("detail", pa.string()), ("twin", pa.string()), ("cosine", pa.float64())])
KEEP_RULES = ("centroid", "rating")


@dataclass(frozen=True)
class SemanticSettings:
    eps: float = 0.05  # a pair with cosine > 1 - eps is a duplicate
    keep: str = "centroid"  # centroid: nearest the centroid stays | rating: the highest mean rating stays

    def __post_init__(self):
        if not 0 < self.eps < 1:
            raise ValueError(f"eps must lie in (0, 1), got {self.eps}")
        if self.keep not in KEEP_RULES:
            raise ValueError(f"keep must be one of {KEEP_RULES}, got {self.keep!r}")


def earlier_twins(vectors: np.ndarray, *, eps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For vectors in keep order: (duplicate, twin, cosine) per row, twin = the most similar earlier row.

    Args:
        vectors: (n, d) unit vectors of one cluster, the one to keep first.
        eps: a row is a duplicate when its cosine with an earlier row exceeds 1 - eps.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    twin, cosine = np.full(n, -1, dtype=np.int64), np.full(n, -np.inf, dtype=np.float32)
    block = max(1, BLOCK_ELEMENTS // max(n, 1))
    for start in range(1, n, block):
        stop = min(start + block, n)
        sims = x[start:stop] @ x[:stop].T  # (b, stop)
        sims[np.arange(stop)[None, :] >= np.arange(start, stop)[:, None]] = -np.inf  # only earlier rows count
        twin[start:stop] = sims.argmax(axis=1)
        cosine[start:stop] = sims[np.arange(stop - start), twin[start:stop]]
    return cosine > 1 - eps, twin, cosine


def _corpus_rows(storage: Storage, shard_keys: Sequence[str], keep: str) -> pa.Table:
    """shard index, row, id, fine cluster and keep priority (lower first) of every kept document."""
    parts = []
    for index, key in enumerate(shard_keys):
        a = storage.read_table("cluster_assignments", "assignments.parquet", key,
                               columns=["id", "fine_cluster_id", "distance"])
        if keep == "rating":
            q = storage.read_table("quality_scores", "quality_scores.parquet", key, columns=["id", *RATERS])
            if not q.column("id").equals(a.column("id")):
                raise ValueError(f"{key}: quality_scores and cluster_assignments are not aligned; re-materialise it")
            priority = -np.mean([q.column(r).to_numpy() for r in RATERS], axis=0)
        else:
            priority = a.column("distance").to_numpy()
        parts.append(pa.table({"shard": pa.array(np.full(a.num_rows, index, np.int32)),
                               "row": pa.array(np.arange(a.num_rows)), "id": a.column("id"),
                               "fine_cluster_id": a.column("fine_cluster_id"), "priority": priority}))
    # ties keep the global order (shard, row), so the earlier document stays as in exact and near dedup
    return pa.concat_tables(parts).sort_by([("fine_cluster_id", "ascending"), ("priority", "ascending"),
                                            ("shard", "ascending"), ("row", "ascending")])


def _gather(vectors: Sequence[np.ndarray], shard: np.ndarray, row: np.ndarray) -> np.ndarray:
    """(n, d) float32: the vectors of one cluster, read shard by shard (one fancy index per shard)."""
    out = np.empty((len(shard), vectors[0].shape[1]), dtype=np.float32)
    for s in np.unique(shard):
        at = np.flatnonzero(shard == s)
        out[at] = vectors[s][row[at]]
    return out


def find_semantic_duplicates(*, storage: Storage, shard_keys: Sequence[str], settings: SemanticSettings,
                             log: logging.Logger | None = None) -> pa.Table:
    """The semantic duplicates of the corpus (SCHEMA), one row per document removed.

    Args:
        storage: holds `embeddings`, `cluster_assignments` and (keep = rating) `quality_scores` of every shard.
        shard_keys: the shards of the corpus.
        settings: eps and the keep rule.
        log: one line per 100 clusters.
    """
    log = log or logging.getLogger(__name__)
    keys = sorted(shard_keys)
    vectors = [storage.read_array("embeddings", "embeddings.npy", key) for key in keys]  # memory-mapped locally
    rows = _corpus_rows(storage, keys, settings.keep)
    fine = rows.column("fine_cluster_id").to_numpy()
    bounds = np.flatnonzero(np.diff(fine)) + 1
    shard, row, ids = rows.column("shard").to_numpy(), rows.column("row").to_numpy(), rows.column("id").to_pylist()
    out = []
    for number, (lo, hi) in enumerate(zip([0, *bounds], [*bounds, len(fine)])):
        if hi - lo < 2:
            continue
        members = np.arange(lo, hi)
        duplicate, twin, cosine = earlier_twins(_gather(vectors, shard[lo:hi], row[lo:hi]), eps=settings.eps)
        for i in np.flatnonzero(duplicate):
            m, t = members[i], members[twin[i]]
            out.append({"id": ids[m], "shard": keys[shard[m]], "fine_cluster_id": int(fine[m]),
                        "reason": SEMANTIC_DUPLICATE, "twin": ids[t], "cosine": round(float(cosine[i]), 6),
                        "detail": f"semantic duplicate of {ids[t]} in fine cluster {int(fine[m])}, "
                                  f"cosine {cosine[i]:.4f} (kept by {settings.keep})"})
        if number % 100 == 99:
            log.info(f"semantic duplicates: {number + 1} clusters, {len(out):,} found")
    table = pa.Table.from_pylist(out, schema=SCHEMA)
    return table.sort_by([("shard", "ascending"), ("id", "ascending")]) if table.num_rows else table


def semantic_duplicates(storage: Storage) -> pa.Table:
    """The committed semantic duplicates (SCHEMA), which ClimbLab leaves out."""
    return storage.read_table(SEMANTIC_DUPLICATES, "semantic_duplicates.parquet")


def write_semantic_duplicates(*, storage: Storage, shard_keys: Sequence[str], settings: SemanticSettings | None,
                              log: logging.Logger | None = None) -> dict:
    """Find the semantic duplicates (none when `settings` is None: off) and commit `semantic_duplicates`.

    Args:
        storage: holds the per-shard upstream assets and receives `semantic_duplicates`.
        shard_keys: the shards of the corpus.
        settings: eps and the keep rule; None writes an empty table.
        log: progress messages.
    """
    table = (SCHEMA.empty_table() if settings is None else
             find_semantic_duplicates(storage=storage, shard_keys=shard_keys, settings=settings, log=log))
    clusters = len(set(table.column("fine_cluster_id").to_pylist()))
    info = {"duplicates": table.num_rows, "clusters_with_duplicates": clusters,
            "settings": None if settings is None else {"eps": settings.eps, "keep": settings.keep}}
    with storage.write_partition(SEMANTIC_DUPLICATES) as writer:
        writer.write_table("semantic_duplicates.parquet", table)
        writer.write_json("stats.json", info)
    return {**info, "path": storage.require(SEMANTIC_DUPLICATES)}
