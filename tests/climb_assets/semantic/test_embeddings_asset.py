"""The embeddings asset and its blocking check, materialised with Dagster on an ephemeral instance."""

import dagster as dg
import numpy as np
import pytest

from climb_assets.corpus.assets import documents
from climb_assets.corpus.checks import accounting_balances
from resources import EmbedderResource, ProjectResource
from climb_assets.partitions import SHARDS
from climb_assets.semantic.assets import embeddings
from climb_assets.semantic.checks import embeddings_aligned_and_normalised
from climb.demo.corpus import generate_demo_corpus
from climb.corpus.documents import config_shards

ASSETS = [documents, embeddings, accounting_balances, embeddings_aligned_and_normalised]


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    manifest = generate_demo_corpus(root / "demo", seed=3, n_documents=60, n_target_documents=10)
    config = root / "climb.yaml"
    config.write_text(f"corpus:\n  paths: ['{manifest.corpus_dir}/part_0[23].*']\n  id_field: id\n"
                      "embedding:\n  max_length: 64\n  batch_size: 16\n")
    return ProjectResource(config_path=str(config), home=str(root / "home"))


def _materialize(project, instance, selection=None, key="part_02.parquet"):
    return dg.materialize(ASSETS, partition_key=key, instance=instance, selection=selection,
                          resources={"project": project, "embedder": EmbedderResource()}, raise_on_error=False)


def test_one_vector_per_kept_document(small_project):
    """Every kept document gets one unit float16 vector of dim 384, in order, and the checks pass."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, [s.key for s in config_shards(small_project.config())])
        result = _materialize(small_project, instance)
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"accounting_balances": True, "embeddings_aligned_and_normalised": True}
        metadata = result.asset_materializations_for_node("embeddings")[0].metadata
    storage = small_project.storage()
    ids = storage.read_table("embeddings", "ids.parquet", "part_02.parquet").column("id")
    kept = storage.read_table("documents", "documents.parquet", "part_02.parquet").column("id")
    vectors = storage.read_array("embeddings", "embeddings.npy", "part_02.parquet")
    assert ids.equals(kept) and vectors.shape == (len(kept), 384) and vectors.dtype == np.float16
    assert metadata["count"].value == len(kept) and metadata["dim"].value == 384
    assert metadata["tokens_per_second"].value > 0 and metadata["docs_per_second"].value > 0
    assert metadata["device"].value.startswith(("cpu", "cuda"))


def test_rematerialising_gives_identical_vectors(small_project):
    """The same documents and settings give bit-identical vectors."""
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, [s.key for s in config_shards(small_project.config())])
        assert _materialize(small_project, instance, key="part_03.csv").success
        first = np.array(small_project.storage().read_array("embeddings", "embeddings.npy", "part_03.csv"))
        assert _materialize(small_project, instance, key="part_03.csv").success
        second = small_project.storage().read_array("embeddings", "embeddings.npy", "part_03.csv")
    assert np.array_equal(first, second)


@pytest.mark.parametrize("damage", ["nan", "unnormalised", "missing_row", "truncated_file"])
def test_check_catches_a_corrupted_vector_file(small_project, damage):
    """Re-running the blocking check alone on a damaged embeddings.npy fails it."""
    key = "part_02.parquet"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, [s.key for s in config_shards(small_project.config())])
        assert _materialize(small_project, instance, key=key).success
        path = f"{small_project.storage().require('embeddings', key)}/embeddings.npy"
        vectors = np.load(path).copy()
        if damage == "nan":
            vectors[3, 7] = np.nan
        elif damage == "unnormalised":
            vectors[5] *= 2
        elif damage == "missing_row":
            vectors = vectors[:-1]
        if damage == "truncated_file":
            data = open(path, "rb").read()
            open(path, "wb").write(data[: len(data) // 2])
        else:
            np.save(path, vectors)
        check_key = dg.AssetCheckKey(dg.AssetKey("embeddings"), "embeddings_aligned_and_normalised")
        job = dg.define_asset_job("recheck", selection=dg.AssetSelection.checks(check_key))
        defs = dg.Definitions(assets=ASSETS[:2], asset_checks=ASSETS[2:], jobs=[job],
                              resources={"project": small_project, "embedder": EmbedderResource()})
        result = defs.resolve_job_def("recheck").execute_in_process(instance=instance, tags={"dagster/partition": key},
                                                                     raise_on_error=False)
    (evaluation,) = result.get_asset_check_evaluations()
    assert not evaluation.passed
