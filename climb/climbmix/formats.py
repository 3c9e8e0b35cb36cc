"""ClimbMix file formats (docs/architecture.md, exports): tokenized JSONL, Megatron-LM indexed datasets and a blend, checksums.

Parquet needs no helper (pyarrow writes it). The other layouts follow what their consumers read:
- tokenized JSONL (`part_*.tokenized.jsonl`, the released ClimbMix layout): one JSON object per line,
  `{"cluster_id": int, "tokens": [ids], "token_count": int}`, ids without special tokens;
- Megatron-LM indexed dataset (`<prefix>.bin` + `<prefix>.idx`), as written by Megatron-LM's
  `megatron/core/datasets/indexed_dataset.py` (`IndexedDatasetBuilder` / `_IndexWriter`):
      .bin  every document's ids back to back, in the index's dtype (one sequence per document)
      .idx  b"MMIDIDX\\x00\\x00" | version 1 <Q | dtype code <B | sequence count <Q | document count <Q
            | sequence lengths int32[sequences] | byte pointers int64[sequences]
            | document indices int64[documents]
      The document indices are [0, 1, ..., n] (each document one sequence), so the document count
      field is n + 1, as Megatron's builder writes it. dtype: uint16 (code 8) below 65,500 ids, else
      int32 (code 4) — Megatron's `DType.optimal_dtype`;
- the blend: `--data-path "w1 prefix1 w2 prefix2 ..."`, which Megatron normalises.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MEGATRON_HEADER = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
MEGATRON_DTYPES = {8: np.dtype("<u2"), 4: np.dtype("<i4")}  # Megatron's DType codes: uint16, int32
MEGATRON_UINT16_VOCAB = 65500  # Megatron's threshold for uint16 (DType.optimal_dtype)
CHECKSUM_CHUNK = 1 << 20


# ---- helpers -----------------------------------------------------------------------------------------
def megatron_dtype_code(vocab_size: int) -> int:
    """Megatron's dtype code for a vocabulary: 8 (uint16) below 65,500 ids, else 4 (int32)."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
    return 8 if vocab_size < MEGATRON_UINT16_VOCAB else 4


def sha256_of(path: str | Path, opener=open) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks.

    Args:
        path: the file.
        opener: `open`, or an fsspec filesystem's `open` for remote files.
    """
    digest = hashlib.sha256()
    with opener(str(path), "rb") as handle:
        for chunk in iter(lambda: handle.read(CHECKSUM_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---- tokenized JSONL ---------------------------------------------------------------------------------
def write_tokenized_jsonl(path: str | Path, rows: Iterable[tuple[int, np.ndarray]]) -> int:
    """Write `(cluster_id, token ids)` rows as tokenized JSONL; returns the tokens written.

    Args:
        path: the file (`part_<n>.tokenized.jsonl`).
        rows: each document's super-cluster and ids (without special tokens).
    """
    tokens = 0
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for cluster_id, ids in rows:
            ids = [int(i) for i in ids]
            handle.write(json.dumps({"cluster_id": int(cluster_id), "tokens": ids, "token_count": len(ids)},
                                    separators=(",", ":")) + "\n")
            tokens += len(ids)
    return tokens


# ---- Megatron-LM indexed datasets ---------------------------------------------------------------------
def write_indexed_dataset(prefix: str | Path, documents: Iterable[np.ndarray], *, vocab_size: int) -> dict:
    """Write `<prefix>.bin` and `<prefix>.idx`, one sequence per document; returns counts and dtype.

    Args:
        prefix: the path without extension (Megatron's `--data-path` entry).
        documents: each document's ids, end-of-document id included where the caller wants one
            (Megatron's preprocess_data.py `--append-eod`).
        vocab_size: the tokenizer's vocabulary size; picks the dtype; every id must be below it.
    """
    code = megatron_dtype_code(vocab_size)
    dtype = MEGATRON_DTYPES[code]
    lengths: list[int] = []
    with open(f"{prefix}.bin", "wb") as data:
        for ids in documents:
            ids = np.asarray(ids)
            if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
                raise ValueError(f"{prefix}.bin: document {len(lengths)} has ids outside [0, {vocab_size})")
            data.write(ids.astype(dtype).tobytes(order="C"))
            lengths.append(int(ids.size))
    sizes = np.asarray(lengths, dtype=np.int32)
    pointers = np.zeros(len(lengths), dtype=np.int64)
    if len(lengths) > 1:
        pointers[1:] = np.cumsum(sizes[:-1].astype(np.int64)) * dtype.itemsize
    document_indices = np.arange(len(lengths) + 1, dtype=np.int64)
    with open(f"{prefix}.idx", "wb") as index:
        index.write(MEGATRON_HEADER)
        index.write(struct.pack("<Q", MEGATRON_VERSION))
        index.write(struct.pack("<B", code))
        index.write(struct.pack("<Q", len(sizes)))
        index.write(struct.pack("<Q", len(document_indices)))
        index.write(sizes.tobytes(order="C"))
        index.write(pointers.tobytes(order="C"))
        index.write(document_indices.tobytes(order="C"))
    return {"sequences": len(lengths), "tokens": int(sizes.sum(dtype=np.int64)), "dtype": dtype.name,
            "dtype_code": code}


@dataclass(frozen=True)
class IndexedDataset:
    """An indexed dataset read back by the published layout (independent of the writer above).

    Args (of `read`):
        prefix: the path without extension.
    """

    sizes: np.ndarray  # (sequences,) int32
    pointers: np.ndarray  # (sequences,) int64 byte offsets into .bin
    document_indices: np.ndarray  # (documents + 1,) int64
    tokens: np.ndarray  # the whole .bin in the index's dtype

    @classmethod
    def read(cls, prefix: str | Path, opener=open) -> IndexedDataset:
        with opener(f"{prefix}.idx", "rb") as handle:
            raw = handle.read()
        if raw[:9] != MEGATRON_HEADER:
            raise ValueError(f"{prefix}.idx: not a Megatron index (header {raw[:9]!r})")
        version, code = struct.unpack_from("<QB", raw, 9)
        sequences, documents = struct.unpack_from("<QQ", raw, 18)
        if version != MEGATRON_VERSION or code not in MEGATRON_DTYPES:
            raise ValueError(f"{prefix}.idx: version {version}, dtype code {code} not supported")
        offset = 34
        sizes = np.frombuffer(raw, dtype="<i4", count=sequences, offset=offset)
        pointers = np.frombuffer(raw, dtype="<i8", count=sequences, offset=offset + 4 * sequences)
        indices = np.frombuffer(raw, dtype="<i8", count=documents, offset=offset + 12 * sequences)
        if offset + 12 * sequences + 8 * documents != len(raw):
            raise ValueError(f"{prefix}.idx: {len(raw)} bytes, inconsistent with its counts")
        with opener(f"{prefix}.bin", "rb") as handle:
            tokens = np.frombuffer(handle.read(), dtype=MEGATRON_DTYPES[code])
        return cls(sizes, pointers, indices, tokens)

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i: int) -> np.ndarray:
        start = int(self.pointers[i]) // self.tokens.itemsize
        return self.tokens[start : start + int(self.sizes[i])]


def megatron_data_path(entries: list[tuple[float, str]]) -> str:
    """Megatron's `--data-path` blend string, "w1 prefix1 w2 prefix2 ..." (weights are normalised by Megatron)."""
    return " ".join(f"{weight:.6f} {prefix}" for weight, prefix in entries)
