"""Clustering engine: spherical K-means with faiss, fitted on a sample, then every row assigned (paper step 2).

CLIMB clusters the document embeddings with faiss K-means at K_init = 1000 (docs/method.md, step 2). Fitting
on every row is neither needed nor affordable: faiss itself trains on at most `k * max_points_per_centroid`
points (256 per centroid, its default), so `sample_rows` draws that many rows across all shards, in
proportion to their sizes and without loading any shard whole, and `fit_kmeans` trains on them. `assign`
then gives every row of every shard its nearest centroid and distance, batch by batch, so a float16
memmap of any size is read with bounded memory.

Spherical: the sample is normalised (float32 copy) and faiss renormalises the centroids after each
iteration, so clusters follow cosine similarity, as with the paper's L2-normalised embeddings. A corpus
too small for K gets a smaller K (`effective_k`), with a warning that says so. Same inputs and seed give
the same centroids and assignments on the CPU; GPU reductions are not bit-reproducible. faiss (and torch
before it, see `_faiss`) is imported lazily.
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from climb.core.device import available_cpus

GPU_CHOICES = ("auto", "never", "always")
NORM_TOLERANCE = 1e-4  # faiss renormalises spherical centroids in float32: norms land within ~1e-6 of 1

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KMeansSettings:
    """How to cluster (the `clustering` section of the configuration)."""

    k: int = 1000  # the paper's K_init
    iterations: int = 20  # Lloyd iterations on the sample (faiss' own default is 25)
    seed: int = 0  # faiss' initial centroids and its own subsampling
    max_points_per_centroid: int = 256  # faiss' sampling cap: the fit sample is at most k * this rows
    min_points_per_centroid: int = 39  # faiss warns below this; K is reduced so every centroid gets this many
    use_gpu: str = "auto"  # auto | never | always ("always" without a faiss GPU build and a GPU is an error)
    threads: int | None = None  # CPU threads (faiss.omp_set_num_threads); None: every available CPU

    def __post_init__(self):
        for name in ("k", "iterations", "max_points_per_centroid", "min_points_per_centroid"):
            if getattr(self, name) < 1:
                raise ValueError(f"clustering.{name} must be >= 1, not {getattr(self, name)}")
        if self.use_gpu not in GPU_CHOICES:
            raise ValueError(f"clustering.use_gpu must be one of {GPU_CHOICES}, not {self.use_gpu!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"clustering.threads must be >= 1 or None, not {self.threads}")


@dataclass(frozen=True)
class KMeansResult:
    centroids: np.ndarray  # (k, d) float32, unit norm
    inertia: float  # sum over the (normalised) sample of the squared L2 distance to the nearest centroid
    sample_size: int  # rows passed in; faiss trains on at most k * max_points_per_centroid of them
    seconds: float  # faiss training only (the inertia pass, one more assignment, is not included)
    device: str  # "cpu (N threads)" or "cuda:0 <name>"
    k: int  # K actually used (see effective_k)
    iterations: int
    nearest: np.ndarray  # (n,) int32: the nearest centroid of each sample row
    distances: np.ndarray  # (n,) float32: its L2 distance (normalised rows)


def _faiss():
    """The faiss module, with torch imported first when installed (both ship OpenMP; this order is safe)."""
    with contextlib.suppress(ImportError):
        import torch  # noqa: F401
    import faiss

    return faiss


def faiss_has_gpu() -> bool:
    """faiss was built with GPU support and sees at least one GPU."""
    faiss = _faiss()
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def _wants_gpu(use_gpu: str) -> bool:
    """The auto | never | always rule; 'always' without a usable GPU is an error, never a silent fallback."""
    if use_gpu not in GPU_CHOICES:
        raise ValueError(f"use_gpu must be one of {GPU_CHOICES}, not {use_gpu!r}")
    if use_gpu == "never":
        return False
    has_gpu = faiss_has_gpu()
    if use_gpu == "always" and not has_gpu:
        raise ValueError("use_gpu='always' but faiss has no GPU support or sees no GPU "
                         "(install faiss-gpu in place of faiss-cpu, or use 'auto' / 'never')")
    return has_gpu


def _gpu_name() -> str:
    """'cuda:0 <name>' (the name from torch when it sees the GPU; faiss does not expose it)."""
    with contextlib.suppress(ImportError, RuntimeError, AssertionError):
        import torch

        if torch.cuda.is_available():
            return f"cuda:0 {torch.cuda.get_device_name(0)}"
    return "cuda:0"


@contextlib.contextmanager
def _cpu_threads(threads: int | None) -> Iterator[int]:
    """faiss' OpenMP thread count for the block (it is process-wide, so the previous value is restored)."""
    faiss = _faiss()
    previous, wanted = faiss.omp_get_max_threads(), threads or available_cpus()
    faiss.omp_set_num_threads(wanted)
    try:
        yield wanted
    finally:
        faiss.omp_set_num_threads(previous)


def _first_bad_row(x: np.ndarray) -> int | None:
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    return int(bad[0]) if len(bad) else None


def effective_k(requested: int, n_points: int, *, min_points_per_centroid: int = 39) -> tuple[int, str | None]:
    """K that leaves every centroid at least `min_points_per_centroid` points, and a warning when reduced.

    Args:
        requested: K asked for (the paper's K_init = 1000).
        n_points: rows available to fit on (the sample, which is the whole corpus when it is small).
        min_points_per_centroid: faiss' floor (39); below it centroids are fitted on too few points.

    Returns:
        (K used, None) when `requested` fits, else (n_points // min_points_per_centroid, at least 1,
        and one sentence naming both numbers and why).
    """
    if requested < 1:
        raise ValueError(f"k must be >= 1, not {requested}")
    if n_points < 1:
        raise ValueError(f"cannot cluster {n_points} points: the sample is empty")
    if min_points_per_centroid < 1:
        raise ValueError(f"min_points_per_centroid must be >= 1, not {min_points_per_centroid}")
    k = min(requested, max(1, n_points // min_points_per_centroid))
    if k == requested:
        return k, None
    return k, (f"K reduced from {requested} to {k}: the corpus is too small, {n_points} points give fewer than "
               f"{min_points_per_centroid} points per centroid at K = {requested}")


def sample_rows(shard_sizes: Mapping[str, int], *, budget: int, seed: int) -> dict[str, np.ndarray]:
    """Row indices to fit K-means on, drawn across all shards in proportion to their sizes (paper step 2).

    Quotas are budget * size / total rounded by largest remainder (ties: shard name), so each is within
    one row of its exact share; when the budget covers one row per non-empty shard, a shard whose share
    rounds to 0 gets 1, taken from the shards rounded up most. Each shard's rows come from its own
    generator, seeded by (seed, name), so adding a shard leaves the others' samples alone when their
    quotas do not change.

    Args:
        shard_sizes: rows per shard (partition key -> count).
        budget: most rows in total (K * max_points_per_centroid: faiss would subsample anything more).
        seed: the sampling seed.

    Returns:
        shard -> sorted int64 row indices, in `shard_sizes`' order; every row when budget >= the total,
        an empty array for an empty shard.
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0, not {budget}")
    names = sorted(shard_sizes)
    sizes = np.array([shard_sizes[name] for name in names], dtype=np.int64)
    if (sizes < 0).any():
        raise ValueError(f"shard {names[int(np.argmax(sizes < 0))]!r} has a negative size")
    total = int(sizes.sum())
    if budget >= total:
        return {name: np.arange(shard_sizes[name], dtype=np.int64) for name in shard_sizes}
    exact = budget * sizes / total  # (S,)
    quota = np.floor(exact).astype(np.int64)
    by_remainder = np.argsort(-(exact - quota), kind="stable")  # names are sorted: ties go to the first name
    quota[by_remainder[: budget - int(quota.sum())]] += 1
    starved = np.flatnonzero((sizes > 0) & (quota == 0))
    if len(starved) and budget >= int((sizes > 0).sum()):
        quota[starved] = 1
        for _ in range(len(starved)):  # give back one row each from the shards furthest above their share
            surplus = np.where(quota > 1, quota - exact, -np.inf)
            quota[int(np.argmax(surplus))] -= 1
    assert quota.sum() == budget and (quota <= sizes).all(), f"quotas {quota} do not fit budget {budget}"
    rows = {}
    for name, size, count in zip(names, sizes, quota):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        rows[name] = np.sort(rng.choice(int(size), size=int(count), replace=False)).astype(np.int64)
    return {name: rows[name] for name in shard_sizes}


def fit_kmeans(sample: np.ndarray, *, settings: KMeansSettings) -> KMeansResult:
    """Spherical K-means centroids of a sample of embeddings (paper step 2, faiss K-means).

    Args:
        sample: (n, d) embeddings (float16 or float32, a memmap is fine), typically the rows chosen by
            `sample_rows`; a float32 copy is normalised to unit length, so a zero row is an error.
        settings: K, iterations, seed, faiss' sampling cap and floor, GPU rule, CPU threads. K is
            reduced by `effective_k` when the sample is too small (logged as a warning).

    Returns:
        unit-norm centroids, the inertia of the sample, the K used and where and how fast it ran.
    """
    if sample.ndim != 2 or len(sample) == 0:
        raise ValueError(f"the sample must be a non-empty (n, d) array, got shape {sample.shape}")
    x = np.array(sample, dtype=np.float32, order="C")  # (n, d) copy: faiss wants float32, we normalise it
    bad = _first_bad_row(x)
    if bad is not None:
        raise ValueError(f"sample row {bad} contains NaN or inf")
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))  # (n,): np.linalg.norm would allocate an (n, d) square
    if (norms == 0).any():
        raise ValueError(f"sample row {int(np.argmax(norms == 0))} has zero norm: it has no direction to cluster")
    x /= norms[:, None]
    k, warning = effective_k(settings.k, len(x), min_points_per_centroid=settings.min_points_per_centroid)
    if warning:
        log.warning(warning)
    gpu = _wants_gpu(settings.use_gpu)
    faiss = _faiss()
    with _cpu_threads(settings.threads) as threads:
        kmeans = faiss.Kmeans(
            x.shape[1], k, niter=settings.iterations, seed=settings.seed, spherical=True,
            max_points_per_centroid=settings.max_points_per_centroid,
            min_points_per_centroid=settings.min_points_per_centroid, gpu=1 if gpu else False, verbose=False,
        )
        started = time.perf_counter()
        kmeans.train(x)
        seconds = time.perf_counter() - started
        centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)  # (k, d)
        centroid_norms = np.linalg.norm(centroids, axis=1)
        assert np.abs(centroid_norms - 1).max() < NORM_TOLERANCE, \
            f"spherical centroids should be unit norm, norms span {centroid_norms.min()}..{centroid_norms.max()}"
        nearest, distances = assign(x, centroids, use_gpu="always" if gpu else "never")
    return KMeansResult(
        centroids=centroids, inertia=float(np.square(distances, dtype=np.float64).sum()), sample_size=len(x),
        seconds=seconds, device=_gpu_name() if gpu else f"cpu ({threads} threads)", k=k,
        iterations=settings.iterations, nearest=nearest, distances=distances,
    )


def assign(vectors: np.ndarray, centroids: np.ndarray, *, batch_size: int = 65536,
           use_gpu: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of every row, and its distance (paper step 2: assign all).

    Args:
        vectors: (n, d) embeddings, any float dtype; a float16 memmap is read `batch_size` rows at a time,
            so memory stays bounded by one float32 batch plus its (batch, k) distances.
        centroids: (k, d) centroids from `fit_kmeans`.
        batch_size: rows converted and searched at a time.
        use_gpu: auto | never | always: a faiss GPU flat index when faiss has a GPU and the rule allows.

    Returns:
        (n,) int32 centroid ids (ties go to the lowest id) and (n,) float32 Euclidean distances
        (square root of faiss' squared L2 distance, which rounding can leave slightly negative: clipped at 0).
    """
    if centroids.ndim != 2 or len(centroids) == 0:
        raise ValueError(f"centroids must be a non-empty (k, d) array, got shape {centroids.shape}")
    if vectors.ndim != 2 or vectors.shape[1] != centroids.shape[1]:
        raise ValueError(f"vectors of shape {vectors.shape} do not match centroids of dimension {centroids.shape[1]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    c = np.ascontiguousarray(centroids, dtype=np.float32)  # (k, d)
    bad = _first_bad_row(c)
    if bad is not None:
        raise ValueError(f"centroid {bad} contains NaN or inf")
    faiss = _faiss()
    index = faiss.IndexFlatL2(c.shape[1])
    gpu_resources = faiss.StandardGpuResources() if _wants_gpu(use_gpu) else None  # must outlive the index
    if gpu_resources is not None:
        index = faiss.index_cpu_to_gpu(gpu_resources, 0, index)
    index.add(c)
    ids, distances = np.empty(len(vectors), dtype=np.int32), np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), batch_size):
        batch = np.ascontiguousarray(vectors[start : start + batch_size], dtype=np.float32)  # (B, d)
        bad = _first_bad_row(batch)
        if bad is not None:
            raise ValueError(f"vectors row {start + bad} contains NaN or inf")
        squared, nearest = index.search(batch, 1)  # (B, 1) each
        ids[start : start + len(batch)] = nearest[:, 0]
        distances[start : start + len(batch)] = np.sqrt(np.maximum(squared[:, 0], 0.0))
    return ids, distances
