"""Tests for the candidate-mixture sampler (climb.search.mixtures): rows on the 10**-4 simplex grid summing to exactly
1, no weight under MIN_WEIGHT, caps, determinism, de-duplication, the tempered prior, and propose's top-N pick."""

from __future__ import annotations

import numpy as np
import pytest

from climb.search.mixtures import (
    MIN_WEIGHT,
    STRENGTHS,
    UNITS,
    dirichlet_candidates,
    feasibility_caps,
    is_feasible,
    mixture_key,
    propose,
    round_to_simplex,
    sample_dirichlet,
)

SHARES = np.array([0.7, 0.2, 0.1])
TWENTY = np.random.default_rng(7).dirichlet(np.ones(20))  # 20 super-clusters of uneven size, as the paper's 21


def units(rows: np.ndarray) -> np.ndarray:
    """Weights as integer units of 10**-4."""
    return np.rint(np.asarray(rows) * UNITS).astype(np.int64)


SAMPLER_CASES = [
    pytest.param(SHARES, None, 0.5, id="3-clusters"),
    pytest.param(SHARES, np.array([0.3, 1.0, 1.0]), 0.5, id="3-clusters-capped"),
    pytest.param(TWENTY, None, 0.5, id="20-clusters"),
    pytest.param(TWENTY, np.full(20, 0.5), 1.0, id="20-clusters-capped-t1"),
    pytest.param(np.array([5.0, 0.0, 3.0, 2.0]), None, 0.0, id="token-counts-with-empty-cluster-t0"),
]


# ---- constants and caps ----------------------------------------------------------------------------------------
def test_constants_carry_their_arithmetic():
    """MIN_WEIGHT is 2 grid units (100 of 512k examples); the 15 strengths span [0.1, 5] log-evenly."""
    assert MIN_WEIGHT * 512_000 == pytest.approx(102.4)
    assert units([MIN_WEIGHT])[0] == 2
    assert len(STRENGTHS) == 15 and STRENGTHS[0] == pytest.approx(0.1) and STRENGTHS[-1] == pytest.approx(5.0)
    assert np.allclose(np.diff(np.log(STRENGTHS)), np.log(50) / 14)


@pytest.mark.parametrize(
    ("available", "tokens_per_run", "max_epochs", "expected"),
    [
        ([100, 250], 1000, 1.0, [0.1, 0.25]),  # once through: available / run
        ([100, 250], 1000, 4.0, [0.4, 1.0]),  # regmix's 4 epochs, 250 * 4 / 1000 = 1.0 exactly
        ([1000, 500, 0, 10**9], 1000, 2.0, [1.0, 1.0, 0.0, 1.0]),  # 2.0 and 1e6 clip to 1; no tokens -> 0
        ([300], 2000, 0.5, [0.075]),  # fractional epochs: 300 * 0.5 / 2000
    ],
)
def test_feasibility_caps_table(available, tokens_per_run, max_epochs, expected):
    """Cap = available * max_epochs / tokens_per_run, clipped to [0, 1]."""
    caps = feasibility_caps(np.array(available), tokens_per_run=tokens_per_run, max_epochs=max_epochs)
    assert np.allclose(caps, expected)


@pytest.mark.parametrize(
    ("available", "tokens_per_run", "max_epochs"),
    [([100, -1], 1000, 1.0), ([100, np.nan], 1000, 1.0), ([100], 0, 1.0), ([100], 1000, 0.0), ([[100]], 1000, 1.0)],
)
def test_feasibility_caps_rejects_bad_input(available, tokens_per_run, max_epochs):
    """Negative or non-finite counts, a non-positive run size or epoch limit, or a 2-D array raise ValueError."""
    with pytest.raises(ValueError):
        feasibility_caps(np.array(available, dtype=float), tokens_per_run=tokens_per_run, max_epochs=max_epochs)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [([[0.3, 0.7], [0.31, 0.69]], [True, False]), ([[0.3 + 1e-10, 0.7]], [True]), ([0.2, 0.8], [True])],
)
def test_is_feasible_with_float_slack(weights, expected):
    """A row is feasible when every weight is within its cap, allowing 1e-9 of float slack; (K,) is one row."""
    assert is_feasible(np.array(weights), np.array([0.3, 1.0])).tolist() == expected


# ---- rounding --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("weights", "expected_units"),
    [
        ([1, 1, 1], [3334, 3333, 3333]),  # the missing unit goes to the first of equal remainders
        ([0, 1, 2], [0, 3333, 6667]),  # a zero stays zero; 0.66666 has the largest remainder
        ([2e-4, 0, 1 - 2e-4], [2, 0, 9998]),  # MIN_WEIGHT survives as 2 units (no float 1.9999 -> 1)
        ([0.25, 0.25, 0.5], [2500, 2500, 5000]),  # on the grid already: unchanged
        ([3.0, 1.0], [7500, 2500]),  # rows are normalised first
        ([1e-6, 1 - 1e-6], [0, 10000]),  # under half a unit rounds to zero
    ],
)
def test_round_to_simplex_table(weights, expected_units):
    """Largest-remainder rounding onto the 10**-4 grid: exact sums, zeros kept, ties broken by position."""
    assert units(round_to_simplex(np.array(weights, dtype=float))).tolist() == expected_units


@pytest.mark.parametrize("k", [2, 5, 21, 200])
def test_round_to_simplex_sums_to_exactly_one(k):
    """Every rounded row sums to exactly 10**4 units, also for sparse rows with tiny weights."""
    rng = np.random.default_rng(k)
    rows = rng.dirichlet(np.full(k, 0.05), size=2000)
    rows[rng.random(rows.shape) < 0.3] = 0.0
    rows[:, 0] += 1e-3  # no all-zero row
    rounded = round_to_simplex(rows)
    assert (units(rounded).sum(axis=1) == UNITS).all()
    assert not ((rounded > 0) & (rows == 0)).any()


@pytest.mark.parametrize("bad", [[[0.5, -0.1]], [[np.nan, 1.0]], [[0.0, 0.0]], [[np.inf, 1.0]]])
def test_round_to_simplex_rejects(bad):
    """Negative, non-finite or all-zero rows raise ValueError."""
    with pytest.raises(ValueError):
        round_to_simplex(np.array(bad))


def test_mixture_key_is_integer_units():
    """mixture_key gives the integer 10**-4 units of a row, hashable and equal for equal mixtures."""
    key = mixture_key(np.array([0.1234, 0.8766]))
    assert key == (1234, 8766) and all(type(u) is int for u in key)
    assert hash(key) == hash(mixture_key(round_to_simplex(np.array([0.12340001, 0.87659999]))))
    with pytest.raises(ValueError):
        mixture_key(np.ones((2, 2)) / 2)


def test_sample_dirichlet_survives_tiny_concentrations():
    """Concentrations down to 1e-5 give finite rows on the simplex, and alpha 0 gives exactly 0."""
    alpha = np.tile([1e-5, 1e-4, 0.0, 5.0], (5000, 1))
    rows = sample_dirichlet(alpha, np.random.default_rng(0))
    assert np.isfinite(rows).all() and np.allclose(rows.sum(axis=1), 1.0)
    assert (rows[:, 2] == 0).all()


# ---- the sampler -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("shares", "caps", "temperature"), SAMPLER_CASES)
def test_candidates_on_grid_without_small_weights_within_caps(shares, caps, temperature):
    """Rows sum to exactly 1 in integer units, hold no weight in (0, MIN_WEIGHT), keep caps and are distinct."""
    rows = dirichlet_candidates(shares, n=600, seed=1, temperature=temperature, caps=caps)
    assert rows.shape == (600, len(shares))
    u = units(rows)
    assert (u.sum(axis=1) == UNITS).all()
    assert np.allclose(rows, u / UNITS, atol=0)  # exactly on the grid
    assert not ((rows > 0) & (rows < MIN_WEIGHT)).any()
    if caps is not None:
        assert is_feasible(rows, caps).all()
    assert len({tuple(r) for r in u.tolist()}) == len(rows)
    assert (rows[:, np.asarray(shares) == 0] == 0).all()  # a cluster without tokens is never used


def test_candidates_are_deterministic_and_extend_with_n():
    """The same seed gives the same rows, another seed others, and a larger n extends a smaller n's rows."""
    first = dirichlet_candidates(TWENTY, n=300, seed=3)
    assert np.array_equal(first, dirichlet_candidates(TWENTY, n=300, seed=3))
    assert not np.array_equal(first, dirichlet_candidates(TWENTY, n=300, seed=4))
    assert np.array_equal(dirichlet_candidates(TWENTY, n=100, seed=3), first[:100])


@pytest.mark.parametrize("small, large", [(3, 6), (8, 14), (5, 100)])
def test_small_n_extends_too(small, large):
    """Below one block of draws (default max_draws = 100 n < BLOCK) a larger n still extends a smaller n's rows:
    CLIMB's round 1 of n candidates is then the prefix of a larger batch drawn with the same seed."""
    rows = dirichlet_candidates(SHARES, n=large, seed=11)
    assert np.array_equal(dirichlet_candidates(SHARES, n=small, seed=11), rows[:small])


def test_exclude_is_honoured():
    """Keys in `exclude` never come back; the rest of the rows are the ones drawn without them."""
    rows = dirichlet_candidates(SHARES, n=400, seed=5)
    excluded = {mixture_key(r) for r in rows[:200]}
    again = dirichlet_candidates(SHARES, n=400, seed=5, exclude=excluded)
    assert not excluded & {mixture_key(r) for r in again}
    assert np.array_equal(again[:200], rows[200:])


def test_max_draws_stops_short():
    """With max_draws reached, fewer than n rows come back instead of looping on."""
    rows = dirichlet_candidates(SHARES, n=1000, seed=0, max_draws=50)
    assert 0 < len(rows) <= 50


def test_caps_that_cannot_sum_to_one_raise():
    """Caps summing below 1 admit no mixture: ValueError, not an endless search."""
    with pytest.raises(ValueError, match="no mixture"):
        dirichlet_candidates(SHARES, n=10, seed=0, caps=np.array([0.3, 0.3, 0.3]))


@pytest.mark.parametrize(("temperature", "low", "high"), [(1.0, 0.6, 0.8), (0.5, 0.42, 0.6), (0.0, 0.25, 0.42)])
def test_prior_shows_in_mean_weight(temperature, low, high):
    """With shares [0.7, 0.2, 0.1] the mean candidate weight is ordered like the shares, and the temperature moves
    the first cluster's mean towards its share (t = 1), the square-root prior (0.5) or uniform (0)."""
    mean = dirichlet_candidates(SHARES, n=3000, seed=2, temperature=temperature).mean(axis=0)
    if temperature > 0:
        assert mean[0] > mean[1] > mean[2]
    assert low < mean[0] < high


# ---- propose ---------------------------------------------------------------------------------------------------
def on_cluster_2(weights: np.ndarray) -> np.ndarray:
    """A predictor that prefers weight on cluster 2."""
    return weights[:, 2]


def test_propose_picks_from_the_top_of_the_pool():
    """Chosen rows come from the predictor's top_n of the pool: far more cluster-2 weight than the pool mean,
    best predicted first, their scores those of predict."""
    pool = dirichlet_candidates(SHARES, n=5000, seed=0)
    chosen, predicted = propose(on_cluster_2, token_shares=SHARES, n=16, seed=0, pool_size=5000)
    assert chosen.shape == (16, 3)
    assert np.array_equal(predicted, chosen[:, 2]) and (np.diff(predicted) <= 0).all()
    assert chosen[:, 2].mean() > 3 * pool[:, 2].mean()
    cutoff = np.sort(pool[:, 2])[::-1][max(2 * 16, 5000 // 100) - 1]  # the default top_n = max(2n, pool // 100)
    assert (chosen[:, 2] >= cutoff).all()


@pytest.mark.parametrize("top_n", [8, 200])
def test_propose_top_n_sets_exploitation(top_n):
    """top_n = n proposes exactly the pool's n best; a wider top_n explores below them."""
    pool = dirichlet_candidates(SHARES, n=2000, seed=0)
    best = np.sort(pool[:, 2])[::-1]
    chosen, _ = propose(on_cluster_2, token_shares=SHARES, n=8, seed=0, pool_size=2000, top_n=top_n)
    if top_n == 8:
        assert np.array_equal(np.sort(chosen[:, 2])[::-1], best[:8])
    else:
        assert (chosen[:, 2] >= best[top_n - 1]).all() and chosen[:, 2].min() < best[7]


def test_propose_never_returns_excluded_and_is_deterministic():
    """Excluded keys (e.g. the round-1 candidates) are never proposed, whatever the predictor prefers; the same
    seed proposes the same rows."""
    top = propose(on_cluster_2, token_shares=SHARES, n=20, seed=1, pool_size=3000, top_n=20)[0]
    excluded = {mixture_key(r) for r in top}
    chosen, _ = propose(on_cluster_2, token_shares=SHARES, n=20, seed=1, pool_size=3000, top_n=20, exclude=excluded)
    assert not excluded & {mixture_key(r) for r in chosen}
    again, _ = propose(on_cluster_2, token_shares=SHARES, n=20, seed=1, pool_size=3000, top_n=20, exclude=excluded)
    assert np.array_equal(chosen, again)


def test_propose_respects_caps_and_rejects_bad_predictions():
    """Proposals keep the caps; a predictor returning the wrong shape or NaN raises ValueError."""
    caps = np.array([1.0, 1.0, 0.4])
    chosen, _ = propose(on_cluster_2, token_shares=SHARES, n=10, seed=0, pool_size=2000, caps=caps)
    assert is_feasible(chosen, caps).all() and chosen[:, 2].max() <= 0.4
    for bad in (lambda w: w[:5, 0], lambda w: np.full(len(w), np.nan)):
        with pytest.raises(ValueError, match="predict returned"):
            propose(bad, token_shares=SHARES, n=4, seed=0, pool_size=100)
