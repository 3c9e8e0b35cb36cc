"""search_rounds_sensor: round 1 on super-clusters no round ran on, round r+1 once round r's predictor is
committed (on the same data version, after round r-1's), the optimal mixture after the last; nothing twice."""

import json
import os
import subprocess
import sys

import dagster as dg
import pyarrow as pa
import pytest

from resources import ProjectResource
from climb_assets.partitions import CORPUS_JOB, ROUND_JOB
from climb.climblab.build import CLIMBLAB, TOKENIZER
from climb.search.optimal import OPTIMAL
from climb.search.rounds import PREDICTOR, search_space
from climb.search.target_set import TARGET
from tests.conftest import REPO


def _project(tmp_path) -> ProjectResource:
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: ['corpus/*.jsonl']\n")  # search.rounds: 3 by default
    return ProjectResource(config_path=str(tmp_path / "climb.yaml"), home=str(tmp_path / "home"))


def _climblab(storage, tokens: list[int]) -> str:
    """What the search space is read from: ClimbLab's clusters and the tokenizer; returns the data version."""
    with storage.write_partition(CLIMBLAB) as writer:
        writer.write_table("clusters.parquet", pa.Table.from_pylist([
            {"cluster_id": c, "label": f"cluster {c}", "documents": 1, "tokens": t, "store_tokens": t}
            for c, t in enumerate(tokens)]))
    return search_space(storage).data_version


@pytest.fixture()
def searchable(tmp_path):
    project = _project(tmp_path)
    storage = project.storage()
    for asset, name, content in ((TOKENIZER, "stats.json", {"vocab_size": 256, "source": "test"}),
                                 (TARGET, "target.json", {"target_id": "target-1"})):
        with storage.write_partition(asset) as writer:
            writer.write_json(name, content)
    return project, _climblab(storage, [100, 50])


def _predictor(storage, round_number: int, data_version: str) -> str:
    """A committed round (its predictor, fitted on `data_version`); returns the predictor's version."""
    with storage.write_partition(PREDICTOR, str(round_number)) as writer:
        writer.write_json("cv.json", {"family": "ridge", "n_points": 4, "data_version": data_version, "cv": []})
    return storage.manifest(PREDICTOR, str(round_number))["version"]


def _tick(project, instance, cursor=None):
    from climb_assets.definitions import defs

    sensor = defs.get_sensor_def("search_rounds_sensor")
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"project": project}))


def test_nothing_to_search_is_a_skip_naming_what_is_missing(tmp_path):
    """Without ClimbLab, the tokenizer and the target set there is no search space."""
    with dg.instance_for_test() as instance:
        result = _tick(_project(tmp_path), instance)
    assert isinstance(result, dg.SkipReason)
    assert result.skip_message == "the search needs climblab, tokenizer, target_set: materialise them first"


def test_rounds_follow_one_another_then_the_optimal_mixture(searchable):
    """Round 1, then round r+1 keyed by round r's predictor, then the optimal mixture, then nothing."""
    project, version = searchable
    storage = project.storage()
    with dg.instance_for_test() as instance:
        first = _tick(project, instance)
        (request,) = first.run_requests
        assert (request.run_key, request.job_name, request.partition_key) == (f"round:1:{version}", ROUND_JOB, "1")
        assert json.loads(first.cursor) == {"data_version": version, "requested": f"round:1:{version}"}

        one = _predictor(storage, 1, version)
        (request,) = _tick(project, instance).run_requests
        assert (request.run_key, request.partition_key) == (f"round:2:{version}:{one[:8]}", "2")
        from climb_assets.definitions import defs

        with dg.partition_loading_context(dynamic_partitions_store=instance):  # as the daemon resolves a tick
            ticked = defs.get_sensor_def("search_rounds_sensor").evaluate_tick(
                dg.build_sensor_context(instance=instance, definitions=defs, resources={"project": project}))
        assert [(r.partition_key, r.job_name) for r in ticked.run_requests] == [("2", ROUND_JOB)]

        _predictor(storage, 2, version)
        three = _predictor(storage, 3, version)
        (request,) = _tick(project, instance).run_requests
        assert request.run_key == f"optimal:{version}:{three[:8]}" and request.job_name == CORPUS_JOB
        assert [k.to_user_string() for k in request.asset_selection] == [OPTIMAL]

        with storage.write_partition(OPTIMAL) as writer:
            writer.write_json("optimal_mixture.json", {})
        done = _tick(project, instance)
    assert isinstance(done, dg.SkipReason)
    assert done.skip_message == f"all 3 rounds and the optimal mixture are done on data version {version}"


def test_new_clusters_or_a_rerun_redo_what_depends_on_them(searchable):
    """Rounds fitted on older super-clusters do not count (round 1 again); re-running round 1 asks for round 2 anew."""
    project, version = searchable
    storage = project.storage()
    with dg.instance_for_test() as instance:
        for r in (1, 2):
            _predictor(storage, r, version)
        assert _tick(project, instance).run_requests[0].partition_key == "3"
        rerun = _predictor(storage, 1, version)
        (request,) = _tick(project, instance).run_requests
        assert (request.partition_key, request.run_key) == ("2", f"round:2:{version}:{rerun[:8]}")

        reclustered = _climblab(storage, [60, 40, 50])
        (request,) = _tick(project, instance).run_requests
    assert reclustered != version and (request.partition_key, request.run_key) == ("1", f"round:1:{reclustered}")


def test_dagster_sensor_preview(searchable, tmp_path):
    """`dagster sensor preview search_rounds_sensor -w workspace.yaml` asks for round 2 after round 1."""
    project, version = searchable
    _predictor(project.storage(), 1, version)
    (tmp_path / "dagster_home").mkdir()
    env = {**os.environ, "CLIMB_CONFIG": str(tmp_path / "climb.yaml"), "CLIMB_HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    done = subprocess.run([sys.executable, "-m", "dagster", "sensor", "preview", "search_rounds_sensor",
                           "-w", str(REPO / "workspace.yaml")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Sensor returning run requests for 1 run(s)" in done.stdout  # preview prints run config, not run keys
    assert f"search round 2 of 3 on data version {version}" in done.stderr
