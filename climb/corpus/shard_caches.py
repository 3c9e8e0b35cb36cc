"""The cached indexes of earlier shards that cross-shard deduplication reads: each shard's content index and
near index under its fingerprint (built by ingesting the shard in memory when missing or stale), full blocks of
them merged (climb/corpus/index_blocks.py); docs/architecture.md, caches."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict

import pyarrow as pa

from climb.core import hashing
from climb.core.storage import Storage
from climb.corpus.filters import IngestSettings
from climb.corpus.index_blocks import BLOCK_SIZE, IndexSources, index_sources
from climb.corpus.ingest import CONTENT_INDEX_CACHE, INDEX_SCHEMA, NEAR_JOIN_COLUMNS, ingest_shard
from climb.corpus.near_duplicates import NEAR_INDEX_CACHE, NEAR_INDEX_SCHEMA
from climb.corpus.readers import ReaderOptions, UnreadableFileError
from climb.corpus.shards import Shard


def shard_fingerprint(shard: Shard, options: ReaderOptions, settings: IngestSettings, storage_fs=None) -> str:
    """Changes when the file or anything that changes how it is read changes."""
    return shard_fingerprints([shard], options, settings)[0]


def shard_fingerprints(shards: Sequence[Shard], options: ReaderOptions, settings: IngestSettings) -> list[str]:
    """`shard_fingerprint` of each shard: a stat of its file (each file of a folder), the settings turned into
    data once (per shard, that conversion cost as much as the stat at a thousand shards)."""
    import fsspec

    reading = [asdict(options), asdict(settings)]
    fingerprints = []
    for shard in shards:
        fs, path = fsspec.core.url_to_fs(shard.uri)
        if fs.isdir(path):
            file_keys = sorted((p, fs.ukey(p)) for p in fs.find(path))
        else:
            file_keys = [(path, fs.ukey(path))]
        fingerprints.append(hashing.content_hash([shard.uri, shard.format, file_keys, *reading], length=32))
    return fingerprints


def _cache_indexes(storage: Storage, shard: Shard, fingerprint: str, options: ReaderOptions,
                   settings: IngestSettings, log: logging.Logger) -> None:
    """Build the cached content index and near index of an earlier shard (by ingesting it in memory)."""
    log.info(f"building the indexes of earlier shard {shard.key}")
    try:
        result = ingest_shard(shard, options=options, settings=settings, storage=storage)
        content, near = result.content_index, result.near_index
    except UnreadableFileError as err:
        # That shard fails its own partition; it contributes no document, so nothing here is its duplicate.
        log.warning(f"earlier shard {shard.key} is unreadable: {err}")
        content, near = INDEX_SCHEMA.empty_table(), NEAR_INDEX_SCHEMA.empty_table()
    write_indexes(storage, fingerprint, content, near if settings.near else None)


def _cached_fingerprints(storage: Storage, cache: str) -> set[str]:
    """The fingerprints a cache holds a file of: one listing, not a stat per shard."""
    folder = storage.cache_dir(cache)
    storage.fs.invalidate_cache(folder)  # object stores cache listings; other processes write here too
    return {path.rsplit("/", 1)[-1].removesuffix(".parquet")
            for path in storage.fs.ls(folder, detail=False) if path.endswith(".parquet")}


def earlier_indexes(storage: Storage, earlier: Sequence[tuple[Shard, str]], options: ReaderOptions,
                    settings: IngestSettings, *, block_size: int = BLOCK_SIZE,
                    log: logging.Logger | None = None) -> tuple[IndexSources | None, IndexSources | None]:
    """The content indexes and near indexes (None when near-duplicates are off) of the earlier shards, for
    `ingest_shard`: each shard's files built when either is missing or stale (another fingerprint), full
    blocks of them merged (index_blocks.py).

    Args:
        storage: the storage root of the caches.
        earlier: (shard, `shard_fingerprint`) of every earlier shard, in key order.
        options, settings: how the shards are read and deduplicated.
        block_size: shards per merged block.
        log: which shard's indexes are being built.
    """
    log = log or logging.getLogger(__name__)
    caches = [CONTENT_INDEX_CACHE] + ([NEAR_INDEX_CACHE] if settings.near is not None else [])
    complete = set.intersection(*(_cached_fingerprints(storage, cache) for cache in caches))
    for shard, fingerprint in earlier:
        if fingerprint not in complete:
            _cache_indexes(storage, shard, fingerprint, options, settings, log)
    members = [(shard.key, fingerprint) for shard, fingerprint in earlier]
    content = index_sources(storage, members, CONTENT_INDEX_CACHE, INDEX_SCHEMA.names, block_size)
    if settings.near is None:
        return content, None
    return content, index_sources(storage, members, NEAR_INDEX_CACHE, NEAR_JOIN_COLUMNS, block_size)


def write_indexes(storage: Storage, fingerprint: str, content_index: pa.Table, near: pa.Table | None) -> None:
    """Cache a shard's indexes under its fingerprint, the near index first: the content index's presence
    is not taken to mean both are there (`earlier_indexes` checks each)."""
    if near is not None:
        storage.write_cache_table(NEAR_INDEX_CACHE, fingerprint, near)
    storage.write_cache_table(CONTENT_INDEX_CACHE, fingerprint, content_index)
