"""The search's answer (climb.search.final): each rule's finalist, the KL to the prior, and what the finalists record."""

from __future__ import annotations

import numpy as np
import pytest

from climb.search.designs import coverage_candidates
from climb.search.final import RULES, finalists, kl_to_prior, regularised, topk_mean
from climb.search.mixtures import UNITS, is_feasible, tempered_prior
from climb.search.predictor import fit_predictor

SHARES = np.array([0.3, 0.25, 0.15, 0.12, 0.1, 0.08])
PRIOR = tempered_prior(SHARES, 0.5)


@pytest.fixture(scope="module")
def fitted():
    """12 coverage candidates of a truth that wants cluster 0 alone (a vertex optimum) and its predictor."""
    w = coverage_candidates(SHARES, n=12, seed=1)
    y = np.log(w[:, 0] + 0.01)
    return w, y, fit_predictor(w, y, seed=1)


def test_kl_to_prior():
    """KL(prior || prior) = 0; a vertex costs -log(prior_j); zeros contribute nothing."""
    assert kl_to_prior(PRIOR, PRIOR)[0] == pytest.approx(0.0, abs=1e-12)
    assert kl_to_prior(np.eye(6)[2], PRIOR)[0] == pytest.approx(-np.log(PRIOR[2]))


@pytest.mark.parametrize("rule", RULES[:3])
def test_single_answer_rules_give_one_feasible_finalist(fitted, rule):
    """argmax, topk_mean and regularised each give one mixture on the grid with its prediction and its distance to
    the nearest evaluated mixture."""
    w, _, predictor = fitted
    caps = np.array([0.8, 1, 1, 1, 1, 1.0])
    [only] = finalists(predictor, rule=rule, token_shares=SHARES, prior=PRIOR, caps=caps, seed=0, pool_size=3000,
                       temperature=0.5, top_k=50, kl_weight=0.05, evaluated=w)
    assert only.rule == rule and is_feasible(only.weights, caps).all()
    assert int(np.rint(only.weights * UNITS).sum()) == UNITS
    assert only.predicted == pytest.approx(predictor.predict(only.weights)[0])
    assert only.distance == pytest.approx(np.abs(w - only.weights).sum(axis=1).min())
    assert np.argmax(only.weights) == 0  # every rule leans on the cluster the truth wants...
    assert only.weights[0] >= (0.3 if rule == "regularised" else 0.5)  # ... regularised stays near evaluated ones


def test_verified_considers_every_single_answer_rule_once(fitted):
    w, _, predictor = fitted
    rows = finalists(predictor, rule="verified", token_shares=SHARES, prior=PRIOR, caps=None, seed=0, pool_size=3000,
                     temperature=0.5, top_k=50, kl_weight=0.05, evaluated=w)
    assert [f.rule for f in rows] == [r for r in RULES[:3] if r in {f.rule for f in rows}]
    assert len({tuple(f.weights) for f in rows}) == len(rows) >= 2


def test_regularisation_pulls_towards_the_prior(fitted):
    """A larger KL weight moves the answer off the vertex towards the prior (interior by construction)."""
    w, _, predictor = fitted
    answers = [regularised(predictor, prior=PRIOR, caps=None, seed=0, pool_size=3000, kl_weight=lam,
                           candidates=w, trust=0.0) for lam in (0.0, 0.5, 5.0)]
    kls = [kl_to_prior(a, PRIOR)[0] for a in answers]
    assert kls[0] >= kls[1] >= kls[2] and answers[2].max() < 0.9


def test_topk_mean_is_the_mean_of_the_best_pool_rows(fitted):
    _, _, predictor = fitted
    one = topk_mean(predictor, token_shares=SHARES, caps=None, seed=3, pool_size=2000, temperature=0.5, top_k=1)
    many = topk_mean(predictor, token_shares=SHARES, caps=None, seed=3, pool_size=2000, temperature=0.5, top_k=200)
    assert predictor.predict(one)[0] >= predictor.predict(many)[0]


def test_unknown_rule_is_refused(fitted):
    w, _, predictor = fitted
    with pytest.raises(ValueError, match="verified"):
        finalists(predictor, rule="vote", token_shares=SHARES, prior=PRIOR, caps=None, seed=0, pool_size=100,
                  temperature=0.5, top_k=5, kl_weight=0.05, evaluated=w)
