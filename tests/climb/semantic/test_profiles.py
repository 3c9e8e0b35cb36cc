"""Tests for the cluster profiles (climb.semantic.profiles): per fine cluster documents, tokens, rater means,
keywords and the pruning decision with its reason; then super-clusters merged from the survivors, numbered by
descending tokens, with token shares summing to 1 -- on hand-written documents, assignments, quality scores and
centroids of two shards."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest

from climb.core.storage import Storage
from climb.semantic.merging import MergeSettings
from climb.semantic.profiles import write_cluster_profiles, write_super_clusters

SHARDS = ("shard-a", "shard-b")
RATER_NAMES = ("quality", "educational_value", "informational_value", "advertisement")

# Fine clusters 0..4 (4 holds no document). Per document: (shard, fine cluster, tokens, distance, text, scores).
# Cluster means: 0 -> all 4.0 (quality 3, 4, 5); 1 -> all 3.0 (exactly the paper's bar); 2 -> all 2.5;
# 3 -> 3.5 except advertisement 1.0 (promotional).
FOOTBALL = ("football league goals striker", "football league season goals", "league goals football penalty")
COACHING = ("football coach training tactics", "coach tactics football training")
BAKING = ("flour oven bread baking", "bread flour oven dough")
SPAM = ("discount offer buy coupon", "coupon discount buy offer")
DOCUMENTS = (
    [("shard-a", 0, 100, 0.10, FOOTBALL[0], (3.0, 4.0, 4.0, 4.0)),
     ("shard-b", 0, 100, 0.20, FOOTBALL[1], (4.0, 4.0, 4.0, 4.0)),
     ("shard-b", 0, 100, 0.30, FOOTBALL[2], (5.0, 4.0, 4.0, 4.0))]
    + [(s, 1, 50, 0.40, t, (3.0, 3.0, 3.0, 3.0)) for s, t in zip(SHARDS, COACHING)]
    + [(s, 2, 250, 0.50, t, (2.5, 2.5, 2.5, 2.5)) for s, t in zip(SHARDS, BAKING)]
    + [(s, 3, 20, 0.60, t, (3.5, 3.5, 3.5, 1.0)) for s, t in zip(SHARDS, SPAM)]
)
K = 5
# Unit centroids: 0 and 1 close together, 2 and 3 elsewhere, 4 (empty) on its own axis.
CENTROIDS = np.array([[1.0, 0.0, 0.0, 0.0], [0.95, 0.31, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0],
                      [0.0, 0.0, 0.9, 0.44], [0.0, 1.0, 0.0, 0.0]], dtype=np.float32)
CENTROIDS /= np.linalg.norm(CENTROIDS, axis=1, keepdims=True)


def write_inputs(storage: Storage, documents=DOCUMENTS, centroids=CENTROIDS) -> None:
    """Commit documents, cluster_assignments and quality_scores per shard, and the centroids."""
    for shard in SHARDS:
        rows = [(f"{shard}-{i}", d) for i, d in enumerate(d for d in documents if d[0] == shard)]
        with storage.write_partition("documents", shard) as writer:
            writer.write_table("documents.parquet", pa.table({"id": [r[0] for r in rows],
                                                              "text": [r[1][4] for r in rows]}))
        with storage.write_partition("cluster_assignments", shard) as writer:
            writer.write_table("assignments.parquet", pa.table({
                "id": [r[0] for r in rows], "fine_cluster_id": pa.array([r[1][1] for r in rows], pa.int32()),
                "distance": pa.array([r[1][3] for r in rows], pa.float32()),
                "token_count": pa.array([r[1][2] for r in rows], pa.int64())}))
        with storage.write_partition("quality_scores", shard) as writer:
            writer.write_table("quality_scores.parquet", pa.table({
                "id": [r[0] for r in rows],
                **{name: pa.array([r[1][5][j] for r in rows], pa.float32()) for j, name in enumerate(RATER_NAMES)}}))
    with storage.write_partition("centroids") as writer:
        writer.write_array("centroids.npy", centroids)


@pytest.fixture
def inputs(storage: Storage) -> Storage:
    write_inputs(storage)
    return storage


def profile_rows(storage: Storage) -> dict[int, dict]:
    return {row["fine_cluster_id"]: row for row in storage.read_table("clusters", "clusters.parquet").to_pylist()}


# ---- write_cluster_profiles -------------------------------------------------------------------------------------
def test_profiles_count_documents_tokens_and_means_per_cluster(inputs):
    """One row per fine cluster (the empty one too), aggregated over both shards: documents, tokens, mean
    distance, rater means, keywords from the cluster's texts."""
    write_cluster_profiles(storage=inputs, shard_keys=list(SHARDS), prune="none")
    rows = profile_rows(inputs)
    assert sorted(rows) == list(range(K))
    assert [rows[c]["documents"] for c in range(K)] == [3, 2, 2, 2, 0]
    assert [rows[c]["tokens"] for c in range(K)] == [300, 100, 500, 40, 0]
    assert rows[0]["mean_distance"] == pytest.approx(0.2, abs=1e-6)
    assert rows[4]["mean_distance"] is None
    assert rows[0]["quality"] == pytest.approx(4.0) and rows[0]["educational_value"] == pytest.approx(4.0)
    assert rows[3]["advertisement"] == pytest.approx(1.0) and rows[3]["quality"] == pytest.approx(3.5)
    assert all(rows[4][r] is None for r in RATER_NAMES)
    assert "football" in rows[0]["keywords"] and "flour" in rows[2]["keywords"]
    assert "discount" in rows[3]["keywords"] and rows[4]["keywords"] == []
    assert rows[2]["label"] and " · " in rows[2]["label"] and rows[4]["label"] == ""


@pytest.mark.parametrize(
    ("prune", "kept", "reasons"),
    [
        pytest.param("none", [0, 1, 2, 3], {4: "prune:empty"}, id="none"),
        pytest.param("reference", [0, 1, 2], {3: "prune:advertisement_below_2.0", 4: "prune:empty"}, id="reference"),
        pytest.param("paper", [0, 1], {2: "prune:mean_of_raters_below_3.0", 3: "prune:mean_of_raters_below_3.0",
                                       4: "prune:empty"}, id="paper-keeps-the-mean-exactly-at-3"),
        pytest.param({"quality": 3.5}, [0, 3], {1: "prune:quality_below_3.5", 2: "prune:quality_below_3.5",
                                                4: "prune:empty"}, id="custom-quality"),
    ],
)
def test_profiles_record_pruning_decisions_with_reasons(inputs, prune, kept, reasons):
    """kept / prune_reason per cluster follow the rule; the report counts kept and pruned documents, tokens
    and reasons."""
    report = write_cluster_profiles(storage=inputs, shard_keys=list(SHARDS), prune=prune)
    rows = profile_rows(inputs)
    assert [c for c in range(K) if rows[c]["kept"]] == kept
    assert {c: rows[c]["prune_reason"] for c in range(K) if not rows[c]["kept"]} == reasons
    assert all(rows[c]["prune_reason"] == "" for c in kept)
    assert (report.k, report.kept, report.pruned) == (K, len(kept), K - len(kept))
    assert report.documents_kept == sum(rows[c]["documents"] for c in kept)
    assert report.documents_kept + report.documents_pruned == 9
    assert report.tokens_kept == sum(rows[c]["tokens"] for c in kept)
    assert report.tokens_kept + report.tokens_pruned == 940
    expected_counts: dict[str, int] = {}
    for reason in reasons.values():
        expected_counts[reason] = expected_counts.get(reason, 0) + 1
    assert report.reasons == expected_counts
    assert report.path == inputs.require("clusters")
    assert sorted(inputs.manifest("clusters")["files"]) == ["cluster_sizes.png", "clusters.parquet",
                                                             "quality_per_cluster.png"]
    assert report.sizes_png.startswith(b"\x89PNG") and report.quality_png.startswith(b"\x89PNG")


def test_profiles_reading_one_shard_counts_only_its_documents(inputs):
    """shard_keys limits the aggregation: shard-a alone holds one document of each non-empty cluster."""
    write_cluster_profiles(storage=inputs, shard_keys=["shard-a"], prune="none")
    rows = profile_rows(inputs)
    assert [rows[c]["documents"] for c in range(K)] == [1, 1, 1, 1, 0]
    assert rows[0]["quality"] == pytest.approx(3.0)


@pytest.mark.parametrize(
    ("prune", "rule"),
    [({"quality": 5.0}, "custom"), ({"advertisement": 4.5}, "custom")],
)
def test_profiles_pruning_everything_is_an_error(inputs, prune, rule):
    """A rule that removes every cluster fails, naming the rule and the number of clusters, and commits nothing."""
    with pytest.raises(ValueError, match=rf"pruning \({rule}\) removed every one of the {K} clusters"):
        write_cluster_profiles(storage=inputs, shard_keys=list(SHARDS), prune=prune)
    assert inputs.partition_path("clusters") is None


def test_profiles_unknown_prune_preset_is_an_error(inputs):
    with pytest.raises(ValueError, match="unknown prune preset 'strict'"):
        write_cluster_profiles(storage=inputs, shard_keys=list(SHARDS), prune="strict")


def test_profiles_missing_quality_scores_names_the_partition(storage):
    """A shard assigned to clusters but not rated fails naming quality_scores[<shard>]."""
    write_inputs(storage)
    with storage.write_partition("cluster_assignments", "shard-c") as writer:
        writer.write_table("assignments.parquet", storage.read_table("cluster_assignments", "assignments.parquet",
                                                                     "shard-a"))
    with pytest.raises(FileNotFoundError, match=r"quality_scores\[shard-c\]"):
        write_cluster_profiles(storage=storage, shard_keys=["shard-a", "shard-c"], prune="none")


# ---- write_super_clusters ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "members"),
    [
        pytest.param(MergeSettings(threshold=None, target=3, max_token_share=None), [[2], [0], [1]], id="target-3"),
        pytest.param(MergeSettings(threshold=None, target=2, max_token_share=None), [[2], [0, 1]], id="target-2"),
        pytest.param(MergeSettings(threshold=None, target=1, max_token_share=None), [[0, 1, 2]], id="target-1"),
    ],
)
def test_super_clusters_are_numbered_by_descending_tokens(inputs, settings, members):
    """Surviving fine clusters (reference rule: 0, 1, 2) merge into super-clusters numbered by descending tokens;
    documents, tokens and document-weighted rater means add up; token shares sum to 1."""
    write_cluster_profiles(storage=inputs, shard_keys=list(SHARDS), prune="reference")
    report = write_super_clusters(storage=inputs, shard_keys=list(SHARDS), settings=settings)
    fine = profile_rows(inputs)
    assert report.k == len(members)
    table = inputs.read_table("super_clusters", "super_clusters.parquet").to_pylist()
    assert [row["cluster_id"] for row in table] == list(range(len(members)))
    assert [row["fine_clusters"] for row in table] == members
    tokens = [row["tokens"] for row in table]
    assert tokens == sorted(tokens, reverse=True) and sum(tokens) == 900
    assert [row["documents"] for row in table] == [sum(fine[f]["documents"] for f in m) for m in members]
    shares = np.array([row["token_share"] for row in table])
    assert shares.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shares, np.array(tokens) / 900)
    for row, m in zip(table, members):
        documents = sum(fine[f]["documents"] for f in m)
        expected = sum(fine[f]["quality"] * fine[f]["documents"] for f in m) / documents
        assert row["quality"] == pytest.approx(expected)
    mapping = dict(zip(*inputs.read_table("super_clusters", "fine_to_super.parquet").to_pydict().values()))
    assert mapping[3] is None and mapping[4] is None  # pruned clusters belong to no super-cluster
    assert {f: mapping[f] for f in (0, 1, 2)} == {f: sid for sid, m in enumerate(members) for f in m}
    stats = inputs.read_json("super_clusters", "stats.json")
    assert stats["k"] == len(members) and stats["warnings"] == []
    assert report.projection_png.startswith(b"\x89PNG")


def test_super_cluster_keywords_come_from_member_texts(inputs):
    """Super-cluster 1 (fine 0 + 1) is labelled from football texts, super-cluster 0 (fine 2) from baking."""
    write_cluster_profiles(storage=inputs, shard_keys=list(SHARDS), prune="reference")
    write_super_clusters(storage=inputs, shard_keys=list(SHARDS),
                         settings=MergeSettings(threshold=None, target=2, max_token_share=None))
    table = inputs.read_table("super_clusters", "super_clusters.parquet").to_pylist()
    assert "flour" in table[0]["keywords"] and "football" in table[1]["keywords"]
    assert "football" not in table[0]["keywords"]
    assert table[0]["label"] != table[1]["label"]


def test_super_clusters_collapse_guard_warns(inputs, caplog):
    """Asking for one super-cluster with a 0.5 token cap: the guard cuts deeper, stops at a fine cluster holding
    500/900 of the tokens on its own, and says so in the log and stats.json."""
    write_cluster_profiles(storage=inputs, shard_keys=list(SHARDS), prune="reference")
    with caplog.at_level(logging.WARNING):
        report = write_super_clusters(storage=inputs, shard_keys=list(SHARDS),
                                      settings=MergeSettings(threshold=None, target=1, max_token_share=0.5))
    assert report.k > 1 and report.warnings
    assert all(w in caplog.text for w in report.warnings)
    assert inputs.read_json("super_clusters", "stats.json")["warnings"] == list(report.warnings)
    table = inputs.read_table("super_clusters", "super_clusters.parquet").to_pylist()
    assert table[0]["fine_clusters"] == [2] and table[0]["token_share"] == pytest.approx(500 / 900)


def test_super_clusters_need_the_profiles_first(inputs):
    with pytest.raises(FileNotFoundError, match="clusters has not been materialised"):
        write_super_clusters(storage=inputs, shard_keys=list(SHARDS), settings=MergeSettings())
