"""Tests for the storage root (climb.core.storage.Storage): atomic partitions, recovery, caches, DuckDB."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest

from climb.core.storage import CACHE, MANIFEST, STAGING, Storage, partition_dir_name

TABLE = pa.table({"x": [1, 2, 3], "s": ["a", "b", "c"]})


def _write(storage: Storage, partition: str | None, version: int, extra: str | None = None) -> None:
    with storage.write_partition("docs", partition) as writer:
        writer.write_table("t.parquet", pa.table({"version": [version]}))
        writer.write_json("meta.json", {"version": version})
        if extra:
            writer.write_bytes(extra, b"only in this version")


def _version(storage: Storage, partition: str | None) -> int:
    return storage.read_json("docs", "meta.json", partition)["version"]


def _staging_leftovers(root: Path) -> list[Path]:
    """Anything left under <root>/.staging/<asset>/ (the per-asset folder itself may stay)."""
    return list((root / STAGING).glob("*/*"))


@pytest.fixture
def memory_storage():
    """A Storage on fsspec's in-memory filesystem, under a unique root removed afterwards."""
    root = f"memory://climb-test-{uuid.uuid4().hex}"
    storage = Storage(root)
    yield storage
    storage.fs.rm(storage._root_path, recursive=True)


# ------------------------------------------------------------------------------ atomic commit
def test_nothing_visible_before_the_block_ends(storage):
    """Inside write_partition the new partition is invisible; after the block it is committed with a manifest."""
    with storage.write_partition("docs", "p") as writer:
        writer.write_table("t.parquet", TABLE)
        assert storage.partition_path("docs", "p") is None
        assert storage.committed_partitions("docs") == []
        with pytest.raises(FileNotFoundError, match=r"docs\[p\] has not been materialised"):
            storage.require("docs", "p")
    assert storage.read_table("docs", "t.parquet", "p").equals(TABLE)
    manifest = storage.manifest("docs", "p")
    assert (manifest["asset"], manifest["partition"], manifest["files"]) == ("docs", "p", ["t.parquet"])


def test_old_partition_visible_while_rewriting(storage):
    """While a partition is being rewritten, readers still see the old version, whole."""
    _write(storage, "p", 1)
    with storage.write_partition("docs", "p") as writer:
        writer.write_json("meta.json", {"version": 2})
        assert _version(storage, "p") == 1
    assert _version(storage, "p") == 2


@pytest.mark.parametrize("had_previous", [True, False], ids=["rewrite", "first-write"])
def test_exception_leaves_previous_state_and_no_staging(storage, tmp_path, had_previous):
    """An exception inside the block commits nothing, keeps the previous partition and removes the staging folder."""
    if had_previous:
        _write(storage, "p", 1)
    with pytest.raises(RuntimeError, match="boom"):
        with storage.write_partition("docs", "p") as writer:
            writer.write_json("meta.json", {"version": 2})
            raise RuntimeError("boom")
    if had_previous:
        assert _version(storage, "p") == 1
    else:
        assert storage.partition_path("docs", "p") is None
    assert _staging_leftovers(tmp_path / "home") == []


def test_rewrite_replaces_every_file(storage, tmp_path):
    """Re-writing a partition replaces it whole: a file of the old version not rewritten is gone."""
    _write(storage, "p", 1, extra="old_only.bin")
    _write(storage, "p", 2)
    folder = Path(storage.require("docs", "p"))
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "meta.json", "t.parquet"]
    assert storage.manifest("docs", "p")["files"] == ["meta.json", "t.parquet"]
    assert not list(folder.parent.glob("*.replaced-*"))
    assert _staging_leftovers(tmp_path / "home") == []


def test_nested_file_names_are_staged(storage):
    """A file name with folders is created inside the partition and listed in the manifest."""
    with storage.write_partition("docs", "p") as writer:
        writer.write_bytes("sub/deep/blob.bin", b"\x00\x01")
    assert (Path(storage.require("docs", "p")) / "sub" / "deep" / "blob.bin").read_bytes() == b"\x00\x01"
    assert storage.manifest("docs", "p")["files"] == ["sub/deep/blob.bin"]


def test_unpartitioned_asset(storage, tmp_path):
    """partition=None writes the asset's own folder."""
    _write(storage, None, 1)
    assert storage.require("docs") == str(tmp_path / "home" / "docs")
    assert _version(storage, None) == 1


# ------------------------------------------------------------------------------ partition keys and listing
@pytest.mark.parametrize("key", ["web/a.jsonl", "a b.csv", "deep/er/x.parquet", "k=v+1@x"])
def test_partition_key_is_one_folder(storage, tmp_path, key):
    """A partition key (even with '/') maps to exactly one folder under the asset and lists back unchanged."""
    _write(storage, key, 1)
    folder = Path(storage.require("docs", key))
    assert folder.parent == tmp_path / "home" / "docs"
    assert folder.name == partition_dir_name(key) and "/" not in folder.name
    assert storage.committed_partitions("docs") == [key]


def test_committed_partitions_lists_only_committed(storage, tmp_path):
    """committed_partitions lists partitions with a manifest, sorted; stray folders and other assets are ignored."""
    _write(storage, "b", 1)
    _write(storage, "a/x", 1)
    _write(storage, "z", 1)
    (tmp_path / "home" / "docs" / "half_written").mkdir()
    (tmp_path / "home" / "docs" / "half_written" / "t.parquet").write_bytes(b"")
    with storage.write_partition("other", "o") as writer:
        writer.write_json("m.json", {})
    assert storage.committed_partitions("docs") == ["a/x", "b", "z"]
    assert storage.committed_partitions("never_written") == []
    assert storage.partition_path("docs", "half_written") is None


# ------------------------------------------------------------------------------ crash recovery
def _crash_between_renames(storage: Storage, tmp_path: Path, key: str) -> Path:
    """Leave the state of a swap killed after 'final -> trash' and before 'staging -> final'."""
    final = tmp_path / "home" / "docs" / partition_dir_name(key)
    trash = final.with_name(f"{final.name}.replaced-{uuid.uuid4().hex}")
    os.rename(final, trash)
    return trash


def test_partition_path_restores_a_half_done_swap(storage, tmp_path):
    """A crash between the two renames of a swap is repaired on the next read: the old partition comes back."""
    _write(storage, "web/a", 1)
    trash = _crash_between_renames(storage, tmp_path, "web/a")
    assert storage.partition_path("docs", "web/a") is not None
    assert _version(storage, "web/a") == 1
    assert not trash.exists()


def test_recovery_keeps_newest_leftover_and_cleans_the_rest(storage, tmp_path):
    """Several leftovers: the most recent is restored, the others are removed."""
    _write(storage, "p", 1)
    older = _crash_between_renames(storage, tmp_path, "p")
    os.utime(older, (1, 1))
    _write(storage, "p", 2)
    newer = _crash_between_renames(storage, tmp_path, "p")
    assert _version(storage, "p") == 2
    assert not older.exists() and not newer.exists()


def test_leftover_trash_is_removed_when_final_exists(storage, tmp_path):
    """A crash after both renames (trash not yet deleted) is cleaned on the next read; the new partition stays."""
    _write(storage, "p", 1)
    final = Path(storage.require("docs", "p"))
    trash = final.with_name(f"{final.name}.replaced-{uuid.uuid4().hex}")
    trash.mkdir()
    (trash / MANIFEST).write_text("{}")
    assert _version(storage, "p") == 1
    assert not trash.exists()


def test_rewrite_after_a_crash(storage, tmp_path):
    """Writing over a half-done swap commits the new version and leaves no leftovers."""
    _write(storage, "p", 1)
    _crash_between_renames(storage, tmp_path, "p")
    _write(storage, "p", 2)
    assert _version(storage, "p") == 2
    assert not list((tmp_path / "home" / "docs").glob("*.replaced-*"))


def test_committed_partitions_after_a_crash(storage, tmp_path):
    """After a crash mid-swap, committed_partitions still lists the partition under its own key, and only it."""
    _write(storage, "p", 1)
    _crash_between_renames(storage, tmp_path, "p")
    assert storage.committed_partitions("docs") == ["p"]


# ------------------------------------------------------------------------------ cache tables
def test_cache_table_round_trip(storage, tmp_path):
    """write_cache_table/read_cache_table round-trip; a missing key reads as None; no temporary file remains."""
    assert storage.read_cache_table("idx", "k1") is None
    storage.write_cache_table("idx", "k1", TABLE)
    storage.write_cache_table("idx", "k1", TABLE.slice(0, 1))  # overwrite in place
    assert storage.read_cache_table("idx", "k1").equals(TABLE.slice(0, 1))
    assert sorted(p.name for p in (tmp_path / "home" / CACHE / "idx").iterdir()) == ["k1.parquet"]


@pytest.mark.parametrize("root", ["local", "memory"])
def test_cache_folder_is_committed_whole(storage, memory_storage, root):
    """write_cache_folder commits `_cache/<name>/<key>/` with its manifest, or nothing when the block fails; a
    rewrite replaces the folder (a saved proxy is never half written)."""
    storage = storage if root == "local" else memory_storage
    assert storage.cache_folder("models", "k") is None
    with pytest.raises(RuntimeError):
        with storage.write_cache_folder("models", "k") as writer:
            writer.write_bytes("weights.bin", b"half")
            raise RuntimeError("killed")
    assert storage.cache_folder("models", "k") is None
    for version in (b"one", b"two"):
        with storage.write_cache_folder("models", "k") as writer:
            writer.write_bytes("weights.bin", version)
    folder = storage.cache_folder("models", "k")
    assert folder.endswith(f"{CACHE}/models/k")
    assert storage.fs.cat(f"{folder}/weights.bin") == b"two" and storage.fs.exists(f"{folder}/{MANIFEST}")


# ------------------------------------------------------------------------------ fsspec memory:// root
def test_memory_root_write_read_and_replace(memory_storage):
    """A memory:// root commits, reads back, lists and replaces partitions like a local one."""
    storage = memory_storage
    assert not storage.is_local
    _write(storage, "web/a", 1, extra="old_only.bin")
    with storage.write_partition("docs", "web/a") as writer:
        writer.write_table("t.parquet", TABLE)
        writer.write_json("meta.json", {"version": 2})
        assert _version(storage, "web/a") == 1
    assert storage.committed_partitions("docs") == ["web/a"]
    assert storage.read_table("docs", "t.parquet", "web/a").equals(TABLE)
    assert _version(storage, "web/a") == 2
    files = storage.fs.ls(storage.require("docs", "web/a"), detail=False)
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == [MANIFEST, "meta.json", "t.parquet"]
    assert storage.uri(storage.require("docs", "web/a")).startswith("memory://")
    assert not [p for p in storage.fs.find(storage._root_path) if f"/{STAGING}/" in p]


def test_memory_root_exception_commits_nothing(memory_storage):
    """On a memory:// root too, an exception inside the block leaves the previous partition."""
    _write(memory_storage, "p", 1)
    with pytest.raises(RuntimeError):
        with memory_storage.write_partition("docs", "p") as writer:
            writer.write_json("meta.json", {"version": 2})
            raise RuntimeError("boom")
    assert _version(memory_storage, "p") == 1


def test_memory_root_cache(memory_storage):
    """Cache tables round-trip on a memory:// root."""
    memory_storage.write_cache_table("idx", "k", TABLE)
    assert memory_storage.read_cache_table("idx", "k").equals(TABLE)


# ------------------------------------------------------------------------------ DuckDB
def test_duckdb_queries_committed_parquet(storage):
    """duckdb() gives a connection that reads a committed Parquet file directly."""
    with storage.write_partition("docs", "web/a") as writer:
        writer.write_table("t.parquet", TABLE)
    path = f"{storage.require('docs', 'web/a')}/t.parquet"
    con = storage.duckdb()
    try:
        assert con.execute(f"SELECT count(*), sum(x), max(s) FROM read_parquet('{path}')").fetchone() == (3, 6, "c")
    finally:
        con.close()


def test_duckdb_over_memory_root(memory_storage):
    """On an fsspec root, duckdb() reads the files through the registered filesystem (storage.uri paths)."""
    with memory_storage.write_partition("docs", "p") as writer:
        writer.write_table("t.parquet", TABLE)
    uri = memory_storage.uri(f"{memory_storage.require('docs', 'p')}/t.parquet")
    con = memory_storage.duckdb()
    try:
        assert con.execute(f"SELECT count(*) FROM read_parquet('{uri}')").fetchone() == (3,)
    finally:
        con.close()


def test_root_is_created(tmp_path):
    """Storage creates its root folder; a trailing slash is dropped from the root."""
    storage = Storage(str(tmp_path / "new" / "root") + "/")
    assert (tmp_path / "new" / "root").is_dir()
    assert storage.root == str(tmp_path / "new" / "root")
    assert isinstance(storage.fs, fsspec.implementations.local.LocalFileSystem)
