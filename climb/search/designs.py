"""Where the search looks: the first round's design and the later rounds' acquisition (docs/method.md, step 6).

The paper's first round draws from a sparse Dirichlet around the token shares (`mixtures.dirichlet_candidates`):
at small budgets most draws sit near edges and vertices, and a domain the target needs, or a pair of them, may
appear in no candidate at all, so no predictor can see what it is worth. `coverage_candidates` starts from the
prior itself and adds dense draws chosen to fill the simplex in log-weight space (greedy maximin), so every
super-cluster and every pair of them is in some candidates.

Later rounds (`acquire`) put the predicted optimum first and choose the rest by an acquisition that weighs the
prediction against its uncertainty: `thompson` takes the optima of the predictor's family refitted on bootstrap
resamples of the runs (each a plausible answer given the noise), `ucb` picks at random among a pool's top by
mean + kappa * std (the predictor's Gaussian-process spread), over sparse draws, dense draws and perturbations
around the predicted optimum; `mean` is the paper's top-N by prediction alone.
"""

from __future__ import annotations

from collections.abc import Collection
from itertools import combinations

import numpy as np

from climb.search.mixtures import (CAP_SLACK, UNITS, checked_caps, clean_weights, dirichlet_candidates, is_feasible,
                                   mixture_key, round_to_simplex, sample_dirichlet, tempered_prior)

FIRST_ROUNDS = ("coverage", "dirichlet")
ACQUISITIONS = ("thompson", "ucb", "mean")
# Dense draws: alpha = s * K * prior with s log-spaced over [0.5, 4] (s = 1 on a flat prior is the uniform
# distribution over the simplex; larger s stays nearer the prior).
COVERAGE_STRENGTHS = np.logspace(np.log10(0.5), np.log10(4.0), 8)
COVERAGE_POOL = 200  # dense draws per candidate wanted, from which maximin chooses
LOG_EPSILON = 1e-2  # distances in log(w + 0.01): a domain at 0% vs 1% counts as much as 10% vs 20%
COVERED_SHARE = 0.05  # a cluster (or a pair) is covered by a candidate holding at least 5% of it (each)
LOCAL_CONCENTRATIONS = (30.0, 100.0, 300.0)  # perturbations around the predicted optimum: ~10%, 5%, 3% moves
LOCAL_DRAWS = 2_000  # per concentration
LOCAL_FLOOR = 0.01  # alpha = conc * (optimum + floor): clusters the optimum leaves out may come back
DENSE_STREAM, LOCAL_STREAM, PICK_STREAM, BOOTSTRAP_STREAM = 3, 4, 5, 7  # rng streams apart from the pool's
BOOTSTRAP_TRIES = 4  # thompson: bootstrap refits per candidate wanted, before the rest is filled by ucb


def _dense_draws(prior: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    strengths = COVERAGE_STRENGTHS[rng.integers(len(COVERAGE_STRENGTHS), size=n)] * len(prior)
    return clean_weights(sample_dirichlet(strengths[:, None] * prior[None, :], rng))


def _distinct_feasible(rows: np.ndarray, caps: np.ndarray | None, exclude: Collection[tuple]) -> np.ndarray:
    if caps is not None and len(rows):
        rows = rows[is_feasible(rows, caps)]
    seen, keep = {tuple(int(u) for u in key) for key in exclude}, []
    for i, key in enumerate(map(tuple, np.rint(rows * UNITS).astype(np.int64).tolist())):
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return rows[keep]


def _capped_prior(prior: np.ndarray, caps: np.ndarray | None) -> np.ndarray:
    """The prior, moved within the caps: weight above a cap goes to the others in proportion to the prior."""
    w = prior.copy()
    if caps is None:
        return w
    for _ in range(len(w)):
        over = w > caps + CAP_SLACK
        if not over.any():
            break
        spare = float((w[over] - caps[over]).sum())
        w[over] = caps[over]
        room = ~over & (w < caps)
        w[room] += spare * w[room] / w[room].sum()
    return w


def coverage_candidates(token_shares: np.ndarray, *, n: int, seed: int, temperature: float = 0.5,
                        caps: np.ndarray | None = None, exclude: Collection[tuple] = ()) -> np.ndarray:
    """Up to n distinct feasible mixtures (n', K) that cover the simplex: the prior first, then greedy maximin.

    The prior is token_shares ** temperature renormalised (as the paper's sampler), moved within the caps. Each
    next candidate is, of COVERAGE_POOL * n dense Dirichlet draws, the one farthest (Euclidean in log(w + 0.01))
    from every candidate chosen so far and from `exclude`; so the design spreads over which clusters are large,
    small or nearly absent. Deterministic for a seed.

    Args:
        token_shares: (K,) tokens per super-cluster or their shares; 0 keeps a cluster out.
        n: rows wanted.
        seed: seeds the draws.
        temperature: the prior's exponent (paper: 0.5).
        caps: (K,) largest weight per cluster, None for none.
        exclude: `mixture_key`s never to return (mixtures already evaluated).
    """
    prior = tempered_prior(token_shares, temperature)
    caps = checked_caps(caps, len(prior))
    if n < 0:
        raise ValueError(f"n = {n}, expected >= 0")
    if n == 0:
        return np.zeros((0, len(prior)))
    rng = np.random.default_rng((seed, DENSE_STREAM))
    first = clean_weights(_capped_prior(prior, caps)[None, :])
    pool = _distinct_feasible(np.vstack([first, _dense_draws(prior, COVERAGE_POOL * n, rng)]), caps, exclude)
    if len(pool) == 0:
        return pool
    features = np.log(pool + LOG_EPSILON)
    excluded = np.array([k for k in exclude], dtype=np.float64).reshape(-1, len(prior)) / UNITS
    nearest = np.full(len(pool), np.inf)
    for row in np.log(excluded + LOG_EPSILON):
        nearest = np.minimum(nearest, np.linalg.norm(features - row, axis=1))
    chosen = [0 if mixture_key(pool[0]) == mixture_key(first[0]) else int(np.argmax(nearest))]
    while len(chosen) < min(n, len(pool)):
        nearest = np.minimum(nearest, np.linalg.norm(features - features[chosen[-1]], axis=1))
        nearest[chosen] = -np.inf
        chosen.append(int(np.argmax(nearest)))
    return pool[chosen]


def first_round(design: str, token_shares: np.ndarray, *, n: int, seed: int, temperature: float,
                caps: np.ndarray | None, exclude: Collection[tuple]) -> np.ndarray:
    """Round 1's candidates by `search.first_round`: `coverage` or the paper's sparse `dirichlet`."""
    if design == "coverage":
        return coverage_candidates(token_shares, n=n, seed=seed, temperature=temperature, caps=caps, exclude=exclude)
    if design == "dirichlet":
        return dirichlet_candidates(token_shares, n=n, seed=seed, temperature=temperature, caps=caps, exclude=exclude)
    raise ValueError(f"search.first_round {design!r}: expected one of {FIRST_ROUNDS}")


def coverage_report(weights: np.ndarray, *, share: float = COVERED_SHARE) -> dict:
    """How much of the simplex a set of candidates shows a predictor: clusters and pairs held at >= share."""
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    k = w.shape[1]
    present = w >= share
    pairs = list(combinations(range(k), 2))
    covered_pairs = [p for p in pairs if (present[:, p[0]] & present[:, p[1]]).any()]
    return {"share": share, "clusters_covered": int(present.any(axis=0).sum()), "clusters": k,
            "pairs_covered": len(covered_pairs), "pairs": len(pairs),
            "uncovered_clusters": [int(j) for j in np.flatnonzero(~present.any(axis=0))]}


def _local_draws(centre: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    rows = [sample_dirichlet(np.broadcast_to(c * (centre + LOCAL_FLOOR), (LOCAL_DRAWS, len(centre))), rng)
            for c in LOCAL_CONCENTRATIONS]
    return clean_weights(np.vstack(rows))


def _bootstrap_optima(predictor, x: np.ndarray, y: np.ndarray, *, pool: np.ndarray, caps: np.ndarray | None,
                      tries: int, seed: int) -> list[np.ndarray]:
    """Thompson sampling by bootstrap: the optimum of the predictor's family refitted on resampled runs (its
    analytic optimum where it has one, else its best row of the pool), once per try."""
    from climb.search.predictor_families import MODELS

    rng = np.random.default_rng((seed, BOOTSTRAP_STREAM))
    optima = []
    for _ in range(tries):
        picked = rng.integers(len(y), size=len(y))
        if np.ptp(y[picked]) == 0:
            continue
        model = MODELS[predictor.family].fit(x[picked], y[picked], seed)
        best = model.optimum(caps) if hasattr(model, "optimum") else None
        optima.append(pool[int(np.argmax(model.predict(pool)))] if best is None else clean_weights(best[None, :])[0])
    return optima


def acquire(predictor, *, token_shares: np.ndarray, n: int, seed: int, pool_size: int, top_n: int | None,
            caps: np.ndarray | None, exclude: Collection[tuple], acquisition: str = "ucb", kappa: float = 1.0,
            temperature: float = 0.5, evaluated: np.ndarray | None = None,
            scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A later round's n candidates and their predicted scores (mean, not the acquisition), best first.

    `mean` is the paper's: rank a sparse Dirichlet pool by the prediction, pick n at random among the top_n.
    `ucb` and `thompson` put the predicted optimum first. `ucb` picks the rest at random among the top_n of a wider
    pool (sparse draws, dense draws, perturbations around the predicted optimum) by mean + kappa * std.
    `thompson` takes the rest from bootstrap refits' optima (`evaluated` and `scores` needed), filling any
    shortfall (repeated optima) as ucb does.

    Args:
        predictor: has predict(weights) and predict_std(weights) (`climb.search.predictor.Predictor`).
        token_shares: (K,) the pools' prior shares.
        n: candidates wanted.
        seed: seeds the pools, the bootstrap and the pick.
        pool_size: sparse Dirichlet draws (the paper's ~100k); dense draws add as many again.
        top_n: the pick's top; default max(2 * n, pool rows // 100).
        caps: (K,) largest weight per cluster, None for none.
        exclude: `mixture_key`s never to propose (every mixture evaluated so far).
        acquisition: `thompson`, `ucb` or `mean`.
        kappa: ucb's weight on the standard deviation.
        temperature: the pools' prior exponent.
        evaluated, scores: (m, K) and (m,) the runs so far (thompson's bootstrap).
    """
    from climb.search.mixtures import propose
    from climb.search.predictor import argmax_mixture

    if acquisition == "mean":
        return propose(predictor.predict, token_shares=token_shares, n=n, seed=seed, pool_size=pool_size,
                       top_n=top_n, caps=caps, exclude=exclude)
    if acquisition not in ACQUISITIONS:
        raise ValueError(f"search.acquisition {acquisition!r}: expected one of {ACQUISITIONS}")
    if n <= 0:
        return np.zeros((0, len(token_shares))), np.zeros(0)
    prior = tempered_prior(token_shares, temperature)
    sparse = dirichlet_candidates(token_shares, n=pool_size, seed=seed, temperature=temperature, caps=caps)
    dense = _dense_draws(prior, pool_size, np.random.default_rng((seed, DENSE_STREAM)))
    optimum, _ = argmax_mixture(predictor, token_shares=token_shares, caps=caps, seed=seed,
                                pool_size=min(pool_size, 20_000))
    local = _local_draws(optimum, np.random.default_rng((seed, LOCAL_STREAM)))
    pool = _distinct_feasible(np.vstack([round_to_simplex(optimum), sparse, dense, local]), caps, exclude)
    if len(pool) == 0:
        return pool, np.zeros(0)
    first = 0 if mixture_key(pool[0]) == mixture_key(round_to_simplex(optimum)) else int(np.argmax(
        predictor.predict(pool)))
    chosen = [pool[first]]
    if acquisition == "thompson" and evaluated is not None and scores is not None and len(scores) >= 2 and n > 1:
        optima = _bootstrap_optima(predictor, np.asarray(evaluated), np.asarray(scores), pool=pool, caps=caps,
                                   tries=BOOTSTRAP_TRIES * (n - 1), seed=seed)
        taken = {mixture_key(chosen[0])} | {tuple(int(u) for u in key) for key in exclude}
        for row in _distinct_feasible(np.array(optima).reshape(-1, pool.shape[1]), caps, taken):
            if len(chosen) < n:
                chosen.append(row)
    if len(chosen) < n:  # ucb: random picks among the pool's top by mean + kappa * std
        taken = {mixture_key(row) for row in chosen}
        rest = np.array([i for i in range(len(pool)) if mixture_key(pool[i]) not in taken], dtype=np.int64)
        score = predictor.predict(pool[rest]) + kappa * predictor.predict_std(pool[rest])
        order = rest[np.argsort(-score, kind="stable")]
        top_n = max(2 * n, len(pool) // 100) if top_n is None else top_n
        top = order[:max(min(top_n, len(order)), n - len(chosen))]
        rng = np.random.default_rng((seed, PICK_STREAM))
        picked = top[np.sort(rng.choice(len(top), size=min(n - len(chosen), len(top)), replace=False))]
        chosen += [pool[i] for i in picked]
    weights = np.array(chosen).reshape(len(chosen), pool.shape[1])
    return weights, predictor.predict(weights)
