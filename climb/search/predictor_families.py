"""The predictor families: frozen dataclasses of JSON-able fields with `fit(x, y, seed)` and `predict(x)`.

x holds mixtures (n, K) on the simplex, y their target scores (higher is better). Two kinds:

- families whose argmax over the simplex is always a vertex, because the score is linear in the weights or a
  monotone function of a linear one: `ridge` and the Data-Mixing-Laws `mixing_law` (score = c + k exp(t . w)).
  They are cross-validated and reported but never pick an answer (VERTEX_ONLY);
- families that can represent coverage, where the loss is log-like in the weight of a domain the target needs
  (docs/method.md, step 6): `log_linear`, a power law in the proportions (score = c + sum_j b_j log(w_j + eps),
  b >= 0, as BiMix's per-domain terms); `gp_log`, a Gaussian process on log(w + eps); `gp` on the weights; the
  paper's `lightgbm`; and `ensemble`, the mean of log_linear and gp_log. GPs also give a predictive standard
  deviation, which later rounds use to explore.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

MIN_CV_POINTS = 4  # fewer points leave folds of 1-2 training rows
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
# log_linear: the offset eps of log(w + eps) sets how fast the first share of a domain pays off (5% of a needed
# domain gained the demo 0.47 nats over none); eps and the ridge penalty on b (standardised scores) are chosen
# per fit by leave-one-out error.
LOG_EPSILONS = (1e-3, 1e-2, 3e-2)  # from 0.1 up, log(w + eps) is nearly linear over the simplex: ridge's job
LOG_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0)
GP_LOG_EPSILON = 1e-2  # gp_log's features log(w + 0.01): a domain at 0 and at 1% are ~0.7 apart, at 10% and 20% 0.6
ENSEMBLE_MEMBERS = ("log_linear", "gp_log")


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


def _bounded_ridge(features: np.ndarray, z: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """(b >= 0, c) minimising |c + features b - z|^2 + alpha |b|^2 (c unpenalised, by centring)."""
    from scipy.optimize import lsq_linear

    mean_f, mean_z = features.mean(axis=0), z.mean()
    a = np.vstack([features - mean_f, math.sqrt(alpha) * np.eye(features.shape[1])])
    target = np.concatenate([z - mean_z, np.zeros(features.shape[1])])
    b = lsq_linear(a, target, bounds=(0.0, np.inf), method="bvls").x
    return b, float(mean_z - mean_f @ b)


@dataclass(frozen=True)
class _LogLinear:
    """score = mean + scale * (c + sum_j b_j log(w_j + eps)), b >= 0: every domain's first share pays most, and a
    domain the target does not need gets b_j = 0. Its optimum is interior wherever two or more b_j are positive:
    w_j = max(0, b_j / mu - eps) with mu set so that the weights sum to 1 (`optimum`)."""

    b: list[float]
    c: float
    eps: float
    alpha: float
    mean: float
    scale: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> _LogLinear:
        mean, scale = float(y.mean()), float(y.std()) or 1.0
        z = (y - mean) / scale
        best = None
        for eps in LOG_EPSILONS:
            features = np.log(x + eps)
            for alpha in LOG_ALPHAS:
                error = _loo_error(features, z, alpha) if len(z) >= MIN_CV_POINTS else 0.0
                if best is None or error < best[0] - 1e-12:
                    best = (error, eps, alpha)
                if len(z) < MIN_CV_POINTS:
                    break
            if len(z) < MIN_CV_POINTS:
                break
        _, eps, alpha = best
        b, c = _bounded_ridge(np.log(x + eps), z, alpha)
        return cls(b.tolist(), c, eps, alpha, mean, scale)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.mean + self.scale * (self.c + np.log(x + self.eps) @ np.asarray(self.b))

    def optimum(self, caps: np.ndarray | None) -> np.ndarray | None:
        """The maximiser over the simplex (within caps): water-filling w_j = clip(b_j / mu - eps, 0, cap_j)."""
        b = np.asarray(self.b)
        if not (b > 0).any():
            return None
        caps = np.ones_like(b) if caps is None else np.asarray(caps, dtype=np.float64)
        if caps.sum() < 1.0:
            return None
        low, high = 1e-12, b.max() / 1e-12  # mu: the weights fall as mu grows
        for _ in range(200):
            mu = math.sqrt(low * high)
            total = np.clip(b / mu - self.eps, 0.0, caps).sum()
            low, high = (mu, high) if total > 1.0 else (low, mu)
        w = np.clip(b / high - self.eps, 0.0, caps)
        return w / w.sum() if w.sum() > 0 else None


def _loo_error(features: np.ndarray, z: np.ndarray, alpha: float) -> float:
    """Leave-one-out mean absolute error of the bounded ridge (n small: n refits)."""
    errors = []
    for i in range(len(z)):
        keep = np.arange(len(z)) != i
        b, c = _bounded_ridge(features[keep], z[keep], alpha)
        errors.append(abs(c + features[i] @ b - z[i]))
    return float(np.mean(errors))


def _gp_kernel():
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    # One length scale for all clusters: with tens of points, K per-cluster length scales overfit.
    return ConstantKernel(1.0, (1e-2, 1e2)) * RBF(0.3, (1e-2, 1e2)) + WhiteKernel(0.1, (1e-6, 1.0))


@dataclass(frozen=True)
class _GaussianProcess:
    """sklearn GP (constant * RBF + white noise, normalize_y) on the weights, kept as its training points and
    fitted kernel hyper-parameters; the regressor is rebuilt from them with the optimiser off, after fitting as
    after loading, so a saved GP predicts exactly as the fitted one."""

    x: list[list[float]]
    y: list[float]
    theta: list[float]  # the fitted kernel's log hyper-parameters
    kernel: str  # the same, readable

    @staticmethod
    def features(x: np.ndarray) -> np.ndarray:
        return x

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor

        with warnings.catch_warnings():  # a length scale at its bound on a few points is expected, not an error
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = GaussianProcessRegressor(kernel=_gp_kernel(), normalize_y=True, n_restarts_optimizer=GP_RESTARTS,
                                             random_state=seed).fit(cls.features(x), y)
        return cls(x.tolist(), y.tolist(), model.kernel_.theta.tolist(), str(model.kernel_))

    @cached_property
    def _regressor(self):
        from sklearn.gaussian_process import GaussianProcessRegressor

        kernel = _gp_kernel().clone_with_theta(np.asarray(self.theta))
        return GaussianProcessRegressor(kernel=kernel, normalize_y=True, optimizer=None).fit(
            self.features(np.asarray(self.x)), self.y)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._regressor.predict(self.features(x))

    def predict_std(self, x: np.ndarray) -> np.ndarray:
        """The posterior standard deviation of the score (the white-noise term included), in score units."""
        return self._regressor.predict(self.features(x), return_std=True)[1]


@dataclass(frozen=True)
class _GaussianProcessLog(_GaussianProcess):
    """The same GP on log(w + 0.01): distances between mixtures count a missing domain, not only a moved share."""

    @staticmethod
    def features(x: np.ndarray) -> np.ndarray:
        return np.log(np.asarray(x) + GP_LOG_EPSILON)


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


@dataclass(frozen=True)
class _Ensemble:
    """The mean of the smooth coverage families' predictions (ENSEMBLE_MEMBERS), each fitted on every point."""

    members: dict  # family -> that family's model fields

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, seed: int) -> _Ensemble:
        from dataclasses import asdict

        return cls({f: asdict(MODELS[f].fit(x, y, seed)) for f in ENSEMBLE_MEMBERS})

    @cached_property
    def _models(self) -> dict:
        return {f: MODELS[f](**fields) for f, fields in self.members.items()}

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict(x) for m in self._models.values()], axis=0)

    def predict_std(self, x: np.ndarray) -> np.ndarray:
        """Disagreement between the members plus the GP members' own uncertainty (root of the mean variance)."""
        predictions = np.array([m.predict(x) for m in self._models.values()])
        own = [m.predict_std(x) ** 2 for m in self._models.values() if hasattr(m, "predict_std")]
        return np.sqrt(predictions.var(axis=0) + (np.mean(own, axis=0) if own else 0.0))

    def optimum(self, caps: np.ndarray | None) -> np.ndarray | None:
        return self._models["log_linear"].optimum(caps)


MODELS = {"lightgbm": _LightGBM, "ridge": _Ridge, "mixing_law": _MixingLaw, "gp": _GaussianProcess,
          "log_linear": _LogLinear, "gp_log": _GaussianProcessLog, "ensemble": _Ensemble}
FAMILIES = ("lightgbm", "ridge", "mixing_law", "gp", "log_linear", "gp_log", "ensemble")
VERTEX_ONLY = frozenset({"ridge", "mixing_law"})  # argmax always a vertex: reported, never choose the answer
assert set(FAMILIES) == set(MODELS) and VERTEX_ONLY < set(FAMILIES)
