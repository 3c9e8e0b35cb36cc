"""Evidence translation: old super-cluster weights re-expressed over new super-clusters through document
membership (new_w[j] = sum_i w_i * tokens(i -> j) / tokens(i)); losses are reported, never hidden."""

import numpy as np
import pyarrow as pa
import pytest

from climb.climblab.build import CLIMBLAB, CLUSTERS_FILE, DATA, TOKENIZER, cluster_folder
from climb.core.config import DEFAULT_CONFIG_PATH, load_config
from climb.search.translation import LOST_MASS, cluster_overlap, translate_runs
from climb.search.rounds import (CANDIDATES, PREDICTOR, PROXY_RUNS, TRANSLATED, fit_round_predictor, propose_candidates,
                              proxy_config, search_space)
from climb.search.evidence import proxy_fingerprint
from climb.search.target_set import TARGET

# (old cluster, new cluster or None = gone, tokens) rows, the old weights, and the translated weights expected.
CASES = {
    "unchanged": ([(0, 0, 30), (1, 1, 70)], (0, 1), (0, 1), [[0.25, 0.75]], [[0.25, 0.75]]),
    "relabelled": ([(0, 1, 30), (1, 0, 70)], (0, 1), (0, 1), [[0.25, 0.75]], [[0.75, 0.25]]),
    "split": ([(0, 0, 60), (0, 2, 40), (1, 1, 50)], (0, 1), (0, 1, 2), [[0.5, 0.5]], [[0.3, 0.5, 0.2]]),
    "merge": ([(0, 0, 10), (1, 0, 90), (2, 1, 5)], (0, 1, 2), (0, 1), [[0.2, 0.3, 0.5]], [[0.5, 0.5]]),
    "half gone": ([(0, 0, 50), (0, None, 50), (1, 1, 100)], (0, 1), (0, 1), [[0.2, 0.8]], [[0.1 / 0.9, 0.8 / 0.9]]),
}


@pytest.mark.parametrize("case", CASES)
def test_translation_follows_the_documents(case):
    """Identity when nothing moved, a permutation when ids changed, shares split and merged by tokens, and
    documents gone lower the mapped share (here 0.9) before renormalising."""
    rows, old_ids, new_ids, weights, expected = CASES[case]
    overlap = cluster_overlap(rows, old_cluster_ids=old_ids, new_cluster_ids=new_ids)
    result = translate_runs(np.array(weights), np.array([-3.5]), overlap)
    np.testing.assert_allclose(result.weights, expected, atol=1e-4)
    assert result.weights.sum(axis=1) == pytest.approx([1.0]) and result.scores.tolist() == [-3.5]
    assert result.mapped_share[0] == pytest.approx(0.9 if case == "half gone" else 1.0)


def test_runs_that_lost_too_much_are_dropped_and_counted():
    """A run whose weight sat on vanished documents is dropped (reason counted); the rest keep their scores."""
    overlap = cluster_overlap([(0, 0, 100), (1, None, 80), (1, 0, 20)], old_cluster_ids=(0, 1), new_cluster_ids=(0,))
    assert overlap.mapped_share == pytest.approx(0.6)  # 120 of 200 tokens still exist
    result = translate_runs(np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]), np.array([1.0, 2.0, 3.0]), overlap,
                            min_mapped_share=0.5)
    assert result.kept.tolist() == [0, 2] and result.scores.tolist() == [1.0, 3.0]
    np.testing.assert_allclose(result.mapped_share, [1.0, 0.2, 0.6])
    assert result.reasons == {LOST_MASS: 1}
    assert translate_runs(np.array([[0.5, 0.5]]), np.array([3.0]), overlap).reasons == {LOST_MASS: 1}  # default 0.8


def test_unknown_cluster_is_an_error():
    """A membership row naming a cluster outside the given ids fails loudly, naming it."""
    with pytest.raises(ValueError, match="new cluster 7"):
        cluster_overlap([(0, 7, 10)], old_cluster_ids=(0,), new_cluster_ids=(0, 1))


# ---- the hook: round 1 on new super-clusters translates the earlier search's runs -------------------------
def _climblab(storage, documents: dict[str, tuple[int, int]]) -> str:
    """A ClimbLab of {id: (super-cluster, tokens)}; returns its search-space data version."""
    clusters = sorted({c for c, _ in documents.values()})
    with storage.write_partition(CLIMBLAB) as writer:
        for c in clusters:
            ids = [i for i, (cc, _) in documents.items() if cc == c]
            writer.write_table(f"{DATA}/{cluster_folder(c)}/part-00000.parquet", pa.table({
                "id": ids, "cluster_id": pa.array([c] * len(ids), pa.int32()),
                "token_count": pa.array([documents[i][1] for i in ids], pa.int64())}))
        writer.write_table(CLUSTERS_FILE, pa.Table.from_pylist([
            {"cluster_id": c, "label": f"cluster {c}", "documents": sum(cc == c for cc, _ in documents.values()),
             "tokens": sum(t for cc, t in documents.values() if cc == c), "store_tokens": 10**9} for c in clusters]))
    return search_space(storage).data_version


def _proxy_runs(storage, config, round_number: int, weights: list[list[float]], scores: list[float], tag: str):
    """What run_round commits (runs, and the data version and scoring they were made under)."""
    space = search_space(storage)
    columns = {f"w_{cid}": [w[i] for w in weights] for i, cid in enumerate(space.cluster_ids)}
    with storage.write_partition(PROXY_RUNS, str(round_number)) as writer:
        writer.write_table("runs.parquet", pa.table({"key": [f"{tag}{i}" for i in range(len(scores))],
                                                     "search_score": scores, **columns}))
        writer.write_json("stats.json", {"data_version": space.data_version, "cluster_ids": list(space.cluster_ids),
                                         "target_id": "target-1", "proxy": proxy_fingerprint(proxy_config(config))})


def test_round_one_on_new_clusters_translates_and_the_predictor_fits_it(storage, tmp_path):
    """Old super-cluster 0 splits 60/40 and a fifth of cluster 1 is gone: the earlier runs arrive translated in
    candidate_mixtures/1 (report: runs, kept, token mass mapped) and as extra points of every round's predictor."""
    config = load_config(DEFAULT_CONFIG_PATH, home=str(tmp_path / "home"))
    for asset, name, content in ((TOKENIZER, "stats.json", {"vocab_size": 256, "source": "test"}),
                                 (TARGET, "target.json", {"target_id": "target-1"})):
        with storage.write_partition(asset) as writer:
            writer.write_json(name, content)
    old = {f"a{i}": (0, 10) for i in range(10)} | {f"b{i}": (1, 10) for i in range(5)}
    old_version = _climblab(storage, old)
    _proxy_runs(storage, config, 1, [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], [-5.0, -4.0, -6.0], "old")
    from climb.search.evidence import snapshot_membership
    assert snapshot_membership(storage, data_version=old_version)  # run_round keeps it

    new = {f"a{i}": (0 if i < 6 else 2, 10) for i in range(10)} | {f"b{i}": (1, 10) for i in range(4)}
    new_version = _climblab(storage, new)
    assert new_version != old_version
    report = propose_candidates(1, storage=storage, config=config)["evidence"]
    assert report["runs"] == 3 and report["translated"] == 3 and report["reasons"] == {}
    (source,) = report["sources"]
    assert source["from_version"] == old_version and source["token_mass_mapped"] == round(140 / 150, 4)
    table = storage.read_table(CANDIDATES, TRANSLATED, "1")
    translated = np.stack([table.column(f"w_{c}").to_numpy() for c in (0, 1, 2)], axis=1)
    np.testing.assert_allclose(translated, [[0.6, 0.0, 0.4], [0.3 / 0.9, 0.4 / 0.9, 0.2 / 0.9], [0.0, 1.0, 0.0]],
                               atol=1e-4)
    assert table.column("mapped_share").to_pylist() == pytest.approx([1.0, 0.9, 0.8])

    _proxy_runs(storage, config, 1, [[0.2, 0.3, 0.5], [0.5, 0.25, 0.25]], [-4.5, -4.2], "new")  # round 1's own
    predictor = fit_round_predictor(1, storage=storage, config=config)
    cv = storage.read_json(PREDICTOR, "cv.json", "1")
    assert predictor.n_points == 5 and cv["translated_points"] == 3 and cv["data_version"] == new_version

    again = propose_candidates(1, storage=storage, config=config)["evidence"]  # re-run: carried, not lost or doubled
    assert again["translated"] == 3 and [s["origin"] for s in again["sources"]] == ["translated_evidence"]
