"""The predictor of CLIMB's mixture search: mixture weights -> target score (higher is better).

CLIMB (arXiv 2504.13161) fits LightGBM regression on every (mixture, score) pair so far and takes its argmax over
feasible mixtures. At the paper's 64+ points that is the right model; at tiny scale it is not: on 16 points
LightGBM with the paper's settings cannot split and predicts a near-constant (docs/method.md, measured facts). And
the loss is log-like in the weight of a domain the target needs, which families linear in the weights cannot
represent: their argmax is always a vertex. So every family of `climb.search.predictor_families` is fitted and
cross-validated (k-fold Spearman rank correlation: the search only needs the ranking); the best family that can
represent coverage is chosen, and the vertex-only families (ridge, the Data-Mixing-Laws law) are reported but
never choose. The predictor also carries a Gaussian process on log-weights whose standard deviation later rounds
use to explore (`predict_std`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from climb.search import mixtures
from climb.search.predictor_families import (FAMILIES, GP_RESTARTS, LIGHTGBM_HOLDOUT, LIGHTGBM_PAPER,
                                             LIGHTGBM_PATIENCE, LIGHTGBM_ROUNDS, LOG_ALPHAS, LOG_EPSILONS,
                                             MIN_CV_POINTS, MIXING_LAW_PENALTY, MIXING_LAW_STARTS, MODELS,
                                             RIDGE_ALPHAS, VERTEX_ONLY, _GaussianProcessLog, _LogLinear)

__all__ = ["FAMILIES", "LIGHTGBM_PAPER", "MIN_CV_POINTS", "VERTEX_ONLY", "FamilyScore", "Predictor",
           "argmax_mixture", "choose_family", "fit_predictor"]

PREDICTOR_FORMAT = "climb-predictor/2"
READABLE_FORMATS = ("climb-predictor/1", PREDICTOR_FORMAT)  # /1: before the explorer GP
# CV ties go to the family earlier here (fewer parameters, smoother); vertex-only families never choose.
SIMPLICITY = ("log_linear", "ridge", "mixing_law", "gp_log", "gp", "ensemble", "lightgbm")
SPEARMAN_TIE = 0.05  # CV Spearmans this close are equal: on 8-30 points the difference is noise; the simpler family wins
# Concentrations of the local refinement rounds: a weight of 0.5 moves by sqrt(0.25 / conc), 5% down to 0.5%.
ARGMAX_REFINE = (100.0, 300.0, 1_000.0, 3_000.0, 10_000.0)
ARGMAX_REFINE_DRAWS = 2_000  # perturbations per refinement round
ARGMAX_REFINE_FLOOR = 1e-3  # alpha = conc * (best + floor): clusters the best leaves out can come back in
ARGMAX_STREAM = 2  # the refinement draws use default_rng((seed, 2)), a stream apart from the pool's
assert set(SIMPLICITY) == set(FAMILIES)


@dataclass(frozen=True)
class FamilyScore:
    """Out-of-fold quality of one family: Spearman rank correlation and MAE in score units (nan: not computed,
    or Spearman undefined because the out-of-fold predictions were constant)."""

    family: str
    spearman: float
    mae: float


# ---- predictor -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Predictor:
    """A fitted predictor: the chosen family's model plus every family's cross-validation. Build it with
    `fit_predictor` or `from_json`.

    Args:
        family: the family that won the cross-validation among those that can represent coverage.
        cv: FamilyScore of every family tried, in FAMILIES order.
        n_points: the (mixture, score) pairs it was fitted on; n_clusters: K.
        note: why the choice was not a plain CV win (too few points, no ranking at all), else "".
        folds, seed: of the fit (folds 0: no cross-validation).
        model: the family's fitted model.
        explorer: a Gaussian process on log-weights fitted on every point, for `predict_std` (None under
            MIN_CV_POINTS points, or when the chosen model gives its own standard deviation).
    """

    family: str
    cv: tuple[FamilyScore, ...]
    n_points: int
    n_clusters: int
    note: str
    folds: int
    seed: int
    model: Any = field(repr=False)
    explorer: Any = field(default=None, repr=False)

    def _rows(self, weights: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != self.n_clusters:
            raise ValueError(f"weights of shape {np.shape(weights)}, the {self.family} predictor expects "
                             f"(n, {self.n_clusters})")
        return x

    def predict(self, weights: np.ndarray) -> np.ndarray:
        """Predicted scores (n,) of mixtures (n, K) (or one (K,) row), higher is better."""
        return np.asarray(self.model.predict(self._rows(weights)), dtype=np.float64).reshape(-1)

    def predict_std(self, weights: np.ndarray) -> np.ndarray:
        """How unsure the prediction is (n,), in score units: the chosen model's own posterior standard deviation
        where it has one (GPs, the ensemble), else the explorer GP's; zeros when neither exists."""
        x = self._rows(weights)
        source = self.model if hasattr(self.model, "predict_std") else self.explorer
        return np.zeros(len(x)) if source is None else np.asarray(source.predict_std(x), dtype=np.float64)

    def optimum(self, caps: np.ndarray | None) -> np.ndarray | None:
        """The model's analytic maximiser over the simplex where it has one (log_linear, ensemble), else None."""
        return self.model.optimum(caps) if hasattr(self.model, "optimum") else None

    def to_json(self) -> dict[str, Any]:
        """Everything needed to predict again, as JSON types (no pickle; nan as null), with its settings."""
        data = {name: getattr(self, name) for name in ("family", "n_points", "n_clusters", "note", "folds", "seed")}
        cv = [{"family": s.family, "spearman": None if math.isnan(s.spearman) else s.spearman,
               "mae": None if math.isnan(s.mae) else s.mae} for s in self.cv]
        settings = {"lightgbm": LIGHTGBM_PAPER, "lightgbm_rounds": LIGHTGBM_ROUNDS,
                    "lightgbm_holdout": LIGHTGBM_HOLDOUT, "lightgbm_patience": LIGHTGBM_PATIENCE,
                    "ridge_alphas": list(RIDGE_ALPHAS), "mixing_law_starts": MIXING_LAW_STARTS,
                    "mixing_law_penalty": MIXING_LAW_PENALTY, "gp_restarts": GP_RESTARTS,
                    "log_epsilons": list(LOG_EPSILONS), "log_alphas": list(LOG_ALPHAS)}
        return {"format": PREDICTOR_FORMAT, **data, "cv": cv, "settings": settings, "model": asdict(self.model),
                "explorer": None if self.explorer is None else asdict(self.explorer)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Predictor:
        """A predictor written by `to_json`."""
        if data.get("format") not in READABLE_FORMATS or data.get("family") not in MODELS:
            raise ValueError(f"predictor of format {data.get('format')!r} and family {data.get('family')!r}, "
                             f"expected one of {READABLE_FORMATS} and one of {FAMILIES}")
        cv = tuple(FamilyScore(s["family"], *(math.nan if s[key] is None else s[key] for key in ("spearman", "mae")))
                   for s in data["cv"])
        explorer = data.get("explorer")
        return cls(family=data["family"], cv=cv, n_points=data["n_points"], n_clusters=data["n_clusters"],
                   note=data["note"], folds=data["folds"], seed=data["seed"],
                   model=MODELS[data["family"]](**data["model"]),
                   explorer=None if explorer is None else _GaussianProcessLog(**explorer))


def _checked_points(weights: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(weights, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    if x.ndim != 2 or y.shape != (len(x),) or len(x) == 0:
        raise ValueError(f"weights of shape {x.shape} and scores of shape {y.shape}: expected (n, K) and (n,), n >= 1")
    for name, values in (("weights", x), ("scores", y)):
        bad = ~np.isfinite(values.reshape(len(x), -1)).all(axis=1)
        if bad.any():
            raise ValueError(f"{name} row {int(np.argmax(bad))} is not finite")
    if len(y) > 1 and np.ptp(y) == 0:
        raise ValueError(f"every one of the {len(y)} scores is {y[0]:g}: a predictor needs scores that vary")
    return x, y


def _cross_validate(family: str, x: np.ndarray, y: np.ndarray, folds: int, seed: int) -> FamilyScore:
    from scipy.stats import spearmanr

    order = np.random.default_rng(seed).permutation(len(y))
    out_of_fold = np.empty_like(y)
    for held in np.array_split(order, folds):
        train = np.setdiff1d(order, held)
        out_of_fold[held] = MODELS[family].fit(x[train], y[train], seed).predict(x[held])
    spearman = float(spearmanr(out_of_fold, y).statistic) if np.ptp(out_of_fold) > 0 else math.nan
    return FamilyScore(family, spearman, float(np.mean(np.abs(out_of_fold - y))))


def choose_family(cv: tuple[FamilyScore, ...]) -> tuple[str, str]:
    """(family, note) from the families' cross-validation: the best CV Spearman among the families that can
    represent coverage wins (VERTEX_ONLY ones only when nothing else was tried), ties (within SPEARMAN_TIE) go to
    the family earlier in SIMPLICITY, nan ranks last; `note` says why when the choice is not a plain CV win.

    Args:
        cv: one FamilyScore per family tried.
    """
    eligible = [s for s in cv if s.family not in VERTEX_ONLY] or list(cv)
    ranked = sorted(eligible, key=lambda s: SIMPLICITY.index(s.family))
    finite = [s for s in ranked if not math.isnan(s.spearman)]
    if not finite:
        return ranked[0].family, (f"no family's out-of-fold predictions varied (CV Spearman undefined for all); "
                                  f"chose {ranked[0].family}, the simplest tried")
    best = max(s.spearman for s in finite)
    family = next(s.family for s in finite if s.spearman >= best - SPEARMAN_TIE)
    overall = max((s for s in cv if not math.isnan(s.spearman)), key=lambda s: s.spearman)
    note = (f"{overall.family} ranked best (CV Spearman {overall.spearman:.3f}) but its argmax is always a vertex; "
            f"chose {family}" if overall.spearman > best + SPEARMAN_TIE else "")
    return family, note


def fit_predictor(weights: np.ndarray, scores: np.ndarray, *, families: Sequence[str] = FAMILIES, folds: int = 5,
                  seed: int = 0) -> Predictor:
    """Fit every family, cross-validate it, keep the best that can represent coverage (refitted on all points).

    Ties (within SPEARMAN_TIE) go to the simpler family in SIMPLICITY order; a family whose out-of-fold
    predictions are constant has Spearman nan and ranks last; ridge and the mixing law (VERTEX_ONLY) are
    cross-validated and reported but chosen only when no other family was asked for. With fewer than
    MIN_CV_POINTS points only log_linear is fitted, its CV is nan and `note` says so.

    Args:
        weights: (n, K) mixtures evaluated so far (rows on the simplex).
        scores: (n,) their target scores, higher is better (e.g. minus the validation loss).
        families: the families to try, a subset of FAMILIES.
        folds: k of the k-fold cross-validation (>= 2), reduced to n when n is smaller.
        seed: shuffles the folds, LightGBM's early-stopping split, the mixing-law starts and the GP restarts.
    """
    x, y = _checked_points(weights, scores)
    if not families or any(f not in MODELS for f in families):
        raise ValueError(f"families {list(families)}: expected a non-empty subset of {FAMILIES}")
    if folds < 2:
        raise ValueError(f"folds = {folds}, expected at least 2")
    n, k = x.shape
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    # Tens of points: BLAS threads cost far more than they save (a 64-point GP fit on a busy 2-core machine:
    # 3 s with threads, 0.12 s on one).
    with threadpool_limits(limits=1):
        if n < MIN_CV_POINTS:
            note = f"{n} points, fewer than {MIN_CV_POINTS}: log_linear fitted without cross-validation"
            return Predictor(family="log_linear", cv=(FamilyScore("log_linear", math.nan, math.nan),), n_points=n,
                             n_clusters=k, note=note, folds=0, seed=seed, model=_LogLinear.fit(x, y, seed))
        folds = min(folds, n)
        cv = tuple(_cross_validate(f, x, y, folds, seed) for f in FAMILIES if f in families)
        family, note = choose_family(cv)
        model = MODELS[family].fit(x, y, seed)
        explorer = None if hasattr(model, "predict_std") else _GaussianProcessLog.fit(x, y, seed)
        return Predictor(family=family, cv=cv, n_points=n, n_clusters=k, note=note, folds=folds, seed=seed,
                         model=model, explorer=explorer)


def argmax_mixture(predictor: Predictor, *, token_shares: np.ndarray, caps: np.ndarray | None, seed: int,
                   pool_size: int = 100_000) -> tuple[np.ndarray, float]:
    """The predictor's best feasible mixture (rounded onto the 10**-4 simplex grid) and its predicted score.

    Candidates: a Dirichlet pool (`mixtures.dirichlet_candidates`), the feasible one-hot vertices, uniform and the
    model's analytic maximiser where it has one.
    The best is then refined by rounds of small Dirichlet perturbations around it (concentrations ARGMAX_REFINE,
    ever tighter), each kept feasible and on the grid; a round's best replaces it only if predicted higher.

    Args:
        predictor: a fitted predictor over K clusters.
        token_shares: (K,) the pool's Dirichlet prior (as `mixtures.dirichlet_candidates`).
        caps: (K,) largest weight per cluster (`mixtures.feasibility_caps`), None for none.
        seed: seeds the pool and, on a separate stream, the refinement.
        pool_size: Dirichlet candidates drawn (paper: ~100k).
    """
    k = predictor.n_clusters
    if np.shape(token_shares) != (k,):
        raise ValueError(f"token_shares of shape {np.shape(token_shares)} for a predictor over {k} clusters")
    pool = mixtures.dirichlet_candidates(token_shares, n=pool_size, seed=seed, caps=caps)
    special = [np.eye(k), np.full((1, k), 1.0 / k)]  # the vertices and uniform
    analytic = predictor.optimum(caps)
    if analytic is not None:  # log_linear's water-filling maximiser: exact where a pool only comes near
        special.append(analytic[None, :])
    landmarks = mixtures.round_to_simplex(np.vstack(special))
    candidates = np.vstack([pool, landmarks if caps is None else landmarks[mixtures.is_feasible(landmarks, caps)]])
    if len(candidates) == 0:
        raise ValueError(f"no feasible mixture found among {pool_size} draws, the vertices and uniform (caps {caps})")
    predicted = predictor.predict(candidates)
    best_at = int(np.argmax(predicted))
    best, best_score = candidates[best_at], float(predicted[best_at])
    rng = np.random.default_rng((seed, ARGMAX_STREAM))
    for concentration in ARGMAX_REFINE:
        alpha = np.broadcast_to(concentration * (best + ARGMAX_REFINE_FLOOR), (ARGMAX_REFINE_DRAWS, k))
        nearby = mixtures.clean_weights(mixtures.sample_dirichlet(alpha, rng))
        nearby = np.vstack([best, nearby if caps is None else nearby[mixtures.is_feasible(nearby, caps)]])
        predicted = predictor.predict(nearby)
        at = int(np.argmax(predicted))
        if predicted[at] > best_score:
            best, best_score = nearby[at], float(predicted[at])
    return best, best_score
