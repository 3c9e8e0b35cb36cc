"""Merged index blocks: reading the earlier shards' indexes merged in blocks decides exactly what reading one
file per shard does, and blocks are content-addressed (an edited member gives a new block, a later shard none)."""

from __future__ import annotations


import pytest

from climb.core.config import load_config
from climb.core.storage import Storage
from climb.corpus.documents import ASSET, config_shards, write_documents
from climb.corpus.ingest import CONTENT_INDEX_CACHE
from climb.corpus.near_duplicates import NEAR_INDEX_CACHE
from tests.climb.corpus.test_near_duplicates import _news

NO_BLOCKS = 10**9  # more shards per block than any test has: every earlier shard is read from its own file


def _edit(text: str, at: float = 0.5) -> str:
    """A copy with one word replaced, `at` of the way in (Jaccard of word 5-grams ~0.9 on these texts)."""
    words = text.split()
    return " ".join("changed" if i == int(at * len(words)) else w for i, w in enumerate(words))


def _corpus(news: list[str]) -> dict[str, list[tuple[str, str]]]:
    """(id, text) per shard: exact and near copies of texts several shards back, a reused id (`x`: first used in
    a, reused in d with a new text), and that text again in e (kept: d's copy was quarantined) and in h."""
    n = news
    return {
        "a.jsonl": [("a0", n[0]), ("a1", n[1]), ("x", n[2])],
        "b.jsonl": [("b0", n[3]), ("b1", n[0])],
        "c.jsonl": [("c0", n[4]), ("c1", _edit(n[1]))],
        "d.jsonl": [("x", n[5]), ("d1", n[6])],
        "e.jsonl": [("e0", n[0]), ("e1", _edit(n[3])), ("e2", n[5])],
        "f.jsonl": [("f0", _edit(n[5])), ("f1", n[6]), ("f2", _edit(n[4]))],
        "g.jsonl": [("g0", n[7]), ("e2", n[8]), ("g2", n[1])],
        "h.jsonl": [("h0", _edit(n[3], at=0.25)), ("h1", n[5]), ("h2", _edit(n[6]))],
    }


def _write(write_jsonl, name: str, docs: list[tuple[str, str]]) -> None:
    write_jsonl(f"data/{name}", [{"id": doc_id, "text": text} for doc_id, text in docs])


def _project(tmp_path, write_jsonl, corpus: dict[str, list[tuple[str, str]]], dedup: str = ""):
    """The shards of `corpus` under tmp_path/data/ and a config over them."""
    for name, docs in corpus.items():
        _write(write_jsonl, name, docs)
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: [data/*.jsonl]\n  id_field: id\n" + dedup)
    return _open(tmp_path, "home")


def _open(tmp_path, home: str):
    """The project's config with the storage root tmp_path/`home`, that storage, the shards."""
    config = load_config(tmp_path / "climb.yaml", home=str(tmp_path / home))
    return config, Storage(config.storage_root), config_shards(config)


def _ingest_all(config, storage, shards, block_size: int) -> None:
    for i, shard in enumerate(shards):
        write_documents(shard, config=config, storage=storage, earlier_shards=shards[:i], block_size=block_size)


def _outcome(storage, shards) -> dict:
    """Everything committed for every shard, but the seconds it took."""
    out = {}
    for shard in shards:
        stats = storage.read_json(ASSET, "stats.json", shard.key)
        stats.pop("seconds")
        out[shard.key] = {"stats": stats, **{name: storage.read_table(ASSET, f"{name}.parquet", shard.key).to_pylist()
                                             for name in ("documents", "removed", "quarantine")}}
    return out


def _blocks(storage: Storage, cache: str) -> dict[str, int]:
    """The block files of a cache, with their modification times."""
    folder = storage.cache_dir(f"{cache}_blocks")
    return {path: storage.fs.info(path)["mtime"] for path in storage.fs.glob(f"{folder}/*.parquet")}


@pytest.mark.parametrize("dedup", ["", "dedup:\n  near: null\n"], ids=["near", "exact-only"])
def test_blocks_decide_what_single_files_decide(tmp_path, write_jsonl, dedup):
    """With blocks of 1, 2 or 3 shards (duplicates, twins and the reused id on both sides of block boundaries)
    every shard's documents, removals with their details, quarantine and stats equal those without blocks."""
    _project(tmp_path, write_jsonl, _corpus(_news(9)), dedup)
    expected = None
    for block_size in (NO_BLOCKS, 1, 2, 3):
        config, storage, shards = _open(tmp_path, f"home_{block_size}")  # the same files: the same versions
        _ingest_all(config, storage, shards, block_size)
        outcome = _outcome(storage, shards)
        expected = expected or outcome
        assert outcome == expected, block_size
        built = (len(shards) - 1) // block_size  # the last shard reads every full block of the 7 before it
        assert len(_blocks(storage, CONTENT_INDEX_CACHE)) == built, block_size
        assert len(_blocks(storage, NEAR_INDEX_CACHE)) == (built if dedup == "" else 0), block_size
    reasons = [(key, r["id"], r["reason"], r["detail"].split(",")[0]) for key, o in expected.items()
               for r in o["removed"]]
    quarantined = [(key, q["row"], q["reason"]) for key, o in expected.items() for q in o["quarantine"]]
    exact = [("b.jsonl", "b1", "duplicate:exact", "same text as a0 (a.jsonl row 1)"),
             ("e.jsonl", "e0", "duplicate:exact", "same text as a0 (a.jsonl row 1)"),
             ("f.jsonl", "f1", "duplicate:exact", "same text as d1 (d.jsonl row 2)"),
             ("g.jsonl", "g2", "duplicate:exact", "same text as a1 (a.jsonl row 2)"),
             ("h.jsonl", "h1", "duplicate:exact", "same text as e2 (e.jsonl row 3)")]
    near = [("c.jsonl", "c1", "duplicate:near", "near duplicate of a1 (a.jsonl row 2)"),
            ("e.jsonl", "e1", "duplicate:near", "near duplicate of b0 (b.jsonl row 1)"),
            ("f.jsonl", "f0", "duplicate:near", "near duplicate of e2 (e.jsonl row 3)"),
            ("f.jsonl", "f2", "duplicate:near", "near duplicate of c0 (c.jsonl row 1)"),
            ("h.jsonl", "h0", "duplicate:near", "near duplicate of b0 (b.jsonl row 1)"),
            ("h.jsonl", "h2", "duplicate:near", "near duplicate of d1 (d.jsonl row 2)")]
    assert sorted(reasons) == sorted(exact + (near if dedup == "" else []))
    assert quarantined == [("d.jsonl", 1, "quarantine:duplicate_id"), ("g.jsonl", 2, "quarantine:duplicate_id")]


def test_an_edited_member_gives_a_new_block(tmp_path, write_jsonl):
    """Editing a shard of a full block builds a new block (its key hashes the members' fingerprints), and the
    later shard's duplicates follow the edit."""
    news = _news(6)
    corpus = {"a.jsonl": [("a0", news[0])], "b.jsonl": [("b0", news[1])], "c.jsonl": [("c0", news[1])]}
    config, storage, shards = _project(tmp_path, write_jsonl, corpus)
    _ingest_all(config, storage, shards, block_size=2)
    first = _blocks(storage, CONTENT_INDEX_CACHE)
    assert len(first) == 1 and len(_blocks(storage, NEAR_INDEX_CACHE)) == 1
    assert storage.read_json(ASSET, "stats.json", "c.jsonl")["duplicates"] == 1
    _write(write_jsonl, "b.jsonl", [("b0", news[2])])
    write_documents(shards[2], config=config, storage=storage, earlier_shards=shards[:2], block_size=2)
    second = _blocks(storage, CONTENT_INDEX_CACHE)
    assert len(second) == 2 and set(first) < set(second) and len(_blocks(storage, NEAR_INDEX_CACHE)) == 2
    assert storage.read_json(ASSET, "stats.json", "c.jsonl")["duplicates"] == 0


def test_a_later_shard_rebuilds_no_block(tmp_path, write_jsonl):
    """Adding a shard after the others leaves every block there is untouched; it builds only the block that
    its arrival completes."""
    news = _news(6)
    corpus = {f"{name}.jsonl": [(f"{name}0", news[i])] for i, name in enumerate("abcd")}
    config, storage, shards = _project(tmp_path, write_jsonl, corpus)
    _ingest_all(config, storage, shards, block_size=2)  # d reads block [a, b] and c's file
    before = {cache: _blocks(storage, cache) for cache in (CONTENT_INDEX_CACHE, NEAR_INDEX_CACHE)}
    assert [len(blocks) for blocks in before.values()] == [1, 1]
    _write(write_jsonl, "e.jsonl", [("e0", news[4]), ("e1", news[2])])
    shards = config_shards(config)
    write_documents(shards[4], config=config, storage=storage, earlier_shards=shards[:4], block_size=2)
    for cache, blocks in before.items():
        after = _blocks(storage, cache)
        assert {name: after[name] for name in blocks} == blocks and len(after) == 2, cache
    removed = storage.read_table(ASSET, "removed.parquet", "e.jsonl").to_pylist()
    assert [(r["id"], r["detail"]) for r in removed] == [("e1", "same text as c0 (c.jsonl row 1)")]
