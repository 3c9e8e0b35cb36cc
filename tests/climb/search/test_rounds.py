"""Tests for one round of CLIMB's mixture search (climb.search.rounds): the round seed, the pure candidate core
(round 1 Dirichlet, later rounds ranked by a predictor), the search space read from ClimbLab, the proxy runs read
back, and the committed candidates and predictor of a round -- on hand-built partitions, no proxy trained."""

from __future__ import annotations

import json
import logging

import numpy as np
import pyarrow as pa
import pytest

from climb.climblab.build import DATA, cluster_folder
from climb.core.storage import Storage
from climb.search.evidence import proxy_fingerprint
from climb.search.mixtures import UNITS, dirichlet_candidates, feasibility_caps, mixture_key
from climb.search.rounds import (
    evaluated_runs,
    fit_round_predictor,
    propose_candidates,
    proxy_config,
    round_candidates,
    round_seed,
    search_space,
    weights_of,
)
from tests.climb.search.helpers_search import (
    CLUSTERS,
    TARGET_ID,
    VOCAB_SIZE,
    linear_scores,
    make_config,
    write_climblab,
    write_runs,
    write_target,
)

SHARES = np.array([0.6, 0.25, 0.15])
COEF = (1.0, 3.0, 2.0)  # the ground truth of the fitted rounds: cluster index 1 is best


class LinearPredictor:
    """The one method a round needs of a predictor: predict((p, K) weights) -> (p,) scores."""

    def __init__(self, coef):
        self.coef = np.asarray(coef, dtype=float)
        self.calls = 0

    def predict(self, weights: np.ndarray) -> np.ndarray:
        self.calls += 1
        return np.asarray(weights) @ self.coef


def units(rows: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(rows) * UNITS).astype(np.int64)


def candidates(round_number: int, **overrides):
    """round_candidates with small defaults (n 8, SHARES, no caps, nothing evaluated, seed 0) and the paper's designs
    (Dirichlet round 1, top-N by prediction later; the project's designs are tested in test_designs.py)."""
    args = dict(n=8, token_shares=SHARES, caps=None, evaluated=np.zeros((0, len(SHARES))), predictor=None, seed=0,
                temperature=0.5, pool_size=300, top_n=None, first_round="dirichlet", acquisition="mean")
    args.update(overrides)
    return round_candidates(round_number, **args)


@pytest.fixture
def space_storage(storage: Storage) -> Storage:
    """A storage with ClimbLab (clusters 7, 2, 5 written out of order), the tokenizer and the target."""
    write_climblab(storage)
    write_target(storage)
    return storage


# ---- round_seed ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("seed", "round_number", "expected"), [(0, 1, 1), (0, 3, 3), (3, 2, 3002), (7, 10, 7010)])
def test_round_seed_table(seed, round_number, expected):
    """The round's sampler seed is seed * 1000 + round."""
    assert round_seed(seed, round_number) == expected


def test_round_seeds_never_repeat_within_or_across_searches():
    """Seeds 0..9 x rounds 1..20 give 200 distinct sampler seeds."""
    seeds = {round_seed(s, r) for s in range(10) for r in range(1, 21)}
    assert len(seeds) == 200


# ---- round_candidates: round 1 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("n", "caps"),
    [
        pytest.param(8, None, id="uncapped"),
        pytest.param(12, np.array([0.5, 1.0, 1.0]), id="largest-cluster-capped"),
        pytest.param(5, np.array([0.7, 0.5, 0.5]), id="all-capped"),
    ],
)
def test_round_one_draws_n_feasible_rows_on_the_simplex(n, caps):
    """Round 1: n distinct rows, each summing to exactly 1 (10**-4 units), within the caps; predicted is nan."""
    weights, predicted = candidates(1, n=n, caps=caps)
    assert weights.shape == (n, 3)
    assert (units(weights).sum(axis=1) == UNITS).all()
    assert (weights >= 0).all()
    if caps is not None:
        assert (weights <= caps[None, :] + 1e-9).all()
    assert len({mixture_key(w) for w in weights}) == n
    assert predicted.shape == (n,) and np.isnan(predicted).all()


def test_round_one_coverage_design_starts_at_the_prior():
    """Round 1 with the default coverage design starts at the tempered prior and returns n distinct rows."""
    weights, _ = candidates(1, seed=4, n=6, first_round="coverage")
    assert len({mixture_key(w) for w in weights}) == 6
    np.testing.assert_allclose(weights[0], SHARES**0.5 / (SHARES**0.5).sum(), atol=1e-3)


def test_round_one_is_the_dirichlet_sampler_at_the_round_seed():
    """Round 1 of search seed 4 returns exactly dirichlet_candidates(seed = round_seed(4, 1))."""
    weights, _ = candidates(1, seed=4, n=6)
    expected = dirichlet_candidates(SHARES, n=6, seed=round_seed(4, 1), temperature=0.5)
    np.testing.assert_array_equal(weights, expected)


def test_round_one_excludes_evaluated_mixtures():
    """Mixtures already evaluated are never proposed again; the round still returns n rows."""
    first, _ = candidates(1, n=8)
    evaluated = first[:4]
    again, _ = candidates(1, n=8, evaluated=evaluated)
    assert len(again) == 8
    done = {mixture_key(w) for w in evaluated}
    assert not done & {mixture_key(w) for w in again}
    np.testing.assert_array_equal(again[:4], first[4:])  # the same stream, the evaluated rows skipped


def test_round_one_returns_fewer_rows_when_few_mixtures_exist():
    """One cluster with tokens: only [1, 0] exists, so one row comes back however many are asked."""
    weights, predicted = candidates(1, n=5, token_shares=np.array([1.0, 0.0]), evaluated=np.zeros((0, 2)))
    np.testing.assert_array_equal(weights, [[1.0, 0.0]])
    assert len(predicted) == 1


# ---- round_candidates: later rounds ----------------------------------------------------------------------------
@pytest.mark.parametrize("round_number", [2, 3, 5])
def test_later_round_without_predictor_raises(round_number):
    """Round r > 1 needs round r-1's predictor; the error names both rounds."""
    with pytest.raises(ValueError, match=f"round {round_number} ranks its pool by round {round_number - 1}'s "
                                         "predictor: none given"):
        candidates(round_number, predictor=None)


@pytest.mark.parametrize(("n", "top_n"), [(4, 4), (4, 20), (10, 50)])
def test_later_round_picks_among_the_predictors_top(n, top_n):
    """Round 2: n picks, each among the top_n of the pool by the predictor, best predicted first, predicted
    equal to the predictor's scores of the picked rows."""
    predictor = LinearPredictor(COEF)
    weights, predicted = candidates(2, n=n, top_n=top_n, predictor=predictor)
    assert weights.shape == (n, 3) and predictor.calls == 1
    np.testing.assert_allclose(predicted, predictor.predict(weights))
    assert (np.diff(predicted) <= 0).all()
    pool = dirichlet_candidates(SHARES, n=300, seed=round_seed(0, 2))
    pool_scores = np.sort(pool @ np.asarray(COEF))[::-1]
    assert predicted.min() >= pool_scores[top_n - 1] - 1e-12
    if top_n == n:  # the top is the pick: exactly the n best of the pool
        np.testing.assert_allclose(predicted, pool_scores[:n])


def test_later_round_excludes_evaluated_and_respects_caps():
    """The predictor's favourite, once evaluated, is not proposed again; caps bound every pick."""
    caps = np.array([1.0, 0.3, 1.0])
    best, _ = candidates(2, n=1, top_n=1, caps=caps, predictor=LinearPredictor(COEF))
    weights, _ = candidates(2, n=6, top_n=6, caps=caps, predictor=LinearPredictor(COEF), evaluated=best)
    assert mixture_key(best[0]) not in {mixture_key(w) for w in weights}
    assert (weights <= caps + 1e-9).all()
    assert weights[:, 1].max() == pytest.approx(0.3, abs=0.05)  # pushed against the cap of the best cluster


def test_later_round_rejects_a_predictor_with_wrong_output():
    """A predictor returning scores of the wrong length is an error, not a silent pick."""

    class Broken:
        def predict(self, weights):
            return np.zeros(3)

    with pytest.raises(ValueError, match="predict returned"):
        candidates(2, predictor=Broken())


# ---- search_space / weights_of / evaluated_runs -----------------------------------------------------------------
def test_search_space_reads_clusters_sorted_by_id(space_storage):
    """Cluster ids sorted (2, 5, 7), labels alongside, token shares = tokens / total, store tokens as written."""
    space = search_space(space_storage)
    assert space.cluster_ids == (2, 5, 7)
    assert space.labels == ("two", "five", "seven")
    np.testing.assert_allclose(space.token_shares, [0.6, 0.2, 0.2])
    assert space.token_shares.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(space.store_tokens, [120_000, 20_000, 40_000])
    assert len(space.data_version) == 16 and int(space.data_version, 16) >= 0


@pytest.mark.parametrize(
    ("clusters", "vocab", "source", "changes"),
    [
        pytest.param(CLUSTERS, VOCAB_SIZE, "trained", False, id="same"),
        pytest.param(tuple(reversed(CLUSTERS)), VOCAB_SIZE, "trained", False, id="rows-reordered"),
        pytest.param(((7, "renamed", 4, 40_000, 40_000),) + CLUSTERS[1:], VOCAB_SIZE, "trained", False,
                     id="label-renamed"),
        pytest.param(((7, "seven", 4, 41_000, 40_000),) + CLUSTERS[1:], VOCAB_SIZE, "trained", True, id="tokens"),
        pytest.param(((7, "seven", 5, 40_000, 40_000),) + CLUSTERS[1:], VOCAB_SIZE, "trained", True, id="documents"),
        pytest.param(((7, "seven", 4, 40_000, 30_000),) + CLUSTERS[1:], VOCAB_SIZE, "trained", True,
                     id="store-tokens"),
        pytest.param(CLUSTERS, 1024, "trained", True, id="vocab-size"),
        pytest.param(CLUSTERS, VOCAB_SIZE, "gpt2", True, id="tokenizer-source"),
    ],
)
def test_data_version_follows_counts_and_tokenizer(tmp_path, clusters, vocab, source, changes):
    """The data version hashes each cluster's documents/tokens/store tokens and the tokenizer, not labels or
    row order."""
    reference, other = Storage(str(tmp_path / "a")), Storage(str(tmp_path / "b"))
    write_climblab(reference)
    write_climblab(other, clusters, vocab_size=vocab, source=source)
    assert (search_space(other).data_version != search_space(reference).data_version) is changes


def test_search_space_without_climblab_names_the_missing_asset(storage):
    with pytest.raises(FileNotFoundError, match="climblab has not been materialised"):
        search_space(storage)


def test_weights_of_orders_columns_by_the_space(space_storage):
    """w_<cid> columns come back in the space's cluster order, whatever the table's column order."""
    space = search_space(space_storage)
    table = pa.table({"key": ["a", "b"], "w_7": [0.1, 0.0], "w_2": [0.5, 1.0], "w_5": [0.4, 0.0]})
    np.testing.assert_array_equal(weights_of(table, space), [[0.5, 0.4, 0.1], [1.0, 0.0, 0.0]])


def test_weights_of_missing_cluster_column_names_it(space_storage):
    space = search_space(space_storage)
    with pytest.raises(KeyError, match="w_5"):
        weights_of(pa.table({"w_2": [1.0], "w_7": [0.0]}), space)


def test_evaluated_runs_concatenates_rounds(space_storage):
    """Rounds 1..2 come back as (weights, scores, rows) in round order; an empty range is empty arrays."""
    space = search_space(space_storage)
    w1 = np.array([[1.0, 0.0, 0.0], [0.5, 0.25, 0.25]])
    w2 = np.array([[0.2, 0.2, 0.6]])
    write_runs(space_storage, 1, w1, [0.1, 0.2], space.cluster_ids)
    write_runs(space_storage, 2, w2, [0.3], space.cluster_ids)
    weights, scores, rows = evaluated_runs(space_storage, space, range(1, 3))
    np.testing.assert_array_equal(weights, np.vstack([w1, w2]))
    np.testing.assert_array_equal(scores, [0.1, 0.2, 0.3])
    assert [r["key"] for r in rows] == ["run-1-0", "run-1-1", "run-2-0"]
    weights, scores, rows = evaluated_runs(space_storage, space, range(1, 1))
    assert weights.shape == (0, 3) and scores.shape == (0,) and rows == []
    with pytest.raises(FileNotFoundError, match=r"proxy_runs\[3\]"):
        evaluated_runs(space_storage, space, range(1, 4))


# ---- propose_candidates: round 1 -------------------------------------------------------------------------------
def test_propose_round_one_commits_candidates_and_stats(space_storage, tmp_path):
    """Round 1 commits rounds[0] feasible candidates (predicted nan), stats with the seed, caps and cluster ids,
    an empty evidence report, and the membership snapshot of this data version."""
    config = make_config(tmp_path, rounds=(6, 4), seed=3)
    result = propose_candidates(1, storage=space_storage, config=config)
    space = search_space(space_storage)
    assert result["candidates"] == result["asked"] == 6
    table = space_storage.read_table("candidate_mixtures", "candidates.parquet", "1")
    assert table.num_rows == 6
    assert table.column("round").to_pylist() == [1] * 6 and table.column("index").to_pylist() == list(range(6))
    assert all(np.isnan(p) for p in table.column("predicted").to_pylist())
    weights = weights_of(table, space)
    np.testing.assert_array_equal(weights, result["weights"])
    caps = feasibility_caps(space.store_tokens, tokens_per_run=100_000, max_epochs=1.0)
    np.testing.assert_allclose(caps, [1.0, 0.2, 0.4])
    assert (weights <= caps + 1e-9).all() and (units(weights).sum(axis=1) == UNITS).all()
    stats = space_storage.read_json("candidate_mixtures", "stats.json", "1")
    assert stats["seed"] == 3001 and stats["asked"] == 6 and stats["candidates"] == 6
    assert stats["cluster_ids"] == [2, 5, 7]
    np.testing.assert_allclose(stats["caps"], caps)
    assert stats["evidence"]["runs"] == 0 and stats["evidence"]["translated"] == 0
    assert stats["evidence"]["data_version"] == space.data_version
    assert stats["evidence"]["target_id"] == TARGET_ID
    assert "translated_evidence.parquet" not in space_storage.manifest("candidate_mixtures", "1")["files"]
    membership = space_storage.read_table("cluster_membership", "membership.parquet", space.data_version)
    assert membership.num_rows == sum(c[2] for c in CLUSTERS)  # one row per ClimbLab document


def test_propose_round_one_warns_when_short(storage, tmp_path, caplog):
    """Only one cluster holds tokens: one distinct mixture exists, committed, and a warning says so."""
    write_climblab(storage, ((0, "all", 3, 300_000, 300_000), (1, "none", 0, 0, 300_000)))
    write_target(storage)
    config = make_config(tmp_path, rounds=(4,))
    with caplog.at_level(logging.WARNING):
        result = propose_candidates(1, storage=storage, config=config)
    assert result["candidates"] == 1 and result["asked"] == 4
    assert "round 1: only 1 distinct feasible candidates of 4 asked for" in caplog.text
    table = storage.read_table("candidate_mixtures", "candidates.parquet", "1")
    assert table.column("w_0").to_pylist() == [1.0] and table.column("w_1").to_pylist() == [0.0]


def _stats(space, config, *, data_version, target_id=TARGET_ID, proxy=None):
    return {"data_version": data_version, "cluster_ids": list(space.cluster_ids), "target_id": target_id,
            "proxy": proxy or proxy_fingerprint(proxy_config(config))}


@pytest.mark.parametrize(
    ("stats_of", "reason"),
    [
        pytest.param(lambda space, config: None, "translation:unversioned", id="unversioned"),
        pytest.param(lambda space, config: _stats(space, config, data_version="old", target_id="another-target"),
                     "translation:other_target_or_proxy", id="other-target"),
        pytest.param(lambda space, config: _stats(space, config, data_version="old", proxy="another-proxy"),
                     "translation:other_target_or_proxy", id="other-proxy"),
        pytest.param(lambda space, config: _stats(space, config, data_version="old"),
                     "translation:no_membership", id="no-membership-snapshot"),
    ],
)
def test_propose_round_one_reports_earlier_runs_it_cannot_translate(space_storage, tmp_path, stats_of, reason):
    """Earlier runs of another data version are skipped, counted under the reason they cannot be used."""
    config = make_config(tmp_path)
    space = search_space(space_storage)
    write_runs(space_storage, 1, np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.3, 0.3, 0.4]]), [1.0, 2.0, 3.0],
               space.cluster_ids, stats=stats_of(space, config), key_prefix="old")
    result = propose_candidates(1, storage=space_storage, config=config)
    assert result["evidence"]["reasons"] == {reason: 3}
    assert result["evidence"]["translated"] == 0
    assert "translated_evidence.parquet" not in space_storage.manifest("candidate_mixtures", "1")["files"]


def test_propose_round_one_translates_runs_of_an_earlier_clustering(space_storage, tmp_path):
    """Runs of an earlier data version whose membership snapshot holds the same documents in the same clusters
    translate one for one: same weights, same scores, written to translated_evidence.parquet."""
    config = make_config(tmp_path)
    space = search_space(space_storage)
    membership = pa.concat_tables([space_storage.read_table("climblab", f"{DATA}/{cluster_folder(cid)}/part-00000.parquet")
                                   for cid in space.cluster_ids])
    with space_storage.write_partition("cluster_membership", "old-version") as writer:
        writer.write_table("membership.parquet", membership)
    old = np.array([[1.0, 0.0, 0.0], [0.5, 0.25, 0.25]])
    keys = write_runs(space_storage, 1, old, [0.7, 0.9], space.cluster_ids, key_prefix="old",
                      stats=_stats(space, config, data_version="old-version"))
    result = propose_candidates(1, storage=space_storage, config=config)
    assert result["evidence"]["runs"] == 2 and result["evidence"]["translated"] == 2
    translated = space_storage.read_table("candidate_mixtures", "translated_evidence.parquet", "1")
    assert translated.column("key").to_pylist() == keys
    np.testing.assert_allclose(weights_of(translated, space), old, atol=1e-9)
    np.testing.assert_allclose(translated.column("search_score").to_numpy(), [0.7, 0.9])
    np.testing.assert_allclose(translated.column("mapped_share").to_numpy(), [1.0, 1.0])


# ---- fit_round_predictor and round 2 ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_round_one(tmp_path_factory):
    """Round 1 proposed and 'run' (scores = weights @ COEF, no proxy trained), its predictor fitted."""
    root = tmp_path_factory.mktemp("rounds")
    storage = Storage(str(root / "home"))
    write_climblab(storage)
    write_target(storage)
    config = make_config(root, rounds=(10, 4), pool_size=400, top_n=8)
    proposed = propose_candidates(1, storage=storage, config=config)
    space = search_space(storage)
    write_runs(storage, 1, proposed["weights"], linear_scores(proposed["weights"], COEF), space.cluster_ids,
               stats=_stats(space, config, data_version=space.data_version))
    predictor = fit_round_predictor(1, storage=storage, config=config)
    return storage, config, predictor, proposed


def test_fit_round_predictor_commits_its_fit(fitted_round_one):
    """predictor/1 holds predictor.json and cv.json: 10 points, none translated, this data version."""
    storage, _, predictor, _ = fitted_round_one
    assert storage.manifest("predictor", "1")["files"] == ["cv.json", "predictor.json"]
    cv = storage.read_json("predictor", "cv.json", "1")
    assert cv["n_points"] == 10 and cv["translated_points"] == 0
    assert cv["data_version"] == search_space(storage).data_version
    assert cv["family"] == predictor.family
    assert json.loads(json.dumps(storage.read_json("predictor", "predictor.json", "1")))  # plain JSON


def test_fit_round_predictor_learns_the_ranking(fitted_round_one):
    """On a linear ground truth, the fitted predictor ranks the vertices as the truth does (cluster 1 best)."""
    _, _, predictor, _ = fitted_round_one
    vertices = np.eye(3)
    assert list(np.argsort(-predictor.predict(vertices))) == list(np.argsort(-np.asarray(COEF)))


def test_propose_round_two_ranks_by_round_one(fitted_round_one):
    """Round 2 commits rounds[1] candidates, none evaluated in round 1, predicted by round 1's predictor and
    better on the ground truth than round 1's average."""
    storage, config, predictor, proposed = fitted_round_one
    result = propose_candidates(2, storage=storage, config=config)
    assert result["candidates"] == 4 and result["evidence"] is None
    table = storage.read_table("candidate_mixtures", "candidates.parquet", "2")
    space = search_space(storage)
    weights = weights_of(table, space)
    np.testing.assert_allclose(table.column("predicted").to_numpy(), predictor.predict(weights))
    assert not {mixture_key(w) for w in weights} & {mixture_key(w) for w in proposed["weights"]}
    caps = feasibility_caps(space.store_tokens, tokens_per_run=100_000, max_epochs=1.0)
    assert (weights <= caps + 1e-9).all()
    assert linear_scores(weights, COEF).mean() > linear_scores(proposed["weights"], COEF).mean()
    assert storage.read_json("candidate_mixtures", "stats.json", "2")["seed"] == round_seed(3, 2)


def test_propose_round_two_without_predictor_names_it(space_storage, tmp_path):
    """Round 2 before round 1's predictor was fitted (its runs are there) fails naming predictor[1]."""
    config = make_config(tmp_path)
    write_runs(space_storage, 1, np.eye(3), [0.1, 0.2, 0.3], search_space(space_storage).cluster_ids)
    with pytest.raises(FileNotFoundError, match=r"predictor\[1\] has not been materialised"):
        propose_candidates(2, storage=space_storage, config=config)


def test_fit_round_predictor_adds_translated_evidence(space_storage, tmp_path):
    """Points that round 1 translated from earlier searches (same data version) are fitted beside the runs."""
    config = make_config(tmp_path)
    space = search_space(space_storage)
    runs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # 3 points in all: a plain ridge fit, fast
    write_runs(space_storage, 1, runs, linear_scores(runs, COEF), space.cluster_ids)
    translated = np.array([[0.0, 0.0, 1.0]])
    with space_storage.write_partition("candidate_mixtures", "1") as writer:
        writer.write_table("candidates.parquet",
                           pa.table({f"w_{c}": runs[:, i] for i, c in enumerate(space.cluster_ids)}))
        writer.write_table("translated_evidence.parquet", pa.table({
            "key": ["t0"], "search_score": linear_scores(translated, COEF),
            **{f"w_{c}": translated[:, i] for i, c in enumerate(space.cluster_ids)}}))
        writer.write_json("stats.json", {"evidence": {"data_version": space.data_version}})
    fit_round_predictor(1, storage=space_storage, config=config)
    cv = space_storage.read_json("predictor", "cv.json", "1")
    assert cv["n_points"] == 3 and cv["translated_points"] == 1
