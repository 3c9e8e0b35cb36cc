"""Tests for token stores (climb.climblab.token_store): exact round trip, layout, validation, window sampling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from climb.climblab.token_store import META_FILE, OFFSETS_FILE, TOKENS_FILE, TokenStore, TokenStoreWriter

VOCAB = 1000
EOS = 0
# Varying lengths, an empty document first, in the middle and last; ids never 0 (the EOS).
DOCUMENTS = [[], [5], [1, 2, 3], list(range(1, 200)), [], [999, 998], [7] * 50, []]


def _write(folder: Path, documents, *, vocab_size: int = VOCAB, eos_id: int = EOS):
    with TokenStoreWriter(str(folder), vocab_size=vocab_size, eos_id=eos_id) as writer:
        for ids in documents:
            writer.add(ids)
    return writer.close()


def _stream(documents, eos_id: int = EOS) -> np.ndarray:
    """The concatenated token stream a store of `documents` must hold."""
    return np.array([i for ids in documents for i in [*ids, eos_id]], dtype=np.int64)


@pytest.fixture
def store(tmp_path) -> TokenStore:
    _write(tmp_path / "store", DOCUMENTS)
    return TokenStore(str(tmp_path / "store"))


# ------------------------------------------------------------------------------ round trip and layout
def test_every_document_reads_back_exactly(store):
    """document(i) is document i's ids without EOS, empty documents included."""
    assert len(store) == store.n_documents == len(DOCUMENTS)
    for i, ids in enumerate(DOCUMENTS):
        assert store.document(i).tolist() == ids
    with pytest.raises(IndexError):
        store.document(len(DOCUMENTS))


def test_layout_offsets_and_meta_are_consistent(store, tmp_path):
    """tokens.bin is the documents each followed by EOS; offsets start at 0 and end at n_tokens; meta says so."""
    expected = _stream(DOCUMENTS)
    assert store.n_tokens == len(expected) == sum(map(len, DOCUMENTS)) + len(DOCUMENTS)
    assert np.array_equal(np.asarray(store.tokens), expected)
    assert store.offsets.tolist() == np.cumsum([0] + [len(d) + 1 for d in DOCUMENTS]).tolist()
    assert (store.tokens[store.offsets[1:] - 1] == EOS).all()
    meta = json.loads((tmp_path / "store" / META_FILE).read_text())
    assert {k: meta[k] for k in ("dtype", "vocab_size", "eos_id", "n_documents", "n_tokens", "version")} == {
        "dtype": "uint16", "vocab_size": VOCAB, "eos_id": EOS, "n_documents": len(DOCUMENTS),
        "n_tokens": len(expected), "version": 1,
    }


@pytest.mark.parametrize(
    "vocab_size, dtype",
    [(1000, "uint16"), (65_536, "uint16"), (65_537, "uint32"), (200_000, "uint32")],
)
def test_dtype_follows_vocab_size(tmp_path, vocab_size, dtype):
    """uint16 up to 65,536 ids, uint32 above; the largest id and the EOS survive the round trip."""
    top = vocab_size - 1
    info = _write(tmp_path, [[top, 1], [top]], vocab_size=vocab_size, eos_id=top)
    store = TokenStore(str(tmp_path))
    assert info.dtype == dtype == store.tokens.dtype.name
    assert (tmp_path / TOKENS_FILE).stat().st_size == info.n_tokens * np.dtype(dtype).itemsize
    assert store.document(0).tolist() == [top, 1]
    assert store.tokens[-1] == top == store.eos_id


def test_numpy_documents_of_any_integer_dtype(tmp_path):
    """add() takes integer arrays of any width as well as lists."""
    _write(tmp_path, [np.array([3, 4], dtype=np.int8), np.array([900], dtype=np.uint64), (1, 2)])
    assert [TokenStore(str(tmp_path)).document(i).tolist() for i in range(3)] == [[3, 4], [900], [1, 2]]


@pytest.mark.parametrize(
    "ids, match",
    [([1, VOCAB], "outside"), ([-1], "outside"), ([[1, 2]], "1-d"), ([1.5], "integer")],
)
def test_invalid_documents_are_refused(tmp_path, ids, match):
    """Ids outside the vocabulary, nested lists and floats raise ValueError naming the folder."""
    with pytest.raises(ValueError, match=match), TokenStoreWriter(str(tmp_path), vocab_size=VOCAB, eos_id=EOS) as w:
        w.add(ids)


def test_failed_write_leaves_an_unfinished_store(tmp_path):
    """An exception inside the writer block writes no meta.json, and opening the folder then fails."""
    with pytest.raises(RuntimeError), TokenStoreWriter(str(tmp_path), vocab_size=VOCAB, eos_id=EOS) as writer:
        writer.add([1, 2])
        raise RuntimeError("killed")
    assert not (tmp_path / META_FILE).exists()
    with pytest.raises(ValueError, match="not a finished token store"):
        TokenStore(str(tmp_path))


def test_empty_store_opens(tmp_path):
    """A store of no documents opens with zero tokens (nothing to memory-map)."""
    info = _write(tmp_path, [])
    store = TokenStore(str(tmp_path))
    assert (info.n_documents, info.n_tokens, store.n_documents, store.n_tokens) == (0, 0, 0, 0)


# ------------------------------------------------------------------------------ validation on open
def _truncate(folder: Path) -> None:
    (folder / TOKENS_FILE).write_bytes((folder / TOKENS_FILE).read_bytes()[:-2])


def _extend(folder: Path) -> None:
    (folder / TOKENS_FILE).write_bytes((folder / TOKENS_FILE).read_bytes() + b"\x00\x00")


def _shift_offsets(folder: Path) -> None:
    offsets = np.load(folder / OFFSETS_FILE)
    offsets[-1] += 1
    np.save(folder / OFFSETS_FILE, offsets)


def _drop_offsets(folder: Path) -> None:
    (folder / OFFSETS_FILE).unlink()


def _claim_more_documents(folder: Path) -> None:
    meta = json.loads((folder / META_FILE).read_text())
    meta["n_documents"] += 1
    (folder / META_FILE).write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (_truncate, "truncated"),
        (_extend, "expected"),
        (_shift_offsets, "inconsistent"),
        (_drop_offsets, "missing"),
        (_claim_more_documents, "inconsistent"),
    ],
)
def test_inconsistent_store_raises_on_open(tmp_path, corrupt, match):
    """Sizes that disagree with meta.json or the offsets raise ValueError naming the folder."""
    folder = tmp_path / "store"
    _write(folder, DOCUMENTS)
    corrupt(folder)
    with pytest.raises(ValueError, match=match) as raised:
        TokenStore(str(folder))
    assert str(folder) in str(raised.value)


# ------------------------------------------------------------------------------ windows
def test_windows_shape_dtype_and_determinism(store):
    """(n, length) int64 windows of valid ids, identical for the same seed, different for another."""
    windows = store.sample_windows(64, 16, np.random.default_rng(0))
    assert windows.shape == (64, 16) and windows.dtype == np.int64
    assert ((windows >= 0) & (windows < VOCAB)).all()
    assert np.array_equal(windows, store.sample_windows(64, 16, np.random.default_rng(0)))
    assert not np.array_equal(windows, store.sample_windows(64, 16, np.random.default_rng(1)))
    assert store.sample_windows(0, 16, np.random.default_rng(0)).shape == (0, 16)


def test_windows_are_slices_of_the_stream_covering_every_start(tmp_path):
    """Each window is one contiguous slice of the stream (crossing documents); every start is drawn, the last too."""
    documents = [list(range(1, 30)), list(range(30, 45)), [], list(range(45, 100))]  # ids unique apart from EOS
    _write(tmp_path, documents)
    store, length = TokenStore(str(tmp_path)), 10
    slices = np.lib.stride_tricks.sliding_window_view(_stream(documents), length)  # (n_starts, length)
    windows = store.sample_windows(4000, length, np.random.default_rng(7))
    matches = (windows[:, None, :] == slices[None, :, :]).all(axis=2)  # (n, n_starts)
    assert (matches.sum(axis=1) == 1).all()
    assert set(matches.argmax(axis=1).tolist()) == set(range(len(slices)))


@pytest.mark.parametrize("length", [len(_stream(DOCUMENTS)) + 1, 10_000])
def test_store_shorter_than_a_window_raises(store, length):
    """A window longer than the store is a ValueError naming the folder and both sizes."""
    with pytest.raises(ValueError, match=rf"{store.n_tokens:,} tokens, fewer than one window of {length:,}") as raised:
        store.sample_windows(1, length, np.random.default_rng(0))
    assert str(store.folder) in str(raised.value)


def test_window_as_long_as_the_store_is_the_whole_stream(store):
    """length == n_tokens has one start: every window is the whole stream."""
    windows = store.sample_windows(3, store.n_tokens, np.random.default_rng(0))
    assert (windows == _stream(DOCUMENTS)).all()
