"""Merged index blocks: the earlier shards' cached indexes as DuckDB reads them for cross-shard deduplication.

Every shard's `content_index` and `near_index_v2` is a small Parquet file cached by its fingerprint
(climb/corpus/shard_caches.py; docs/architecture.md, caches). Scanning one file per earlier shard made
ingesting the n-th shard cost ~n file opens, so the whole corpus cost ~n²/2. Instead the earlier shards, in key order, are cut into aligned blocks
of `BLOCK_SIZE` consecutive shards (shards 0-63, 64-127, ...); each full block's files are merged once into
one cached file, `<root>/_cache/<cache>_blocks/<key>.parquet`, and a shard reads the full blocks plus the
single files of the shards after the last full block.

A block's key is a hash of its members' shard keys and fingerprints, so editing, adding or removing a member
(or inserting a shard before it, which shifts the alignment) gives a new key: blocks are content-addressed,
never updated, built when first needed and written atomically. Adding a shard after the others leaves every
block there is valid. Each block row carries its `shard` and the member's `fingerprint`, which names the
member file (`filename`), where the near-duplicate check fetches texts: blocks do not copy them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from climb.core.hashing import content_hash
from climb.core.storage import Storage
from climb.core.tables import sql_list, sql_string

__all__ = ["BLOCK_SIZE", "IndexSources", "index_sources"]

# A shard after n earlier shards reads n // 64 blocks and at most 63 single files: at most 78 files at 1,000
# shards, 127 up to 4,096 shards (where 64 = sqrt(4,096) minimises blocks + singles), against one file per
# earlier shard before; editing a shard rebuilds the one block of 64 small files that holds it. At 1,000 shards
# of 5 documents, blocks of 16, 32, 64 and 128 measured alike (~0.4 s a step, mostly DuckDB's fixed costs).
BLOCK_SIZE = 64


@dataclass(frozen=True)
class IndexSources:
    """Where one cache's entries of the earlier shards are, for one DuckDB view.

    Attributes:
        cache: the member files' cache name (`content_index`, `near_index_v2`).
        columns: the member columns the view carries (the near index's texts stay in the member files).
        directory: the URI of the member files' folder; a member's file is `<directory>/<fingerprint>.parquet`.
        shards: every earlier shard key, in key order (the view's `shard_order`).
        blocks: the URIs of the full blocks' files.
        singles: (shard key, file URI) of the shards after the last full block.
    """

    cache: str
    columns: tuple[str, ...]
    directory: str
    shards: tuple[str, ...]
    blocks: tuple[str, ...]
    singles: tuple[tuple[str, str], ...]

    def register(self, connection, name: str) -> None:
        """Create the temporary view `name` on a DuckDB connection: every entry of the earlier shards, with
        the member columns, `shard`, `filename` (the shard's own cache file) and `shard_order`."""
        connection.register(f"{name}_orders", pa.table({"shard": list(self.shards),
                                                        "shard_order": list(range(len(self.shards)))}))
        columns = ", ".join(f"e.{c}" for c in self.columns)
        parts = []
        if self.blocks:
            parts.append(f"SELECT {columns}, e.shard, {sql_string(self.directory + '/')} || e.fingerprint || "
                         f"'.parquet' AS filename FROM read_parquet({sql_list(self.blocks)}) e")
        if self.singles:
            connection.register(f"{name}_files", pa.table({"filename": [path for _, path in self.singles],
                                                           "shard": [key for key, _ in self.singles]}))
            files = sql_list(path for _, path in self.singles)
            parts.append(f"SELECT {columns}, f.shard, e.filename FROM read_parquet({files}, filename = true) e "
                         f"JOIN {name}_files f USING (filename)")
        assert parts, f"no earlier shard for the view {name}"
        connection.execute(f"CREATE TEMP VIEW {name} AS SELECT u.*, o.shard_order FROM "
                           f"({' UNION ALL '.join(parts)}) u JOIN {name}_orders o USING (shard)")


def _block_key(cache: str, columns: Sequence[str], members: Sequence[tuple[str, str]]) -> str:
    return content_hash([cache, list(columns), [list(member) for member in members]], length=32)


def _build_block(storage: Storage, cache: str, columns: Sequence[str], files: Sequence[str],
                 members: Sequence[tuple[str, str]], key: str) -> None:
    """Merge the members' files into one block (rows in member order, then file order) and cache it."""
    connection = storage.duckdb()
    try:
        connection.register("members", pa.table({"filename": list(files), "shard": [k for k, _ in members],
                                                 "fingerprint": [f for _, f in members],
                                                 "member": list(range(len(members)))}))
        block = connection.sql(
            f"SELECT {', '.join(f'e.{c}' for c in columns)}, m.shard, m.fingerprint FROM read_parquet("
            f"{sql_list(files)}, filename = true, file_row_number = true) e JOIN members m USING (filename) "
            "ORDER BY m.member, e.file_row_number").to_arrow_table()
    finally:
        connection.close()
    storage.write_cache_table(f"{cache}_blocks", key, block)


def index_sources(storage: Storage, earlier: Sequence[tuple[str, str]], cache: str, columns: Sequence[str],
                  block_size: int = BLOCK_SIZE) -> IndexSources | None:
    """The earlier shards' entries of one cache as full blocks (built when missing) and single files.

    Args:
        storage: the storage root whose `_cache/<cache>/` holds every member file already.
        earlier: (shard key, fingerprint) of every earlier shard, in key order.
        cache: the member files' cache name.
        columns: the member columns to carry (and merge into blocks).
        block_size: shards per block; a size larger than the shard count reads single files only.
    Returns None when there is no earlier shard.
    """
    assert block_size >= 1, f"block size {block_size} must be at least 1"
    if not earlier:
        return None
    full = len(earlier) // block_size * block_size
    directory = storage.uri(storage.cache_dir(cache))
    files = [f"{directory}/{fingerprint}.parquet" for _, fingerprint in earlier]
    blocks_dir = storage.cache_dir(f"{cache}_blocks")
    blocks = []
    for start in range(0, full, block_size):
        members = earlier[start:start + block_size]
        key = _block_key(cache, columns, members)
        if not storage.fs.exists(f"{blocks_dir}/{key}.parquet"):
            _build_block(storage, cache, columns, files[start:start + block_size], members, key)
        blocks.append(storage.uri(f"{blocks_dir}/{key}.parquet"))
    return IndexSources(cache, tuple(columns), directory, tuple(key for key, _ in earlier), tuple(blocks),
                        tuple(zip((key for key, _ in earlier[full:]), files[full:])))
