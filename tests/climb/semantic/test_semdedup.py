"""Semantic duplicates: inside a fine cluster, a document whose embedding has cosine > 1 - eps with one ranked
before it goes; which one stays follows the keep rule."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from climb.core.storage import Storage
from climb.semantic import semdedup
from climb.semantic.pruning import RATERS
from climb.semantic.semdedup import SemanticSettings, earlier_twins, find_semantic_duplicates


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _cluster(seed: int = 0) -> tuple[np.ndarray, dict[int, int]]:
    """(40, 64) unit vectors: 35 random, and rows 10, 16, 20, 30, 39 near-copies (cosine ~0.999) of rows 2, 1, 5,
    5, 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(40, 64))
    copies = {10: 2, 16: 1, 20: 5, 30: 5, 39: 0}
    for row, source in copies.items():
        x[row] = x[source] + 0.03 * rng.normal(size=64)
    return _unit(x).astype(np.float32), copies


@pytest.mark.parametrize("block", [1 << 25, 7, 1])  # one block, several, one row at a time: the same answer
def test_duplicates_and_twins_whatever_the_block(monkeypatch, block):
    """Exactly the near-copies are duplicates, each naming its source (30 names 5 or 20, both earlier and
    near); random 64-d vectors (cosine ~0.1) are not."""
    monkeypatch.setattr(semdedup, "BLOCK_ELEMENTS", block)
    x, copies = _cluster()
    duplicate, twin, cosine = earlier_twins(x, eps=0.01)
    assert set(np.flatnonzero(duplicate)) == set(copies)
    assert twin[10] == 2 and twin[16] == 1 and twin[20] == 5 and twin[30] in (5, 20) and twin[39] == 0
    assert cosine[10] > 0.99 and np.all(cosine[~duplicate][1:] < 0.6)


def test_eps_decides():
    """eps is the cosine margin: near-copies at ~0.999 pass 1 - 0.01 but not 1 - 0.0001."""
    x, _ = _cluster()
    assert earlier_twins(x, eps=0.0001)[0].sum() == 0


FINE = np.array([0 if i in (0, 2, 5, 10, 20, 30, 39) else 1 + i % 2 for i in range(40)])  # rows 1 and 16: 2 and 1


def _storage(tmp_path, x: np.ndarray, shards: int) -> tuple[Storage, list[str]]:
    """The vectors as `shards` shards of consecutive rows, in three fine clusters (FINE); distances rise with the
    row; ratings fall with it except row 39's, the best rated."""
    storage, n = Storage(str(tmp_path)), len(x)
    rating = np.linspace(4, 1, n)
    rating[39] = 5.0
    keys = []
    for index, rows in enumerate(np.array_split(np.arange(n), shards)):
        key, ids = f"s{index}", [f"d{i}" for i in rows]
        with storage.write_partition("embeddings", key) as writer:
            writer.write_array("embeddings.npy", x[rows].astype(np.float16))
        with storage.write_partition("cluster_assignments", key) as writer:
            writer.write_table("assignments.parquet", pa.table({
                "id": ids, "fine_cluster_id": pa.array(FINE[rows], pa.int32()), "distance": np.linspace(0.1, 1, n)[rows]}))
        with storage.write_partition("quality_scores", key) as writer:
            writer.write_table("quality_scores.parquet", pa.table({"id": ids, **{r: rating[rows] for r in RATERS}}))
        keys.append(key)
    return storage, keys


@pytest.mark.parametrize("shards", [1, 3])
@pytest.mark.parametrize("keep, removed", [
    ("centroid", {"d10", "d20", "d30", "d39"}),  # the nearer (lower row) of each pair stays
    ("rating", {"d0", "d10", "d20", "d30"}),  # d39 is the best rated: d0, its twin, goes instead
])
def test_keep_rule_chooses_the_survivor(tmp_path, keep, removed, shards):
    """In fine cluster 0 the later-ranked of each near-copy pair goes, with a detail naming its twin, whether the
    pair shares a shard or not; d16 and d1, near-copies in different fine clusters, both stay (only pairs inside a
    cluster are compared)."""
    x, _ = _cluster()
    storage, keys = _storage(tmp_path, x, shards)
    table = find_semantic_duplicates(storage=storage, shard_keys=keys, settings=SemanticSettings(eps=0.01, keep=keep))
    rows = {r["id"]: r for r in table.to_pylist()}
    assert set(rows) == removed
    assert {r["reason"] for r in rows.values()} == {"duplicate:semantic"}
    assert rows["d10"]["twin"] == "d2" and rows["d10"]["fine_cluster_id"] == 0 and rows["d10"]["cosine"] > 0.99
    assert rows["d10"]["detail"].startswith("semantic duplicate of d2 in fine cluster 0, cosine 0.99")
