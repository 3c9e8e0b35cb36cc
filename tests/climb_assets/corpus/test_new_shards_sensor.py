"""new_shards_sensor: new files become shard partitions with one ingestion run each; nothing twice."""

import json
import os
import subprocess
import sys

import dagster as dg

from climb_assets.corpus.sensors import new_shards_sensor
from resources import ProjectResource
from climb_assets.partitions import SHARDS
from tests.conftest import REPO

DOC = '{"text": "a document that is long enough to be kept by the filters"}\n'


def _project(tmp_path) -> ProjectResource:
    (tmp_path / "corpus").mkdir(exist_ok=True)
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: ['corpus/*.jsonl']\n")
    return ProjectResource(config_path=str(tmp_path / "climb.yaml"), home=str(tmp_path / "home"))


def test_registers_new_files_and_requests_their_ingestion(tmp_path):
    """Each new file gets a partition and one run (deterministic run key); a later tick asks only for what is new."""
    project = _project(tmp_path)
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / "corpus" / name).write_text(DOC)
    with dg.instance_for_test() as instance:
        result = new_shards_sensor(dg.build_sensor_context(instance=instance, resources={"project": project}))
        assert [r.partition_key for r in result.run_requests] == ["a.jsonl", "b.jsonl"]
        assert [r.run_key for r in result.run_requests] == ["ingest:a.jsonl", "ingest:b.jsonl"]
        assert {k.to_user_string() for k in result.run_requests[0].asset_selection} == {
            "documents", "embeddings", "quality_scores"}
        (request,) = result.dynamic_partitions_requests
        assert request.partitions_def_name == SHARDS and list(request.partition_keys) == ["a.jsonl", "b.jsonl"]
        assert json.loads(result.cursor) == {"known_shards": 2}
        instance.add_dynamic_partitions(SHARDS, ["a.jsonl", "b.jsonl"])  # what the daemon does with the request
        idle = new_shards_sensor(dg.build_sensor_context(instance=instance, resources={"project": project}))
        assert isinstance(idle, dg.SkipReason) and "all already registered" in idle.skip_message
        (tmp_path / "corpus" / "c.jsonl").write_text(DOC)
        later = new_shards_sensor(dg.build_sensor_context(instance=instance, resources={"project": project}))
        assert [r.partition_key for r in later.run_requests] == ["c.jsonl"]


def test_an_edited_file_is_ingested_again_with_the_shards_after_it(tmp_path):
    """Once ingested, an unchanged shard is never requested again; editing a.jsonl re-requests it and b.jsonl
    (deduplication reads the earlier shards), once per new version of the file."""
    from climb_assets.corpus.assets import documents

    project = _project(tmp_path)
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / "corpus" / name).write_text(DOC)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, ["a.jsonl", "b.jsonl"])
        for key in ("a.jsonl", "b.jsonl"):
            assert dg.materialize([documents], partition_key=key, instance=instance,
                                  resources={"project": project}).success
        idle = new_shards_sensor(dg.build_sensor_context(instance=instance, resources={"project": project}))
        assert isinstance(idle, dg.SkipReason) and "registered and unchanged" in idle.skip_message
        (tmp_path / "corpus" / "a.jsonl").write_text(DOC + DOC.replace("document", "second document"))
        edited = new_shards_sensor(dg.build_sensor_context(instance=instance, resources={"project": project}))
        assert [r.partition_key for r in edited.run_requests] == ["a.jsonl", "b.jsonl"]
        assert all(r.run_key.startswith(f"ingest:{r.partition_key}:") for r in edited.run_requests)
        assert not edited.dynamic_partitions_requests  # nothing new to register


def test_missing_corpus_is_a_skip_with_the_reason(tmp_path):
    """An empty corpus folder skips the tick and says why."""
    project = _project(tmp_path)
    with dg.instance_for_test() as instance:
        result = new_shards_sensor(dg.build_sensor_context(instance=instance, resources={"project": project}))
    assert isinstance(result, dg.SkipReason) and "matches no file" in result.skip_message


def test_dagster_sensor_preview(tmp_path):
    """`dagster sensor preview new_shards_sensor -w workspace.yaml` requests the ingestion of a dropped file."""
    _project(tmp_path)
    (tmp_path / "corpus" / "dropped.jsonl").write_text(DOC)
    env = {**os.environ, "CLIMB_CONFIG": str(tmp_path / "climb.yaml"), "CLIMB_HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "dagster_home").mkdir()
    done = subprocess.run([sys.executable, "-m", "dagster", "sensor", "preview", "new_shards_sensor",
                           "-w", str(REPO / "workspace.yaml")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "dropped.jsonl" in done.stdout + done.stderr
