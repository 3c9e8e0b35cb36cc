"""Lexical near-duplicates: MinHash LSH over word n-grams, each candidate pair confirmed by its exact Jaccard
(docs/method.md, deduplication).

A document is a near-duplicate when a document earlier in the global order (shard key, row) has word
n-gram sets with Jaccard similarity >= the threshold; the earliest such document is named as its twin. As in
cluster-based deduplication, the first document of a chain is always kept and everything similar to an
earlier document is removed, whether or not that earlier document was itself kept.

MinHash signatures come from rensa (measured ~65x faster than datasketch here, docs/method.md); LSH bands
(rows of the signature hashed together) only propose candidates; the exact Jaccard of the n-gram sets decides,
so the threshold means what it says. Each shard's bands and texts are cached by the shard's fingerprint (the
`near_index` cache), so a new shard is checked against the corpus without hashing the earlier shards again.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from climb.core.tables import sql_list

NEAR_DUPLICATE = "duplicate:near"
NEAR_INDEX_CACHE = "near_index"
NEAR_INDEX_SCHEMA = pa.schema([("id", pa.string()), ("row", pa.int64()), ("text", pa.string()),
                               ("bands", pa.list_(pa.int64()))])
_WORD = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: a band's rows hashed as a polynomial in it


@dataclass(frozen=True)
class NearSettings:
    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = 112
    bands: int = 14
    seed: int = 0


@dataclass(frozen=True)
class Twin:
    """The earliest earlier document a document near-duplicates."""

    id: str
    shard: str
    row: int
    jaccard: float

    def detail(self) -> str:
        return f"near duplicate of {self.id} ({self.shard} row {self.row}), Jaccard {self.jaccard:.3f}"


def shingles(text: str, ngram: int) -> set[str]:
    """The word n-grams of a text (lower-cased words, punctuation dropped); a shorter text is one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) <= ngram:
        return {" ".join(words)}
    return {" ".join(words[i:i + ngram]) for i in range(len(words) - ngram + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def band_hashes(texts: Sequence[str], settings: NearSettings) -> np.ndarray:
    """(documents, bands) int64: each band of each text's MinHash signature hashed to one number."""
    import rensa

    rows = settings.num_perm // settings.bands
    signatures = np.zeros((len(texts), settings.num_perm), dtype=np.uint64)
    for i, text in enumerate(texts):
        minhash = rensa.RMinHash(num_perm=settings.num_perm, seed=settings.seed)
        minhash.update(sorted(shingles(text, settings.ngram)))
        signatures[i] = minhash.digest()
    banded = signatures.reshape(len(texts), settings.bands, rows)
    hashed = np.zeros((len(texts), settings.bands), dtype=np.uint64)
    with np.errstate(over="ignore"):  # 64-bit wrap-around is the hash
        for r in range(rows):
            hashed = hashed * _MIX + banded[:, :, r] + np.uint64(1)
    return hashed.view(np.int64)


def near_index(ids: Sequence[str], rows: Sequence[int], texts: Sequence[str], settings: NearSettings) -> pa.Table:
    """A shard's entry in the `near_index` cache: id, row, text and band hashes of its documents."""
    bands = band_hashes(texts, settings)
    return pa.table({"id": pa.array(ids, pa.string()), "row": pa.array(rows, pa.int64()),
                     "text": pa.array(texts, pa.string()), "bands": pa.array(list(bands), pa.list_(pa.int64()))},
                    schema=NEAR_INDEX_SCHEMA)


def within_shard_twins(index: pa.Table, shard: str, settings: NearSettings) -> dict[int, Twin]:
    """For each position of `index` (in row order): its earliest earlier near-duplicate in the same shard."""
    texts, ids = index.column("text").to_pylist(), index.column("id").to_pylist()
    rows, bands = index.column("row").to_pylist(), index.column("bands").to_pylist()
    buckets: dict[tuple[int, int], list[int]] = {}
    sets: dict[int, set[str]] = {}
    twins: dict[int, Twin] = {}
    for i in range(index.num_rows):
        candidates = sorted({j for b, h in enumerate(bands[i]) for j in buckets.get((b, h), ())})
        for j in candidates:  # earliest first: the first confirmed one is the twin
            mine = sets.setdefault(i, shingles(texts[i], settings.ngram))
            similarity = jaccard(mine, sets.setdefault(j, shingles(texts[j], settings.ngram)))
            if similarity >= settings.threshold:
                twins[i] = Twin(ids[j], shard, rows[j], similarity)
                break
        for b, h in enumerate(bands[i]):
            buckets.setdefault((b, h), []).append(i)
    return twins


def earlier_shard_twins(connection, index: pa.Table, earlier: Sequence[tuple[str, str]],
                        settings: NearSettings) -> dict[int, Twin]:
    """For each position of `index`: its earliest near-duplicate in the earlier shards, whose `near_index`
    cache files are `earlier` ((shard key, path) in key order). `connection`: DuckDB, able to read the files."""
    if not earlier or index.num_rows == 0:
        return {}
    positions = np.repeat(np.arange(index.num_rows), settings.bands)
    mine = pa.table({"position": positions, "band": np.tile(np.arange(settings.bands), index.num_rows),
                     "hash": pa.array(index.column("bands").combine_chunks().flatten())})
    connection.register("mine", mine)
    connection.register("shard_orders", pa.table({"filename": [path for _, path in earlier],
                                                  "shard": [key for key, _ in earlier],
                                                  "shard_order": list(range(len(earlier)))}))
    files = sql_list(path for _, path in earlier)
    # As for exact duplicates, an entry whose id an even earlier shard used was quarantined there (a reused
    # id): only entries in the first shard to use their id are documents.
    pairs = connection.execute(
        f"WITH entries AS (SELECT e.*, o.shard, o.shard_order FROM read_parquet({files}, filename = true) e "
        "JOIN shard_orders o USING (filename) QUALIFY o.shard_order = min(o.shard_order) OVER (PARTITION BY e.id)), "
        "theirs AS (SELECT id, row, filename, shard, shard_order, unnest(bands) AS hash, "
        "generate_subscripts(bands, 1) - 1 AS band FROM entries) "
        "SELECT DISTINCT m.position, t.id, t.row, t.shard, t.shard_order, t.filename "
        "FROM mine m JOIN theirs t USING (band, hash) ORDER BY m.position, t.shard_order, t.row").fetchall()
    if not pairs:
        return {}
    texts = _texts(connection, sorted({(filename, doc_id) for _, doc_id, _, _, _, filename in pairs}))
    own_texts = index.column("text").to_pylist()
    twins: dict[int, Twin] = {}
    sets: dict = {}
    for position, doc_id, row, shard, _, filename in pairs:  # per position, earliest candidate first
        if position in twins:
            continue  # an earlier candidate already confirmed
        theirs = sets.setdefault((filename, doc_id), shingles(texts[(filename, doc_id)], settings.ngram))
        similarity = jaccard(sets.setdefault(position, shingles(own_texts[position], settings.ngram)), theirs)
        if similarity >= settings.threshold:
            twins[position] = Twin(doc_id, shard, row, similarity)
    return twins


def _texts(connection, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The texts of (file, id) pairs, reading only the files that hold one."""
    connection.register("wanted", pa.table({"filename": [f for f, _ in wanted], "id": [i for _, i in wanted]}))
    files = sql_list(sorted({f for f, _ in wanted}))
    found = connection.execute(
        f"SELECT filename, id, text FROM read_parquet({files}, filename = true) JOIN wanted USING (filename, id)"
    ).fetchall()
    return {(filename, doc_id): text for filename, doc_id, text in found}
