"""The documents asset, materialised with Dagster on an ephemeral instance."""

import gzip

import dagster as dg
import pyarrow.parquet as pq
import pytest

from climb_assets.corpus.assets import documents
from climb_assets.corpus.checks import accounting_balances
from resources import ProjectResource
from climb_assets.partitions import SHARDS
from climb_assets.versions import with_code_versions
from climb.corpus.documents import config_shards
from climb.core.storage import Storage


def _write_config(tmp_path, corpus_glob: str) -> ProjectResource:
    config = tmp_path / "climb.yaml"
    config.write_text(
        f"corpus:\n  paths: ['{corpus_glob}']\n  text_field: text\n  id_field: id\n"
        "  metadata_fields: [domain]\n  filters: {min_chars: 20, min_words: 5}\n"
    )
    return ProjectResource(config_path=str(config), home=str(tmp_path / "home"))


def _materialize_all(project: ProjectResource, instance: dg.DagsterInstance, asset=documents) -> dict[str, dict]:
    shards = config_shards(project.config())
    instance.add_dynamic_partitions(SHARDS, [s.key for s in shards])
    out = {}
    for shard in shards:
        result = dg.materialize([asset, accounting_balances], partition_key=shard.key, instance=instance,
                                resources={"project": project})
        assert result.success
        (materialization,) = result.asset_materializations_for_node("documents")
        (check,) = result.get_asset_check_evaluations()
        assert check.passed, check.metadata
        out[shard.key] = {k: v.value for k, v in materialization.metadata.items()}
    return out


def _total(metadata: dict[str, dict], name: str) -> int:
    return sum(m[name] for m in metadata.values())


def test_demo_corpus_is_fully_accounted(tmp_path, demo_corpus):
    """Every record of the demo corpus is kept, filtered, duplicate or quarantined, as the manifest says."""
    project = _write_config(tmp_path, f"{demo_corpus.corpus_dir}/*")
    with dg.instance_for_test() as instance:
        metadata = _materialize_all(project, instance)
    expected = demo_corpus.expected
    assert _total(metadata, "input_records") == expected["input_records"]
    assert _total(metadata, "quarantined") == expected["quarantined"]
    assert _total(metadata, "duplicates") == expected["duplicates"]
    assert _total(metadata, "filtered") == expected["short"]
    assert _total(metadata, "kept") == demo_corpus.n_documents
    storage = project.storage()
    quarantine = pq.read_table(f"{storage.require('documents', 'news_00.jsonl')}/quarantine.parquet").to_pylist()
    assert sorted(r["reason"] for r in quarantine) == [
        "quarantine:empty_text", "quarantine:malformed_json", "quarantine:missing_text", "quarantine:non_string_text"
    ]
    assert all(r["file"].endswith("news_00.jsonl") and r["row"] >= 1 for r in quarantine)
    kept = pq.read_table(f"{storage.require('documents', 'part_02.parquet')}/documents.parquet")
    assert set(kept.column("domain").to_pylist()) <= set(demo_corpus.domain_counts)


def test_rematerialising_changes_nothing(tmp_path, demo_corpus):
    """A second materialisation gives the same counts and identical files, with no duplicated rows."""
    project = _write_config(tmp_path, f"{demo_corpus.corpus_dir}/*")
    storage = project.storage()
    with dg.instance_for_test() as instance:
        first = _materialize_all(project, instance)
        before = {k: pq.read_table(f"{storage.require('documents', k)}/documents.parquet") for k in first}
        second = _materialize_all(project, instance)
    for key in first:
        for name in ("input_records", "kept", "filtered", "duplicates", "quarantined"):
            assert first[key][name] == second[key][name]
        after = pq.read_table(f"{storage.require('documents', key)}/documents.parquet")
        assert after.equals(before[key])
    assert storage.committed_partitions("documents") == sorted(first)


def test_unreadable_file_fails_the_run_naming_it(tmp_path):
    """A file that is not gzip at all fails its partition with a message naming the file."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "broken.jsonl.gz").write_bytes(b"this is not gzip data at all\n")
    project = _write_config(tmp_path, f"{corpus}/*")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, ["broken.jsonl.gz"])
        result = dg.materialize([documents, accounting_balances], partition_key="broken.jsonl.gz", instance=instance,
                                resources={"project": project}, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "broken.jsonl.gz" in failure.step_failure_data.user_failure_data.description


def test_truncated_gzip_keeps_what_it_can(tmp_path):
    """A gzip shard cut short keeps the records before the cut and quarantines the truncation."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = "".join(f'{{"id": "d{i}", "text": "document number {i} about many interesting things"}}\n'
                    for i in range(2000))
    data = gzip.compress(lines.encode())
    (corpus / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    project = _write_config(tmp_path, f"{corpus}/*")
    with dg.instance_for_test() as instance:
        metadata = _materialize_all(project, instance)["cut.jsonl.gz"]
    assert 0 < metadata["kept"] < 2000
    assert metadata["quarantined"] == 1
    assert metadata["input_records"] == metadata["kept"] + 1


@pytest.mark.parametrize("order", [["b.jsonl", "a.jsonl"], ["a.jsonl", "b.jsonl"]])
def test_cross_shard_duplicates_follow_key_order(tmp_path, order):
    """The copy in the shard that sorts first is kept, whichever shard is materialised first."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shared = '"text": "the same article appears in two different files of the corpus"'
    (corpus / "a.jsonl").write_text(f'{{"id": "a1", {shared}}}\n')
    (corpus / "b.jsonl").write_text(f'{{"id": "b1", {shared}}}\n{{"id": "b2", "text": "a text only b has, long enough"}}\n')
    project = _write_config(tmp_path, f"{corpus}/*.jsonl")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, ["a.jsonl", "b.jsonl"])
        for key in order:
            assert dg.materialize([documents, accounting_balances], partition_key=key, instance=instance, resources={"project": project}).success
    storage = Storage(project.config().storage_root)
    assert storage.read_table("documents", "documents.parquet", "a.jsonl").column("id").to_pylist() == ["a1"]
    assert storage.read_table("documents", "documents.parquet", "b.jsonl").column("id").to_pylist() == ["b2"]
    removed = storage.read_table("documents", "removed.parquet", "b.jsonl").to_pylist()
    assert [(r["id"], r["reason"]) for r in removed] == [("b1", "duplicate:exact")]
    assert "a1" in removed[0]["detail"]


def _data_versions(instance: dg.DagsterInstance, keys) -> dict[str, str]:
    records = instance.fetch_materializations(dg.AssetKey("documents"), limit=100).records
    latest: dict[str, str] = {}
    for record in reversed(records):  # oldest first: the newest of each partition wins
        materialization = record.asset_materialization
        latest[materialization.partition] = materialization.tags["dagster/data_version"]
    return {k: latest[k] for k in keys}


def test_data_version_follows_the_files_not_the_clock(tmp_path):
    """Re-materialising unchanged shards reports the same data versions; editing a shard changes its version and
    those of the shards after it in key order (their duplicates may now be its), never those before it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a", "b", "c"):
        (corpus / f"{name}.jsonl").write_text(
            f'{{"id": "{name}1", "text": "an ordinary article from shard {name} with enough words"}}\n')
    project = _write_config(tmp_path, f"{corpus}/*")
    keys = ["a.jsonl", "b.jsonl", "c.jsonl"]
    (versioned,) = with_code_versions([documents], project.config())  # as the code location defines it
    with dg.instance_for_test() as instance:
        _materialize_all(project, instance, versioned)
        first = _data_versions(instance, keys)
        _materialize_all(project, instance, versioned)
        assert _data_versions(instance, keys) == first
        (corpus / "b.jsonl").write_text('{"id": "b1", "text": "an edited article from shard b with more words now"}\n')
        _materialize_all(project, instance, versioned)
        edited = _data_versions(instance, keys)
        code_version = instance.fetch_materializations(dg.AssetKey("documents"), limit=1).records[0] \
            .asset_materialization.tags["dagster/code_version"]
    assert len(set(first.values())) == 3
    assert edited["a.jsonl"] == first["a.jsonl"]
    assert code_version == versioned.code_versions_by_key[dg.AssetKey("documents")]  # what Dagster compares
    assert edited["b.jsonl"] != first["b.jsonl"] and edited["c.jsonl"] != first["c.jsonl"]
