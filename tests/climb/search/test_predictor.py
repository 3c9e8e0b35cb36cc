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
    SPEARMAN_TIE,
    VERTEX_ONLY,
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
    """On 16 points the chosen family has CV Spearman > 0.7 and is, within SPEARMAN_TIE, the best of the families
    that can represent coverage (a vertex-only family is never chosen)."""
    _, _, predictor = law16
    scores = {s.family: s.spearman for s in predictor.cv}
    assert predictor.family in FAMILIES and predictor.family not in VERTEX_ONLY and predictor.n_points == 16
    assert scores[predictor.family] > 0.7
    eligible = [v for f, v in scores.items() if f not in VERTEX_ONLY and not math.isnan(v)]
    assert scores[predictor.family] >= max(eligible) - SPEARMAN_TIE


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
    """argmax_mixture puts the most weight where the truth's optimum is (cluster 0), up to its cap, on the grid, and
    scores within 2% of the truth's best (a smooth family leaves a few percent elsewhere: 0.93 on cluster 0 costs
    1.5% here)."""
    _, _, predictor = law16
    best, predicted = argmax_mixture(predictor, token_shares=SHARES, caps=caps, seed=0, pool_size=5000)
    assert best.shape == (K,) and int(np.rint(best * UNITS).sum()) == UNITS
    assert np.argmax(best) == 0 and best[0] >= expected_w0 - 0.1
    optimum = np.array([expected_w0, 0, 0, 0, 1 - expected_w0])  # the rest on cluster 4, the smallest t
    assert mixing_law_score(best[None, :])[0] >= mixing_law_score(optimum[None, :])[0] * 1.02
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
def test_json_round_trip_predicts_identically(law16, family):  # one family asked for: chosen even if vertex-only
    """to_json -> JSON text -> from_json predicts exactly as the fitted predictor, for every family, without
    pickle or NaN in the JSON."""
    w, y, _ = law16
    predictor = fit_predictor(w, y, families=(family,), seed=0)
    assert predictor.family == family
    text = json.dumps(predictor.to_json(), allow_nan=False)
    loaded = Predictor.from_json(json.loads(text))
    probe = dirichlet_candidates(SHARES, n=500, seed=9)
    assert np.array_equal(loaded.predict(probe), predictor.predict(probe))
    assert np.array_equal(loaded.predict_std(probe), predictor.predict_std(probe))
    assert (loaded.family, loaded.cv, loaded.n_points, loaded.note) == (family, predictor.cv, 16, "")


def test_fit_is_deterministic(law16):
    """The same points and seed give the same choice, CV and saved model."""
    w, y, predictor = law16
    again = fit_predictor(w, y, seed=0)
    assert json.dumps(again.to_json(), allow_nan=False) == json.dumps(predictor.to_json(), allow_nan=False)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_fewer_than_four_points_fit_log_linear_with_a_note(n):
    """Under 4 points only log_linear is fitted, its CV is nan and `note` says why; it still predicts finite scores
    and has no uncertainty to offer (zeros)."""
    w, y = points(mixing_law_score, n, seed=2)
    predictor = fit_predictor(w, y)
    assert predictor.family == "log_linear" and "fewer than 4" in predictor.note
    assert len(predictor.cv) == 1 and math.isnan(predictor.cv[0].spearman) and math.isnan(predictor.cv[0].mae)
    assert np.isfinite(predictor.predict(w)).all() and not predictor.predict_std(w).any()
    loaded = Predictor.from_json(json.loads(json.dumps(predictor.to_json(), allow_nan=False)))
    assert loaded.cv[0].family == "log_linear"


def test_families_subset_is_honoured(law16):
    """Only the families asked for are fitted and reported, in FAMILIES order."""
    w, y, _ = law16
    predictor = fit_predictor(w, y, families=("gp", "ridge"), seed=0)
    assert [s.family for s in predictor.cv] == ["ridge", "gp"] and predictor.family == "gp"  # ridge: vertex-only


NAN = math.nan


@pytest.mark.parametrize(
    ("spearmans", "expected", "noted"),
    [
        ({"lightgbm": 0.9, "gp": 0.8, "log_linear": 0.7, "gp_log": 0.6}, "lightgbm", False),  # a plain win
        ({"lightgbm": 0.9, "gp": 0.9, "log_linear": 0.9, "gp_log": 0.9}, "log_linear", False),  # tied: the simplest
        ({"lightgbm": 0.9, "gp": 0.88, "log_linear": 0.7, "gp_log": 0.5}, "gp", False),  # within 0.05: simpler
        ({"lightgbm": NAN, "gp": -0.2, "log_linear": NAN}, "gp", False),  # nan (constant) ranks last
        ({"ridge": 0.95, "mixing_law": 0.9, "log_linear": 0.6, "gp": 0.5}, "log_linear", True),  # vertex-only lose
        ({"ridge": 0.9, "mixing_law": 0.8}, "ridge", False),  # only vertex-only families tried: they may choose
    ],
)
def test_choice_by_cv_spearman_ties_to_the_simpler_family(spearmans, expected, noted):
    """The best CV Spearman among families that can represent coverage wins; within SPEARMAN_TIE the simpler one
    (log_linear, gp_log, gp, ensemble, lightgbm); nan never beats a number; a better vertex-only family is noted."""
    cv = tuple(FamilyScore(family, value, 0.1) for family, value in spearmans.items())
    family, note = choose_family(cv)
    assert family == expected and bool(note) == noted
    assert not noted or "vertex" in note


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


def log_law_score(w: np.ndarray) -> np.ndarray:
    """Minus the loss on a target drawn 70/30 from clusters 0 and 2, each domain's loss log-like in its weight."""
    return np.log(w + 0.01) @ np.array([0.7, 0.0, 0.3, 0.0, 0.0])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_blend_target_gets_an_interior_answer(seed):
    """On 14 points of a log-law truth whose optimum is the 70/30 blend, the chosen family is not vertex-only and its
    argmax is interior and near the blend (no vertex-only family can represent this optimum)."""
    w, y = points(log_law_score, 14, seed=seed)
    predictor = fit_predictor(w, y, seed=seed)
    best, _ = argmax_mixture(predictor, token_shares=SHARES, caps=None, seed=seed, pool_size=5000)
    assert predictor.family not in VERTEX_ONLY
    assert best.max() < 0.9 and 0.55 <= best[0] <= 0.85 and 0.15 <= best[2] <= 0.45, best


def test_log_linear_optimum_is_the_water_filling_and_respects_caps():
    """log_linear's analytic optimum: weights in proportion to b (less eps), zero where b is 0, within the caps."""
    from climb.search.predictor_families import _LogLinear

    model = _LogLinear(b=[0.7, 0.0, 0.3, 0.0, 0.0], c=0.0, eps=0.001, alpha=0.0, mean=0.0, scale=1.0)
    free = model.optimum(None)
    assert free == pytest.approx([0.7 + 0.0004, 0, 0.3 - 0.0004, 0, 0], abs=1e-3) and free.sum() == pytest.approx(1)
    capped = model.optimum(np.array([0.5, 1.0, 1.0, 1.0, 1.0]))
    assert capped[0] == pytest.approx(0.5) and capped.sum() == pytest.approx(1) and capped[2] == pytest.approx(0.5)
    assert _LogLinear(b=[0.0] * 5, c=0.0, eps=0.01, alpha=0.0, mean=0.0, scale=1.0).optimum(None) is None


def test_predict_std_grows_away_from_the_evaluated_mixtures(law16):
    """The predictor's uncertainty is smaller at evaluated mixtures than at mixtures far from every one of them."""
    w, _, predictor = law16
    far = np.eye(K)[[1, 4]]  # vertices of clusters few candidates lean on
    assert predictor.predict_std(w).mean() < predictor.predict_std(far).mean()
