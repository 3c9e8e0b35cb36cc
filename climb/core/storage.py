"""Storage: one root (local folder or fsspec URI), one folder per asset and partition.

Layout: `<root>/<asset>/<partition>/` (partitioned) or `<root>/<asset>/` (unpartitioned), plain files
that other tools can read (Parquet, JSON, .npy). A partition is written whole into a staging folder,
then committed: `_manifest.json` is written last inside it, and the folder is swapped into place.
A reader sees a partition only when its manifest is there, so a killed run leaves either the old
partition or the new one. Re-materialising replaces the partition. DuckDB queries the Parquet files
directly; it never keeps a database file, so concurrent steps and pods never share a writer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import fsspec
from fsspec.implementations.local import LocalFileSystem
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST = "_manifest.json"
STAGING = ".staging"
CACHE = "_cache"


def partition_dir_name(partition: str) -> str:
    """A partition key as one path component (keys may hold '/')."""
    return quote(partition, safe="")


class PartitionWriter:
    """Files of one partition being written; nothing is visible until the commit."""

    def __init__(self, storage: Storage, path: str):
        self._storage = storage
        self.path = path
        self.files: list[str] = []

    def file(self, name: str) -> str:
        """Path of a file to write in the staging folder (recorded in the manifest)."""
        self.files.append(name)
        target = f"{self.path}/{name}"
        self._storage.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        return target

    def write_table(self, name: str, table: pa.Table, **kwargs: Any) -> str:
        target = self.file(name)
        with self._storage.fs.open(target, "wb") as handle:
            pq.write_table(table, handle, **kwargs)
        return target

    def write_json(self, name: str, obj: Any) -> str:
        target = self.file(name)
        with self._storage.fs.open(target, "w") as handle:
            json.dump(obj, handle, indent=2, sort_keys=True, default=str)
        return target

    def write_array(self, name: str, array) -> str:
        """A NumPy array as .npy (memory-mappable when read back from a local root)."""
        import numpy as np

        target = self.file(name)
        with self._storage.fs.open(target, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        return target

    def put_folder(self, local_folder: str, prefix: str = "") -> list[str]:
        """Copy every file of a local folder into the partition (under `prefix/`)."""
        names = []
        for path in sorted(Path(local_folder).rglob("*")):
            if path.is_file():
                name = f"{prefix}/{path.relative_to(local_folder).as_posix()}" if prefix else path.relative_to(
                    local_folder).as_posix()
                self.write_bytes(name, path.read_bytes())
                names.append(name)
        return names

    def write_bytes(self, name: str, data: bytes) -> str:
        target = self.file(name)
        with self._storage.fs.open(target, "wb") as handle:
            handle.write(data)
        return target


class Storage:
    """The storage root of a project.

    Args:
        root: a local folder or an fsspec URI such as s3://bucket/prefix.
    """

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.fs, self._root_path = fsspec.core.url_to_fs(self.root)
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.fs.makedirs(self._root_path, exist_ok=True)

    # ---- paths -------------------------------------------------------------------------------
    def _dir(self, asset: str, partition: str | None) -> str:
        base = f"{self._root_path}/{asset}"
        return base if partition is None else f"{base}/{partition_dir_name(partition)}"

    def uri(self, path: str) -> str:
        """A path of this storage as something DuckDB, pyarrow or a user can open."""
        return path if self.is_local else self.fs.unstrip_protocol(path)

    def cache_dir(self, name: str) -> str:
        path = f"{self._root_path}/{CACHE}/{name}"
        self.fs.makedirs(path, exist_ok=True)
        return path

    # ---- reading -----------------------------------------------------------------------------
    def partition_path(self, asset: str, partition: str | None = None) -> str | None:
        """The committed folder of a partition, or None when it has never been committed."""
        path = self._dir(asset, partition)
        if self.is_local:
            self._recover_local_swap(path)
        return path if self.fs.exists(f"{path}/{MANIFEST}") else None

    def require(self, asset: str, partition: str | None = None) -> str:
        path = self.partition_path(asset, partition)
        if path is None:
            where = asset if partition is None else f"{asset}[{partition}]"
            raise FileNotFoundError(f"{where} has not been materialised under {self.root}")
        return path

    def manifest(self, asset: str, partition: str | None = None) -> dict[str, Any]:
        with self.fs.open(f"{self.require(asset, partition)}/{MANIFEST}", "r") as handle:
            return json.load(handle)

    def read_table(self, asset: str, name: str, partition: str | None = None, **kwargs: Any) -> pa.Table:
        with self.fs.open(f"{self.require(asset, partition)}/{name}", "rb") as handle:
            return pq.read_table(handle, **kwargs)

    def read_array(self, asset: str, name: str, partition: str | None = None, *, mmap: bool = True):
        """A .npy file of a partition; memory-mapped on local storage unless mmap is False."""
        import numpy as np

        path = f"{self.require(asset, partition)}/{name}"
        if self.is_local and mmap:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        with self.fs.open(path, "rb") as handle:
            return np.load(io.BytesIO(handle.read()), allow_pickle=False)

    def read_json(self, asset: str, name: str, partition: str | None = None) -> Any:
        with self.fs.open(f"{self.require(asset, partition)}/{name}", "r") as handle:
            return json.load(handle)

    def committed_partitions(self, asset: str) -> list[str]:
        from urllib.parse import unquote

        base = f"{self._root_path}/{asset}"
        if not self.fs.exists(base):
            return []
        names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(base, detail=False)]
        if self.is_local:  # finish any swap a killed process left half done
            for name in {n.split(".replaced-", 1)[0] for n in names if ".replaced-" in n}:
                self._recover_local_swap(f"{base}/{name}")
            names = [p.rsplit("/", 1)[-1] for p in self.fs.ls(base, detail=False)]
        names = [n for n in names if ".replaced-" not in n]
        return sorted(unquote(n) for n in names if self.fs.exists(f"{base}/{n}/{MANIFEST}"))

    def cache_folder(self, name: str, key: str) -> str | None:
        """The committed folder `<root>/_cache/<name>/<key>/` (write_cache_folder), or None."""
        return self.partition_path(f"{CACHE}/{name}", key)

    # ---- writing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def write_partition(self, asset: str, partition: str | None = None) -> Iterator[PartitionWriter]:
        """Stage the files of a partition; commit them together when the block ends without error."""
        staging = f"{self._root_path}/{STAGING}/{asset}/{uuid.uuid4().hex}"
        self.fs.makedirs(staging, exist_ok=True)
        writer = PartitionWriter(self, staging)
        try:
            yield writer
            manifest = {
                "asset": asset,
                "partition": partition,
                "files": sorted(set(writer.files)),
                "committed_at": time.time(),
                "version": staging.rsplit("/", 1)[-1],
            }
            with self.fs.open(f"{staging}/{MANIFEST}", "w") as handle:
                json.dump(manifest, handle, indent=2)
            self._commit(staging, self._dir(asset, partition))
        finally:
            if self.fs.exists(staging):
                self.fs.rm(staging, recursive=True)

    def write_cache_folder(self, name: str, key: str) -> contextlib.AbstractContextManager[PartitionWriter]:
        """Stage a folder of the cache, `<root>/_cache/<name>/<key>/`, committed like a partition (manifest last)."""
        return self.write_partition(f"{CACHE}/{name}", key)

    def _commit(self, staging: str, final: str) -> None:
        if self.is_local:
            self._commit_local(staging, final)
            return
        # Object stores have no folder rename: drop the manifest first (the old partition
        # disappears), copy the new files, then the manifest (the new one appears).
        if self.fs.exists(final):
            self.fs.rm(final, recursive=True)
        for path in self.fs.find(staging):
            if not path.endswith(MANIFEST):
                self.fs.copy(path, final + path[len(staging) :])
        self.fs.copy(f"{staging}/{MANIFEST}", f"{final}/{MANIFEST}")

    def _commit_local(self, staging: str, final: str) -> None:
        Path(final).parent.mkdir(parents=True, exist_ok=True)
        trash = f"{final}.replaced-{uuid.uuid4().hex}"
        if os.path.exists(final):
            os.rename(final, trash)  # a crash right here is repaired by _recover_local_swap
        os.rename(staging, final)
        if os.path.exists(trash):
            shutil.rmtree(trash, ignore_errors=True)

    def _recover_local_swap(self, final: str) -> None:
        """Finish a swap that a killed process left half done."""
        parent = Path(final).parent
        if not parent.exists():
            return
        leftovers = sorted(parent.glob(Path(final).name + ".replaced-*"), key=os.path.getmtime)
        if leftovers and not os.path.exists(final):
            os.rename(leftovers[-1], final)
            leftovers = leftovers[:-1]
        for leftover in leftovers:
            shutil.rmtree(leftover, ignore_errors=True)

    def _write_cache_bytes(self, target: str, data: bytes) -> None:
        """One cache file written atomically: a temporary name, then a rename."""
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        with self.fs.open(temporary, "wb") as handle:
            handle.write(data)
        self.fs.mv(temporary, target)

    def write_cache_table(self, name: str, key: str, table: pa.Table) -> None:
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        self._write_cache_bytes(f"{self.cache_dir(name)}/{key}.parquet", buffer.getvalue())

    def read_cache_table(self, name: str, key: str) -> pa.Table | None:
        target = f"{self.cache_dir(name)}/{key}.parquet"
        if not self.fs.exists(target):
            return None
        with self.fs.open(target, "rb") as handle:
            return pq.read_table(handle)

    def write_cache_json(self, name: str, key: str, obj: Any) -> None:
        self._write_cache_bytes(f"{self.cache_dir(name)}/{key}.json",
                                json.dumps(obj, indent=1, sort_keys=True).encode())

    def read_cache_json(self, name: str, key: str) -> Any | None:
        target = f"{self.cache_dir(name)}/{key}.json"
        if not self.fs.exists(target):
            return None
        with self.fs.open(target, "r") as handle:
            return json.load(handle)

    # ---- querying ----------------------------------------------------------------------------
    def duckdb(self):
        """An in-memory DuckDB connection that can read this storage's files."""
        import duckdb

        connection = duckdb.connect(":memory:")
        if not self.is_local:
            connection.register_filesystem(self.fs)
        return connection
