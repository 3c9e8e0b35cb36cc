"""Where the search looks (climb.search.designs): a first round that covers the simplex, and later rounds that put
the predicted optimum first and weigh prediction against uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from climb.search.designs import acquire, coverage_candidates, coverage_report, first_round
from climb.search.mixtures import UNITS, dirichlet_candidates, is_feasible, mixture_key, tempered_prior
from climb.search.predictor import fit_predictor

SHARES = np.array([0.3, 0.25, 0.15, 0.12, 0.1, 0.08])
K = len(SHARES)


def _on_grid(rows: np.ndarray) -> bool:
    return bool((np.rint(rows * UNITS).sum(axis=1) == UNITS).all())


@pytest.mark.parametrize("n", [1, 4, 8, 16])
def test_coverage_starts_at_the_prior_and_returns_distinct_rows(n):
    """n distinct rows on the 10**-4 grid; the first is the tempered prior (every cluster present)."""
    rows = coverage_candidates(SHARES, n=n, seed=0)
    assert rows.shape == (n, K) and _on_grid(rows)
    assert len({mixture_key(r) for r in rows}) == n
    assert np.abs(rows[0] - tempered_prior(SHARES, 0.5)).max() < 1e-3


def test_coverage_shows_every_cluster_and_more_pairs_than_the_papers_sampler():
    """At the demo's round 1 (8 candidates over 6 clusters) every cluster and every pair is held at >= 5% by some
    candidate, where the paper's sparse Dirichlet leaves pairs unseen (over 10 seeds)."""
    for seed in range(10):
        coverage = coverage_report(coverage_candidates(SHARES, n=8, seed=seed))
        assert coverage["clusters_covered"] == K and coverage["pairs_covered"] == coverage["pairs"] == 15
    sparse = [coverage_report(dirichlet_candidates(SHARES, n=8, seed=seed))["pairs_covered"] for seed in range(10)]
    assert np.mean(sparse) < 15


def test_coverage_respects_caps_and_exclusions():
    """No row exceeds a cap or repeats an excluded mixture; the prior moves within the caps."""
    caps = np.array([0.2, 1.0, 1.0, 1.0, 1.0, 1.0])
    first = coverage_candidates(SHARES, n=1, seed=0, caps=caps)
    rows = coverage_candidates(SHARES, n=8, seed=0, caps=caps, exclude={mixture_key(first[0])})
    assert is_feasible(rows, caps).all() and first[0, 0] <= 0.2 + 1e-9
    assert mixture_key(first[0]) not in {mixture_key(r) for r in rows}


def test_coverage_is_deterministic_per_seed():
    assert np.array_equal(coverage_candidates(SHARES, n=8, seed=3), coverage_candidates(SHARES, n=8, seed=3))
    assert not np.array_equal(coverage_candidates(SHARES, n=8, seed=3), coverage_candidates(SHARES, n=8, seed=4))


def test_first_round_dispatches_and_refuses_unknown_designs():
    """`dirichlet` is the paper's sampler unchanged; an unknown design names the valid ones."""
    paper = first_round("dirichlet", SHARES, n=8, seed=1, temperature=0.5, caps=None, exclude=())
    assert np.array_equal(paper, dirichlet_candidates(SHARES, n=8, seed=1))
    with pytest.raises(ValueError, match="coverage"):
        first_round("latin", SHARES, n=8, seed=1, temperature=0.5, caps=None, exclude=())


def test_coverage_report_counts_clusters_and_pairs():
    rows = np.array([[0.5, 0.5, 0.0], [0.0, 0.96, 0.04]])
    report = coverage_report(rows)
    assert (report["clusters_covered"], report["pairs_covered"], report["uncovered_clusters"]) == (2, 1, [2])


@pytest.fixture(scope="module")
def fitted():
    """A predictor on 10 coverage candidates of a blend truth (70/30 of clusters 0 and 2, log-like)."""
    w = coverage_candidates(SHARES, n=10, seed=0)
    y = np.log(w + 0.01) @ np.array([0.7, 0.0, 0.3, 0.0, 0.0, 0.0])
    return w, y, fit_predictor(w, y, seed=0)


@pytest.mark.parametrize("acquisition", ["ucb", "thompson"])
def test_later_rounds_put_the_predicted_optimum_first(fitted, acquisition):
    """ucb and thompson: n distinct feasible new rows, the first the predictor's best, none already evaluated."""
    w, y, predictor = fitted
    exclude = {mixture_key(r) for r in w}
    rows, predicted = acquire(predictor, token_shares=SHARES, n=4, seed=2, pool_size=2000, top_n=None, caps=None,
                              exclude=exclude, acquisition=acquisition, evaluated=w, scores=y)
    assert rows.shape == (4, K) and _on_grid(rows)
    assert not exclude & {mixture_key(r) for r in rows} and len({mixture_key(r) for r in rows}) == 4
    assert predicted[0] == pytest.approx(predictor.predict(rows).max())
    assert 0.5 <= rows[0, 0] <= 0.9 and rows[0, 2] >= 0.1  # the blend, not a vertex


def test_ucb_explores_more_than_mean_ranking(fitted):
    """With a large exploration weight the picks sit where the predictor is less sure than the paper's top-N picks."""
    w, y, predictor = fitted
    args = dict(token_shares=SHARES, n=6, seed=2, pool_size=2000, top_n=12, caps=None,
                exclude={mixture_key(r) for r in w})
    greedy, _ = acquire(predictor, acquisition="mean", **args)
    bold, _ = acquire(predictor, acquisition="ucb", kappa=5.0, **args)
    assert predictor.predict_std(bold[1:]).mean() > predictor.predict_std(greedy).mean()


def test_unknown_acquisition_is_refused(fitted):
    _, _, predictor = fitted
    with pytest.raises(ValueError, match="thompson"):
        acquire(predictor, token_shares=SHARES, n=2, seed=0, pool_size=100, top_n=None, caps=None, exclude=(),
                acquisition="greedy")
