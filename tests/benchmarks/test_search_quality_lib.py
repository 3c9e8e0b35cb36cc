"""benchmarks/search_quality.py's pure helpers: round allocation, the random-initialisation sampler, held-apart
targets, and the summaries (mean and std over seeds, regret against the best chosen mixture, paired wins).
Also the contract the benchmark's pairing rests on: CLIMB's round 1 is a prefix of a larger random batch."""

import math

import numpy as np
import pytest

from benchmarks.search_quality_data import TargetSpec, hold_apart
from benchmarks.search_quality_lib import (
    allocate_rounds,
    paired,
    spearman_by_round,
    summarise,
    target_weight,
    uniform_random_candidates,
)
from benchmarks.labelled_corpora import LabelledDocument
from climb.search.mixtures import dirichlet_candidates, feasibility_caps, is_feasible
from climb.search.rounds import round_candidates


@pytest.mark.parametrize("total, ratio, expected", [
    (14, (4, 2, 1), [8, 4, 2]), (14, (6, 1), [12, 2]), (14, (2, 2, 1, 1), [5, 5, 2, 2]), (6, (4, 2, 1), [3, 2, 1]),
    (112, (4, 2, 1), [64, 32, 16]), (4, (1, 1, 1, 1), [1, 1, 1, 1]), (5, (10, 1, 1), [3, 1, 1]),
])
def test_rounds_split_the_total_by_the_ratio(total, ratio, expected):
    """Largest remainder on the ratio's shares, at least one run a round, summing to the total."""
    assert allocate_rounds(total, ratio) == expected


@pytest.mark.parametrize("total, ratio", [(2, (4, 2, 1)), (10, ()), (10, (1, 0))])
def test_impossible_allocations_raise(total, ratio):
    with pytest.raises(ValueError):
        allocate_rounds(total, ratio)


def test_random_init_ignores_the_token_prior_and_keeps_the_rules():
    """Uniform on the simplex whatever the token shares (mean near 1/K), distinct, on the 10**-4 grid, within caps,
    and seeded (same n and seed, same rows); the Dirichlet sampler with a skewed prior is not uniform (the ablation
    compares the two)."""
    rows = uniform_random_candidates(3, n=2000, seed=0)
    assert len(rows) == 2000 and len({tuple(r) for r in rows}) == 2000
    assert np.allclose(rows.sum(axis=1), 1) and np.allclose(rows * 10**4, np.rint(rows * 10**4))
    assert np.allclose(rows.mean(axis=0), 1 / 3, atol=0.02)
    assert np.array_equal(rows, uniform_random_candidates(3, n=2000, seed=0))
    assert not np.array_equal(rows, uniform_random_candidates(3, n=2000, seed=1))
    skewed = dirichlet_candidates(np.array([0.9, 0.09, 0.01]), n=2000, seed=0)
    assert skewed.mean(axis=0)[0] > 0.45
    caps = np.array([0.5, 1.0, 1.0])
    assert is_feasible(uniform_random_candidates(3, n=200, seed=1, caps=caps), caps).all()


def test_climb_round_one_is_the_prefix_of_the_random_batch():
    """The engine's round 1 of 8 candidates = the first 8 of a 14-candidate batch with the same seed, so CLIMB and
    RegMix / Best@N share those proxy runs (a paired comparison, trained once)."""
    shares = np.array([0.4, 0.3, 0.2, 0.1])
    caps = feasibility_caps(np.array([4e5, 3e5, 2e4, 1e5]), tokens_per_run=50_000, max_epochs=4)
    common = dict(token_shares=shares, caps=caps, evaluated=np.zeros((0, 4)), predictor=None, seed=3,
                  temperature=0.5, pool_size=100, top_n=None)
    first, _ = round_candidates(1, n=8, **common)
    batch, predicted = round_candidates(1, n=14, **common)
    assert np.array_equal(first, batch[:8]) and np.isnan(predicted).all()


def test_target_weight_sums_the_target_majority_clusters():
    composition = [{"pubmedqa": 9, "wikitext2": 1}, {"wikitext2": 5, "pubmedqa": 4}, {}]
    assert target_weight([0.5, 0.3, 0.2], composition, {"pubmedqa"}) == pytest.approx(0.5)
    assert target_weight([0.5, 0.3, 0.2], composition, {"pubmedqa", "wikitext2"}) == pytest.approx(0.8)


def _row(seed, method, loss, weight=None):
    return {"lab": "sources/threshold", "target": "t", "seed": seed, "method": method, "holdout_loss": loss,
            "target_weight": weight}


def test_summary_means_regrets_and_paired_wins():
    """Regret = loss - the lowest loss any compared method chose for that seed; wins are strict, per seed."""
    rows = [_row(0, "uniform", 7.0), _row(0, "regmix", 6.5, 0.8), _row(0, "climb", 6.4, 1.0),
            _row(1, "uniform", 7.2), _row(1, "regmix", 6.0, 0.6), _row(1, "climb", 6.0, 0.6),
            _row(1, "ignored", 1.0)]
    table = {r["method"]: r for r in summarise(rows, methods=["uniform", "regmix", "climb"])}
    assert set(table) == {"uniform", "regmix", "climb"}
    assert table["uniform"]["loss_mean"] == pytest.approx(7.1)
    assert table["uniform"]["loss_std"] == pytest.approx(np.std([7.0, 7.2], ddof=1))
    assert table["uniform"]["regret_mean"] == pytest.approx(((7.0 - 6.4) + (7.2 - 6.0)) / 2)
    assert table["regmix"]["regret_mean"] == pytest.approx(0.05) and table["regmix"]["best_count"] == 1
    assert (table["regmix"]["climb_wins"], table["regmix"]["climb_ties"]) == (1, 1)
    assert table["uniform"]["climb_wins"] == 2 and table["climb"]["best_count"] == 2
    assert table["regmix"]["target_weight_mean"] == pytest.approx(0.7)
    assert math.isnan(table["uniform"]["target_weight_mean"])


def test_one_seed_has_no_spread_and_spearman_skips_undefined_rounds():
    assert math.isnan(summarise([_row(0, "climb", 6.0)], methods=["climb"])[0]["loss_std"])
    rounds = [{"points": 8, "family": "ridge", "spearman": None}, {"points": 12, "family": "gp", "spearman": 0.5}]
    rows = [{**_row(s, "climb", 6.0), "rounds": [rounds[0], {**rounds[1], "spearman": 0.5 + 0.2 * s}]}
            for s in range(2)]
    by_round = spearman_by_round(rows, method="climb")
    assert math.isnan(by_round[0]["spearman_mean"]) and by_round[0]["families"] == {"ridge": 2}
    assert by_round[1]["spearman_mean"] == pytest.approx(0.6) and by_round[1]["points"] == 12


def test_held_apart_documents_leave_the_corpus_and_never_overlap():
    docs = [LabelledDocument(f"{label} {i}", label, f"{label}:{i}") for label in ("a", "b") for i in range(10)]
    corpus, texts = hold_apart(docs, (TargetSpec("a", (("a", 3),)), TargetSpec("mix", (("a", 2), ("b", 2)))), seed=0)
    held = texts["a"] + texts["mix"]
    assert len(held) == len(set(held)) == 7 and len(corpus) == 13
    assert not set(held) & {d.text for d in corpus}
    with pytest.raises(ValueError, match="less than half"):
        hold_apart(docs, (TargetSpec("greedy", (("b", 6),)),), seed=0)


def test_paired_differences_count_wins_ties_and_skip_missing_seeds():
    """loss(a) - loss(b) per seed present for both; a wins where it is strictly lower."""
    rows = [_row(0, "climb", 6.0), _row(0, "regmix", 6.5), _row(1, "climb", 6.2), _row(1, "regmix", 6.2),
            _row(2, "climb", 6.9), _row(2, "regmix", 6.4), _row(3, "climb", 6.0)]
    (pair,) = paired(rows, [("climb", "regmix")])
    assert (pair["seeds"], pair["a_wins"], pair["ties"]) == (3, 1, 1)
    assert pair["diff_mean"] == pytest.approx(0.0) and pair["diff_std"] == pytest.approx(0.5)
    assert paired(rows, [("climb", "absent")]) == []
