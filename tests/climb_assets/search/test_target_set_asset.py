"""Removals after ingest through Dagster: `target_set` finds the training documents overlapping the target and
reports them per split, `semantic_duplicates` finds near-identical embeddings in a fine cluster, and `climblab`
leaves both out with their reasons while its accounting still balances."""

from __future__ import annotations

import json

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from climb.climblab import PRUNED_FILE, documents_sql
from climb.core.config import load_config
from climb.search.target_set import target_documents
from climb.semantic.pruning import RATERS
from climb_assets.climblab.assets import climblab, tokenizer
from climb_assets.climblab.checks import climblab_accounted
from climb_assets.corpus.assets import documents
from climb_assets.partitions import SHARDS
from climb_assets.search.assets import build_search_assets
from climb_assets.semantic.assets import semantic_duplicates
from resources import ProjectResource
from tests.climb.search.test_contamination import _abstracts, _edit, _news

PRUNED_FINE = 2  # fine cluster 2 is pruned; 0 and 1 make super-clusters 0 and 1


def _write_jsonl(path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Two shards of real news; shard a holds a reworded copy of target article 6, shard b an article carrying
    a paragraph of target abstract 1 (and sits in a pruned fine cluster); the target is 20 other articles and 3
    abstracts."""
    root = tmp_path_factory.mktemp("decontamination")
    news, abstracts = _news(120), _abstracts(3)
    (root / "corpus").mkdir()
    target = [{"text": t} for t in news[:20]] + [{"text": "\n\n".join(p)} for p in abstracts]
    _write_jsonl(root / "target.jsonl", target)
    a = [{"id": f"a{i}", "text": t} for i, t in enumerate(news[20:70])] + [{"id": "a-edited", "text": _edit(news[6], 3)}]
    b = [{"id": f"b{i}", "text": t} for i, t in enumerate(news[70:120])] + [
        {"id": "b-embedded", "text": f"{news[60]}\n\n{abstracts[1][1]}\n\n{news[61]}"}]
    _write_jsonl(root / "corpus" / "a.jsonl", a)
    _write_jsonl(root / "corpus" / "b.jsonl", b)
    (root / "climb.yaml").write_text(
        "corpus: {paths: ['corpus/*.jsonl'], id_field: id}\ntokenizer: {train_vocab_size: 300}\n"
        "proxy: {sequence_length: 32}\ntarget: {text: ['target.jsonl'], holdout_fraction: 0.3}\n"
        "dedup: {semantic: {eps: 0.01, keep: centroid}}\n")
    return ProjectResource(config_path=str(root / "climb.yaml"), home=str(root / "home"))


def _fake_clusters(storage, shard_texts: dict[str, list[dict]]) -> None:
    """Committed embeddings, cluster_assignments, quality_scores, clusters and super_clusters for the shards (fine
    cluster by row, `b-embedded` in the pruned one), so climblab runs without embedding anything. The vectors are
    random but a12's copies a10's (fine cluster 0, a10 nearer the centroid)."""
    rng = np.random.default_rng(0)
    supers = {0: {"cluster_id": 0, "label": "zero", "documents": 0, "tokens": 0},
              1: {"cluster_id": 1, "label": "one", "documents": 0, "tokens": 0}}
    for key, rows in shard_texts.items():
        fine = [PRUNED_FINE if r["id"] == "b-embedded" else i % 2 for i, r in enumerate(rows)]
        tokens = [len(r["text"].split()) for r in rows]
        for f, n in zip(fine, tokens):
            if f != PRUNED_FINE:
                supers[f]["documents"] += 1
                supers[f]["tokens"] += n
        ids = [r["id"] for r in rows]
        vectors = rng.normal(size=(len(ids), 16))
        if key == "a.jsonl":
            vectors[12] = vectors[10]
        with storage.write_partition("embeddings", key) as writer:
            writer.write_array("embeddings.npy", (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float16))
        with storage.write_partition("cluster_assignments", key) as writer:
            writer.write_table("assignments.parquet", pa.table({
                "id": ids, "fine_cluster_id": pa.array(fine, pa.int32()), "token_count": pa.array(tokens, pa.int64()),
                "distance": np.linspace(0.1, 1.0, len(ids))}))
        with storage.write_partition("quality_scores", key) as writer:
            writer.write_table("quality_scores.parquet", pa.table({"id": ids, **{r: [3.0] * len(ids) for r in RATERS}}))
    total = sum(s["tokens"] for s in supers.values())
    with storage.write_partition("clusters") as writer:
        writer.write_table("clusters.parquet", pa.Table.from_pylist(
            [{"fine_cluster_id": 0, "prune_reason": ""}, {"fine_cluster_id": 1, "prune_reason": ""},
             {"fine_cluster_id": PRUNED_FINE, "prune_reason": "prune:quality_below_1.0"}]))
    with storage.write_partition("super_clusters") as writer:
        writer.write_table("fine_to_super.parquet", pa.table({
            "fine_cluster_id": pa.array([0, 1, PRUNED_FINE], pa.int32()),
            "super_cluster_id": pa.array([0, 1, None], pa.int32())}))
        writer.write_table("super_clusters.parquet", pa.Table.from_pylist(
            [{**s, "token_share": s["tokens"] / total} for s in supers.values()]))


def test_contaminated_and_semantic_duplicates_are_reported_and_left_out_of_climblab(project):
    """target_set: contaminated.parquet lists exactly a-edited and b-embedded with reason contamination:target and
    their target document; the metadata counts them per split. semantic_duplicates: exactly a12, twin a10.
    climblab: none of the three is in any super-cluster, all are in its pruned profile with their reason
    (b-embedded's pruned cluster does not hide it), the super-cluster counts drop by a-edited and a12, and
    climblab_accounted passes."""
    storage = project.storage()
    target_set = build_search_assets([1])[0]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, ["a.jsonl", "b.jsonl"])
        for key in ("a.jsonl", "b.jsonl"):
            assert dg.materialize([documents], partition_key=key, instance=instance,
                                  resources={"project": project}).success
        result = dg.materialize([tokenizer, target_set], instance=instance, resources={"project": project})
        assert result.success
        metadata = {k: v.value for k, v in result.asset_materializations_for_node("target_set")[0].metadata.items()}
        contaminated = {r["id"]: r for r in storage.read_table("target_set", "contaminated.parquet").to_pylist()}
        _fake_clusters(storage, {key: storage.read_table("documents", "documents.parquet", key).to_pylist()
                                 for key in ("a.jsonl", "b.jsonl")})
        semantic = dg.materialize([semantic_duplicates], instance=instance, resources={"project": project})
        built = dg.materialize([climblab, climblab_accounted], instance=instance, resources={"project": project})
    assert set(contaminated) == {"a-edited", "b-embedded"}
    assert {r["reason"] for r in contaminated.values()} == {"contamination:target"}
    assert contaminated["a-edited"]["target_document"] == "target.jsonl row 7"  # JSONL rows count from 1
    assert contaminated["b-embedded"]["target_document"] == "target.jsonl row 22"
    splits = {d.name: d.split for d in target_documents(load_config(project.config_path))}
    expected = {split: sum(splits[r["target_document"]] == split for r in contaminated.values())
                for split in ("search", "holdout")}
    assert metadata["contaminated_documents"] == 2
    assert (metadata["contaminated_search_documents"], metadata["contaminated_holdout_documents"]) == (
        expected["search"], expected["holdout"])
    assert semantic.success
    assert semantic.asset_materializations_for_node("semantic_duplicates")[0].metadata["duplicates"].value == 1
    [duplicate] = storage.read_table("semantic_duplicates", "semantic_duplicates.parquet").to_pylist()
    assert (duplicate["id"], duplicate["twin"], duplicate["reason"]) == ("a12", "a10", "duplicate:semantic")
    assert built.success
    [check] = built.get_asset_check_evaluations()
    assert check.passed and check.metadata["contaminated"].value == 2
    assert check.metadata["semantic_duplicates"].value == 1
    left_out = {r["id"]: r for r in storage.read_table("climblab", PRUNED_FILE).to_pylist()}
    assert {i for i, r in left_out.items() if r["reason"] == "contamination:target"} == {"a-edited", "b-embedded"}
    assert left_out["a12"]["reason"] == "duplicate:semantic" and "duplicate of a10" in left_out["a12"]["detail"]
    assert left_out["a-edited"]["detail"] == contaminated["a-edited"]["detail"]
    kept = storage.duckdb().execute(
        f"SELECT id FROM {documents_sql(storage)}").fetchall()
    assert not {"a-edited", "b-embedded", "a12"} & {i for (i,) in kept} and len(kept) == 99
    climblab_metadata = built.asset_materializations_for_node("climblab")[0].metadata
    assert climblab_metadata["contaminated_documents"].value == 2 and climblab_metadata["documents"].value == 99
    assert climblab_metadata["semantic_duplicates"].value == 1
