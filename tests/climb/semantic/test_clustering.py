"""Clustering engine: effective K, the fit sample, spherical K-means and assignment (paper step 2)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from climb.semantic.kmeans import (
    KMeansSettings,
    assign,
    effective_k,
    faiss_has_gpu,
    fit_kmeans,
    sample_rows,
)


def blobs(n: int = 3000, d: int = 64, clusters: int = 6, noise: float = 0.05, seed: int = 0):
    """Points around `clusters` random unit directions (nearly orthogonal in 64-d), and their cluster."""
    rng = np.random.default_rng(seed)
    directions = rng.standard_normal((clusters, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    labels = rng.integers(0, clusters, n)
    points = directions[labels] + noise * rng.standard_normal((n, d))
    return points.astype(np.float32), labels


def unit_rows(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(x: np.ndarray, c: np.ndarray):
    """Nearest centroid, its distance and the gap to the runner-up, in float64."""
    squared = (x.astype(np.float64) ** 2).sum(1)[:, None] + (c.astype(np.float64) ** 2).sum(1)[None] - 2 * x @ c.T
    order = np.sort(squared, axis=1)
    return squared.argmin(1), np.sqrt(np.maximum(order[:, 0], 0)), order[:, 1] - order[:, 0]


# effective_k ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("requested, n_points, min_points, expected, reduced", [
    (1000, 5000, 39, 128, True),  # 5000 // 39
    (1000, 39_000, 39, 1000, False),  # exactly enough
    (1000, 1_000_000, 39, 1000, False),
    (1000, 5000, 5, 1000, False),  # the floor is what forces the reduction
    (10, 20, 39, 1, True),  # tiny corpus: still one cluster
    (1, 1, 39, 1, False),
])
def test_effective_k(requested, n_points, min_points, expected, reduced):
    """K = min(requested, n // min_points, at least 1); a reduction comes with a sentence naming both numbers."""
    k, warning = effective_k(requested, n_points, min_points_per_centroid=min_points)
    assert k == expected
    if reduced:
        assert str(requested) in warning and str(n_points) in warning and "too small" in warning
    else:
        assert warning is None


@pytest.mark.parametrize("requested, n_points", [(0, 100), (10, 0)])
def test_effective_k_rejects_nonsense(requested, n_points):
    """k < 1 and an empty sample are errors, not a silent K."""
    with pytest.raises(ValueError):
        effective_k(requested, n_points)


# sample_rows ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes, budget", [
    ({"a": 1000, "b": 500, "c": 0, "d": 37}, 100),
    ({"a": 10, "b": 10, "c": 10}, 10),
    ({"x": 1_000_000, "y": 3}, 256_000),
    ({"only": 7}, 3),
    ({"a": 5, "b": 5, "c": 5}, 2),  # fewer rows than shards: some get none
])
def test_sample_rows_is_bounded_and_proportional(sizes, budget):
    """Exactly `budget` rows, each shard within one row of its share, sorted distinct in-range indices."""
    rows = sample_rows(sizes, budget=budget, seed=0)
    total = sum(sizes.values())
    assert list(rows) == list(sizes)
    assert sum(len(r) for r in rows.values()) == budget
    for name, size in sizes.items():
        assert abs(len(rows[name]) - budget * size / total) <= 1, name
        assert rows[name].dtype == np.int64
        assert (np.diff(rows[name]) > 0).all() and (rows[name] >= 0).all() and (rows[name] < max(size, 1)).all()


def test_sample_rows_gives_every_nonempty_shard_a_row():
    """A shard whose share rounds to 0 still gets one row when the budget allows; an empty shard gets none."""
    rows = sample_rows({"big": 1_000_000, "tiny": 5, "empty": 0}, budget=1000, seed=0)
    assert [len(rows[name]) for name in ("big", "tiny", "empty")] == [999, 1, 0]
    assert rows["empty"].dtype == np.int64


def test_sample_rows_takes_everything_when_budget_covers_it():
    """budget >= total rows: every row of every shard."""
    rows = sample_rows({"a": 4, "b": 0, "c": 2}, budget=6, seed=3)
    assert {name: r.tolist() for name, r in rows.items()} == {"a": [0, 1, 2, 3], "b": [], "c": [0, 1]}


def test_sample_rows_is_deterministic_per_seed():
    """Same seed: same rows (whatever the mapping's order); another seed: other rows."""
    sizes = {"a": 100_000, "b": 50_000}
    first = sample_rows(sizes, budget=1000, seed=0)
    again = sample_rows(dict(reversed(sizes.items())), budget=1000, seed=0)
    other = sample_rows(sizes, budget=1000, seed=1)
    assert all(np.array_equal(first[n], again[n]) for n in sizes)
    assert not all(np.array_equal(first[n], other[n]) for n in sizes)


def test_sample_rows_of_a_shard_do_not_depend_on_other_shards():
    """A shard's rows depend on (seed, name, quota) only: adding a shard with the same quota keeps them."""
    alone = sample_rows({"a": 100}, budget=10, seed=0)
    together = sample_rows({"a": 100, "b": 100}, budget=20, seed=0)
    assert np.array_equal(alone["a"], together["a"])


@pytest.mark.parametrize("sizes, budget", [({"a": 10}, -1), ({"a": -3}, 5)])
def test_sample_rows_rejects_negative_numbers(sizes, budget):
    """A negative budget or shard size is an error."""
    with pytest.raises(ValueError):
        sample_rows(sizes, budget=budget, seed=0)


# fit_kmeans ----------------------------------------------------------------------------------------

def test_fit_recovers_separated_clusters():
    """Over-clustering (K = 24 > 6 topics, as CLIMB does before merging) never mixes two generating clusters."""
    points, labels = blobs()
    result = fit_kmeans(points, settings=KMeansSettings(k=24, seed=0))
    ids, _ = assign(points, result.centroids)
    purity = sum(np.bincount(labels[ids == c]).max() for c in np.unique(ids)) / len(labels)
    assert purity == 1.0
    assert result.centroids.shape == (24, 64) and result.centroids.dtype == np.float32
    assert np.allclose(np.linalg.norm(result.centroids, axis=1), 1, atol=1e-5)
    assert (result.k, result.iterations, result.sample_size) == (24, 20, 3000)
    assert result.device.startswith("cpu (") or result.device.startswith("cuda:0")


def test_fit_is_deterministic_and_seeded(tmp_path):
    """Same sample and seed: identical centroids (also from a float16 memmap of it); another seed: others."""
    points, _ = blobs(n=2000)
    half = points.astype(np.float16)
    np.save(tmp_path / "sample.npy", half)
    settings = KMeansSettings(k=20, seed=0, use_gpu="never")
    first = fit_kmeans(half.astype(np.float32), settings=settings)
    again = fit_kmeans(np.load(tmp_path / "sample.npy", mmap_mode="r"), settings=settings)
    other = fit_kmeans(half.astype(np.float32), settings=KMeansSettings(k=20, seed=1, use_gpu="never"))
    assert np.array_equal(first.centroids, again.centroids) and first.inertia == again.inertia
    assert not np.array_equal(first.centroids, other.centroids)


def test_inertia_falls_with_more_iterations_and_larger_k():
    """Lloyd's iterations never raise the inertia, and more centroids fit the same sample better."""
    points = np.random.default_rng(0).standard_normal((2000, 16)).astype(np.float32)
    by_iterations = [fit_kmeans(points, settings=KMeansSettings(k=20, iterations=n, max_points_per_centroid=1000,
                                                                use_gpu="never")).inertia for n in (1, 3, 20)]
    by_k = [fit_kmeans(points, settings=KMeansSettings(k=k, max_points_per_centroid=1000, use_gpu="never")).inertia
            for k in (5, 20, 50)]
    assert by_iterations[0] > by_iterations[1] > by_iterations[2]
    assert by_k[0] > by_k[1] > by_k[2]


def test_fit_sampling_cap_and_threads_are_used():
    """max_points_per_centroid changes what faiss trains on; threads shows in the device and is restored."""
    import faiss

    points, _ = blobs(n=3000)
    before = faiss.omp_get_max_threads()
    capped = fit_kmeans(points, settings=KMeansSettings(k=24, max_points_per_centroid=39, threads=1, use_gpu="never"))
    full = fit_kmeans(points, settings=KMeansSettings(k=24, use_gpu="never"))
    assert not np.array_equal(capped.centroids, full.centroids)
    assert capped.device == "cpu (1 threads)"
    assert faiss.omp_get_max_threads() == before


def test_fit_reduces_k_for_a_small_sample(caplog):
    """500 points cannot feed 100 centroids of 39 points: K = 12, with a logged warning."""
    points, _ = blobs(n=500)
    with caplog.at_level(logging.WARNING, logger="climb.semantic.kmeans"):
        result = fit_kmeans(points, settings=KMeansSettings(k=100, use_gpu="never"))
    assert result.k == 12 and result.centroids.shape == (12, 64)
    assert "100" in caplog.text and "500" in caplog.text


@pytest.mark.parametrize("sample, message", [
    (np.zeros((0, 8), dtype=np.float32), "non-empty"),
    (np.ones(8, dtype=np.float32), "non-empty"),
    (np.where(np.arange(80).reshape(10, 8) == 42, np.nan, 1.0), "row 5 contains NaN"),
    (np.zeros((10, 8), dtype=np.float32), "zero norm"),
])
def test_fit_rejects_bad_samples(sample, message):
    """An empty, one-dimensional, NaN-holding or zero sample is an error that says what is wrong."""
    with pytest.raises(ValueError, match=message):
        fit_kmeans(sample, settings=KMeansSettings(k=2, use_gpu="never"))


@pytest.mark.parametrize("changes", [{"k": 0}, {"iterations": 0}, {"use_gpu": "sometimes"}, {"threads": 0}])
def test_settings_reject_nonsense(changes):
    """k < 1, no iterations, an unknown GPU rule or 0 threads fail when the settings are made."""
    with pytest.raises(ValueError):
        KMeansSettings(**changes)


@pytest.mark.skipif(faiss_has_gpu(), reason="this faiss has a GPU")
def test_always_gpu_without_one_is_an_error():
    """use_gpu='always' without faiss GPU support and a GPU fails loudly (fit and assign)."""
    points, _ = blobs(n=200)
    with pytest.raises(ValueError, match="always"):
        fit_kmeans(points, settings=KMeansSettings(k=2, use_gpu="always"))
    with pytest.raises(ValueError, match="always"):
        assign(points, points[:2], use_gpu="always")


# assign --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit, batch_size", [(True, 65536), (False, 65536), (True, 1000), (False, 7)])
def test_assign_matches_brute_force(unit, batch_size):
    """Nearest centroid and exact L2 distance for every row, whatever the batch size (BLAS and SIMD paths)."""
    rng = np.random.default_rng(1)
    x = unit_rows(3000, 32, seed=1) if unit else rng.standard_normal((3000, 32)).astype(np.float32)
    c = unit_rows(50, 32, seed=2) if unit else rng.standard_normal((50, 32)).astype(np.float32)
    ids, distances = assign(x, c, batch_size=batch_size, use_gpu="never")
    expected_ids, expected_distances, gap = brute_force(x, c)
    clear = gap > 1e-4  # rows whose runner-up is not a float32 tie
    assert clear.mean() > 0.99
    assert np.array_equal(ids[clear], expected_ids[clear])
    if unit:  # spherical: the nearest centroid is the one with the largest dot product
        assert np.array_equal(ids[clear], (x @ c.T).argmax(1)[clear])
    assert ids.dtype == np.int32 and distances.dtype == np.float32
    assert (distances >= 0).all() and np.abs(distances - expected_distances).max() < 1e-3


def test_assign_reads_a_float16_memmap_in_batches(tmp_path):
    """A float16 .npy opened with mmap_mode='r' gives the brute-force answer, identical across batch sizes."""
    np.save(tmp_path / "embeddings.npy", unit_rows(5000, 48, seed=3).astype(np.float16))
    vectors = np.load(tmp_path / "embeddings.npy", mmap_mode="r")
    centroids = unit_rows(40, 48, seed=4)
    ids, distances = assign(vectors, centroids, use_gpu="never")
    small_ids, small_distances = assign(vectors, centroids, batch_size=512, use_gpu="never")
    expected_ids, expected_distances, gap = brute_force(np.asarray(vectors, dtype=np.float32), centroids)
    clear = gap > 1e-4
    assert np.array_equal(ids[clear], expected_ids[clear]) and np.abs(distances - expected_distances).max() < 1e-3
    assert np.array_equal(ids, small_ids) and np.allclose(distances, small_distances, atol=1e-6)


def test_assign_distance_to_itself_is_zero():
    """A centroid is its own nearest centroid at distance ~0 (rounding below 0 is clipped, never NaN)."""
    c = unit_rows(30, 16, seed=5)
    ids, distances = assign(c, c, use_gpu="never")
    assert np.array_equal(ids, np.arange(30)) and (distances >= 0).all() and distances.max() < 1e-3


@pytest.mark.parametrize("rows", [5, 64])  # below / above faiss' BLAS threshold (20 queries)
def test_assign_breaks_ties_to_the_lowest_id(rows):
    """A row equally near several centroids goes to the lowest id, on both of faiss' search paths."""
    vectors = np.tile(np.eye(4, dtype=np.float32)[0], (rows, 1))
    centroids = np.eye(4, dtype=np.float32)[[2, 0, 0, 1]]  # ids 1 and 2 are the same point
    ids, distances = assign(vectors, centroids, use_gpu="never")
    assert (ids == 1).all() and (distances < 1e-3).all()
    ids, _ = assign(vectors, np.eye(4, dtype=np.float32)[[3, 1, 2]], use_gpu="never")  # all at sqrt(2)
    assert (ids == 0).all()


def test_assign_of_no_rows_is_empty():
    """An empty shard assigns to empty arrays."""
    ids, distances = assign(np.zeros((0, 8), dtype=np.float32), unit_rows(3, 8, seed=0), use_gpu="never")
    assert ids.shape == distances.shape == (0,)


@pytest.mark.parametrize("vectors, centroids, message", [
    (np.ones((4, 8)), np.ones((3, 6)), "do not match"),
    (np.ones(8), np.ones((3, 8)), "do not match"),
    (np.ones((4, 8)), np.ones((0, 8)), "non-empty"),
    (np.where(np.arange(32).reshape(4, 8) == 17, np.nan, 1.0), np.ones((3, 8)), "row 2 contains NaN"),
    (np.ones((4, 8)), np.where(np.arange(24).reshape(3, 8) == 9, np.nan, 1.0), "centroid 1 contains NaN"),
])
def test_assign_rejects_bad_input(vectors, centroids, message):
    """Dimension mismatch, no centroids and NaN (in a row or a centroid) are errors naming the culprit."""
    with pytest.raises(ValueError, match=message):
        assign(vectors, centroids, batch_size=2, use_gpu="never")
