"""The documents of one shard, written to storage with their accounting.

Files of partition `<root>/documents/<shard>/`:
- `documents.parquet`: kept documents (id, text, shard, row, content_hash, n_chars, n_words, metadata fields);
- `removed.parquet`: filtered and duplicate records, with reason and detail;
- `quarantine.parquet`: unusable records (shard, file, row, reason, detail, raw snippet);
- `stats.json`: the accounting (input_records, kept, filtered, duplicates, quarantined, reasons).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow.parquet as pq

from climb.core.config import ClimbConfig, ConfigError
from climb.core.hashing import content_hash
from climb.corpus.index_blocks import BLOCK_SIZE
from climb.corpus.ingest import ShardAccount, ingest_settings, ingest_shard, reader_options
from climb.corpus.shard_caches import earlier_indexes, shard_fingerprints, write_indexes
from climb.corpus.shards import Shard, discover_shards
from climb.core.storage import Storage

ASSET = "documents"
COUNT_FIELDS = ("input_records", "kept", "filtered", "duplicates", "quarantined")


@dataclass(frozen=True)
class ShardReport:
    shard: Shard
    account: ShardAccount
    seconds: float
    path: str
    data_version: str  # documents_version: equal exactly when the committed documents would be


def documents_version(shard: Shard, earlier_shards: Sequence[Shard], config: ClimbConfig) -> str:
    """The version of a shard's documents: its file and reading settings (`shard_fingerprint`) and those of
    every earlier shard, whose texts decide which of this shard's are duplicates. Never the wall clock."""
    return documents_versions([shard, *earlier_shards], config)[shard.key]


def documents_versions(shards: Sequence[Shard], config: ClimbConfig) -> dict[str, str]:
    """The version of every shard's documents, each shard's earlier shards being those of a smaller key; each
    file is looked at once (a stat, not a read), so a thousand shards take a thousand stats."""
    options, settings = reader_options(config.corpus), ingest_settings(config.corpus, config.dedup)
    ordered = sorted(shards)
    fingerprints = shard_fingerprints(ordered, options, settings)
    return {s.key: _version(fingerprints[i], fingerprints[:i]) for i, s in enumerate(ordered)}


def _version(fingerprint: str, earlier_fingerprints: Sequence[str]) -> str:
    """`documents_version` from the shard's fingerprint and those of its earlier shards, in key order."""
    return content_hash([fingerprint, *earlier_fingerprints], length=32)


def config_shards(config: ClimbConfig) -> list[Shard]:
    return discover_shards(config.corpus, config_dir=config.config_dir, storage_root=config.storage_root)


def locate_shard(config: ClimbConfig, key: str) -> Shard:
    """The shard of a partition key, or a ConfigError saying it no longer matches the corpus paths."""
    for shard in config_shards(config):
        if shard.key == key:
            return shard
    raise ConfigError(f"shard {key!r} is not among the files that corpus.paths matches now (was it removed?)")


def write_documents(
    shard: Shard,
    *,
    config: ClimbConfig,
    storage: Storage,
    earlier_shards: Sequence[Shard],
    block_size: int = BLOCK_SIZE,
    log: logging.Logger | None = None,
) -> ShardReport:
    """Ingest one shard and commit its partition (replacing any earlier one).

    Args:
        shard: the input file to ingest.
        config: the project configuration (reader options, normalisation, filters).
        storage: where the partition and the content-index cache go.
        earlier_shards: the shards that come before this one in key order (deduplication).
        block_size: earlier shards per merged index block (climb/corpus/index_blocks.py; the outcome is the same
            for every size).
        log: progress messages.
    """
    options, settings = reader_options(config.corpus), ingest_settings(config.corpus, config.dedup)
    # Each file is stat-ed once here: the fingerprints key the caches and make the version.
    ordered = sorted(earlier_shards)
    *fingerprints, fingerprint = shard_fingerprints([*ordered, shard], options, settings)
    earlier = list(zip(ordered, fingerprints))
    earlier_content, earlier_near = earlier_indexes(storage, earlier, options, settings, block_size=block_size,
                                                    log=log)
    result = ingest_shard(shard, options=options, settings=settings, storage=storage,
                          earlier_content=earlier_content, earlier_near=earlier_near, log=log)
    write_indexes(storage, fingerprint, result.content_index, result.near_index)
    version = _version(fingerprint, [f for s, f in earlier if s < shard])
    stats = {**result.account.to_dict(), "shard": shard.key, "file": shard.uri, "format": shard.format,
             "seconds": round(result.seconds, 3), "data_version": version}
    with storage.write_partition(ASSET, shard.key) as writer:
        writer.write_table("documents.parquet", result.documents)
        writer.write_table("removed.parquet", result.removed)
        writer.write_table("quarantine.parquet", result.quarantine)
        writer.write_json("stats.json", stats)
    return ShardReport(shard, result.account, result.seconds, storage.require(ASSET, shard.key), version)


def verify_accounting(storage: Storage, shard_key: str) -> tuple[bool, dict]:
    """Re-read what was committed: the identity holds and every file has the rows the stats claim."""
    stats = storage.read_json(ASSET, "stats.json", shard_key)
    path = storage.require(ASSET, shard_key)

    def rows(name: str) -> int:
        with storage.fs.open(f"{path}/{name}", "rb") as handle:
            return pq.ParquetFile(handle).metadata.num_rows

    removed = storage.read_table(ASSET, "removed.parquet", shard_key, columns=["reason"]).column("reason").to_pylist()
    observed = {
        "kept": rows("documents.parquet"),
        "quarantined": rows("quarantine.parquet"),
        "duplicates": sum(r.startswith("duplicate:") for r in removed),
        "filtered": sum(r.startswith("filter:") for r in removed),
    }
    identity = stats["input_records"] == sum(stats[k] for k in COUNT_FIELDS[1:])
    files_agree = all(observed[k] == stats[k] for k in observed)
    return identity and files_agree, {**{k: stats[k] for k in COUNT_FIELDS}, "rows_in_files": observed}
