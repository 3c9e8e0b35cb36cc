"""Tests for RegMix's one-shot answer (climb.search.optimal.regmix_mixture): the rounded mean of a predictor's top_k
mixtures of a seeded Dirichlet pool -- with stand-in predictors, no proxy trained."""

from __future__ import annotations

import numpy as np
import pytest

from climb.search.mixtures import UNITS, dirichlet_candidates, is_feasible, round_to_simplex
from climb.search.optimal import OPTIMAL, REGMIX_TOP_K, regmix_mixture

SHARES = np.array([0.5, 0.3, 0.2])


class LinearPredictor:
    """predict((p, K) weights) -> (p,) scores = weights @ coef: the one method regmix_mixture uses."""

    def __init__(self, coef):
        self.coef = np.asarray(coef, dtype=float)

    def predict(self, weights: np.ndarray) -> np.ndarray:
        return np.asarray(weights) @ self.coef


def regmix(predictor, **overrides) -> np.ndarray:
    args = dict(token_shares=SHARES, caps=None, seed=11, pool_size=500, temperature=0.5, top_k=20)
    args.update(overrides)
    return regmix_mixture(predictor, **args)


def pool(**overrides) -> np.ndarray:
    args = dict(token_shares=SHARES, caps=None, seed=11, pool_size=500, temperature=0.5)
    args.update(overrides)
    return dirichlet_candidates(args["token_shares"], n=args["pool_size"], seed=args["seed"],
                                temperature=args["temperature"], caps=args["caps"])


def test_constants():
    """The partition is optimal_mixture; RegMix averages its top 100 simulated mixtures."""
    assert OPTIMAL == "optimal_mixture" and REGMIX_TOP_K == 100


@pytest.mark.parametrize(
    ("coef", "top_k", "caps"),
    [
        pytest.param((0.0, 0.0, 1.0), 1, None, id="top-1-favours-cluster-2"),
        pytest.param((1.0, 0.0, 0.0), 20, None, id="top-20-favours-cluster-0"),
        pytest.param((0.0, 2.0, 1.0), 50, np.array([1.0, 0.6, 0.6]), id="top-50-capped"),
    ],
)
def test_regmix_is_the_rounded_mean_of_the_predictors_top(coef, top_k, caps):
    """The answer equals round_to_simplex(mean of the top_k pool rows by predicted score), sums to exactly 1, and
    stays within the caps."""
    predictor = LinearPredictor(coef)
    answer = regmix(predictor, top_k=top_k, caps=caps)
    rows = pool(caps=caps)
    top = rows[np.argsort(-predictor.predict(rows))[:top_k]]
    np.testing.assert_array_equal(answer, round_to_simplex(top.mean(axis=0)[None, :])[0])
    assert answer.shape == (3,) and int(np.rint(answer * UNITS).sum()) == UNITS
    if caps is not None:
        assert is_feasible(answer[None, :], caps)[0]


@pytest.mark.parametrize("favoured", [0, 1, 2])
def test_regmix_leans_towards_the_favoured_cluster(favoured):
    """A predictor rewarding one cluster's weight gives that cluster the largest weight, above its token share
    (the pool's prior mean is the tempered shares, so the lean comes from the ranking)."""
    coef = np.zeros(3)
    coef[favoured] = 1.0
    answer = regmix(LinearPredictor(coef))
    assert int(np.argmax(answer)) == favoured
    assert answer[favoured] > SHARES[favoured]
    assert answer[favoured] > 0.8


def test_regmix_top_one_is_the_pools_best_row():
    """With top_k = 1 the answer is the single best simulated mixture, unchanged by rounding."""
    predictor = LinearPredictor((0.2, 1.0, 0.5))
    rows = pool()
    np.testing.assert_array_equal(regmix(predictor, top_k=1), rows[np.argmax(predictor.predict(rows))])


def test_regmix_top_k_beyond_the_pool_averages_the_whole_pool():
    """top_k >= pool size: every row is averaged, so any two predictors agree."""
    a = regmix(LinearPredictor((1.0, 0.0, 0.0)), pool_size=50, top_k=1000)
    b = regmix(LinearPredictor((0.0, 0.0, 1.0)), pool_size=50, top_k=1000)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, round_to_simplex(pool(pool_size=50).mean(axis=0)[None, :])[0])


def test_regmix_is_deterministic_in_its_seed():
    """Same arguments, same answer; another seed draws another pool."""
    predictor = LinearPredictor((0.3, 0.5, 0.2))
    np.testing.assert_array_equal(regmix(predictor), regmix(predictor))
    assert not np.array_equal(regmix(predictor, top_k=50, seed=11), regmix(predictor, top_k=50, seed=12))


class StepPredictor:
    """Piecewise-constant scores (as LightGBM's trees give): many pool rows tie."""

    def predict(self, weights: np.ndarray) -> np.ndarray:
        return np.floor(np.asarray(weights)[:, 0] * 4)


def test_regmix_with_ties_keeps_only_top_scored_rows():
    """With tied predictions, every averaged row still scores at least the top_k-th best: the answer's weight on
    the rewarded cluster is at least the top_k-th best row's."""
    rows = pool()
    scores = StepPredictor().predict(rows)
    kth = np.sort(scores)[::-1][19]
    eligible = rows[scores >= kth]
    answer = regmix(StepPredictor(), top_k=20)
    assert answer[0] >= eligible[:, 0].min() - 1e-4


def test_regmix_breaks_ties_in_draw_order():
    """Tied predictions keep the pool's draw order (a stable sort), so the answer is reproducible across machines."""
    rows = pool()
    top = rows[np.argsort(-StepPredictor().predict(rows), kind="stable")[:20]]
    np.testing.assert_array_equal(regmix(StepPredictor(), top_k=20), round_to_simplex(top.mean(axis=0)[None, :])[0])
