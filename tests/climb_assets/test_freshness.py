"""The freshness planner (climb_assets/freshness.py) and the blocking-check gate (climb_assets/gates.py) on a
small graph shaped like the project's (per-shard documents -> embeddings -> cluster assignments; the fit
`centroids` and the corpus-wide `clusters` reading every shard), materialised with Dagster on an ephemeral
instance. Steps do no work: what is tested is which asset partitions a `climb run` would re-run, and why."""

import dagster as dg
import pytest

from dagster._core.definitions.events import AssetKeyPartitionKey

from climb_assets.freshness import SOURCE_VERSION, FreshnessPlanner
from climb_assets.gates import require_shard_checks_passed
from climb_assets.partitions import SHARDS, shards_partitions

FAILING: set[str] = set()  # shards whose assignments fail their blocking check


def build_assets(embeddings_code: str = "1") -> list:
    @dg.asset(partitions_def=shards_partitions, code_version="1")
    def documents(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        version = context.run.tags["version"]  # what the shard's file said when it was read
        return dg.MaterializeResult(data_version=dg.DataVersion(version), metadata={SOURCE_VERSION: version})

    @dg.asset(partitions_def=shards_partitions, deps=[documents], code_version=embeddings_code)
    def embeddings() -> None:
        return None

    @dg.asset(deps=[embeddings], code_version="1")
    def centroids() -> None:
        return None

    @dg.asset(partitions_def=shards_partitions, deps=[embeddings, centroids], code_version="1")
    def cluster_assignments() -> None:
        return None

    @dg.asset_check(asset=cluster_assignments, blocking=True, partitions_def=shards_partitions)
    def assignments_complete(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=context.partition_key not in FAILING)

    @dg.asset(deps=[cluster_assignments], code_version="1")
    def clusters(context: dg.AssetExecutionContext) -> None:
        # `dg.materialize` runs outside a code location: the gate is given the graph a code location would have.
        require_shard_checks_passed(context, ["cluster_assignments"], graph=graph_of(assets))

    assets = [documents, embeddings, centroids, cluster_assignments, assignments_complete, clusters]
    return assets


def graph_of(assets: list):
    checks = [a for a in assets if isinstance(a, dg.AssetChecksDefinition)]
    return dg.Definitions(assets=[a for a in assets if a not in checks], asset_checks=checks).resolve_asset_graph()


class Corpus:
    """An instance, the graph and the documents' current versions (what the files would say)."""

    def __init__(self, instance, shards: list[str]):
        self.instance, self.assets = instance, build_assets()
        self.versions = {s: f"v-{s}" for s in shards}
        instance.add_dynamic_partitions(SHARDS, shards)

    @property
    def graph(self):
        return graph_of(self.assets)

    def materialize(self, names: list[str], shard: str | None = None, raise_on_error: bool = True):
        selection = dg.AssetSelection.assets(*names)
        tags = {"version": self.versions[shard]} if shard else {}
        return dg.materialize(self.assets, selection=selection, partition_key=shard, instance=self.instance,
                              tags=tags, raise_on_error=raise_on_error)

    def run_all(self) -> None:
        shards = sorted(self.versions)
        for shard in shards:
            self.materialize(["documents", "embeddings"], shard)
        self.materialize(["centroids"])
        for shard in shards:
            self.materialize(["cluster_assignments"], shard, raise_on_error=False)
        self.materialize(["clusters"], raise_on_error=False)

    def plan(self, removed=()):
        graph = self.graph
        sources = {AssetKeyPartitionKey(dg.AssetKey("documents"), s): v for s, v in self.versions.items()}
        planner = FreshnessPlanner(self.instance, graph, list(self.versions), sources, removed)
        plan = planner.plan(graph.materializable_asset_keys)
        return {(k.asset_key.to_user_string(), k.partition_key): str(c) for k, c in plan.run.items()}, plan


@pytest.fixture()
def corpus():
    FAILING.clear()
    with dg.instance_for_test() as instance:
        corpus = Corpus(instance, ["a", "b", "c"])
        corpus.run_all()
        yield corpus
    FAILING.clear()


def test_nothing_materialised_is_all_missing():
    with dg.instance_for_test() as instance:
        run, plan = Corpus(instance, ["a", "b"]).plan()
    assert len(run) == 2 * 3 + 2 and set(run.values()) == {"missing"} and not plan.fresh


def test_an_unchanged_corpus_runs_nothing(corpus):
    run, plan = corpus.plan()
    assert run == {}
    assert {k.to_user_string(): n for k, n in plan.fresh.items()} == {
        "documents": 3, "embeddings": 3, "centroids": 1, "cluster_assignments": 3, "clusters": 1}


def test_a_new_shard_runs_its_partitions_and_the_readers_but_refits_nothing(corpus):
    corpus.instance.add_dynamic_partitions(SHARDS, ["d"])
    corpus.versions["d"] = "v-d"
    run, _ = corpus.plan()
    assert set(run) == {("documents", "d"), ("embeddings", "d"), ("cluster_assignments", "d"), ("clusters", None)}
    assert run[("clusters", None)] == "upstream cluster_assignments[d]: missing"


def test_a_changed_file_runs_its_shard_downstream(corpus):
    corpus.versions["b"] = "v-b-edited"
    run, _ = corpus.plan()
    assert set(run) == {("documents", "b"), ("embeddings", "b"), ("cluster_assignments", "b"), ("clusters", None)}
    assert run[("documents", "b")] == "the files it reads changed"


def test_a_new_embedding_code_version_refits_the_centroids(corpus):
    corpus.assets = build_assets(embeddings_code="2")
    run, _ = corpus.plan()
    assert {k for k in run if k[0] != "cluster_assignments"} == {
        ("embeddings", "a"), ("embeddings", "b"), ("embeddings", "c"), ("centroids", None), ("clusters", None)}
    assert run[("centroids", None)] == "upstream embeddings[a]: new code version"
    assert {k for k in run if k[0] == "cluster_assignments"} == {("cluster_assignments", s) for s in "abc"}


def test_a_changed_shard_materialised_elsewhere_makes_its_readers_stale(corpus):
    """documents[b] re-materialised with new content outside `climb run` (the UI): what read it is stale."""
    corpus.versions["b"] = "v-b-2"
    corpus.materialize(["documents"], "b")
    run, _ = corpus.plan()
    assert set(run) == {("embeddings", "b"), ("cluster_assignments", "b"), ("clusters", None)}
    assert run[("embeddings", "b")] == "documents[b] changed since"


def test_a_rematerialisation_with_the_same_data_version_changes_nothing(corpus):
    corpus.materialize(["documents", "embeddings"], "b")  # same file, same code: the same data versions
    run, _ = corpus.plan()
    assert run == {}


def test_the_corpus_wide_reader_sees_a_shard_changed_since_it_ran(corpus):
    """embeddings[c] and its assignments re-run outside `climb run` with new content: clusters is stale."""
    corpus.versions["c"] = "v-c-2"
    corpus.materialize(["documents", "embeddings"], "c")
    corpus.materialize(["cluster_assignments"], "c")
    run, _ = corpus.plan()
    assert run == {("clusters", None): "cluster_assignments[c] changed since"}


def test_a_removed_shard_reruns_the_corpus_wide_readers_only(corpus):
    corpus.instance.delete_dynamic_partition(SHARDS, "c")
    del corpus.versions["c"]
    run, _ = corpus.plan(removed=["c"])
    assert run == {("clusters", None): "shard c was removed"}


def test_a_failed_blocking_check_reruns_the_shard_and_gates_the_reader():
    """assignments[b] fails its blocking check: the next plan re-runs it; clusters, launched anyway (the UI),
    fails naming the shard and the check; once the shard passes, clusters runs."""
    FAILING.clear()
    with dg.instance_for_test() as instance:
        corpus = Corpus(instance, ["a", "b", "c"])
        FAILING.add("b")
        corpus.run_all()
        run, _ = corpus.plan()
        assert run[("cluster_assignments", "b")] == "blocking check assignments_complete failed"
        gated = corpus.materialize(["clusters"], raise_on_error=False)
        assert not gated.success
        failure = next(e for e in gated.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
        message = failure.step_failure_data.user_failure_data.description
        assert "cluster_assignments[b] failed assignments_complete" in message and "1 shard(s)" in message
        FAILING.clear()
        corpus.materialize(["cluster_assignments"], "b")
        assert corpus.materialize(["clusters"]).success
        assert corpus.plan()[0] == {}


def test_an_edited_target_file_reruns_the_target_and_what_reads_it():
    """A file-reading asset that is not partitioned (the target set): its recorded `source_version` against
    the files now; its reader re-runs with it."""

    @dg.asset(code_version="1")
    def target_set(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={SOURCE_VERSION: context.run.tags["version"]})

    @dg.asset(deps=[target_set], code_version="1")
    def candidate_mixtures() -> None:
        return None

    assets = [target_set, candidate_mixtures]
    key = AssetKeyPartitionKey(dg.AssetKey("target_set"), None)
    with dg.instance_for_test() as instance:
        assert dg.materialize(assets, instance=instance, tags={"version": "t1"}).success
        graph = graph_of(assets)
        unchanged = FreshnessPlanner(instance, graph, [], {key: "t1"}).plan(graph.materializable_asset_keys)
        edited = FreshnessPlanner(instance, graph, [], {key: "t2"}).plan(graph.materializable_asset_keys)
    assert unchanged.run == {}
    assert {k.asset_key.to_user_string(): str(c) for k, c in edited.run.items()} == {
        "target_set": "the files it reads changed",
        "candidate_mixtures": "upstream target_set: the files it reads changed"}
