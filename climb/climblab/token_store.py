"""Token stores: one super-cluster's token ids, memory-mapped, with document offsets (paper step 5).

Proxy LM training samples fixed-length windows from these by a mixture's weights (step 6), and the
token counts give the Dirichlet prior and the availability caps, so reads are memory-mapped and a
store knows its size without reading its tokens.

Layout of a store folder:
    tokens.bin   raw little-endian uint16 (vocab_size <= 65536) or uint32 ids; every document's ids
                 followed by one EOS id, documents back to back
    offsets.npy  int64, n_documents + 1 start positions into tokens.bin; offsets[0] = 0,
                 offsets[-1] = n_tokens, document i is tokens[offsets[i] : offsets[i + 1] - 1] + EOS
    meta.json    format and version, dtype, vocab_size, eos_id, n_documents, n_tokens
meta.json is written last, so a folder without it is an unfinished store; the caller writes into a
staging folder and commits it (climb/core/storage.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FORMAT = "climb-token-store"
FORMAT_VERSION = 1
TOKENS_FILE = "tokens.bin"
OFFSETS_FILE = "offsets.npy"
META_FILE = "meta.json"
UINT16_MAX_VOCAB = 1 << 16  # ids 0..65535 fit in uint16; halves the disk and page-cache footprint


def token_dtype(vocab_size: int) -> np.dtype:
    """Little-endian uint16 for vocabularies up to 65,536 ids, uint32 above."""
    if not 0 < vocab_size <= 1 << 32:
        raise ValueError(f"vocab_size must be in 1..2**32, got {vocab_size}")
    return np.dtype("<u2") if vocab_size <= UINT16_MAX_VOCAB else np.dtype("<u4")


@dataclass(frozen=True)
class TokenStoreInfo:
    """What a finished store holds (also its meta.json, with format and version)."""

    n_documents: int
    n_tokens: int  # EOS ids included
    dtype: str  # "uint16" | "uint32", little-endian
    vocab_size: int
    eos_id: int


class TokenStoreWriter:
    """Writes documents' ids into a store folder, streamed to disk (memory holds only the offsets).

    Use as a context manager: leaving the block normally closes the store; an exception leaves it
    unfinished (no meta.json), for the caller to discard with its staging folder.

    Args:
        folder: a local folder, created when missing; existing store files in it are replaced.
        vocab_size: the tokenizer's vocabulary size; every id must be below it; picks the dtype.
        eos_id: the id appended after every document (tokenization.eos_id).
    """

    def __init__(self, folder: str, *, vocab_size: int, eos_id: int):
        self.folder = Path(folder)
        self.dtype = token_dtype(vocab_size)
        if not 0 <= eos_id < vocab_size:
            raise ValueError(f"eos_id {eos_id} is outside the vocabulary (size {vocab_size})")
        self.vocab_size, self.eos_id = vocab_size, eos_id
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / META_FILE).unlink(missing_ok=True)
        self._file = open(self.folder / TOKENS_FILE, "wb")
        self._offsets = [0]
        self._info: TokenStoreInfo | None = None

    def __enter__(self) -> TokenStoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._file.close()

    def add(self, ids: Sequence[int] | np.ndarray) -> None:
        """Append one document (its ids without EOS; EOS is appended here).

        Args:
            ids: the document's token ids, each in [0, vocab_size); may be empty.
        """
        if self._file.closed:
            raise ValueError(f"{self.folder}: the token store writer is closed")
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(f"{self.folder}: a document is a 1-d sequence of integer ids, got {ids.dtype} "
                             f"of shape {ids.shape}")
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(f"{self.folder}: document {len(self._offsets) - 1} has ids outside "
                             f"[0, {self.vocab_size}): min {ids.min()}, max {ids.max()}")
        row = np.empty(ids.size + 1, dtype=self.dtype)
        row[:-1] = ids
        row[-1] = self.eos_id
        self._file.write(row.tobytes())
        self._offsets.append(self._offsets[-1] + row.size)

    def close(self) -> TokenStoreInfo:
        """Finish the store: flush tokens.bin, then write offsets.npy and, last, meta.json."""
        if self._info is not None:
            return self._info
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        np.save(self.folder / OFFSETS_FILE, np.asarray(self._offsets, dtype=np.int64), allow_pickle=False)
        self._info = TokenStoreInfo(
            n_documents=len(self._offsets) - 1, n_tokens=self._offsets[-1], dtype=self.dtype.name,
            vocab_size=self.vocab_size, eos_id=self.eos_id,
        )
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "byteorder": "little", **asdict(self._info)}
        (self.folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        return self._info


class TokenStore:
    """A finished store, memory-mapped read-only and checked against its meta.json and offsets.

    Args:
        folder: the store folder; a missing, unfinished or inconsistent store raises ValueError naming it.
    """

    def __init__(self, folder: str):
        self.folder = Path(folder)
        meta_file = self.folder / META_FILE
        if not meta_file.is_file():
            raise ValueError(f"{self.folder} is not a finished token store (no {META_FILE})")
        meta = json.loads(meta_file.read_text())
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{meta_file}: format {meta.get('format')!r} version {meta.get('version')!r}, "
                             f"expected {FORMAT!r} version {FORMAT_VERSION}")
        self.info = TokenStoreInfo(**{key: meta[key] for key in TokenStoreInfo.__dataclass_fields__})
        self.n_documents, self.n_tokens = int(self.info.n_documents), int(self.info.n_tokens)
        self.eos_id, self.vocab_size = int(self.info.eos_id), int(self.info.vocab_size)
        dtype = token_dtype(self.vocab_size)
        if dtype.name != self.info.dtype:
            raise ValueError(f"{meta_file}: dtype {self.info.dtype} does not match vocab_size {self.vocab_size}")

        missing = [name for name in (OFFSETS_FILE, TOKENS_FILE) if not (self.folder / name).is_file()]
        if missing:
            raise ValueError(f"{self.folder}: token store files missing: {missing}")
        self.offsets = np.load(self.folder / OFFSETS_FILE, allow_pickle=False)
        gaps = np.diff(self.offsets)
        if (self.offsets.dtype != np.int64 or self.offsets.shape != (self.n_documents + 1,)
                or self.offsets[0] != 0 or self.offsets[-1] != self.n_tokens or (gaps < 1).any()):
            raise ValueError(f"{self.folder}/{OFFSETS_FILE} is inconsistent with {META_FILE}: expected "
                             f"{self.n_documents + 1} increasing int64 offsets from 0 to {self.n_tokens}")
        size, expected = (self.folder / TOKENS_FILE).stat().st_size, self.n_tokens * dtype.itemsize
        if size != expected:
            raise ValueError(f"{self.folder}/{TOKENS_FILE} holds {size:,} bytes, expected {expected:,} "
                             f"({self.n_tokens:,} {dtype.name} tokens): truncated or not this store's")
        if self.n_tokens == 0:  # mmap cannot map an empty file
            self.tokens = np.zeros(0, dtype=dtype)
        else:
            self.tokens = np.memmap(self.folder / TOKENS_FILE, dtype=dtype, mode="r", shape=(self.n_tokens,))

    def __len__(self) -> int:
        return self.n_documents

    def document(self, i: int) -> np.ndarray:
        """Ids of document `i` (a read-only view of the map), without its EOS.

        Args:
            i: the document's index, 0 <= i < n_documents.
        """
        if not 0 <= i < self.n_documents:
            raise IndexError(f"{self.folder}: document {i} out of range ({self.n_documents} documents)")
        return self.tokens[self.offsets[i] : self.offsets[i + 1] - 1]

    def sample_windows(self, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
        """(n, length) int64 windows of the concatenated token stream, at uniform random starts.

        Every start in [0, n_tokens - length] is equally likely, so the last token can be drawn; windows
        may cross document boundaries, where the EOS id separates the documents.

        Args:
            n: how many windows.
            length: tokens per window (a proxy's sequence length, plus one for next-token targets
                where the caller wants them); a store shorter than this raises ValueError.
            rng: the generator that picks the starts (the caller seeds it).
        """
        if n < 0 or length < 1:
            raise ValueError(f"{self.folder}: need n >= 0 windows of length >= 1, got n={n}, length={length}")
        if self.n_tokens < length:
            raise ValueError(f"{self.folder}: the store holds {self.n_tokens:,} tokens, fewer than one window "
                             f"of {length:,}")
        starts = rng.integers(0, self.n_tokens - length + 1, size=n)
        windows = np.empty((n, length), dtype=np.int64)
        for row, start in enumerate(starts):  # one contiguous read per window
            windows[row] = self.tokens[start : start + length]
        return windows
