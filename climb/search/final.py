"""The search's answer: rules that turn the final predictor (and the runs) into one mixture (`search.final`).

- `argmax`: the predictor's best feasible mixture (NVIDIA's CLIMB recipe: the plain argmax of a 100k pool);
- `topk_mean`: the mean of the predictor's top k of a pool (RegMix averages its top 128);
- `regularised`: the argmax of predicted score - lambda * KL(w || prior) - kappa * std (Olmix's objective, whose
  optimum is interior by construction, where a single-domain vertex is where proxy noise is largest; and a trust
  region: the predictor's standard deviation grows away from the evaluated mixtures);
- `verified`: the argmax, topk_mean and regularised answers are finalists; `final_verify_runs` of them that no
  round evaluated are trained on the search split, and among them and every evaluated run the best wins, each
  judged by its search score pulled halfway to the predictor refitted on every run (one tiny run is noisy: the
  best single measurement is partly luck), so the answer keeps the best mixture the rounds found.
Every finalist records its predicted score and its distance from the nearest evaluated mixture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from climb.search.mixtures import (clean_weights, dirichlet_candidates, is_feasible, mixture_key, round_to_simplex,
                                   sample_dirichlet)
from climb.search.predictor import Predictor, argmax_mixture

RULES = ("argmax", "topk_mean", "regularised", "verified")
KL_FLOOR = 1e-12  # 0 * log 0 = 0


@dataclass(frozen=True)
class Finalist:
    rule: str  # the rule that proposed it
    weights: np.ndarray  # (K,) on the 10**-4 grid
    predicted: float
    distance: float  # L1 distance to the nearest evaluated mixture (0: evaluated)


def kl_to_prior(weights: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """KL(w || prior) of each row (n,), in nats; clusters outside the prior's support cost infinity."""
    w = np.atleast_2d(weights)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w > 0, w * (np.log(np.maximum(w, KL_FLOOR)) - np.log(prior)), 0.0)
    return terms.sum(axis=1)


def topk_mean(predictor: Predictor, *, token_shares: np.ndarray, caps: np.ndarray | None, seed: int,
              pool_size: int, temperature: float, top_k: int) -> np.ndarray:
    """The mean of the predictor's top_k of a Dirichlet pool, rounded (ties keep draw order)."""
    pool = dirichlet_candidates(token_shares, n=pool_size, seed=seed, temperature=temperature, caps=caps)
    top = pool[np.argsort(-predictor.predict(pool), kind="stable")[: min(top_k, len(pool))]]
    return round_to_simplex(top.mean(axis=0)[None, :])[0]


def regularised(predictor: Predictor, *, prior: np.ndarray, caps: np.ndarray | None, seed: int, pool_size: int,
                kl_weight: float, candidates: np.ndarray, trust: float = 1.0) -> np.ndarray:
    """The argmax of predicted - kl_weight * KL(w || prior) - trust * std(w) over a pool, the given candidates and
    local refinements: Olmix's pull towards the prior, and a trust region around the evaluated mixtures (the
    predictor's standard deviation grows away from them).

    Args:
        predictor: the final predictor.
        prior: (K,) the prior the KL is measured to (the token shares ** temperature, renormalised).
        caps: (K,) largest weight per cluster, None for none.
        seed: seeds the pool and the refinement.
        pool_size: pool draws.
        kl_weight: lambda, in score units per nat.
        candidates: (m, K) extra mixtures to consider (the argmax, the prior, evaluated mixtures).
        trust: weight of the standard deviation (0: no trust region).
    """
    def objective(rows: np.ndarray) -> np.ndarray:
        return (predictor.predict(rows) - kl_weight * kl_to_prior(rows, prior)
                - (trust * predictor.predict_std(rows) if trust else 0.0))

    pool = np.vstack([dirichlet_candidates(prior, n=pool_size, seed=seed, temperature=1.0, caps=caps),
                      clean_weights(np.atleast_2d(candidates))])
    if caps is not None:
        pool = pool[is_feasible(pool, caps)]
    best = pool[int(np.argmax(objective(pool)))]
    rng = np.random.default_rng((seed, 6))
    for concentration in (100.0, 300.0, 1_000.0, 3_000.0):
        nearby = clean_weights(sample_dirichlet(np.broadcast_to(concentration * (best + 1e-3), (1_000, len(best))), rng))
        nearby = np.vstack([best, nearby if caps is None else nearby[is_feasible(nearby, caps)]])
        best = nearby[int(np.argmax(objective(nearby)))]
    return best


def _distance(weights: np.ndarray, evaluated: np.ndarray) -> float:
    return float(np.abs(evaluated - weights[None, :]).sum(axis=1).min()) if len(evaluated) else float("inf")


def finalists(predictor: Predictor, *, rule: str, token_shares: np.ndarray, prior: np.ndarray,
              caps: np.ndarray | None, seed: int, pool_size: int, temperature: float, top_k: int,
              kl_weight: float, evaluated: np.ndarray, trust: float = 1.0) -> list[Finalist]:
    """The mixtures the rule considers, de-duplicated, in RULES order (one for the single-answer rules).

    Args:
        predictor: the final predictor.
        rule: one of RULES.
        token_shares, temperature: the pools' prior.
        prior: (K,) the KL's prior.
        caps: (K,) largest weight per cluster, None for none.
        seed: seeds every pool.
        pool_size: pool draws.
        top_k: topk_mean's k.
        kl_weight: regularised's lambda.
        evaluated: (n, K) every mixture the rounds evaluated.
        trust: regularised's weight on the predictor's standard deviation.
    """
    if rule not in RULES:
        raise ValueError(f"search.final {rule!r}: expected one of {RULES}")
    wanted = RULES[:3] if rule == "verified" else (rule,)
    proposals: dict[str, np.ndarray] = {}
    best, _ = argmax_mixture(predictor, token_shares=token_shares, caps=caps, seed=seed, pool_size=pool_size)
    if "argmax" in wanted:
        proposals["argmax"] = best
    if "topk_mean" in wanted:
        proposals["topk_mean"] = topk_mean(predictor, token_shares=token_shares, caps=caps, seed=seed + 1,
                                           pool_size=pool_size, temperature=temperature, top_k=top_k)
    if "regularised" in wanted:
        proposals["regularised"] = regularised(predictor, prior=prior, caps=caps, seed=seed + 2,
                                               pool_size=pool_size, kl_weight=kl_weight, trust=trust,
                                               candidates=np.vstack([best, prior, evaluated]))
    out, seen = [], set()
    for name, weights in proposals.items():
        key = mixture_key(weights)
        if key not in seen:
            seen.add(key)
            out.append(Finalist(name, weights, float(predictor.predict(weights)[0]), _distance(weights, evaluated)))
    return out
