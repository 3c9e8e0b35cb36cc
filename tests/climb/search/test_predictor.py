"""Tests for the mixture predictor (climb.search.predictor): on known ground truths the CV-chosen family ranks held-out
mixtures and its argmax finds the optimum; every family is reported, persisted without pickle and reproducible."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from climb.search.mixtures import UNITS, dirichlet_candidates, is_feasible
from climb.search.predictor import (
    FAMILIES,
    LIGHTGBM_PAPER,
    FamilyScore,
    Predictor,
    argmax_mixture,
    choose_family,
    fit_predictor,
)

K = 5
SHARES = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
T = np.array([-2.0, 0.5, 0.3, 0.8, 0.2])  # the mixing law's exponents: cluster 0 lowers the loss most
CENTRE = np.array([0.4, 0.3, 0.1, 0.1, 0.1])  # the non-linear truth's interior optimum


def mixing_law_score(w: np.ndarray) -> np.ndarray:
    """Minus a Data-Mixing-Laws loss 2 + 1.5 exp(w @ T): best at the vertex of cluster 0."""
    return -(2.0 + 1.5 * np.exp(w @ T))


def bowl_score(w: np.ndarray) -> np.ndarray:
    """Minus the squared distance to an interior mixture: no linear or log-linear model ranks it well."""
    return -np.sum((w - CENTRE) ** 2, axis=1)


def points(truth, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n round-1 candidates and their truth scores with 2% noise (of the scores' spread)."""
    w = dirichlet_candidates(SHARES, n=n, seed=seed)
    y = truth(w)
    return w, y + np.random.default_rng(100 + seed).normal(0.0, 0.02 * y.std(), n)


@pytest.fixture(scope="module")
def law16() -> tuple[np.ndarray, np.ndarray, Predictor]:
    """The paper's third-round scale: 16 points of a mixing-law truth, every family fitted."""
    w, y = points(mixing_law_score, 16, seed=0)
    return w, y, fit_predictor(w, y, seed=0)


def test_lightgbm_settings_are_the_papers():
    """LightGBM keeps the paper's lr 0.01, L1 = L2 = 1.0, depth 4 and min_child_samples 5."""
    expected = {"learning_rate": 0.01, "lambda_l1": 1.0, "lambda_l2": 1.0, "max_depth": 4, "min_data_in_leaf": 5}
    assert {key: LIGHTGBM_PAPER[key] for key in expected} == expected


def test_sixteen_points_chosen_family_ranks_well(law16):
    """On 16 points the chosen family has CV Spearman > 0.7 and is the best of the families (CV-chosen)."""
    _, _, predictor = law16
    scores = {s.family: s.spearman for s in predictor.cv}
    assert predictor.family in FAMILIES and predictor.n_points == 16 and predictor.note == ""
    assert scores[predictor.family] > 0.7
    assert scores[predictor.family] == max(v for v in scores.values() if not math.isnan(v))


def test_sixteen_points_every_family_reported_lightgbm_included(law16):
    """Every family's CV is reported in FAMILIES order; the paper's LightGBM on 16 points is computed (finite
    MAE), whatever its value."""
    _, _, predictor = law16
    assert [s.family for s in predictor.cv] == list(FAMILIES)
    assert all(math.isfinite(s.mae) and s.mae >= 0 for s in predictor.cv)
    lightgbm = predictor.cv[FAMILIES.index("lightgbm")]
    assert isinstance(lightgbm.spearman, float)


@pytest.mark.parametrize(("caps", "expected_w0"), [(None, 1.0), (np.array([0.6, 1.0, 1.0, 1.0, 1.0]), 0.6)])
def test_sixteen_points_argmax_finds_the_optimum(law16, caps, expected_w0):
    """argmax_mixture puts the most weight where the truth's optimum is (cluster 0), up to its cap, on the grid."""
    _, _, predictor = law16
    best, predicted = argmax_mixture(predictor, token_shares=SHARES, caps=caps, seed=0, pool_size=5000)
    assert best.shape == (K,) and int(np.rint(best * UNITS).sum()) == UNITS
    assert np.argmax(best) == 0 and best[0] >= expected_w0 - 0.05
    assert caps is None or is_feasible(best, caps).all()
    assert predicted == pytest.approx(predictor.predict(best)[0])


def test_sixty_four_points_non_linear_truth():
    """With 64 points of an interior-optimum truth a non-linear family (GP or LightGBM) beats ridge, the chosen
    family's CV Spearman exceeds 0.8, and the argmax lands near the optimum."""
    w, y = points(bowl_score, 64, seed=1)
    predictor = fit_predictor(w, y, seed=1)
    scores = {s.family: s.spearman for s in predictor.cv}
    assert scores[predictor.family] > 0.8
    assert max(scores["gp"], scores["lightgbm"]) > scores["ridge"] + 0.1
    best, _ = argmax_mixture(predictor, token_shares=SHARES, caps=None, seed=1, pool_size=5000)
    assert np.abs(best - CENTRE).sum() < 0.15


@pytest.mark.parametrize("family", FAMILIES)
def test_json_round_trip_predicts_identically(law16, family):
    """to_json -> JSON text -> from_json predicts exactly as the fitted predictor, for every family, without
    pickle or NaN in the JSON."""
    w, y, _ = law16
    predictor = fit_predictor(w, y, families=(family,), seed=0)
    assert predictor.family == family
    text = json.dumps(predictor.to_json(), allow_nan=False)
    loaded = Predictor.from_json(json.loads(text))
    probe = dirichlet_candidates(SHARES, n=500, seed=9)
    assert np.array_equal(loaded.predict(probe), predictor.predict(probe))
    assert (loaded.family, loaded.cv, loaded.n_points, loaded.note) == (family, predictor.cv, 16, "")


def test_fit_is_deterministic(law16):
    """The same points and seed give the same choice, CV and saved model."""
    w, y, predictor = law16
    again = fit_predictor(w, y, seed=0)
    assert json.dumps(again.to_json(), allow_nan=False) == json.dumps(predictor.to_json(), allow_nan=False)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_fewer_than_four_points_fit_ridge_with_a_note(n):
    """Under 4 points only ridge is fitted, its CV is nan and `note` says why; it still predicts finite scores."""
    w, y = points(mixing_law_score, n, seed=2)
    predictor = fit_predictor(w, y)
    assert predictor.family == "ridge" and "fewer than 4" in predictor.note
    assert len(predictor.cv) == 1 and math.isnan(predictor.cv[0].spearman) and math.isnan(predictor.cv[0].mae)
    assert np.isfinite(predictor.predict(w)).all()
    assert Predictor.from_json(json.loads(json.dumps(predictor.to_json(), allow_nan=False))).cv[0].family == "ridge"


def test_families_subset_is_honoured(law16):
    """Only the families asked for are fitted and reported, in FAMILIES order."""
    w, y, _ = law16
    predictor = fit_predictor(w, y, families=("gp", "ridge"), seed=0)
    assert [s.family for s in predictor.cv] == ["ridge", "gp"] and predictor.family in ("ridge", "gp")


NAN = math.nan


@pytest.mark.parametrize(
    ("spearmans", "expected"),
    [
        ({"lightgbm": 0.9, "ridge": 0.8, "mixing_law": 0.7, "gp": 0.85}, "lightgbm"),  # a plain win
        ({"lightgbm": 0.9, "ridge": 0.9, "mixing_law": 0.9, "gp": 0.9}, "ridge"),  # all tied: the simplest
        ({"lightgbm": 0.9, "ridge": 0.5, "mixing_law": 0.9, "gp": 0.9}, "mixing_law"),
        ({"lightgbm": 0.9, "ridge": 0.5, "mixing_law": 0.6, "gp": 0.9}, "gp"),
        ({"lightgbm": NAN, "ridge": -0.2, "mixing_law": NAN, "gp": NAN}, "ridge"),  # nan (constant) ranks last
        ({"lightgbm": NAN, "gp": 0.1}, "gp"),
    ],
)
def test_choice_by_cv_spearman_ties_to_the_simpler_family(spearmans, expected):
    """The best CV Spearman wins; ties go to ridge, then mixing_law, gp, lightgbm; nan never beats a number."""
    cv = tuple(FamilyScore(family, value, 0.1) for family, value in spearmans.items())
    assert choose_family(cv) == (expected, "")


def test_all_spearmans_undefined_picks_the_simplest_with_a_note():
    """When no family's out-of-fold predictions vary, the simplest family tried is chosen and `note` says so."""
    family, note = choose_family((FamilyScore("lightgbm", NAN, 0.1), FamilyScore("gp", NAN, 0.1)))
    assert family == "gp" and "undefined" in note


@pytest.mark.parametrize(
    ("weights", "scores", "kwargs", "match"),
    [
        (np.full((6, 3), 1 / 3), np.ones(6), {}, "scores that vary"),
        (np.full((6, 3), 1 / 3), np.r_[np.arange(5.0), np.nan], {}, "scores row 5"),
        (np.full((6, 3), 1 / 3), np.arange(5.0), {}, "expected"),
        (np.full((6, 3), 1 / 3), np.arange(6.0), {"families": ("xgboost",)}, "subset"),
        (np.full((6, 3), 1 / 3), np.arange(6.0), {"folds": 1}, "folds"),
    ],
)
def test_bad_input_raises(weights, scores, kwargs, match):
    """Constant or non-finite scores, mismatched shapes, unknown families and folds < 2 raise ValueError."""
    with pytest.raises(ValueError, match=match):
        fit_predictor(weights, scores, **kwargs)


def test_predict_checks_the_number_of_clusters(law16):
    """Predicting mixtures over another number of clusters raises ValueError naming the expected shape."""
    _, _, predictor = law16
    with pytest.raises(ValueError, match=r"\(n, 5\)"):
        predictor.predict(np.full((2, 4), 0.25))
