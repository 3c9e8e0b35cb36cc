"""Tests for the embeddings in storage (climb.semantic.embedding_store): one float16 unit vector per kept document
committed beside its ids and stats, and the check that catches misaligned ids, NaN, non-unit norms, the wrong dtype
and a truncated file -- with a stand-in embedder (the interface write_embeddings uses), no model loaded."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import pyarrow as pa
import pytest

from climb.core.config import EmbeddingConfig
from climb.core.device import Placement
from climb.core.storage import Storage
from climb.semantic.embedding import EmbedderSettings, Embeddings
from climb.semantic.embedding_store import (
    ASSET,
    NORM_TOLERANCE,
    embedder_settings,
    embedding_count,
    read_embedding_rows,
    reusable_embeddings,
    verify_embeddings,
    write_embeddings,
)

SHARD = "shard-0"
TEXTS = ("the first document", "a second, longer document about rivers", "third", "fourth one here")


class FakeEmbedder:
    """What write_embeddings reads of an Embedder: settings, placement, dim, max_length and embed(texts, log=).
    Vectors are a deterministic function of each text (seeded by its hash), unit-normalised, float16; n_tokens
    counts words capped at max_length."""

    def __init__(self, dim: int = 8, max_length: int = 3, seconds: float = 0.5):
        self.settings = EmbedderSettings(model="fake-model", max_length=max_length, device="cpu", dtype="float32")
        self.placement = Placement(device="cpu", dtype="float32", threads=1, name="cpu (fake)")
        self.dim = dim
        self.max_length = max_length
        self.seconds = seconds
        self.seen: list[list[str]] = []

    def embed(self, texts, *, log: logging.Logger | None = None) -> Embeddings:
        self.seen.append(list(texts))
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=self.dim)
                for t in texts]
        vectors = np.array(rows, dtype=np.float64).reshape(len(texts), self.dim)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        n_tokens = np.array([min(len(t.split()), self.max_length) for t in texts], dtype=np.int32)
        return Embeddings(vectors.astype(np.float16), n_tokens, self.seconds)


def write_documents(storage: Storage, texts=TEXTS, ids=None, shard: str = SHARD) -> list[str]:
    ids = [f"doc-{i}" for i in range(len(texts))] if ids is None else ids
    with storage.write_partition("documents", shard) as writer:
        writer.write_table("documents.parquet", pa.table({"id": pa.array(ids, pa.string()),
                                                          "text": pa.array(list(texts), pa.string())}))
    return ids


@pytest.fixture
def embedded(storage: Storage) -> Storage:
    write_documents(storage)
    write_embeddings(SHARD, storage=storage, embedder=FakeEmbedder())
    return storage


# ---- embedder_settings -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("section", "device", "expected_device"),
    [
        (EmbeddingConfig(), None, "auto"),
        (EmbeddingConfig(device="cuda", batch_size=8, max_length=128), None, "cuda"),
        (EmbeddingConfig(device="cuda"), "cpu", "cpu"),  # the deployment's placement overrides the file
    ],
)
def test_embedder_settings_from_config(section, device, expected_device):
    settings = embedder_settings(section, device=device)
    assert settings == EmbedderSettings(model=section.model, max_length=section.max_length,
                                        batch_size=section.batch_size, device=expected_device, dtype=section.dtype,
                                        trust_remote_code=section.trust_remote_code, threads=section.threads)


# ---- write_embeddings ------------------------------------------------------------------------------------------
def test_write_embeddings_commits_vectors_ids_and_stats(storage):
    """Texts go to the embedder in the documents' order; embeddings.npy (N, dim) float16 rows line up with
    ids.parquet (id, n_tokens); the report and stats.json describe model, placement and throughput."""
    ids = write_documents(storage)
    embedder = FakeEmbedder(dim=8, max_length=3, seconds=0.5)
    report = write_embeddings(SHARD, storage=storage, embedder=embedder)
    assert embedder.seen == [list(TEXTS)]
    vectors = storage.read_array(ASSET, "embeddings.npy", SHARD)
    assert vectors.shape == (4, 8) and vectors.dtype == np.float16
    np.testing.assert_array_equal(vectors, embedder.embed(list(TEXTS)).vectors)
    np.testing.assert_allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=NORM_TOLERANCE)
    table = storage.read_table(ASSET, "ids.parquet", SHARD)
    assert table.column("id").to_pylist() == ids
    assert table.column("n_tokens").to_pylist() == [3, 3, 1, 3]  # words, capped at max_length 3
    assert (report.count, report.dim, report.model, report.max_length) == (4, 8, "fake-model", 3)
    assert (report.device, report.dtype) == ("cpu (fake)", "float32")
    assert report.tokens == 10 and report.seconds == 0.5
    assert report.docs_per_second == 8.0 and report.tokens_per_second == 20.0
    assert report.path == storage.require(ASSET, SHARD)
    stats = storage.read_json(ASSET, "stats.json", SHARD)
    assert stats["count"] == 4 and stats["path"] == "" and stats["settings"]["model"] == "fake-model"
    assert sorted(storage.manifest(ASSET, SHARD)["files"]) == ["embeddings.npy", "ids.parquet", "stats.json"]
    assert verify_embeddings(storage, SHARD) == (True, {"rows": 4, "documents": 4, "aligned_with_documents": True,
                                                        "finite": True, "max_norm_error": pytest.approx(0, abs=1e-2),
                                                        "dtype": "float16"})


def test_write_embeddings_replaces_an_earlier_partition(embedded):
    """Re-embedding the shard with another model replaces the partition whole."""
    write_embeddings(SHARD, storage=embedded, embedder=FakeEmbedder(dim=16))
    assert embedded.read_array(ASSET, "embeddings.npy", SHARD).shape == (4, 16)
    assert embedded.read_json(ASSET, "stats.json", SHARD)["dim"] == 16
    assert verify_embeddings(embedded, SHARD)[0]


def test_write_embeddings_of_an_empty_shard(storage):
    """No kept document: an empty (0, dim) array and empty ids, which verify."""
    write_documents(storage, texts=(), ids=[])
    report = write_embeddings(SHARD, storage=storage, embedder=FakeEmbedder(dim=8))
    assert report.count == 0 and report.tokens == 0
    assert storage.read_array(ASSET, "embeddings.npy", SHARD).shape == (0, 8)
    assert storage.read_table(ASSET, "ids.parquet", SHARD).num_rows == 0
    ok, details = verify_embeddings(storage, SHARD)
    assert ok and details["rows"] == 0 and details["max_norm_error"] == 0.0


def test_write_embeddings_without_documents_names_the_partition(storage):
    with pytest.raises(FileNotFoundError, match=r"documents\[shard-0\] has not been materialised"):
        write_embeddings(SHARD, storage=storage, embedder=FakeEmbedder())
    assert storage.partition_path(ASSET, SHARD) is None


# ---- verify_embeddings -----------------------------------------------------------------------------------------
def _recommit(storage: Storage, *, vectors=None, ids=None, raw_npy: bytes | None = None) -> None:
    """Re-commit embeddings/<SHARD> with replaced vectors, ids, or raw .npy bytes (stats carried over)."""
    old_vectors = np.array(storage.read_array(ASSET, "embeddings.npy", SHARD))
    old_ids = storage.read_table(ASSET, "ids.parquet", SHARD)
    with storage.write_partition(ASSET, SHARD) as writer:
        if raw_npy is not None:
            writer.write_bytes("embeddings.npy", raw_npy)
        else:
            writer.write_array("embeddings.npy", old_vectors if vectors is None else vectors)
        writer.write_table("ids.parquet", old_ids if ids is None else ids)


def _vectors(change):
    def apply(storage: Storage) -> None:
        _recommit(storage, vectors=change(np.array(storage.read_array(ASSET, "embeddings.npy", SHARD))))
    return apply


def _ids(change):
    def apply(storage: Storage) -> None:
        _recommit(storage, ids=change(storage.read_table(ASSET, "ids.parquet", SHARD)))
    return apply


def _nan_row(v):
    v[1, 0] = np.nan
    return v


def _scaled_row(v):
    v[2] = (v[2].astype(np.float32) * 1.5).astype(np.float16)
    return v


def _zero_row(v):
    v[0] = 0
    return v


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        pytest.param(lambda s: None, {"aligned_with_documents": True, "finite": True}, id="intact"),
        pytest.param(_vectors(_nan_row), {"finite": False}, id="nan"),
        pytest.param(_vectors(lambda v: np.where(np.arange(len(v))[:, None] == 3, np.inf, v).astype(np.float16)),
                     {"finite": False}, id="inf"),
        pytest.param(_vectors(_scaled_row), {"finite": True, "max_norm_error": 0.5}, id="norm-1.5"),
        pytest.param(_vectors(_zero_row), {"finite": True, "max_norm_error": 1.0}, id="zero-vector"),
        pytest.param(_vectors(lambda v: v.astype(np.float32)), {"dtype": "float32", "finite": True},
                     id="float32-not-float16"),
        pytest.param(_vectors(lambda v: v[:3]), {"rows": 3, "aligned_with_documents": False}, id="vector-missing"),
        pytest.param(_ids(lambda t: t.take([1, 0, 2, 3])), {"aligned_with_documents": False}, id="ids-reordered"),
        pytest.param(_ids(lambda t: t.set_column(0, "id", pa.array(["doc-0", "doc-1", "doc-2", "other"]))),
                     {"aligned_with_documents": False}, id="id-replaced"),
        pytest.param(lambda s: write_documents(s, texts=TEXTS[:3]), {"documents": 3, "aligned_with_documents": False},
                     id="documents-changed-after-embedding"),
    ],
)
def test_verify_catches_damaged_embeddings(embedded, damage, expected):
    """verify passes only an intact partition; details name what is wrong."""
    damage(embedded)
    ok, details = verify_embeddings(embedded, SHARD)
    intact = expected == {"aligned_with_documents": True, "finite": True}
    assert ok is intact
    for key, value in expected.items():
        assert details[key] == (pytest.approx(value, abs=2e-3) if key == "max_norm_error" else value), key
    if intact:
        assert details["max_norm_error"] <= NORM_TOLERANCE and details["dtype"] == "float16"


@pytest.mark.parametrize("keep", [
    pytest.param(0.05, id="inside-magic"), pytest.param(0.3, id="inside-header"), pytest.param(0.5, id="half-data"),
    pytest.param(0.99, id="last-bytes-missing"),
    pytest.param(0.0, id="empty-file"),
])
def test_verify_catches_a_truncated_file(embedded, keep):
    """embeddings.npy cut short (a killed copy) is reported as unreadable, not as a crash."""
    path = f"{embedded.require(ASSET, SHARD)}/embeddings.npy"
    with open(path, "rb") as handle:
        data = handle.read()
    _recommit(embedded, raw_npy=data[: int(len(data) * keep)])
    ok, details = verify_embeddings(embedded, SHARD)
    assert not ok
    assert details["error"].startswith("embeddings.npy cannot be read")


# ---- reusable_embeddings ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "reused"),
    [
        ("nothing", True),
        ("batch size and device", True),        # where and how fast it runs decides no vector
        ("a document's text", False),
        ("a document's id", False),
        ("the max length", False),
        ("the model", False),
        ("a damaged vector", False),           # never keep vectors the blocking check would fail
    ],
)
def test_committed_vectors_are_reused_only_for_the_same_documents_and_model(embedded, change, reused):
    settings = FakeEmbedder().settings
    texts, ids = list(TEXTS), [f"doc-{i}" for i in range(len(TEXTS))]
    if change == "batch size and device":
        settings = EmbedderSettings(model="fake-model", max_length=3, device="cuda", dtype="float32", batch_size=7)
    elif change == "a document's text":
        texts[2] = "third, edited"
    elif change == "a document's id":
        ids[1] = "doc-renamed"
    elif change == "the max length":
        settings = EmbedderSettings(model="fake-model", max_length=4, device="cpu", dtype="float32")
    elif change == "the model":
        settings = EmbedderSettings(model="other-model", max_length=3, device="cpu", dtype="float32")
    if change in ("a document's text", "a document's id"):
        write_documents(embedded, texts=texts, ids=ids)
    if change == "a damaged vector":
        path = f"{embedded.require(ASSET, SHARD)}/embeddings.npy"
        vectors = np.load(path).copy()
        vectors[0] *= 2
        np.save(path, vectors)
    report = reusable_embeddings(SHARD, storage=embedded, settings=settings)
    assert (report is not None) == reused
    if reused:
        assert (report.count, report.dim, report.model) == (4, 8, "fake-model")


@pytest.mark.parametrize("rows", [[], [0], [3, 4, 5, 6], [1, 2, 9, 10, 18, 19], list(range(20))])
def test_read_embedding_rows_matches_the_array(storage, rows):
    """Block-by-block reads (blocks of 4 rows here, spans starting mid-block) return exactly the chosen rows."""
    vectors = np.arange(20 * 3, dtype=np.float16).reshape(20, 3)
    with storage.write_partition(ASSET, SHARD) as writer:
        writer.write_array("embeddings.npy", vectors)
    assert embedding_count(storage, SHARD) == 20
    got = read_embedding_rows(storage, SHARD, np.array(rows, dtype=np.int64), block_rows=4)
    assert got.dtype == np.float16 and got.shape == (len(rows), 3)
    np.testing.assert_array_equal(got, vectors[rows])


@pytest.mark.parametrize("rows, error", [([2, 1], "sorted"), ([3, 3], "sorted"), ([20], "shard-0: rows must lie")])
def test_read_embedding_rows_refuses_unsorted_or_missing_rows(storage, rows, error):
    with storage.write_partition(ASSET, SHARD) as writer:
        writer.write_array("embeddings.npy", np.zeros((20, 3), dtype=np.float16))
    with pytest.raises((ValueError, IndexError), match=error):
        read_embedding_rows(storage, SHARD, np.array(rows))
