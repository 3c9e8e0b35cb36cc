"""Centroids and cluster assignments in storage (paper step 2: fit on a sample, then assign all).

- `<root>/centroids/`: `centroids.npy` (K, d) float32 unit vectors, `sample_sizes.npy` (documents of
  the fit sample nearest to each centroid), `stats.json` (K requested and used, inertia, sample size,
  documents and shards fitted on, the sample's mean distance to its nearest centroid, fit time, device,
  warning): what `recluster_sensor` compares the corpus of today with.
- `<root>/cluster_assignments/<shard>/assignments.parquet`: id, fine_cluster_id, distance (L2 to the
  nearest centroid) and token_count (the project tokenizer's tokens) of every kept document.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from climb.semantic.embedding_store import embedding_count, read_embedding_rows
from climb.semantic.kmeans import KMeansSettings, assign, effective_k, fit_kmeans, sample_rows
from climb.core.config import ClusteringConfig
from climb.core.storage import Storage

CENTROIDS = "centroids"
ASSIGNMENTS = "cluster_assignments"


@dataclass(frozen=True)
class CentroidsReport:
    k_requested: int
    k: int
    inertia: float
    sample_size: int
    documents: int
    shards: int
    seconds: float
    device: str
    warning: str | None
    sample_cluster_sizes: list[int]
    path: str
    mean_distance: float = 0.0  # of the fit sample to its nearest centroid (L2, unit vectors)


def kmeans_settings(config: ClusteringConfig, k: int) -> KMeansSettings:
    return KMeansSettings(k=k, iterations=config.iterations, seed=config.seed,
                          max_points_per_centroid=config.sample_per_centroid, use_gpu=config.use_gpu)


def fit_centroids(*, storage: Storage, shard_keys: Sequence[str], config: ClusteringConfig,
                  log: logging.Logger | None = None) -> CentroidsReport:
    """Fit spherical K-means on a sample drawn across every shard's embeddings and commit the centroids.

    Args:
        storage: holds `embeddings` and receives `centroids`.
        shard_keys: the shards whose embeddings form the corpus.
        config: K, iterations, sample size per centroid, seed, GPU use.
        log: the warning when K is reduced, and progress.
    """
    log = log or logging.getLogger(__name__)
    sizes = {key: embedding_count(storage, key) for key in sorted(shard_keys)}
    total = sum(sizes.values())
    if total == 0:
        raise ValueError("no embedded document in any shard: nothing to cluster")
    k, warning = effective_k(config.k_init, total)
    if warning:
        log.warning(warning)
    picked = sample_rows(sizes, budget=k * config.sample_per_centroid, seed=config.seed)
    # Stored dtype (float16): fit_kmeans makes the one float32 copy faiss needs.
    sample = np.concatenate([read_embedding_rows(storage, key, rows) for key, rows in picked.items() if len(rows)])
    result = fit_kmeans(sample, settings=kmeans_settings(config, k))
    del sample
    sample_sizes = np.bincount(result.nearest, minlength=result.k)
    report = CentroidsReport(
        k_requested=config.k_init, k=result.k, inertia=round(float(result.inertia), 4), sample_size=result.sample_size,
        documents=total, shards=len(sizes), seconds=round(result.seconds, 3), device=result.device, warning=warning,
        sample_cluster_sizes=sample_sizes.tolist(), path="", mean_distance=round(float(result.distances.mean()), 6),
    )
    with storage.write_partition(CENTROIDS) as writer:
        writer.write_array("centroids.npy", result.centroids.astype(np.float32))
        writer.write_array("sample_sizes.npy", sample_sizes)
        writer.write_json("stats.json", {**asdict(report), "shard_keys": sorted(shard_keys),
                                         "settings": asdict(kmeans_settings(config, k))})
    return CentroidsReport(**{**asdict(report), "path": storage.require(CENTROIDS)})


def write_assignments(shard_key: str, *, storage: Storage, token_counts: np.ndarray,
                      use_gpu: str = "auto") -> dict:
    """Nearest centroid, its distance and the token count of every kept document of one shard.

    Args:
        shard_key: the shard.
        storage: holds `embeddings`, `centroids` and receives `cluster_assignments`.
        token_counts: tokens of each kept document (project tokenizer), in the documents' order.
        use_gpu: auto | never | always, for the faiss index.
    """
    centroids = storage.read_array(CENTROIDS, "centroids.npy", mmap=False)
    vectors = storage.read_array("embeddings", "embeddings.npy", shard_key)
    ids = storage.read_table("embeddings", "ids.parquet", shard_key, columns=["id"]).column("id")
    if len(token_counts) != len(ids):
        raise ValueError(f"{shard_key}: {len(token_counts)} token counts for {len(ids)} embedded documents")
    if len(vectors):
        labels, distances = assign(vectors, centroids, use_gpu=use_gpu)
    else:
        labels, distances = np.zeros(0, np.int32), np.zeros(0, np.float32)
    table = pa.table({"id": ids, "fine_cluster_id": pa.array(labels, pa.int32()),
                      "distance": pa.array(distances, pa.float32()), "token_count": pa.array(token_counts, pa.int64())})
    stats = {"count": len(ids), "mean_distance": round(float(distances.mean()), 6) if len(ids) else None,
             "clusters_touched": int(len(np.unique(labels))), "tokens": int(np.sum(token_counts)),
             "centroids_version": storage.manifest(CENTROIDS)["version"]}
    with storage.write_partition(ASSIGNMENTS, shard_key) as writer:
        writer.write_table("assignments.parquet", table)
        writer.write_json("stats.json", stats)
    return {**stats, "path": storage.require(ASSIGNMENTS, shard_key)}


def verify_assignments(storage: Storage, shard_key: str) -> tuple[bool, dict]:
    """One assignment per kept document, in order, to an existing centroid, with a finite distance."""
    table = storage.read_table(ASSIGNMENTS, "assignments.parquet", shard_key)
    document_ids = storage.read_table("documents", "documents.parquet", shard_key, columns=["id"]).column("id")
    k = len(storage.read_array(CENTROIDS, "centroids.npy"))
    labels = table.column("fine_cluster_id").to_numpy()
    distances = table.column("distance").to_numpy()
    aligned = table.num_rows == len(document_ids) and table.column("id").equals(document_ids)
    valid = bool(((labels >= 0) & (labels < k)).all()) and bool(np.isfinite(distances).all())
    return aligned and valid, {"rows": table.num_rows, "documents": len(document_ids), "k": k,
                               "aligned_with_documents": aligned, "labels_and_distances_valid": valid}


@dataclass(frozen=True)
class CorpusGrowth:
    """The corpus today against what the current centroids were fitted on (what `recluster_sensor` watches)."""

    centroids_version: str  # the fit's identity (its storage manifest version)
    fitted_at: float  # when the centroids were committed (epoch seconds)
    fitted_documents: int  # embedded documents of the shards the centroids were fitted on
    new_documents: int  # kept documents of shards registered since (ingested ones)
    new_shards: int  # shards registered since, ingested or not
    fit_distance: float | None  # mean distance to the nearest centroid at fit time
    new_distance: float | None  # the same over the new shards assigned to these centroids
    new_shards_assigned: int

    @property
    def new_document_share(self) -> float:
        return self.new_documents / max(self.fitted_documents, 1)

    @property
    def distance_drift(self) -> float | None:
        """Relative rise of the mean nearest-centroid distance (0.1 = 10 % farther than at fit time)."""
        if self.fit_distance is None or self.new_distance is None or self.fit_distance <= 0:
            return None
        return self.new_distance / self.fit_distance - 1


def _weighted_mean_distance(stats: list[dict]) -> float | None:
    counted = [(s["count"], s["mean_distance"]) for s in stats if s["count"] and s["mean_distance"] is not None]
    total = sum(n for n, _ in counted)
    return sum(n * d for n, d in counted) / total if total else None


def corpus_growth(storage: Storage, *, shard_keys: Sequence[str]) -> CorpusGrowth:
    """Documents added and distance drift since the current centroids were fitted (docs/architecture.md, partitions and sensors).

    The fit-time distance is the count-weighted mean over the fitted shards' assignments to these centroids
    (the same estimator as today's, over the same kind of out-of-sample documents), else the fit sample's own.

    Args:
        storage: holds `centroids`, and `documents` / `cluster_assignments` per shard.
        shard_keys: the registered shards of the corpus today.
    """
    version = storage.manifest(CENTROIDS)["version"]
    stats = storage.read_json(CENTROIDS, "stats.json")
    fitted = set(stats["shard_keys"])
    new = [key for key in shard_keys if key not in fitted]

    def assigned(keys) -> list[dict]:  # assignment stats of these shards, made with the current centroids
        found = [storage.read_json(ASSIGNMENTS, "stats.json", key) for key in keys
                 if storage.partition_path(ASSIGNMENTS, key) is not None]
        return [s for s in found if s["centroids_version"] == version]

    new_assigned = assigned(new)
    fit_distance = _weighted_mean_distance(assigned(sorted(fitted)))
    ingested = [key for key in new if storage.partition_path("documents", key) is not None]
    return CorpusGrowth(
        centroids_version=version, fitted_at=storage.manifest(CENTROIDS)["committed_at"],
        fitted_documents=int(stats["documents"]),
        new_documents=sum(int(storage.read_json("documents", "stats.json", key)["kept"]) for key in ingested),
        new_shards=len(new), fit_distance=stats.get("mean_distance") if fit_distance is None else fit_distance,
        new_distance=_weighted_mean_distance(new_assigned), new_shards_assigned=len(new_assigned))
