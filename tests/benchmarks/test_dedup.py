"""Near-duplicates as a new user meets them: a news corpus with planted copies (reworded headlines, trimmed
endings, a few percent of words edited, a boilerplate line) materialised with Dagster, shard by shard; then
benchmarks/dedup.py's own pieces (the planting, the independent check)."""

import json

import dagster as dg
import pytest

from benchmarks.dedup import DATA, ag_news, distinct_originals, independent_pairs, layout, plant, score
from climb.core.storage import Storage
from climb.corpus.documents import config_shards
from climb.corpus.near_duplicates import NEAR_INDEX_CACHE, jaccard, shingles
from climb_assets.corpus.assets import documents
from climb_assets.corpus.checks import accounting_balances
from climb_assets.partitions import SHARDS
from resources import ProjectResource

pytestmark = pytest.mark.skipif(not (DATA / "ag_news").exists(), reason="../shared/data is not beside the repository")


def _write_shards(folder, shards, first: int = 0):
    folder.mkdir(exist_ok=True)
    for k, rows in enumerate(shards, start=first):
        (folder / f"part_{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _materialize(project, instance, keys):
    instance.add_dynamic_partitions(SHARDS, keys)
    for key in keys:
        result = dg.materialize([documents, accounting_balances], partition_key=key, instance=instance,
                                resources={"project": project})
        assert result.success and all(c.passed for c in result.get_asset_check_evaluations())


def test_planted_news_copies_are_removed_and_a_new_shard_hashes_only_itself(tmp_path):
    """>= 95% of the planted copies removed as duplicate:near, no original removed, accounting balanced (the
    blocking check passes per shard), and a fifth shard added later hashes only itself."""
    originals, _ = distinct_originals(ag_news()[:1500])
    copies = plant(originals[:1000], has_headers=True, seed=3, max_edit_percent=5)
    shards = layout(originals[:1000], copies, seed=3)
    _write_shards(tmp_path / "corpus", shards)
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: [corpus/*.jsonl]\n  id_field: id\n")
    project = ProjectResource(config_path=str(tmp_path / "climb.yaml"), home=str(tmp_path / "home"))
    storage = Storage(project.config().storage_root)
    with dg.instance_for_test() as instance:
        _materialize(project, instance, [s.key for s in config_shards(project.config())])
        removed = {r["id"]: r["detail"] for k in range(4)
                   for r in storage.read_table("documents", "removed.parquet", f"part_{k}.jsonl").to_pylist()
                   if r["reason"] == "duplicate:near"}
        result = score(copies, removed)
        assert result["recall"] >= 0.95 and result["false_positive_count"] == 0, result
        assert {kind for kind in result["recall_by_kind"]} == {"edit", "boilerplate", "trim", "header"}
        for n, copy in enumerate(copies):  # the twin named is the copy's own original
            if f"c{n}" in removed:
                assert removed[f"c{n}"].startswith(f"near duplicate of o{copy['original']} ")

        cache = tmp_path / "home" / "_cache" / NEAR_INDEX_CACHE
        before = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")}
        extra = [{"id": "n0", "text": originals[1200]}, {"id": "n1", "text": copies[0]["text"] + " Advertisement"}]
        _write_shards(tmp_path / "corpus", [extra], first=4)
        _materialize(project, instance, ["part_4.jsonl"])
        after = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.parquet")}
        assert {k: after[k] for k in before} == before and len(after) == len(before) + 1
        new = storage.read_table("documents", "removed.parquet", "part_4.jsonl").to_pylist()
        assert [(r["id"], r["reason"]) for r in new] == [("n1", "duplicate:near")]


def test_the_independent_check_finds_a_known_pair():
    texts = ag_news()
    pairs = independent_pairs(texts[2990:3000], ngram=2, threshold=0.7)  # rows 2995 and 2996 (1-based)
    assert [(i + 2991, j + 2991) for i, j, _ in pairs] == [(2995, 2996)]
    assert pairs[0][2] == pytest.approx(jaccard(shingles(texts[2994], 2), shingles(texts[2995], 2)))


def test_plant_makes_each_kind_with_its_stated_change():
    originals, _ = distinct_originals(ag_news()[:200])
    copies = plant(originals, has_headers=True, seed=0)
    assert len(copies) == round(0.2 * len(originals))
    for copy in copies:
        source, text = originals[copy["original"]], copy["text"]
        if copy["kind"] == "edit":
            changed = sum(a != b for a, b in zip(source.split(), text.split()))
            assert changed == max(1, round(int(copy["detail"][:-1]) / 100 * len(source.split())))
        elif copy["kind"] == "trim":
            assert " ".join(source.split()).startswith(text) and len(text.split()) < len(source.split())
        elif copy["kind"] == "boilerplate":
            assert source in text and text != source
        else:
            assert text.split(" - ", 1)[1] == source.split(". ", 1)[1]
