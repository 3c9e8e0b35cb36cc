"""The embeddings of one shard, written beside their ids and checked against the documents.

Files of partition `<root>/embeddings/<shard>/`:
- `embeddings.npy`: (N, dim) float16 unit vectors, row i = document i of `documents.parquet`;
- `ids.parquet`: id and n_tokens (tokens embedded, after truncation) per row;
- `stats.json`: model, resolved model folder, dim, device, dtype, max length, throughput, and `source`: the
  digest of the documents embedded and the settings that decide the vectors. A re-materialisation whose
  documents and settings match `source` keeps the committed vectors (`reusable_embeddings`): re-ingesting a
  shard whose documents did not change embeds nothing again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, fields

import numpy as np
import pyarrow as pa

from climb.core.config import EmbeddingConfig
from climb.semantic.embedding import Embedder, EmbedderSettings
from climb.core.storage import Storage

ASSET = "embeddings"
DOCUMENTS = "documents"
NORM_TOLERANCE = 1e-2  # float16 storage keeps norms within ~1e-3 of 1


@dataclass(frozen=True)
class EmbeddingReport:
    count: int
    dim: int
    model: str
    device: str
    dtype: str
    max_length: int
    docs_per_second: float
    tokens_per_second: float
    tokens: int
    seconds: float
    path: str


def embedder_settings(config: EmbeddingConfig, *, device: str | None = None) -> EmbedderSettings:
    """Engine settings from the configuration; `device` overrides the file (deployment placement)."""
    return EmbedderSettings(
        model=config.model, max_length=config.max_length, batch_size=config.batch_size,
        device=device or config.device, dtype=config.dtype, trust_remote_code=config.trust_remote_code,
        threads=config.threads,
    )


def embeddings_source(storage: Storage, shard_key: str, settings: EmbedderSettings) -> dict:
    """What decides a shard's vectors: its kept documents (ids and texts, in order) and the model
    settings (not the device, batch size or threads)."""
    table = storage.read_table(DOCUMENTS, "documents.parquet", shard_key, columns=["id", "text"])
    digest = hashlib.sha256()
    for column in ("id", "text"):
        digest.update("\x1f".join(table.column(column).to_pylist()).encode())
        digest.update(b"\x1e")
    return {"documents": digest.hexdigest()[:32], "model": settings.model, "max_length": settings.max_length,
            "dtype": settings.dtype, "trust_remote_code": settings.trust_remote_code}


def reusable_embeddings(shard_key: str, *, storage: Storage, settings: EmbedderSettings) -> EmbeddingReport | None:
    """The committed embeddings of the shard, where they were computed from the same documents and settings
    and still pass `verify_embeddings` (aligned, finite, unit norm)."""
    if storage.partition_path(ASSET, shard_key) is None:
        return None
    try:
        stats = storage.read_json(ASSET, "stats.json", shard_key)
    except (OSError, ValueError):
        return None
    if stats.get("source") != embeddings_source(storage, shard_key, settings):
        return None
    if not verify_embeddings(storage, shard_key)[0]:  # damaged since: recompute rather than keep
        return None
    values = {f.name: stats[f.name] for f in fields(EmbeddingReport) if f.name != "path"}
    return EmbeddingReport(**values, path=storage.require(ASSET, shard_key))


def write_embeddings(shard_key: str, *, storage: Storage, embedder: Embedder,
                     log: logging.Logger | None = None) -> EmbeddingReport:
    """Embed the kept documents of one shard and commit the partition (replacing any earlier one).

    Args:
        shard_key: the shard (partition key of `documents`).
        storage: where `documents` was written and `embeddings` goes.
        embedder: the loaded model.
        log: progress messages.
    """
    documents = storage.read_table(DOCUMENTS, "documents.parquet", shard_key, columns=["id", "text"])
    result = embedder.embed(documents.column("text").to_pylist(), log=log)
    placement = embedder.placement
    report = EmbeddingReport(
        count=len(result.vectors), dim=embedder.dim, model=embedder.settings.model, device=placement.name,
        dtype=placement.dtype, max_length=embedder.max_length, docs_per_second=round(result.docs_per_second, 2),
        tokens_per_second=round(result.tokens_per_second, 1), tokens=int(result.n_tokens.sum()),
        seconds=round(result.seconds, 3), path="",
    )
    with storage.write_partition(ASSET, shard_key) as writer:
        writer.write_array("embeddings.npy", result.vectors)
        writer.write_table("ids.parquet", pa.table({"id": documents.column("id"), "n_tokens": result.n_tokens}))
        writer.write_json("stats.json", {**asdict(report), "settings": asdict(embedder.settings),
                                         "source": embeddings_source(storage, shard_key, embedder.settings)})
    return EmbeddingReport(**{**asdict(report), "path": storage.require(ASSET, shard_key)})


def verify_embeddings(storage: Storage, shard_key: str) -> tuple[bool, dict]:
    """One finite unit vector per kept document, in the documents' order (reads the committed files)."""
    ids = storage.read_table(ASSET, "ids.parquet", shard_key, columns=["id"]).column("id")
    document_ids = storage.read_table(DOCUMENTS, "documents.parquet", shard_key, columns=["id"]).column("id")
    try:
        vectors = storage.read_array(ASSET, "embeddings.npy", shard_key)
    except (ValueError, EOFError) as err:  # a truncated, emptied or overwritten .npy
        return False, {"error": f"embeddings.npy cannot be read: {err}"}
    aligned = len(vectors) == len(ids) == len(document_ids) and ids.equals(document_ids)
    as_float = np.asarray(vectors, dtype=np.float32)
    finite = bool(np.isfinite(as_float).all())
    norms = np.linalg.norm(as_float, axis=1) if finite and len(as_float) else np.ones(1)
    max_error = float(np.abs(norms - 1.0).max()) if len(norms) else 0.0
    details = {"rows": int(len(vectors)), "documents": int(len(document_ids)), "aligned_with_documents": aligned,
               "finite": finite, "max_norm_error": round(max_error, 6), "dtype": str(vectors.dtype)}
    return aligned and finite and max_error <= NORM_TOLERANCE and vectors.dtype == np.float16, details


def _npy_layout(handle) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of an open .npy file, from its header alone."""
    version = np.lib.format.read_magic(handle)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f"unsupported .npy format version {version}")
    shape, fortran_order, dtype = readers[version](handle)
    if fortran_order:
        raise ValueError("embeddings.npy is in Fortran order; the project writes C order")
    return shape, dtype, handle.tell()


def embedding_count(storage: Storage, shard_key: str) -> int:
    """Rows of a shard's embeddings, read from the file's header (no vector is read)."""
    with storage.fs.open(f"{storage.require(ASSET, shard_key)}/embeddings.npy", "rb") as handle:
        return int(_npy_layout(handle)[0][0])


def read_embedding_rows(storage: Storage, shard_key: str, rows: np.ndarray, *, block_rows: int = 16384) -> np.ndarray:
    """The given rows (sorted row numbers) of a shard's embeddings, in their stored dtype.

    Read block by block with plain reads, not a memory map: every page of a map that sampling touches counts
    in the process's resident memory until the map is closed (985 MB for the K-means sample at 1,000,000
    documents, docs/architecture.md); this way memory is the rows returned plus one block.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) > 1 and (np.diff(rows) <= 0).any():
        raise ValueError("rows must be sorted and distinct")
    with storage.fs.open(f"{storage.require(ASSET, shard_key)}/embeddings.npy", "rb") as handle:
        (count, dim), dtype, offset = _npy_layout(handle)
        if len(rows) and (rows[0] < 0 or rows[-1] >= count):
            raise IndexError(f"{shard_key}: rows must lie in [0, {count}), got {rows[0]}..{rows[-1]}")
        out, row_bytes, done = np.empty((len(rows), dim), dtype=dtype), dim * dtype.itemsize, 0
        for start in range(0, count, block_rows):
            lo, hi = np.searchsorted(rows, [start, start + block_rows])
            if lo == hi:
                continue
            first, last = int(rows[lo]), int(rows[hi - 1]) + 1  # only the span holding this block's rows
            handle.seek(offset + first * row_bytes)
            block = np.frombuffer(handle.read((last - first) * row_bytes), dtype=dtype).reshape(-1, dim)
            out[done : done + hi - lo] = block[rows[lo:hi] - first]
            done += hi - lo
    return out
