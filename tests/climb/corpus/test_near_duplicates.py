"""Lexical near-duplicates: MinHash LSH candidates confirmed by exact Jaccard, within and across shards."""

from __future__ import annotations

import csv

import pytest

from climb.core.config import ConfigError, load_config
from climb.core.storage import Storage
from climb.corpus.documents import ASSET, config_shards, verify_accounting, write_documents
from climb.corpus.near_duplicates import NEAR_INDEX_CACHE, NearSettings, jaccard, shingles
from tests.conftest import shared_data


def _news(n: int) -> list[str]:
    """`n` real, distinct texts of ~90 words: AG News articles (title and description) two by two."""
    with open(shared_data("ag_news", "test.csv"), newline="", encoding="utf-8") as handle:
        rows = [f"{title}. {description}" for (_, title, description), _ in zip(csv.reader(handle), range(2 * n))]
    return [f"{rows[2 * i]}\n\n{rows[2 * i + 1]}" for i in range(n)]


def _edit(text: str, edits: int = 1) -> str:
    """A reworded copy: `edits` words, evenly spaced, replaced."""
    words = text.split()
    at = {(k + 1) * len(words) // (edits + 1) for k in range(edits)}
    return " ".join("changed" if i in at else w for i, w in enumerate(words))


def _project(tmp_path, write_jsonl, shards: dict[str, list[str]], dedup: str = ""):
    for name, texts in shards.items():
        write_jsonl(f"data/{name}", [{"id": f"{name[0]}{i}", "text": t} for i, t in enumerate(texts)])
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: [data/*.jsonl]\n  id_field: id\n" + dedup)
    config = load_config(tmp_path / "climb.yaml", home=str(tmp_path / "home"))
    return config, Storage(config.storage_root), {s.key: s for s in config_shards(config)}


def _ingest(config, storage, shards, order):
    for key in order:
        write_documents(shards[key], config=config, storage=storage,
                        earlier_shards=[s for k, s in shards.items() if k < key])


def _removed(storage, key):
    return [(r["id"], r["reason"], r["detail"]) for r in storage.read_table(ASSET, "removed.parquet", key).to_pylist()]


@pytest.mark.parametrize("text, ngram, expected", [
    ("One two three", 5, {"one two three"}),
    ("One, two; three four!", 2, {"one two", "two three", "three four"}),
    ("Same words SAME words", 2, {"same words", "words same"}),
])
def test_shingles(text, ngram, expected):
    assert shingles(text, ngram) == expected


def test_jaccard():
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)


def test_within_a_shard_the_first_occurrence_wins(tmp_path, write_jsonl):
    """A lightly reworded copy later in the shard is removed as duplicate:near naming its twin and the Jaccard;
    the original and unrelated articles are kept; the accounting balances."""
    news = _news(20)
    copy = _edit(news[3])  # one word reworded
    config, storage, shards = _project(tmp_path, write_jsonl, {"a.jsonl": news + [copy]})
    _ingest(config, storage, shards, ["a.jsonl"])
    ((doc_id, reason, detail),) = _removed(storage, "a.jsonl")
    expected = jaccard(shingles(copy, 2), shingles(news[3], 2))
    assert (doc_id, reason) == ("a20", "duplicate:near") and expected >= 0.7
    assert detail == f"near duplicate of a3 (a.jsonl row 4), Jaccard {expected:.3f}"
    assert storage.read_table(ASSET, "documents.parquet", "a.jsonl").num_rows == 20
    assert verify_accounting(storage, "a.jsonl")[0]


@pytest.mark.parametrize("order", [["a.jsonl", "b.jsonl"], ["b.jsonl", "a.jsonl"]], ids=["a-first", "b-first"])
def test_across_shards_the_earlier_key_wins(tmp_path, write_jsonl, order):
    """Whatever order shards are ingested in, the copy in the later shard is the one removed."""
    news = _news(12)
    config, storage, shards = _project(tmp_path, write_jsonl, {
        "a.jsonl": news[:6], "b.jsonl": news[6:] + [_edit(news[2])]})
    _ingest(config, storage, shards, order)
    assert [r[:2] for r in _removed(storage, "b.jsonl")] == [("b6", "duplicate:near")]
    assert "near duplicate of a2 (a.jsonl row 3)" in _removed(storage, "b.jsonl")[0][2]
    assert _removed(storage, "a.jsonl") == []


def test_the_exact_jaccard_decides(tmp_path, write_jsonl):
    """A pair LSH proposes is removed only at or above the threshold: the same copy stays under 0.95."""
    news = _news(10)
    copy = _edit(news[1], edits=3)
    similarity = jaccard(shingles(copy, 2), shingles(news[1], 2))
    assert 0.6 < similarity < 0.95
    for threshold, removed in ((0.95, 0), (round(similarity - 0.01, 2), 1)):
        config, storage, shards = _project(tmp_path, write_jsonl, {"a.jsonl": news + [copy]},
                                           dedup=f"dedup:\n  near: {{threshold: {threshold}, bands: 28}}\n")
        _ingest(config, storage, shards, ["a.jsonl"])  # new settings, new fingerprint: ingested afresh
        assert len(_removed(storage, "a.jsonl")) == removed, threshold


def test_near_null_keeps_near_duplicates(tmp_path, write_jsonl):
    news = _news(5)
    config, storage, shards = _project(tmp_path, write_jsonl, {"a.jsonl": news + [_edit(news[0])]},
                                       dedup="dedup:\n  near: null\n")
    _ingest(config, storage, shards, ["a.jsonl"])
    assert _removed(storage, "a.jsonl") == []


def test_a_new_shard_hashes_only_itself(tmp_path, write_jsonl):
    """The earlier shards' bands are read from the near_index cache: adding a shard rebuilds none of them."""
    news = _news(30)
    config, storage, shards = _project(tmp_path, write_jsonl, {"a.jsonl": news[:10], "b.jsonl": news[10:20]})
    _ingest(config, storage, shards, ["a.jsonl", "b.jsonl"])
    cache = tmp_path / "home" / "_cache" / NEAR_INDEX_CACHE
    before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")}
    assert len(before) == 2
    write_jsonl("data/c.jsonl", [{"id": f"c{i}", "text": t} for i, t in enumerate(news[20:] + [_edit(news[15])])])
    shards = {s.key: s for s in config_shards(config)}
    _ingest(config, storage, shards, ["c.jsonl"])
    after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")}
    assert {k: after[k] for k in before} == before and len(after) == 3
    assert [r[:2] for r in _removed(storage, "c.jsonl")] == [("c10", "duplicate:near")]


def test_bands_must_divide_permutations(tmp_path):
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: ['*.jsonl']\ndedup:\n  near: {num_perm: 100, bands: 14}\n")
    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n')
    with pytest.raises(ConfigError, match=r"num_perm \(100\) must be a multiple of bands \(14\)"):
        load_config(tmp_path / "climb.yaml")


def test_settings_default():
    assert NearSettings() == NearSettings(threshold=0.7, ngram=2, num_perm=112, bands=None, seed=0)
    assert NearSettings().band_count == 28 and NearSettings(threshold=0.9).band_count == 14  # 28 x 4, 14 x 8
