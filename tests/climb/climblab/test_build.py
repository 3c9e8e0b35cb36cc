"""ClimbLab as write_climblab commits it (climb.climblab.build): `climblab/data/` loads in one call with pandas,
pyarrow.dataset, DuckDB and `datasets`, and `climblab/` itself with pandas and pyarrow.dataset, each returning
every document once with its super-cluster id as int32 and the files' columns only; the profiles, token stores
and the storage layer's manifest sit beside `data/` under `_` names, out of those readers' sight;
verify_climblab accepts it and rejects a file outside its cluster's folder; the search's proxy jobs and the
demo's reader find each cluster's documents."""

from __future__ import annotations

import shutil
from dataclasses import asdict

import datasets
import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from climb.climblab.build import (CLIMBLAB, CLUSTERS_FILE, DATA, PROFILES, PRUNED_FILE, TOKEN_STORES,
                                  build_tokenizer, cluster_folder, documents_path, project_tokenizer, token_store,
                                  verify_climblab, write_climblab)
from climb.climblab.token_store import TokenStore
from climb.core.config import TokenizerConfig
from climb.core.storage import MANIFEST, Storage
from climb.demo.planted import cluster_domains
from climb.search.round_runs import make_jobs
from climb.search.rounds import search_space
from climb.search.targets import TargetPart
from tests.climb.search.helpers_search import make_config
from tests.climb_assets.search.test_target_set_asset import PRUNED_FINE, _fake_clusters

WORDS = "grain river market engine garden orbit violin harbour cotton signal lantern meadow".split()
PRUNED_ID = "b-embedded"  # _fake_clusters puts this id in the pruned fine cluster


def _shard(prefix: str, n: int) -> list[dict]:
    """n documents; _fake_clusters gives row i fine cluster i % 2, which is also its super-cluster."""
    rows = [{"id": f"{prefix}{i}", "text": " ".join(WORDS[(i * j + j) % len(WORDS)] for j in range(12)),
             "domain": "even" if i % 2 == 0 else "odd"} for i in range(n)]
    return rows + ([{"id": PRUNED_ID, "text": "an advertisement", "domain": "pruned"}] if prefix == "b" else [])


SHARDS = {"a.jsonl": _shard("a", 21), "b.jsonl": _shard("b", 16)}
# id -> super-cluster: what every reader must return, each id once (the pruned document in none)
EXPECTED = {r["id"]: i % 2 for rows in SHARDS.values() for i, r in enumerate(rows) if r["id"] != PRUNED_ID}


@pytest.fixture(scope="module")
def storage(tmp_path_factory) -> Storage:
    """A ClimbLab of two shards written by write_climblab over committed upstream partitions and a trained
    tokenizer, as the assets do; a target for the search's jobs."""
    storage = Storage(str(tmp_path_factory.mktemp("climblab")))
    for key, rows in SHARDS.items():
        with storage.write_partition("documents", key) as writer:
            writer.write_table("documents.parquet", pa.Table.from_pylist(rows))
            writer.write_json("stats.json", {"kept": len(rows)})
    _fake_clusters(storage, SHARDS)
    build_tokenizer(storage=storage, shard_keys=sorted(SHARDS), config=TokenizerConfig(train_vocab_size=300))
    write_climblab(storage=storage, shard_keys=sorted(SHARDS), tokenizer=project_tokenizer(storage))
    with storage.write_partition("target_set") as writer:  # what make_jobs reads of a target
        writer.write_json("target.json", {"target_id": "target-0",
                                          "parts": [asdict(TargetPart("text", "text", "loss"))]})
    return storage


# Each reader, given a folder and a cache folder: (id, cluster_id) pairs, cluster_id's type as it names it, columns.
def _pandas(path: str, cache: str) -> tuple[list, str, list]:
    frame = pd.read_parquet(path)
    return list(zip(frame["id"], frame["cluster_id"])), str(frame["cluster_id"].dtype), list(frame.columns)


def _pyarrow(path: str, cache: str) -> tuple[list, str, list]:
    table = ds.dataset(path, format="parquet", partitioning="hive").to_table()
    pairs = list(zip(table.column("id").to_pylist(), table.column("cluster_id").to_pylist()))
    return pairs, str(table.schema.field("cluster_id").type), table.column_names


def _duckdb(path: str, cache: str) -> tuple[list, str, list]:
    relation = duckdb.sql(f"SELECT * FROM read_parquet('{path}/**/*.parquet', hive_partitioning=true)")
    types = dict(zip(relation.columns, map(str, relation.types)))
    return relation.select("id, cluster_id").fetchall(), types["cluster_id"], relation.columns


def _datasets(path: str, cache: str) -> tuple[list, str, list]:
    loaded = datasets.load_dataset("parquet", data_dir=path, split="train", cache_dir=cache)
    return list(zip(loaded["id"], loaded["cluster_id"])), loaded.features["cluster_id"].dtype, loaded.column_names


@pytest.mark.parametrize("read, int32, folder", [
    (_pandas, "int32", DATA), (_pyarrow, "int32", DATA), (_duckdb, "INTEGER", DATA), (_datasets, "int32", DATA),
    (_pandas, "int32", CLIMBLAB), (_pyarrow, "int32", CLIMBLAB)],
    ids=["pandas-data", "pyarrow-data", "duckdb-data", "datasets-data", "pandas-climblab", "pyarrow-climblab"])
def test_every_reader_returns_every_document_once_with_its_cluster(storage, tmp_path, read, int32, folder):
    """One call on data/ (or, for pandas and pyarrow, on climblab/ itself, the folder a user points at) gives each
    kept, unpruned document exactly once, with its super-cluster as int32, and exactly the columns written in
    the files (no extra partition column, no profile's columns)."""
    path = documents_path(storage) if folder == DATA else storage.require(CLIMBLAB)
    pairs, cluster_type, columns = read(path, str(tmp_path / "hf"))
    assert sorted(pairs) == sorted(EXPECTED.items())
    assert cluster_type == int32
    written = storage.read_table(CLIMBLAB, f"{DATA}/{cluster_folder(0)}/part-00000.parquet").column_names
    assert list(columns) == written


def test_data_holds_only_the_documents_and_the_rest_sits_beside_it(storage):
    """data/ holds one folder per super-cluster of Parquet files only (a stray file there breaks `datasets`);
    the profiles, token stores and the manifest are beside it under `_` names, which pyarrow's discovery
    skips, so no Parquet file outside data/ reaches a reader of climblab/."""
    root, data = storage.require(CLIMBLAB), documents_path(storage)
    clusters = storage.read_table(CLIMBLAB, CLUSTERS_FILE).column("cluster_id").to_pylist()
    assert sorted(storage.fs.ls(data, detail=False)) == sorted(f"{data}/{cluster_folder(c)}" for c in clusters)
    assert all(name.endswith(".parquet") for name in storage.fs.find(data))
    beside = {name.rsplit("/", 1)[-1] for name in storage.fs.ls(root, detail=False)}
    assert beside == {DATA, PROFILES, TOKEN_STORES, MANIFEST}
    assert all(name.startswith("_") for name in beside - {DATA})
    assert sorted(storage.fs.ls(f"{root}/{PROFILES}", detail=False)) == [f"{root}/{CLUSTERS_FILE}",
                                                                          f"{root}/{PRUNED_FILE}"]
    assert [token_store(storage, c).n_documents for c in clusters] == [
        sum(1 for v in EXPECTED.values() if v == c) for c in clusters]
    pruned = storage.read_table(CLIMBLAB, PRUNED_FILE).to_pylist()
    assert [(r["id"], r["fine_cluster_id"]) for r in pruned] == [(PRUNED_ID, PRUNED_FINE)]


def test_verify_accepts_it_and_rejects_a_file_outside_its_cluster_folder(storage, tmp_path):
    """The blocking check passes as written; moving a part file into another cluster's folder fails it."""
    passed, details = verify_climblab(storage, sorted(SHARDS))
    assert passed and details["documents_in_climblab"] == len(EXPECTED) and details["pruned"] == 1
    assert details["documents_outside_their_folder"] == 0
    moved = Storage(str(shutil.copytree(storage.root, tmp_path / "moved")))
    data = documents_path(moved)
    shutil.move(f"{data}/{cluster_folder(0)}/part-00000.parquet", f"{data}/{cluster_folder(1)}/part-00099.parquet")
    passed, details = verify_climblab(moved, sorted(SHARDS))
    assert not passed and details["documents_outside_their_folder"] == sum(
        1 for r in SHARDS["a.jsonl"] if EXPECTED.get(r["id"]) == 0)


def test_the_demo_reader_finds_each_clusters_documents(storage):
    """climb.demo.planted reads data/ with its own glob (the demo imports only core): it must see the layout."""
    assert cluster_domains(storage) == {0: "even", 1: "odd"}


def test_the_search_trains_on_each_clusters_token_store(storage, tmp_path):
    """The proxy jobs of climb.search.round_runs point at the token store of each super-cluster."""
    space = search_space(storage)
    [job] = make_jobs(np.array([[0.5, 0.5]]), ["half and half"], storage=storage, config=make_config(tmp_path),
                      space=space, workers=1)
    documents = {c: TokenStore(folder).n_documents for c, folder in job.store_folders.items()}
    assert documents == {c: sum(1 for v in EXPECTED.values() if v == c) for c in space.cluster_ids}
