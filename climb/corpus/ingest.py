"""Ingestion: one shard's records become documents, each accounted for.

Every input record ends in exactly one of four places (the accounting identity
`input_records == kept + filtered + duplicates + quarantined`):
- quarantined: unusable (a `quarantine:*` reason from the reader, empty text, a reused id);
- filtered: usable but outside the length filters (`filter:<bound>`);
- duplicate: the same normalised text occurred earlier (`duplicate:exact`), where "earlier" is
  the global order (shard key, row), so the first occurrence wins whatever order shards are
  ingested in;
- kept.

Cross-shard deduplication reads each earlier shard's content index (hash, id, row of its
first occurrences), a small Parquet file cached under the storage root by the shard's
fingerprint (climb/corpus/shard_caches.py), and joins it with DuckDB; the files of full blocks of earlier
shards are read merged (climb/corpus/index_blocks.py).
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pyarrow as pa

from climb.corpus.filters import (IngestSettings, content_hash, ingest_settings, length_filter_reason, normalize_text,
                                  reader_options)
from climb.corpus.index_blocks import IndexSources
from climb.corpus.near_duplicates import NEAR_DUPLICATE, NearSettings, earlier_shard_twins, near_index, within_shard_twins
from climb.corpus.readers import DUPLICATE_ID, EMPTY_TEXT, RawRecord, ReaderOptions, read_shard
from climb.corpus.shards import Shard
from climb.core.storage import Storage

__all__ = ["CONTENT_INDEX_CACHE", "DUPLICATE", "INDEX_SCHEMA", "NEAR_JOIN_COLUMNS", "PROGRESS_EVERY_SECONDS", "IngestResult",
           "IngestSettings", "ShardAccount", "content_hash", "ingest_settings", "ingest_shard", "length_filter_reason",
           "normalize_text", "reader_options"]

DUPLICATE = "duplicate:exact"
CONTENT_INDEX_CACHE = "content_index"
PROGRESS_EVERY_SECONDS = 10.0
INDEX_SCHEMA = pa.schema([("content_hash", pa.string()), ("id", pa.string()), ("row", pa.int64())])
# What the near-duplicate join reads of earlier shards; the texts stay in each shard's file (fetched only for
# the candidates to confirm), so merged blocks are a fraction of the size.
NEAR_JOIN_COLUMNS = ("id", "row", "bands", "sketch")


@dataclass
class ShardAccount:
    """Where each input record of a shard went, with a counter per reason."""

    input_records: int = 0
    kept: int = 0
    filtered: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def balanced(self) -> bool:
        return self.input_records == self.kept + self.filtered + self.duplicates + self.quarantined

    def to_dict(self) -> dict:
        out = asdict(self)
        out["reasons"] = dict(sorted(self.reasons.items()))
        return out


@dataclass
class IngestResult:
    documents: pa.Table
    removed: pa.Table  # filtered and duplicate records, with reason and detail
    quarantine: pa.Table
    content_index: pa.Table  # this shard's own first occurrences (cached for later shards)
    near_index: pa.Table | None  # their MinHash bands and texts (cached for later shards); None: near off
    account: ShardAccount
    seconds: float


class _ShardTables:
    """Row buffers of the four outcomes."""

    def __init__(self, shard: Shard, metadata_fields: Sequence[str]):
        self.shard = shard
        self.metadata_fields = list(metadata_fields)
        self.kept: list[dict] = []
        self.removed: list[dict] = []
        self.quarantine: list[dict] = []
        self.account = ShardAccount()

    def quarantine_record(self, row: int, reason: str, detail: str, raw: str) -> None:
        self.quarantine.append(
            {"shard": self.shard.key, "file": self.shard.uri, "row": row, "reason": reason, "detail": detail, "raw": raw}
        )
        self.account.quarantined += 1
        self.account.reasons[reason] += 1

    def remove(self, doc: dict, reason: str, detail: str) -> None:
        self.removed.append(
            {"id": doc["id"], "shard": self.shard.key, "row": doc["row"], "reason": reason, "detail": detail,
             "content_hash": doc["content_hash"]}
        )
        if reason.startswith("duplicate:"):
            self.account.duplicates += 1
        else:
            self.account.filtered += 1
        self.account.reasons[reason] += 1


def _accept(tables: _ShardTables, record: RawRecord, settings: IngestSettings, seen: dict[str, dict],
            seen_ids: set[str]) -> None:
    """Route one record to quarantine, removed (filter or in-shard duplicate) or the candidates."""
    if record.reason is not None:
        tables.quarantine_record(record.row, record.reason, record.detail, record.raw)
        return
    text = normalize_text(record.text or "", settings.normalization)
    if not text:
        tables.quarantine_record(record.row, EMPTY_TEXT, "text is empty or whitespace", record.raw)
        return
    n_words = len(text.split())
    doc_id = record.doc_id if record.doc_id is not None else f"{tables.shard.key}:{record.row}"
    doc = {"id": doc_id, "text": text, "shard": tables.shard.key, "row": record.row,
           "content_hash": content_hash(text), "n_chars": len(text), "n_words": n_words, **record.metadata}
    reason = length_filter_reason(text, n_words, settings)
    if reason is not None:
        tables.remove(doc, reason, f"{len(text)} chars, {n_words} words")
    elif doc["content_hash"] in seen:
        first = seen[doc["content_hash"]]
        tables.remove(doc, DUPLICATE, f"same text as {first['id']} ({tables.shard.key} row {first['row']})")
    elif doc_id in seen_ids:
        tables.quarantine_record(record.row, DUPLICATE_ID, f"id {doc_id!r} is used by an earlier document",
                                 record.raw)
    else:
        seen[doc["content_hash"]] = doc
        seen_ids.add(doc_id)
        tables.kept.append(doc)


def _earlier_matches(storage: Storage, index: pa.Table, earlier_content: IndexSources | None):
    """For this shard's candidates: the first earlier occurrence of each hash, and reused ids."""
    if earlier_content is None or index.num_rows == 0:
        return {}, set()
    con = storage.duckdb()
    con.register("candidates", index)
    # One scan of the blocks and files (a UNION of one view per shard grew ~3x slower at a thousand shards).
    earlier_content.register(con, "earlier")
    # An entry whose id an even earlier shard used was quarantined (duplicate_id) there, so it is no
    # first occurrence: only entries in the first shard to use their id count.
    con.execute(
        "CREATE TEMP VIEW first_use AS SELECT * FROM earlier "
        "QUALIFY shard_order = min(shard_order) OVER (PARTITION BY id)"
    )
    by_hash = con.execute(
        "SELECT c.content_hash, arg_min(e.id, (e.shard_order, e.row)), arg_min(e.shard, (e.shard_order, e.row)), "
        "min_by(e.row, (e.shard_order, e.row)) FROM candidates c JOIN first_use e USING (content_hash) GROUP BY 1"
    ).fetchall()
    reused_ids = con.execute("SELECT DISTINCT c.id FROM candidates c JOIN earlier e USING (id)").fetchall()
    con.close()
    return {h: (doc_id, shard, row) for h, doc_id, shard, row in by_hash}, {r[0] for r in reused_ids}


def _remove_near_duplicates(tables: _ShardTables, first_occurrences: list[dict], storage: Storage,
                            earlier_near: IndexSources | None, near: NearSettings) -> pa.Table:
    """Move the kept documents with an earlier near-duplicate to removed (`duplicate:near`, naming the twin
    and the Jaccard); returns the shard's near index (of all its own first occurrences, in row order)."""
    index = near_index([d["id"] for d in first_occurrences], [d["row"] for d in first_occurrences],
                       [d["text"] for d in first_occurrences], near)
    connection = storage.duckdb()
    try:
        if earlier_near is not None:
            earlier_near.register(connection, "earlier_near")
        earlier = earlier_shard_twins(connection, index, "earlier_near" if earlier_near else None, near)
        within = within_shard_twins(connection, index, tables.shard.key, near)
    finally:
        connection.close()
    position = {d["id"]: i for i, d in enumerate(first_occurrences)}
    candidates, tables.kept = tables.kept, []
    for doc in candidates:
        twin = earlier.get(position[doc["id"]]) or within.get(position[doc["id"]])  # earlier shards come first
        if twin is not None:
            tables.remove(doc, NEAR_DUPLICATE, twin.detail())
        else:
            tables.kept.append(doc)
    return index


def _table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def _schemas(metadata_fields: Sequence[str]) -> tuple[pa.Schema, pa.Schema, pa.Schema]:
    documents = pa.schema(
        [("id", pa.string()), ("text", pa.string()), ("shard", pa.string()), ("row", pa.int64()),
         ("content_hash", pa.string()), ("n_chars", pa.int64()), ("n_words", pa.int64())]
        + [(name, pa.string()) for name in metadata_fields]
    )
    removed = pa.schema(
        [("id", pa.string()), ("shard", pa.string()), ("row", pa.int64()), ("reason", pa.string()),
         ("detail", pa.string()), ("content_hash", pa.string())]
    )
    quarantine = pa.schema(
        [("shard", pa.string()), ("file", pa.string()), ("row", pa.int64()), ("reason", pa.string()),
         ("detail", pa.string()), ("raw", pa.string())]
    )
    return documents, removed, quarantine


def ingest_shard(
    shard: Shard,
    *,
    options: ReaderOptions,
    settings: IngestSettings,
    storage: Storage,
    earlier_content: IndexSources | None = None,
    earlier_near: IndexSources | None = None,
    log: logging.Logger | None = None,
) -> IngestResult:
    """Read, validate, normalise, filter and deduplicate one shard (docs/architecture.md, storage).

    Args:
        shard: the input file.
        options: what to read from each record.
        settings: normalisation and length filters.
        storage: used for DuckDB over the earlier shards' content indexes.
        earlier_content: the content indexes of every shard before this one in key order (`earlier_indexes`).
        earlier_near: the near indexes of the same shards (near-duplicates, when on).
        log: progress every few seconds.
    """
    log = log or logging.getLogger(__name__)
    started = last_report = time.perf_counter()
    tables = _ShardTables(shard, options.metadata_fields)
    seen: dict[str, dict] = {}
    seen_ids: set[str] = set()
    for record in read_shard(shard, options):
        tables.account.input_records += 1
        _accept(tables, record, settings, seen, seen_ids)
        if time.perf_counter() - last_report > PROGRESS_EVERY_SECONDS:
            last_report = time.perf_counter()
            rate = tables.account.input_records / (last_report - started)
            log.info(f"{shard.key}: {tables.account.input_records:,} records read ({rate:,.0f}/s)")
    content_index = _table([{"content_hash": d["content_hash"], "id": d["id"], "row": d["row"]} for d in tables.kept],
                           INDEX_SCHEMA)
    earlier_hashes, reused_ids = _earlier_matches(storage, content_index, earlier_content)
    candidates, tables.kept = tables.kept, []
    for doc in candidates:
        first = earlier_hashes.get(doc["content_hash"])
        if first is not None:
            tables.remove(doc, DUPLICATE, f"same text as {first[0]} ({first[1]} row {first[2]})")
        elif doc["id"] in reused_ids:
            tables.quarantine_record(doc["row"], DUPLICATE_ID, f"id {doc['id']!r} is used in an earlier shard", "")
        else:
            tables.kept.append(doc)
    near_index = None
    if settings.near is not None:
        near_index = _remove_near_duplicates(tables, candidates, storage, earlier_near, settings.near)
    tables.account.kept = len(tables.kept)
    documents_schema, removed_schema, quarantine_schema = _schemas(options.metadata_fields)
    return IngestResult(
        documents=_table(tables.kept, documents_schema),
        removed=_table(tables.removed, removed_schema),
        quarantine=_table(tables.quarantine, quarantine_schema),
        content_index=content_index,
        near_index=near_index,
        account=tables.account,
        seconds=time.perf_counter() - started,
    )
