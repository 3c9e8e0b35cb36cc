"""Lexical near-duplicates: MinHash LSH over word n-grams, each candidate pair confirmed by its exact Jaccard
(docs/method.md, deduplication).

A document is a near-duplicate when a document earlier in the global order (shard key, row) has word
n-gram sets with Jaccard similarity >= the threshold; the earliest such document is named as its twin. As in
cluster-based deduplication, the first document of a chain is always kept and everything similar to an
earlier document is removed, whether or not that earlier document was itself kept.

MinHash signatures come from rensa (measured ~65x faster than datasketch here, docs/method.md). LSH bands
(rows of the signature hashed together) propose candidates; a one-byte-per-value sketch of the signature
(b-bit minwise hashing) drops, in bulk, the candidates whose estimated Jaccard is far below the threshold;
the exact Jaccard of the n-gram sets decides the rest, so the threshold means what it says. Each shard's
bands, sketches and texts are cached by the shard's fingerprint (the `near_index` cache), so a new shard is
checked against the corpus without hashing the earlier shards again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from climb.core.tables import sql_list

NEAR_DUPLICATE = "duplicate:near"
NEAR_INDEX_CACHE = "near_index_v2"  # v2 added the sketch column; files of v1 are never read
NEAR_INDEX_SCHEMA = pa.schema([("id", pa.string()), ("row", pa.int64()), ("text", pa.string()),
                               ("bands", pa.list_(pa.int64())), ("sketch", pa.binary())])
# A candidate whose sketch estimate is this far below the threshold is not verified. The estimate's standard
# deviation at J = 0.8 with 112 values is ~0.04, so a pair at the threshold is dropped with probability ~1e-3.
SKETCH_MARGIN = 0.12
# Unless `bands` is set, the LSH makes a pair at exactly the threshold a candidate with at least this probability.
CANDIDATE_PROBABILITY = 0.99
_WORD = re.compile(r"\w+")
_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: a band's rows hashed as a polynomial in it


@dataclass(frozen=True)
class NearSettings:
    threshold: float = 0.7
    ngram: int = 2
    num_perm: int = 112
    bands: int | None = None  # None: chosen from the threshold (lsh_bands)
    seed: int = 0

    @property
    def band_count(self) -> int:
        return self.bands if self.bands is not None else lsh_bands(self.threshold, self.num_perm)


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """The probability that LSH with `bands` bands of `rows` rows proposes a pair of this Jaccard similarity."""
    return 1 - (1 - similarity ** rows) ** bands


def lsh_bands(threshold: float, num_perm: int) -> int:
    """The fewest bands (so the longest, which propose the fewest chance pairs) that make a pair at the threshold
    a candidate with probability >= CANDIDATE_PROBABILITY: 28 x 4 for 0.7-0.85 at 112 permutations, 14 x 8 for 0.9.
    (datatrove's 14 x 8 proposes a pair at 0.8 with probability 0.92 only.)"""
    divisors = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    return next(b for b in divisors if candidate_probability(threshold, b, num_perm // b) >= CANDIDATE_PROBABILITY)


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


def signatures(texts: Sequence[str], settings: NearSettings) -> np.ndarray:
    """(documents, num_perm) uint32 MinHash signatures of the texts' shingles."""
    import rensa

    out = np.zeros((len(texts), settings.num_perm), dtype=np.uint32)
    for i, text in enumerate(texts):
        minhash = rensa.RMinHash(num_perm=settings.num_perm, seed=settings.seed)
        minhash.update(sorted(shingles(text, settings.ngram)))
        out[i] = minhash.digest()
    return out


def band_hashes(signature: np.ndarray, settings: NearSettings) -> np.ndarray:
    """(documents, bands) int64: each band of each signature hashed to one number."""
    bands = settings.band_count
    rows = settings.num_perm // bands
    banded = signature.astype(np.uint64).reshape(len(signature), bands, rows)
    hashed = np.zeros((len(signature), bands), dtype=np.uint64)
    with np.errstate(over="ignore"):  # 64-bit wrap-around is the hash
        for r in range(rows):
            hashed = hashed * _MIX + banded[:, :, r] + np.uint64(1)
    return hashed.view(np.int64)


def estimated_jaccard(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Row-wise Jaccard estimates from two (pairs, num_perm) uint8 sketches (the low byte of each MinHash value):
    two low bytes agree with probability J + (1 - J) / 256 (b-bit minwise hashing, Li and König 2010)."""
    agree = (mine == theirs).mean(axis=1)
    return (agree - 1 / 256) / (1 - 1 / 256)


def near_index(ids: Sequence[str], rows: Sequence[int], texts: Sequence[str], settings: NearSettings) -> pa.Table:
    """A shard's entry in the `near_index` cache: id, row, text, band hashes and sketch of its documents."""
    signature = signatures(texts, settings)
    sketch = (signature & 0xFF).astype(np.uint8)
    return pa.table({"id": pa.array(ids, pa.string()), "row": pa.array(rows, pa.int64()),
                     "text": pa.array(texts, pa.string()),
                     "bands": pa.array(list(band_hashes(signature, settings)), pa.list_(pa.int64())),
                     "sketch": pa.array([s.tobytes() for s in sketch], pa.binary())}, schema=NEAR_INDEX_SCHEMA)


def _sketches(column: pa.ChunkedArray | pa.Array, num_perm: int) -> np.ndarray:
    values = b"".join(column.to_pylist())
    return np.frombuffer(values, dtype=np.uint8).reshape(-1, num_perm)


def _register_bands(connection, index: pa.Table, settings: NearSettings) -> None:
    """`mine`: one row per (position, band, hash) of the index."""
    positions = np.repeat(np.arange(index.num_rows), settings.band_count)
    connection.register("mine", pa.table({
        "position": positions, "band": np.tile(np.arange(settings.band_count), index.num_rows),
        "hash": pa.array(index.column("bands").combine_chunks().flatten())}))


class _ShingleSets:
    """Shingle sets computed once per key, from `text(key)`."""

    def __init__(self, text: Callable[[Hashable], str], ngram: int):
        self.text, self.ngram, self.sets = text, ngram, {}

    def __call__(self, key: Hashable) -> set[str]:
        if key not in self.sets:
            self.sets[key] = shingles(self.text(key), self.ngram)
        return self.sets[key]


def _first_confirmed(positions: np.ndarray, keys: Sequence[Hashable], plausible: np.ndarray,
                     own: _ShingleSets, theirs: _ShingleSets, threshold: float) -> dict[int, tuple[Hashable, float]]:
    """Candidate pairs (positions[k], keys[k]), each position's candidates in global order: for each position,
    the first plausible candidate whose exact Jaccard reaches the threshold, with that Jaccard."""
    confirmed: dict[int, tuple[Hashable, float]] = {}
    for k in np.flatnonzero(plausible):
        position, key = int(positions[k]), keys[k]
        if position in confirmed:
            continue  # an earlier candidate already confirmed
        similarity = jaccard(own(position), theirs(key))
        if similarity >= threshold:
            confirmed[position] = (key, similarity)
    return confirmed


def within_shard_twins(connection, index: pa.Table, shard: str, settings: NearSettings) -> dict[int, Twin]:
    """For each position of `index` (in row order): its earliest earlier near-duplicate in the same shard.
    `connection`: DuckDB (the band join)."""
    if index.num_rows < 2:
        return {}
    _register_bands(connection, index, settings)
    pairs = connection.sql(
        "SELECT DISTINCT a.position, b.position AS earlier FROM mine a JOIN mine b USING (band, hash) "
        "WHERE b.position < a.position ORDER BY 1, 2").to_arrow_table()
    positions, earlier = pairs.column("position").to_numpy(), pairs.column("earlier").to_numpy()
    sketch = _sketches(index.column("sketch"), settings.num_perm)
    plausible = estimated_jaccard(sketch[positions], sketch[earlier]) >= settings.threshold - SKETCH_MARGIN
    texts, ids, rows = (index.column(c).to_pylist() for c in ("text", "id", "row"))
    shingled = _ShingleSets(texts.__getitem__, settings.ngram)  # one cache: both sides are this shard's
    confirmed = _first_confirmed(positions, earlier.tolist(), plausible, shingled, shingled, settings.threshold)
    return {position: Twin(ids[j], shard, rows[j], similarity) for position, (j, similarity) in confirmed.items()}


def earlier_shard_twins(connection, index: pa.Table, earlier: str | None,
                        settings: NearSettings) -> dict[int, Twin]:
    """For each position of `index`: its earliest near-duplicate in the earlier shards. `earlier`: the name of a
    DuckDB relation of their `near_index` entries (id, row, bands, sketch, filename: the shard's cache file,
    shard, shard_order: its place in key order; climb/corpus/index_blocks.py), None when there is no earlier
    shard. `connection`: DuckDB, able to read the files."""
    if earlier is None or index.num_rows == 0:
        return {}
    _register_bands(connection, index, settings)
    # As for exact duplicates, an entry whose id an even earlier shard used was quarantined there (a reused
    # id): only entries in the first shard to use their id are documents. The band join carries no sketch
    # (14 copies of it); the distinct hits fetch theirs.
    pairs = connection.sql(
        f"WITH entries AS MATERIALIZED (SELECT e.id, e.row, e.bands, e.sketch, e.filename, e.shard, e.shard_order "
        f"FROM {earlier} e QUALIFY e.shard_order = min(e.shard_order) OVER (PARTITION BY e.id)), "
        "hits AS (SELECT DISTINCT m.position, t.filename, t.id FROM mine m JOIN (SELECT filename, id, "
        "unnest(bands) AS hash, generate_subscripts(bands, 1) - 1 AS band FROM entries) t USING (band, hash)) "
        "SELECT h.position, e.id, e.row, e.shard, e.filename, e.sketch FROM hits h JOIN entries e USING (filename, id) "
        "ORDER BY h.position, e.shard_order, e.row").to_arrow_table()
    if pairs.num_rows == 0:
        return {}
    positions = pairs.column("position").to_numpy()
    mine = _sketches(index.column("sketch"), settings.num_perm)[positions]
    plausible = estimated_jaccard(mine, _sketches(pairs.column("sketch"), settings.num_perm)) \
        >= settings.threshold - SKETCH_MARGIN
    keys = list(zip(pairs.column("filename").to_pylist(), pairs.column("id").to_pylist()))
    texts = _texts(connection, sorted({keys[k] for k in np.flatnonzero(plausible)}))
    confirmed = _first_confirmed(positions, keys, plausible,
                                 _ShingleSets(index.column("text").to_pylist().__getitem__, settings.ngram),
                                 _ShingleSets(texts.__getitem__, settings.ngram), settings.threshold)
    where = dict(zip(keys, zip(pairs.column("shard").to_pylist(), pairs.column("row").to_pylist())))
    return {position: Twin(key[1], *where[key], similarity) for position, (key, similarity) in confirmed.items()}


def _texts(connection, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The texts of (file, id) pairs, reading only the files that hold one."""
    if not wanted:
        return {}
    connection.register("wanted", pa.table({"filename": [f for f, _ in wanted], "id": [i for _, i in wanted]}))
    files = sql_list(sorted({f for f, _ in wanted}))
    found = connection.execute(
        f"SELECT filename, id, text FROM read_parquet({files}, filename = true) JOIN wanted USING (filename, id)"
    ).fetchall()
    return {(filename, doc_id): text for filename, doc_id, text in found}
