"""Cluster profiles (paper steps 3-4): fine clusters with their quality and pruning decision, then
super-clusters merged from the surviving centroids.

- `<root>/clusters/clusters.parquet`: one row per fine cluster: documents, tokens, mean distance to
  the centroid, the four raters' means, keywords (class-based TF-IDF), label, kept, prune_reason.
- `<root>/super_clusters/`: `super_clusters.parquet` (id, label, keywords, member fine clusters,
  documents, tokens, token share, rater means), `fine_to_super.parquet` (null for pruned fine
  clusters), `stats.json` (threshold used, K, collapse-guard warnings), `projection.png`.
Aggregation is DuckDB over the per-shard Parquet files; nothing is loaded whole into memory but
the keyword sample (at most KEYWORD_SAMPLE documents per cluster).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from climb.semantic.keywords import class_tfidf_keywords, label_from_keywords
from climb.semantic.merging import MergeSettings, merge_clusters
from climb.core.plots import centroid_projection, cluster_sizes, quality_per_cluster
from climb.semantic.pruning import RATERS, prune_decision, prune_rule
from climb.core.storage import Storage

CLUSTERS = "clusters"
SUPER_CLUSTERS = "super_clusters"
KEYWORD_SAMPLE = 200  # documents per cluster read for keywords


@dataclass(frozen=True)
class ClustersReport:
    k: int
    kept: int
    pruned: int
    documents_kept: int
    documents_pruned: int
    tokens_kept: int
    tokens_pruned: int
    reasons: dict[str, int]
    sizes_png: bytes
    quality_png: bytes
    path: str


@dataclass(frozen=True)
class SuperClustersReport:
    k: int
    threshold_used: float | None
    warnings: tuple[str, ...]
    table: list[dict]
    projection_png: bytes
    path: str


def _files(storage: Storage, asset: str, name: str, shard_keys: Sequence[str]) -> str:
    paths = [storage.uri(f"{storage.require(asset, key)}/{name}") for key in sorted(shard_keys)]
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _keyword_sample(con, storage: Storage, shard_keys: Sequence[str], *, by_super: bool) -> tuple[list[str], list[int]]:
    """Texts and group ids (fine, or super via the registered `fine_to_super` table) of up to
    KEYWORD_SAMPLE documents per group; deterministic (ordered by a hash of the id)."""
    group = "f.super_cluster_id" if by_super else "a.fine_cluster_id"
    join = "JOIN fine_to_super f ON f.fine_cluster_id = a.fine_cluster_id" if by_super else ""
    # The sample is chosen from the assignments alone; only its texts are read (a join of every text with
    # every assignment held the corpus's texts: ~390 MB at 400,000 short documents).
    rows = con.execute(
        f"WITH sample AS (SELECT {group} AS grp, a.id "
        f"FROM read_parquet({_files(storage, 'cluster_assignments', 'assignments.parquet', shard_keys)}) a {join} "
        f"WHERE {group} IS NOT NULL "
        f"QUALIFY row_number() OVER (PARTITION BY {group} ORDER BY hash(a.id), a.id) <= {KEYWORD_SAMPLE}) "
        f"SELECT s.grp, d.text FROM sample s "
        f"JOIN read_parquet({_files(storage, 'documents', 'documents.parquet', shard_keys)}) d USING (id) "
        "ORDER BY s.grp, hash(s.id), s.id"
    ).fetchall()
    return [r[1] for r in rows], [int(r[0]) for r in rows]


def write_cluster_profiles(*, storage: Storage, shard_keys: Sequence[str], prune: str | dict,
                           log: logging.Logger | None = None) -> ClustersReport:
    """Profile every fine cluster and decide which to prune (docs/method.md, step 3).

    Args:
        storage: holds `cluster_assignments`, `quality_scores`, `documents`, `centroids`.
        shard_keys: the shards of the corpus.
        prune: "paper" | "reference" | "none" | {rater: threshold}.
        log: progress messages.
    """
    rule = prune_rule(prune)
    k = len(storage.read_array("centroids", "centroids.npy"))
    con = storage.duckdb()
    means_sql = ", ".join(f"avg(q.{r}) AS {r}" for r in RATERS)
    result = con.execute(
        f"SELECT a.fine_cluster_id, count(*) AS documents, sum(a.token_count) AS tokens, "
        f"avg(a.distance) AS mean_distance, {means_sql} "
        f"FROM read_parquet({_files(storage, 'cluster_assignments', 'assignments.parquet', shard_keys)}) a "
        f"JOIN read_parquet({_files(storage, 'quality_scores', 'quality_scores.parquet', shard_keys)}) q USING (id) "
        f"GROUP BY 1"
    )
    columns = [d[0] for d in result.description]
    by_id = {row[0]: dict(zip(columns, row)) for row in result.fetchall()}
    texts, groups = _keyword_sample(con, storage, shard_keys, by_super=False)
    keywords = class_tfidf_keywords(texts, groups) if texts else {}
    con.close()
    profile = []
    for cluster in range(k):
        row = by_id.get(cluster, {"documents": 0, "tokens": 0, "mean_distance": None, **{r: None for r in RATERS}})
        keep, reason = (prune_decision({r: row[r] for r in RATERS}, rule) if row["documents"]
                        else (False, "prune:empty"))
        words = keywords.get(cluster, [])
        profile.append({"fine_cluster_id": cluster, "documents": int(row["documents"]), "tokens": int(row["tokens"] or 0),
                        "mean_distance": row["mean_distance"], **{r: row[r] for r in RATERS}, "keywords": words,
                        "label": label_from_keywords(words) if words else "", "kept": keep, "prune_reason": reason})
    kept = [p for p in profile if p["kept"]]
    if not kept:
        raise ValueError(f"pruning ({rule.name}) removed every one of the {k} clusters: loosen clustering.prune "
                         "(e.g. 'reference' or 'none')")
    pruned = [p for p in profile if not p["kept"]]
    report = ClustersReport(
        k=k, kept=len(kept), pruned=len(pruned),
        documents_kept=sum(p["documents"] for p in kept), documents_pruned=sum(p["documents"] for p in pruned),
        tokens_kept=sum(p["tokens"] for p in kept), tokens_pruned=sum(p["tokens"] for p in pruned),
        reasons=dict(Counter(p["prune_reason"] for p in pruned)),
        sizes_png=cluster_sizes([p["documents"] for p in profile], title=f"{k} fine clusters"),
        quality_png=quality_per_cluster({r: [p[r] or 0.0 for p in profile] for r in RATERS},
                                        [p["kept"] for p in profile], title="rater means per cluster (grey: pruned)"),
        path="",
    )
    with storage.write_partition(CLUSTERS) as writer:
        writer.write_table("clusters.parquet", pa.Table.from_pylist(profile))
        writer.write_bytes("cluster_sizes.png", report.sizes_png)
        writer.write_bytes("quality_per_cluster.png", report.quality_png)
    return ClustersReport(**{**report.__dict__, "path": storage.require(CLUSTERS)})


def write_super_clusters(*, storage: Storage, shard_keys: Sequence[str], settings: MergeSettings,
                         log: logging.Logger | None = None) -> SuperClustersReport:
    """Merge the surviving centroids with Ward linkage into labelled super-clusters (docs/method.md, step 4).

    Args:
        storage: holds `clusters`, `centroids`, `cluster_assignments`, `documents`.
        shard_keys: the shards of the corpus (for keyword samples).
        settings: threshold or target count, and the collapse guard.
        log: the collapse guard's warnings.
    """
    log = log or logging.getLogger(__name__)
    profile = storage.read_table(CLUSTERS, "clusters.parquet").to_pylist()
    centroids = np.asarray(storage.read_array("centroids", "centroids.npy"), dtype=np.float32)
    kept = [p for p in profile if p["kept"]]
    kept_ids = np.array([p["fine_cluster_id"] for p in kept])
    result = merge_clusters(centroids[kept_ids], np.array([p["tokens"] for p in kept], dtype=float), settings=settings)
    for warning in result.warnings:
        log.warning(warning)
    super_of = {int(f): int(s) for f, s in zip(kept_ids, result.super_of_fine)}
    fine_to_super = pa.table({"fine_cluster_id": pa.array([p["fine_cluster_id"] for p in profile], pa.int32()),
                              "super_cluster_id": pa.array([super_of.get(p["fine_cluster_id"]) for p in profile],
                                                           pa.int32())})
    con = storage.duckdb()
    con.register("fine_to_super", fine_to_super)
    texts, groups = _keyword_sample(con, storage, shard_keys, by_super=True)
    con.close()
    keywords = class_tfidf_keywords(texts, groups) if texts else {}
    table = []
    for sid in range(result.k):
        members = [p for p in kept if super_of[p["fine_cluster_id"]] == sid]
        documents = sum(p["documents"] for p in members)
        means = {r: sum((p[r] or 0.0) * p["documents"] for p in members) / max(documents, 1) for r in RATERS}
        words = keywords.get(sid, [])
        table.append({"cluster_id": sid, "label": label_from_keywords(words) if words else f"cluster {sid}",
                      "keywords": words, "fine_clusters": sorted(p["fine_cluster_id"] for p in members),
                      "documents": documents, "tokens": sum(p["tokens"] for p in members),
                      "token_share": float(result.token_share[sid]), **means})
    labels = {row["cluster_id"]: row["label"] for row in table}
    projection = centroid_projection(centroids[kept_ids], result.super_of_fine, labels,
                                     title=f"{len(kept_ids)} centroids, {result.k} super-clusters")
    with storage.write_partition(SUPER_CLUSTERS) as writer:
        writer.write_table("super_clusters.parquet", pa.Table.from_pylist(table))
        writer.write_table("fine_to_super.parquet", fine_to_super)
        writer.write_json("stats.json", {"k": result.k, "threshold_used": result.threshold_used,
                                         "warnings": list(result.warnings), "settings": settings.__dict__})
        writer.write_bytes("projection.png", projection)
    return SuperClustersReport(k=result.k, threshold_used=result.threshold_used, warnings=result.warnings,
                               table=table, projection_png=projection, path=storage.require(SUPER_CLUSTERS))
