"""recluster_sensor: a re-clustering backfill (new centroids and everything downstream up to ClimbLab) when the
corpus grew or drifted past clustering.recluster; every skip says what it measured against which threshold."""

import json
import os
import subprocess
import sys

import dagster as dg
import numpy as np
import pyarrow as pa
import pytest

from resources import ProjectResource
from climb_assets.partitions import SHARDS
from climb.semantic.clustering import fit_centroids, write_assignments
from climb.core.config import ClusteringConfig
from tests.conftest import REPO

DIM, PER_SHARD = 16, 120
CENTERS = np.random.default_rng(0).normal(size=(4, DIM))


def _config(tmp_path, **recluster) -> ProjectResource:
    rules = "".join(f"    {k}: {'null' if v is None else v}\n" for k, v in recluster.items())
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: ['corpus/*.jsonl']\nclustering:\n  k_init: 4\n"
                                         + (f"  recluster:\n{rules}" if rules else ""))
    return ProjectResource(config_path=str(tmp_path / "climb.yaml"), home=str(tmp_path / "home"))


def _vectors(n: int, *, drifted: bool, seed: int) -> np.ndarray:
    """Points near the 4 centres, or (drifted) in random directions far from all of them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM)) if drifted else CENTERS[rng.integers(0, 4, n)] + 0.05 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16)


def _ingest(storage, key: str, n: int, *, drifted: bool = False, seed: int = 0) -> None:
    """What the per-shard assets leave in storage: kept-document stats and embeddings."""
    with storage.write_partition("documents", key) as writer:
        writer.write_json("stats.json", {"kept": n})
    with storage.write_partition("embeddings", key) as writer:
        writer.write_array("embeddings.npy", _vectors(n, drifted=drifted, seed=seed))
        writer.write_table("ids.parquet", pa.table({"id": [f"{key}-{i}" for i in range(n)]}))


def _assign(storage, keys) -> None:
    """What cluster_assignments leaves: every document of the shard assigned to the current centroids."""
    for key in keys:
        n = storage.read_json("documents", "stats.json", key)["kept"]
        write_assignments(key, storage=storage, token_counts=np.full(n, 10), use_gpu="never")


def _fitted_corpus(project, instance, new_shard: dict | None = None) -> str:
    """Shards a, b fitted and assigned; optionally a shard c ingested (and assigned) after the fit."""
    storage = project.storage()
    for i, key in enumerate(("a", "b")):
        _ingest(storage, key, PER_SHARD, seed=i)
    fit_centroids(storage=storage, shard_keys=["a", "b"], config=ClusteringConfig(k_init=4, use_gpu="never"))
    _assign(storage, ["a", "b"])
    keys = ["a", "b"]
    if new_shard is not None:
        _ingest(storage, "c", new_shard["n"], drifted=new_shard.get("drifted", False), seed=7)
        _assign(storage, ["c"])
        keys.append("c")
    instance.add_dynamic_partitions(SHARDS, keys)
    return storage.manifest("centroids")["version"]


@pytest.fixture()
def sensor():
    from climb_assets.definitions import defs

    return defs.get_sensor_def("recluster_sensor")


def _tick(sensor, project, instance, cursor=None):
    from climb_assets.definitions import defs

    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"project": project},
                                          definitions=defs))


def test_no_centroids_is_a_skip(tmp_path, sensor):
    """Before the first fit there is nothing to re-cluster."""
    with dg.instance_for_test() as instance:
        result = _tick(sensor, _config(tmp_path), instance)
    assert isinstance(result, dg.SkipReason) and "no centroids yet" in result.skip_message


@pytest.mark.parametrize("new_shard, rules, fires", [
    ({"n": 24}, {"minimum_interval_seconds": 0}, None),  # 24 / 240 = 0.1 < 0.2, same distribution
    ({"n": 72}, {"minimum_interval_seconds": 0}, "new_document_share 0.300 >= 0.2"),
    ({"n": 72}, {"minimum_interval_seconds": 0, "new_document_share": 0.5}, None),  # the threshold is read
    ({"n": 24, "drifted": True}, {"minimum_interval_seconds": 0}, "distance_drift"),
    ({"n": 24, "drifted": True}, {"minimum_interval_seconds": 0, "distance_drift": None}, None),  # rule disabled
])
def test_thresholds_decide_a_recluster(tmp_path, sensor, new_shard, rules, fires):
    """A passed threshold requests the re-clustering backfill; otherwise the skip names the numbers."""
    project = _config(tmp_path, **rules)
    with dg.instance_for_test() as instance:
        version = _fitted_corpus(project, instance, new_shard)
        result = _tick(sensor, project, instance)
    cursor = json.loads(result.cursor)
    assert cursor["new_document_share"] == round(new_shard["n"] / 240, 4)
    if fires is None:
        assert not result.run_requests and "no re-clustering" in result.skip_reason.skip_message
        assert f"share {new_shard['n'] / 240:.3f}" in result.skip_reason.skip_message
        assert cursor["superseded"] is None
        return
    (request,) = result.run_requests
    assert request.requires_backfill_daemon() and "centroids" in _targets(request)
    assert fires in request.tags["climb/recluster"] and cursor["superseded"] == version


def test_drift_is_measured_against_the_fit(tmp_path, sensor):
    """Far-off documents raise the mean distance well past 10 %; the skip (interval) reports it with its sign."""
    project = _config(tmp_path, new_document_share=None)  # default minimum_interval_seconds 3600
    with dg.instance_for_test() as instance:
        _fitted_corpus(project, instance, {"n": 24, "drifted": True})
        result = _tick(sensor, project, instance)
    message = result.skip_reason.skip_message
    assert "distance_drift +" in message and "minimum_interval_seconds 3600" in message
    assert json.loads(result.cursor)["distance_drift"] > 1.0


def _targets(request: dg.RunRequest) -> dict[str, list]:
    """asset -> the partitions the backfill request covers ([None] when unpartitioned)."""
    targets: dict[str, list] = {}
    for member in request.asset_graph_subset.iterate_asset_partitions():
        targets.setdefault(member.asset_key.to_user_string(), []).append(member.partition_key)
    return {name: sorted(keys, key=str) for name, keys in targets.items()}


def test_one_backfill_redoes_everything_downstream_then_waits(tmp_path, sensor):
    """The request is one backfill: centroids, the assignments of every embedded shard (not one still being
    ingested), clusters, super-clusters, ClimbLab; then the sensor waits for the new centroids, then measures anew."""
    project = _config(tmp_path, minimum_interval_seconds=0)
    storage = project.storage()
    with dg.instance_for_test() as instance:
        old = _fitted_corpus(project, instance, {"n": 72})
        instance.add_dynamic_partitions(SHARDS, ["d_not_yet_embedded"])
        fired = _tick(sensor, project, instance)
        (request,) = fired.run_requests
        assert _targets(request) == {"centroids": [None], "cluster_assignments": ["a", "b", "c"],
                                     "clusters": [None], "super_clusters": [None], "semantic_duplicates": [None],
                                     "climblab": [None]}
        waiting = _tick(sensor, project, instance, fired.cursor)
        assert isinstance(waiting, dg.SkipReason) and f"replace centroids {old[:8]}" in waiting.skip_message

        fit_centroids(storage=storage, shard_keys=["a", "b", "c"], config=ClusteringConfig(k_init=4, use_gpu="never"))
        _assign(storage, ["a", "b", "c"])
        after = _tick(sensor, project, instance, fired.cursor)
    assert not after.run_requests and "no re-clustering" in after.skip_reason.skip_message
    assert json.loads(after.cursor)["centroids_version"] == storage.manifest("centroids")["version"] != old


def test_dagster_sensor_preview(tmp_path):
    """`dagster sensor preview recluster_sensor -w workspace.yaml` requests the centroids that grew stale."""
    project = _config(tmp_path, minimum_interval_seconds=0)
    (tmp_path / "dagster_home").mkdir()
    env = {**os.environ, "CLIMB_CONFIG": str(tmp_path / "climb.yaml"), "CLIMB_HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        _fitted_corpus(project, instance, {"n": 72})
    done = subprocess.run([sys.executable, "-m", "dagster", "sensor", "preview", "recluster_sensor",
                           "-w", str(REPO / "workspace.yaml")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Sensor returning run requests for 1 run(s)" in done.stdout  # the backfill request
    assert "re-clustering: new_document_share 0.300 >= 0.2" in done.stderr
