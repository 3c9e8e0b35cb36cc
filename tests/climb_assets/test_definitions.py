"""The code location loads without secrets and holds the expected assets, groups and checks."""

import os
import subprocess
import sys

import dagster as dg

from climb_assets.definitions import defs
from tests.conftest import REPO

ROUNDS = (1, 2, 3)  # the demo's search.rounds: [8, 4, 2]
ROUND_ASSETS = ("candidate_mixtures", "proxy_runs", "predictor")


def test_definitions_load():
    """Definitions validate; each asset sits in its stage's group with its blocking checks."""
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {
        "documents": "corpus", "quality_scores": "corpus",
        "embeddings": "semantic", "centroids": "semantic", "cluster_assignments": "semantic",
        "clusters": "semantic", "super_clusters": "semantic", "semantic_duplicates": "semantic",
        "tokenizer": "climblab", "climblab": "climblab",
        "target_set": "search", **{f"search/round_{r}/{name}": "search" for r in ROUNDS for name in ROUND_ASSETS},
        "optimal_mixture": "search", "climbmix": "climbmix",
    }
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert checks == {("documents", "accounting_balances"), ("embeddings", "embeddings_aligned_and_normalised"),
                      ("quality_scores", "scores_in_range"), ("cluster_assignments", "assignments_complete"),
                      ("climblab", "climblab_accounted"), ("climbmix", "climbmix_matches_mixture"),
                      *{(f"search/round_{r}/predictor", "predictor_ranks_mixtures") for r in ROUNDS}}
    blocking = {spec.key.name: spec.blocking for c in defs.asset_checks for spec in c.check_specs}
    assert set(blocking) == {k.name for k in graph.asset_check_keys}
    assert all(v for name, v in blocking.items() if name != "predictor_ranks_mixtures")
    assert not blocking["predictor_ranks_mixtures"]  # a poor predictor warns, it does not stop the search
    shard_assets = {"documents", "embeddings", "quality_scores", "cluster_assignments"}
    for job, members in (("climb_shards", shard_assets), ("climb_corpus", set(groups) - shard_assets)):
        keys = {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.selected_asset_keys}
        assert keys == members
    # Names fixed by the docs: users start them in the UI and preview them with `dagster sensor preview`.
    assert {s.name for s in defs.sensors} == {"new_shards_sensor", "recluster_sensor"}


def test_round_order_lives_in_the_graph():
    """Round r's candidates depend on round r-1's predictor, the optimal mixture on the last predictor: any
    planner (a backfill of everything, declarative automation) orders the rounds from the graph alone."""
    graph = defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey.from_user_string(key)).parent_keys}

    assert parents("search/round_1/candidate_mixtures") == {"climblab", "target_set"}
    for r in ROUNDS[1:]:
        assert parents(f"search/round_{r}/candidate_mixtures") == {f"search/round_{r - 1}/predictor"}
    for r in ROUNDS:
        assert parents(f"search/round_{r}/proxy_runs") == {f"search/round_{r}/candidate_mixtures"}
        assert parents(f"search/round_{r}/predictor") == {f"search/round_{r}/proxy_runs"}
    assert parents("optimal_mixture") == {f"search/round_{ROUNDS[-1]}/predictor"}
    automated = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition}
    assert automated == {f"search/round_{r}/{name}" for r in ROUNDS for name in ROUND_ASSETS} | {
        "optimal_mixture", "climbmix"}


def test_each_proxy_run_is_its_own_step():
    """A round's proxy_runs is a graph: one planning step, one training op (GPU pool, retried alone) mapped over
    the candidates, one commit."""
    node = defs.resolve_assets_def(dg.AssetKey(["search", "round_2", "proxy_runs"])).node_def
    ops = {op.name: op for op in node.node_defs}
    assert set(ops) == {"plan_round_2", "train_round_2", "commit_round_2"}
    assert ops["train_round_2"].pool == "gpu" and ops["train_round_2"].retry_policy.max_retries >= 1
    assert node.dependency_structure.has_dynamic_downstreams("plan_round_2")


def test_dg_check_defs():
    """`dg check defs` (the [tool.dg] project) and `dagster definitions validate -w workspace.yaml` pass."""
    for command in (["dg", "check", "defs"], ["dagster", "definitions", "validate", "-w", "workspace.yaml"]):
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


def test_broken_configuration_fails_loading_naming_the_key(tmp_path):
    """A configuration with an unknown key stops the code location from loading, naming the key."""
    bad = tmp_path / "climb.yaml"
    bad.write_text("corpus:\n  paths: ['x/*.jsonl']\n  text_feild: body\n")
    env = {**os.environ, "CLIMB_CONFIG": str(bad)}
    done = subprocess.run([sys.executable, "-c", "import climb_assets.definitions"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "corpus.text_feild: unknown key; did you mean 'text_field'?" in done.stderr


def test_backfill_covers_every_registered_shard():
    """`climb run`'s backfill: each per-shard asset over every registered shard, each other asset once."""
    from climb_assets.backfills import backfill_subset
    from climb_assets.partitions import SHARDS, shards_partitions

    graph = defs.resolve_asset_graph()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, ["a.jsonl", "b.jsonl"])
        subset = backfill_subset(graph, graph.get_all_asset_keys(), instance)
    members = {(m.asset_key.to_user_string(), m.partition_key) for m in subset.iterate_asset_partitions()}
    per_shard = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).partitions_def == shards_partitions}
    assert per_shard == {"documents", "embeddings", "quality_scores", "cluster_assignments"}
    assert members == {(name, shard) for name in per_shard for shard in ("a.jsonl", "b.jsonl")} | {
        (k.to_user_string(), None) for k in graph.get_all_asset_keys() if k.to_user_string() not in per_shard}
