"""The predictor of CLIMB's mixture search: mixture weights -> target score (higher is better).

CLIMB (arXiv 2504.13161) fits LightGBM regression on every (mixture, score) pair so far and takes its argmax over
feasible mixtures. At the paper's 64+ points that is the right model; at tiny scale it is not: on 16 points
LightGBM with the paper's settings cannot split and predicts a near-constant, while a ridge regression on the
weights found the optimum (docs/method.md, measured facts). So four families are fitted -- ridge (linear in the weights), the
log-linear mixing law of "Data Mixing Laws" (Ye et al. 2024: score = c + k * exp(sum_j t_j w_j)), a Gaussian
process, and the paper's LightGBM -- and each fit keeps the family with the best k-fold cross-validated Spearman
rank correlation (the search only needs the ranking), reporting every family's CV Spearman and MAE.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from climb.search import mixtures

PREDICTOR_FORMAT = "climb-predictor/1"
FAMILIES = ("lightgbm", "ridge", "mixing_law", "gp")
SIMPLICITY = ("ridge", "mixing_law", "gp", "lightgbm")  # CV ties go to the family earlier here (fewer parameters)
SPEARMAN_TIE = 1e-9  # CV Spearmans this close are equal (float error); the simpler family wins
MIN_CV_POINTS = 4  # fewer points leave folds of 1-2 training rows: ridge alone, fitted without cross-validation

LIGHTGBM_PAPER = {
    "objective": "regression",  # paper: regression (squared error) on the target score
    "learning_rate": 0.01,  # paper
    "lambda_l1": 1.0,  # paper: L1 = 1.0
    "lambda_l2": 1.0,  # paper: L2 = 1.0
    "max_depth": 4,  # paper
    "num_leaves": 16,  # 2**4, the most a depth-4 tree holds (LightGBM's default 31 is capped by the depth anyway)
    "min_data_in_leaf": 5,  # paper: min_child_samples = 5 (so 16 points allow about one split)
    "deterministic": True,
    "force_row_wise": True,  # LightGBM asks for a fixed histogram layout when deterministic is set
    "num_threads": 1,  # tens of rows: threads cost more than they save, and one thread is reproducible
    "verbosity": -1,
}
LIGHTGBM_ROUNDS = 1000  # paper: up to 1000 trees
LIGHTGBM_HOLDOUT = 0.2  # ours: share of the training rows held out for early stopping (at least 1 row)
LIGHTGBM_PATIENCE = 50  # ours: rounds without improvement on the held-out rows before stopping (50 * lr 0.01)
RIDGE_ALPHAS = tuple(np.logspace(-4, 2, 13).tolist())  # penalties RidgeCV chooses among by leave-one-out
RIDGE_FALLBACK_ALPHA = 1.0  # under MIN_CV_POINTS rows leave-one-out cannot choose the penalty (3 rows: 0/0)
MIXING_LAW_STARTS = 8  # least-squares starts: the exp makes the fit non-convex
MIXING_LAW_MAX_NFEV = 150  # per start: good starts converge in ~15-60 evaluations, stuck ones would run 700
MIXING_LAW_T_BOUND = 10.0  # |t_j| <= 10: exp(sum t w) stays within e**10 on the simplex
MIXING_LAW_PENALTY = 1e-3  # tiny L2 on t: weights sum to 1, so t + d and k * exp(-d) fit equally; this picks one
GP_RESTARTS = 3  # extra random starts of the kernel hyper-parameter search
# Concentrations of the local refinement rounds: a weight of 0.5 moves by sqrt(0.25 / conc), 5% down to 0.5%.
ARGMAX_REFINE = (100.0, 300.0, 1_000.0, 3_000.0, 10_000.0)
ARGMAX_REFINE_DRAWS = 2_000  # perturbations per refinement round
ARGMAX_REFINE_FLOOR = 1e-3  # alpha = conc * (best + floor): clusters the best leaves out can come back in
ARGMAX_STREAM = 2  # the refinement draws use default_rng((seed, 2)), a stream apart from the pool's


@dataclass(frozen=True)
class FamilyScore:
    """Out-of-fold quality of one family: Spearman rank correlation and MAE in score units (nan: not computed,
    or Spearman undefined because the out-of-fold predictions were constant)."""

    family: str
    spearman: float
    mae: float


# ---- the four families: frozen dataclasses of JSON-able fields with fit(x, y, seed) and predict(x) ------------
@dataclass(frozen=True)
class _Ridge:
    coef: list[float]
    intercept: float
    alpha: float  # the penalty RidgeCV chose

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> _Ridge:
        from sklearn.linear_model import Ridge, RidgeCV

        if len(y) < MIN_CV_POINTS:
            model = Ridge(alpha=RIDGE_FALLBACK_ALPHA).fit(x, y)
            return cls(model.coef_.tolist(), float(model.intercept_), RIDGE_FALLBACK_ALPHA)
        model = RidgeCV(alphas=RIDGE_ALPHAS).fit(x, y)
        return cls(model.coef_.tolist(), float(model.intercept_), float(model.alpha_))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ np.asarray(self.coef) + self.intercept


@dataclass(frozen=True)
class _MixingLaw:
    """score = mean + scale * (c + k * exp(x @ t)), fitted on standardised scores."""

    c: float
    k: float
    t: list[float]
    mean: float
    scale: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> _MixingLaw:
        from scipy.optimize import least_squares

        mean, scale = float(y.mean()), float(y.std()) or 1.0
        z, dims = (y - mean) / scale, x.shape[1]
        penalty = math.sqrt(MIXING_LAW_PENALTY) * np.eye(dims)

        def residuals(p: np.ndarray) -> np.ndarray:
            return np.concatenate([p[0] + p[1] * np.exp(x @ p[2:]) - z, penalty @ p[2:]])

        def jacobian(p: np.ndarray) -> np.ndarray:  # (n + K, K + 2): d/dc = 1, d/dk = e, d/dt_j = k e x_j
            e = np.exp(x @ p[2:])
            fit = np.column_stack([np.ones(len(z)), e, p[1] * e[:, None] * x])
            return np.vstack([fit, np.column_stack([np.zeros((dims, 2)), penalty])])

        bounds = (np.r_[-np.inf, -np.inf, np.full(dims, -MIXING_LAW_T_BOUND)],
                  np.r_[np.inf, np.inf, np.full(dims, MIXING_LAW_T_BOUND)])
        rng = np.random.default_rng(seed)
        best = None
        for _ in range(MIXING_LAW_STARTS):
            t0 = np.clip(rng.normal(0.0, 1.0, dims), -3.0, 3.0)
            basis = np.column_stack([np.ones(len(z)), np.exp(x @ t0)])  # c and k are linear given t: solve them
            c0, k0 = np.linalg.lstsq(basis, z, rcond=None)[0]
            result = least_squares(residuals, np.r_[c0, k0, t0], jac=jacobian, bounds=bounds, method="trf",
                                   max_nfev=MIXING_LAW_MAX_NFEV)
            if best is None or result.cost < best.cost:
                best = result
        return cls(float(best.x[0]), float(best.x[1]), best.x[2:].tolist(), mean, scale)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.mean + self.scale * (self.c + self.k * np.exp(x @ np.asarray(self.t)))


def _gp_kernel():
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    # One length scale for all clusters: with tens of points, K per-cluster length scales overfit.
    return ConstantKernel(1.0, (1e-2, 1e2)) * RBF(0.3, (1e-2, 1e2)) + WhiteKernel(0.1, (1e-6, 1.0))


@dataclass(frozen=True)
class _GaussianProcess:
    """sklearn GP (constant * RBF + white noise, normalize_y), kept as its training points and fitted kernel
    hyper-parameters; the regressor is rebuilt from them with the optimiser off, after fitting as after loading,
    so a saved GP predicts exactly as the fitted one."""

    x: list[list[float]]
    y: list[float]
    theta: list[float]  # the fitted kernel's log hyper-parameters
    kernel: str  # the same, readable

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> _GaussianProcess:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor

        with warnings.catch_warnings():  # a length scale at its bound on a few points is expected, not an error
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = GaussianProcessRegressor(kernel=_gp_kernel(), normalize_y=True, n_restarts_optimizer=GP_RESTARTS,
                                             random_state=seed).fit(x, y)
        return cls(x.tolist(), y.tolist(), model.kernel_.theta.tolist(), str(model.kernel_))

    @cached_property
    def _regressor(self):
        from sklearn.gaussian_process import GaussianProcessRegressor

        kernel = _gp_kernel().clone_with_theta(np.asarray(self.theta))
        return GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=None).fit(self.x, self.y)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._regressor.predict(x)


@dataclass(frozen=True)
class _LightGBM:
    """The paper's LightGBM, early-stopped on a seeded held-out share of its training rows and kept as its model
    text, which fitted and loaded predictors alike parse, so both predict exactly alike."""

    model_text: str

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> _LightGBM:
        import lightgbm

        order = np.random.default_rng(seed).permutation(len(y))
        held = order[:max(1, round(LIGHTGBM_HOLDOUT * len(y)))] if len(y) > 1 else order[:0]
        train = np.setdiff1d(order, held)
        params = {**LIGHTGBM_PAPER, "seed": seed}
        train_set = lightgbm.Dataset(x[train], label=y[train], params={"verbosity": -1})
        if len(held):
            valid = lightgbm.Dataset(x[held], label=y[held], reference=train_set)
            booster = lightgbm.train(params, train_set, LIGHTGBM_ROUNDS, valid_sets=[valid],
                                     callbacks=[lightgbm.early_stopping(LIGHTGBM_PATIENCE, verbose=False)])
        else:
            booster = lightgbm.train(params, train_set, LIGHTGBM_ROUNDS)
        return cls(booster.model_to_string(num_iteration=booster.best_iteration or None))

    @cached_property
    def _booster(self):
        import lightgbm

        return lightgbm.Booster(model_str=self.model_text)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._booster.predict(x, num_threads=1)


MODELS = {"lightgbm": _LightGBM, "ridge": _Ridge, "mixing_law": _MixingLaw, "gp": _GaussianProcess}


# ---- predictor -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Predictor:
    """A fitted predictor: the chosen family's model plus every family's cross-validation. Build it with
    `fit_predictor` or `from_json`.

    Args:
        family: the family that won the cross-validation.
        cv: FamilyScore of every family tried, in FAMILIES order.
        n_points: the (mixture, score) pairs it was fitted on; n_clusters: K.
        note: why the choice was not a plain CV win (too few points, no ranking at all), else "".
        folds, seed: of the fit (folds 0: no cross-validation).
        model: the family's fitted model.
    """

    family: str
    cv: tuple[FamilyScore, ...]
    n_points: int
    n_clusters: int
    note: str
    folds: int
    seed: int
    model: Any = field(repr=False)

    def predict(self, weights: np.ndarray) -> np.ndarray:
        """Predicted scores (n,) of mixtures (n, K) (or one (K,) row), higher is better."""
        x = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != self.n_clusters:
            raise ValueError(f"weights of shape {np.shape(weights)}, the {self.family} predictor expects "
                             f"(n, {self.n_clusters})")
        return np.asarray(self.model.predict(x), dtype=np.float64).reshape(-1)

    def to_json(self) -> dict[str, Any]:
        """Everything needed to predict again, as JSON types (no pickle; nan as null), with its settings."""
        data = {name: getattr(self, name) for name in ("family", "n_points", "n_clusters", "note", "folds", "seed")}
        cv = [{"family": s.family, "spearman": None if math.isnan(s.spearman) else s.spearman,
               "mae": None if math.isnan(s.mae) else s.mae} for s in self.cv]
        settings = {"lightgbm": LIGHTGBM_PAPER, "lightgbm_rounds": LIGHTGBM_ROUNDS,
                    "lightgbm_holdout": LIGHTGBM_HOLDOUT, "lightgbm_patience": LIGHTGBM_PATIENCE,
                    "ridge_alphas": list(RIDGE_ALPHAS), "mixing_law_starts": MIXING_LAW_STARTS,
                    "mixing_law_penalty": MIXING_LAW_PENALTY, "gp_restarts": GP_RESTARTS}
        return {"format": PREDICTOR_FORMAT, **data, "cv": cv, "settings": settings, "model": asdict(self.model)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Predictor:
        """A predictor written by `to_json`."""
        if data.get("format") != PREDICTOR_FORMAT or data.get("family") not in MODELS:
            raise ValueError(f"predictor of format {data.get('format')!r} and family {data.get('family')!r}, "
                             f"expected {PREDICTOR_FORMAT!r} and one of {FAMILIES}")
        cv = tuple(FamilyScore(s["family"], *(math.nan if s[key] is None else s[key] for key in ("spearman", "mae")))
                   for s in data["cv"])
        return cls(family=data["family"], cv=cv, n_points=data["n_points"], n_clusters=data["n_clusters"],
                   note=data["note"], folds=data["folds"], seed=data["seed"],
                   model=MODELS[data["family"]](**data["model"]))


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
    """(family, note) from the families' cross-validation: the best CV Spearman wins, ties (within SPEARMAN_TIE)
    go to the family earlier in SIMPLICITY, nan ranks last; `note` is "" unless every Spearman is nan.

    Args:
        cv: one FamilyScore per family tried.
    """
    ranked = sorted(cv, key=lambda s: SIMPLICITY.index(s.family))
    finite = [s for s in ranked if not math.isnan(s.spearman)]
    if not finite:
        return ranked[0].family, (f"no family's out-of-fold predictions varied (CV Spearman undefined for all); "
                                  f"chose {ranked[0].family}, the simplest tried")
    best = max(s.spearman for s in finite)
    return next(s.family for s in finite if s.spearman >= best - SPEARMAN_TIE), ""


def fit_predictor(weights: np.ndarray, scores: np.ndarray, *, families: Sequence[str] = FAMILIES, folds: int = 5,
                  seed: int = 0) -> Predictor:
    """Fit every family, cross-validate it, keep the one with the best CV Spearman (refitted on all points).

    Ties (within SPEARMAN_TIE) go to the simpler family in SIMPLICITY order (ridge, mixing_law, gp, lightgbm);
    a family whose out-of-fold predictions are constant has Spearman nan and ranks last. With fewer than
    MIN_CV_POINTS points only ridge is fitted, its CV is nan and `note` says so.

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
            note = f"{n} points, fewer than {MIN_CV_POINTS}: ridge fitted without cross-validation"
            return Predictor(family="ridge", cv=(FamilyScore("ridge", math.nan, math.nan),), n_points=n,
                             n_clusters=k, note=note, folds=0, seed=seed, model=_Ridge.fit(x, y, seed))
        folds = min(folds, n)
        cv = tuple(_cross_validate(f, x, y, folds, seed) for f in FAMILIES if f in families)
        family, note = choose_family(cv)
        return Predictor(family=family, cv=cv, n_points=n, n_clusters=k, note=note, folds=folds, seed=seed,
                         model=MODELS[family].fit(x, y, seed))


def argmax_mixture(predictor: Predictor, *, token_shares: np.ndarray, caps: np.ndarray | None, seed: int,
                   pool_size: int = 100_000) -> tuple[np.ndarray, float]:
    """The predictor's best feasible mixture (rounded onto the 10**-4 simplex grid) and its predicted score.

    Candidates: a Dirichlet pool (`mixtures.dirichlet_candidates`), the feasible one-hot vertices and uniform.
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
    landmarks = mixtures.round_to_simplex(np.vstack([np.eye(k), np.full((1, k), 1.0 / k)]))  # vertices, uniform
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
