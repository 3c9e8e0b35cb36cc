"""Candidate mixtures over K super-clusters: the RegMix-style Dirichlet sampler of CLIMB's mixture search.

Round 1 of the search (docs/method.md, step 6) samples candidates from a Dirichlet seeded by the token shares:
prior = share**0.5 renormalised, a concentration strength drawn per row from 15 log-spaced values in [0.1, 5],
rows using any cluster beyond its availability cap rejected, weights below 2e-4 zeroed, rows rounded onto a
10**-4 grid that still sums to exactly 1, and duplicates dropped. Later rounds (`propose`) rank a large pool
of such candidates by the predictor and pick at random among the top (CLIMB, arXiv 2504.13161; the sampler is
sail-sg/regmix's mixture_config/synthesize_mixture.py, vectorised).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np

MIN_WEIGHT = 2e-4  # regmix's MINIMUM: 2e-4 of a 512k-example run = at least 100 examples of a cluster, or none
DECIMALS = 4  # weights live on a 10**-4 grid: MIN_WEIGHT is 2 units of it, so a kept weight never rounds to 0
UNITS = 10**DECIMALS
MIN_UNITS = round(MIN_WEIGHT * UNITS)  # 2
# regmix: 15 strengths log-spaced over [0.1, 5] (0.1, 0.13, ..., 3.8, 5.0). The Dirichlet's alpha is
# strength * prior, so the total concentration is the strength itself: 0.1 gives near one-hot rows (the vertices,
# where tiny-scale optima often are), 5 gives rows near the prior.
STRENGTHS = np.logspace(np.log10(0.1), np.log10(5.0), 15)
TEMPERATURE = 0.5  # paper/regmix: prior = share**0.5, flattening the token shares towards small clusters
SAMPLE_MULTIPLIER = 100  # regmix: draw at most 100x the rows asked for (rejections, duplicates) before giving up
BLOCK = 8192  # rows per vectorised draw; fixed, so that asking for more rows extends the rows of a smaller ask
CAP_SLACK = 1e-9  # float slack when comparing a weight with its cap
PICK_STREAM = 1  # propose's pick among the top uses default_rng((seed, 1)), a stream apart from the pool's

assert MIN_UNITS >= 1, "MIN_WEIGHT must be at least one unit of the rounding grid"


def feasibility_caps(available_tokens: np.ndarray, *, tokens_per_run: int, max_epochs: float) -> np.ndarray:
    """The largest weight each cluster may take: available * max_epochs / tokens_per_run, clipped to [0, 1].

    Args:
        available_tokens: (K,) tokens each super-cluster holds (>= 0).
        tokens_per_run: tokens one training run (a proxy, or the target model) consumes (> 0).
        max_epochs: how many times a cluster's tokens may be repeated (> 0; regmix: 4).
    """
    available = np.asarray(available_tokens, dtype=np.float64)
    if available.ndim != 1 or not np.isfinite(available).all() or (available < 0).any():
        raise ValueError(f"available_tokens must be a 1-D array of finite counts >= 0, got {available!r}")
    if tokens_per_run <= 0 or not max_epochs > 0:
        raise ValueError(f"tokens_per_run = {tokens_per_run} and max_epochs = {max_epochs} must both be > 0")
    return np.clip(available * max_epochs / tokens_per_run, 0.0, 1.0)


def is_feasible(weights: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """(n,) bool: which rows of `weights` (n, K) keep every cluster within its cap (with 1e-9 slack).

    Args:
        weights: (n, K) or (K,) mixture weights.
        caps: (K,) largest weight per cluster, e.g. from `feasibility_caps`.
    """
    rows = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    caps = np.asarray(caps, dtype=np.float64)
    if caps.shape != (rows.shape[1],):
        raise ValueError(f"caps of shape {caps.shape} for weights over {rows.shape[1]} clusters")
    return (rows <= caps[None, :] + CAP_SLACK).all(axis=1)


def round_to_simplex(weights: np.ndarray, *, decimals: int = DECIMALS) -> np.ndarray:
    """Rows normalised and rounded to `decimals` so that each sums to exactly 1 in units of 10**-decimals.

    Largest remainder: every weight is floored onto the grid, then the units still missing go one each to the
    largest remainders. A zero stays zero; a positive weight under half a unit may round to zero. The float sum
    of a returned row is 1 up to the last bit; compare `mixture_key`-style integer units for exactness.

    Args:
        weights: (n, K) or (K,) non-negative, finite, each row with a positive sum (not necessarily 1).
        decimals: grid of the result, 10**-decimals.
    """
    w = np.asarray(weights, dtype=np.float64)
    single = w.ndim == 1
    w = np.atleast_2d(w)
    if w.ndim != 2 or w.shape[1] == 0:
        raise ValueError(f"weights of shape {np.shape(weights)}, expected (n, K) or (K,)")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights must be finite and >= 0")
    totals = w.sum(axis=1, keepdims=True)
    if (totals <= 0).any():
        raise ValueError(f"row {int(np.argmax(totals[:, 0] <= 0))} of weights sums to 0")
    units = 10**decimals
    scaled = w / totals * units
    whole = np.floor(scaled + 1e-6)  # 1e-6 of a unit absorbs float error: 2e-4 is 2 units, not 1.9999999 -> 1
    missing = np.rint(units - whole.sum(axis=1)).astype(np.int64)  # 0 <= missing < number of positive weights
    remainder = np.where(w > 0, scaled - whole, -np.inf)  # a zero weight never receives a unit
    rank = np.argsort(np.argsort(-remainder, axis=1, kind="stable"), axis=1, kind="stable")
    whole += rank < missing[:, None]
    assert (whole.sum(axis=1) == units).all(), "rounded rows must sum to exactly 1"
    assert not ((whole > 0) & (w == 0)).any(), "rounding must keep zero weights zero"
    out = whole / units
    return out[0] if single else out


def mixture_key(weights: np.ndarray) -> tuple[int, ...]:
    """A rounded mixture as integer units of 10**-DECIMALS: the key that de-duplicates and hashes mixtures.

    Args:
        weights: (K,) weights already on the grid (from `round_to_simplex`).
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1:
        raise ValueError(f"mixture_key takes one (K,) row, got shape {w.shape}")
    return tuple(int(u) for u in np.rint(w * UNITS))


def sample_dirichlet(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Dirichlet draw per row of alpha (n, K); alpha 0 gives weight exactly 0.

    Gamma(a) = Gamma(a + 1) * U**(1/a), taken in logs and normalised with a softmax: concentrations as small as
    strength 0.1 * prior 1e-3 would underflow a plain gamma draw to 0 (and a whole row to 0/0).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    positive = alpha > 0
    safe = np.where(positive, alpha, 1.0)
    log_gamma = np.log(rng.gamma(safe + 1.0)) + np.log1p(-rng.random(alpha.shape)) / safe
    log_gamma = np.where(positive, log_gamma, -np.inf)
    weights = np.exp(log_gamma - log_gamma.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def clean_weights(weights: np.ndarray) -> np.ndarray:
    """Rows with weights below MIN_WEIGHT zeroed, renormalised and rounded onto the 10**-DECIMALS simplex grid.

    Args:
        weights: (n, K) rows on the simplex, each with at least one weight >= MIN_WEIGHT (true when K <= 5000).
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    rounded = round_to_simplex(np.where(w < MIN_WEIGHT, 0.0, w))
    units = np.rint(rounded * UNITS)
    assert not ((units > 0) & (units < MIN_UNITS)).any(), "a kept weight fell below MIN_WEIGHT"
    return rounded


def tempered_prior(token_shares: np.ndarray, temperature: float) -> np.ndarray:
    shares = np.asarray(token_shares, dtype=np.float64)
    if shares.ndim != 1 or not np.isfinite(shares).all() or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError(f"token_shares must be a 1-D array >= 0 with a positive sum, got {shares!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature = {temperature}, expected >= 0")
    prior = np.where(shares > 0, shares**temperature, 0.0)  # a cluster without tokens stays at weight 0
    return prior / prior.sum()


def checked_caps(caps: np.ndarray | None, k: int) -> np.ndarray | None:
    if caps is None:
        return None
    caps = np.asarray(caps, dtype=np.float64)
    if caps.shape != (k,) or not np.isfinite(caps).all() or (caps < 0).any():
        raise ValueError(f"caps must be {k} finite values >= 0, got {caps!r}")
    if caps.sum() < 1.0 - CAP_SLACK:
        raise ValueError(f"caps sum to {caps.sum():.4f} < 1: no mixture of these clusters is feasible")
    return caps


def dirichlet_candidates(token_shares: np.ndarray, *, n: int, seed: int, temperature: float = TEMPERATURE,
                         caps: np.ndarray | None = None, exclude: Collection[tuple] = (),
                         max_draws: int | None = None) -> np.ndarray:
    """Up to n distinct feasible candidate mixtures (n', K), n' <= n, from the RegMix-style tempered Dirichlet.

    Per row: strength s uniform over STRENGTHS, weights ~ Dirichlet(alpha = s * prior) with prior = token_shares
    ** temperature renormalised (regmix's alpha; the total concentration is s, whatever K). Weights below
    MIN_WEIGHT are zeroed, the row renormalised and rounded (`clean_weights`), rows beyond a cap rejected, then
    rows already seen or in `exclude` dropped. Rows come in draw order; blocks of BLOCK draws are fixed, so a
    larger n extends a smaller n's rows, at any n. Fewer than n rows come back when max_draws is reached (the
    caller warns).

    Args:
        token_shares: (K,) tokens per super-cluster or their shares (only ratios matter); 0 keeps a cluster out.
        n: rows wanted.
        seed: seeds the draws (same arguments, same rows).
        temperature: prior exponent (paper: 0.5; 1 = the shares themselves, 0 = uniform over present clusters).
        caps: (K,) largest weight per cluster (`feasibility_caps`), None for no availability limit.
        exclude: `mixture_key`s never to return, e.g. mixtures already evaluated.
        max_draws: Dirichlet draws before giving up (default SAMPLE_MULTIPLIER * n).
    """
    prior = tempered_prior(token_shares, temperature)
    k = len(prior)
    caps = checked_caps(caps, k)
    if n < 0:
        raise ValueError(f"n = {n}, expected >= 0")
    max_draws = SAMPLE_MULTIPLIER * n if max_draws is None else max_draws
    rng = np.random.default_rng(seed)
    seen = {tuple(int(u) for u in key) for key in exclude}
    found: list[np.ndarray] = []
    drawn = 0
    while len(found) < n and drawn < max_draws:
        # Always a whole BLOCK from the generator, cut to the draws left: the stream never depends on n or
        # max_draws, so a larger n extends a smaller n's rows at any size.
        size = min(BLOCK, max_draws - drawn)
        strengths = STRENGTHS[rng.integers(len(STRENGTHS), size=BLOCK)]
        block = clean_weights(sample_dirichlet(strengths[:, None] * prior[None, :], rng)[:size])  # (size, K)
        drawn += size
        if caps is not None:
            block = block[is_feasible(block, caps)]
        for row, key in zip(block, map(tuple, np.rint(block * UNITS).astype(np.int64).tolist())):
            if key not in seen:
                seen.add(key)
                found.append(row)
                if len(found) == n:
                    break
    return np.array(found, dtype=np.float64).reshape(len(found), k)


def propose(predict: Callable[[np.ndarray], np.ndarray], *, token_shares: np.ndarray, n: int, seed: int,
            pool_size: int = 100_000, top_n: int | None = None, caps: np.ndarray | None = None,
            exclude: Collection[tuple] = ()) -> tuple[np.ndarray, np.ndarray]:
    """CLIMB's later rounds: n mixtures picked at random among the predictor's top_n of a candidate pool.

    The pool is `dirichlet_candidates(token_shares, n=pool_size, seed=seed, caps=caps, exclude=exclude)`; ranking
    exploits the predictor, the random pick among the top explores. Returns (weights (m, K), predicted scores
    (m,)), best predicted first, m = min(n, pool rows) (fewer when the pool came back short: the caller warns).

    Args:
        predict: (p, K) weights -> (p,) predicted scores, higher is better.
        token_shares: (K,) the Dirichlet prior's token shares (as `dirichlet_candidates`).
        n: mixtures to propose.
        seed: seeds the pool and, on a separate stream, the pick.
        pool_size: candidates drawn and ranked (paper: ~100k).
        top_n: size of the top the pick is drawn from; default max(2 * n, pool_size // 100), the top 1% of the
            paper's 100k pool (1000 rows) and never less than twice the picks; clipped to [n, pool rows].
        caps: (K,) largest weight per cluster, None for none.
        exclude: `mixture_key`s never to propose (every mixture evaluated so far).
    """
    if n < 0:
        raise ValueError(f"n = {n}, expected >= 0")
    pool = dirichlet_candidates(token_shares, n=pool_size if n else 0, seed=seed, caps=caps, exclude=exclude)
    if len(pool) == 0:
        return pool, np.zeros(0)
    scores = np.asarray(predict(pool), dtype=np.float64).reshape(-1)
    if scores.shape != (len(pool),) or not np.isfinite(scores).all():
        raise ValueError(f"predict returned {scores.shape} scores (finite: {np.isfinite(scores).all()}) "
                         f"for a pool of {len(pool)} mixtures")
    top_n = max(2 * n, pool_size // 100) if top_n is None else top_n
    if top_n < 1:
        raise ValueError(f"top_n = {top_n}, expected >= 1")
    top_n = min(max(top_n, n), len(pool))
    top = np.argsort(-scores, kind="stable")[:top_n]  # best first; ties keep draw order
    picked = np.random.default_rng((seed, PICK_STREAM)).choice(top_n, size=min(n, top_n), replace=False)
    chosen = top[np.sort(picked)]
    return pool[chosen], scores[chosen]
