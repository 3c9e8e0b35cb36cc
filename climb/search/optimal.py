"""The optimal mixture and the baselines it is compared with, all verified on the held-apart target.

CLIMB's answer is the final predictor's argmax among feasible mixtures. Every method below gets a
proxy trained with the same settings and scored on the holdout split that the search never saw:
- uniform: 1/K on every super-cluster;
- token_proportional: the corpus as it is (the paper's "Random");
- best_of_n: the best mixture any round evaluated (by search score);
- regmix: RegMix one-shot — the same number of proxy runs spent in one round of Dirichlet candidates,
  one predictor fit, the average of the predictor's top-k mixtures.
Files: `<root>/optimal_mixture/optimal_mixture.json`, `comparison.parquet`, plots.
"""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa

from climb.core.config import ClimbConfig
from climb.search.mixtures import dirichlet_candidates, is_feasible, round_to_simplex
from climb.core.plots import figure, render
from climb.search.predictor import Predictor, argmax_mixture, fit_predictor
from climb.search.proxy_jobs import run_proxies
from climb.search.rounds import PREDICTOR, caps, evaluated_runs, make_jobs, search_space, weights_of, workers_for
from climb.core.storage import Storage

OPTIMAL = "optimal_mixture"
REGMIX_TOP_K = 100  # RegMix averages the predictor's best simulated mixtures


def _regmix(config: ClimbConfig, storage: Storage, space, limits, workers: int, log) -> tuple[np.ndarray, list[dict]]:
    budget = sum(config.search.rounds)
    seed = config.search.seed * 1000 + 999
    weights = dirichlet_candidates(space.token_shares, n=budget, seed=seed, temperature=config.search.temperature,
                                   caps=limits)
    jobs = make_jobs(weights, [f"regmix #{i}" for i in range(len(weights))], storage=storage, config=config,
                     space=space, workers=workers)
    runs = run_proxies(jobs, storage=storage, workers=workers, log=log)
    predictor = fit_predictor(weights, np.array([r["search_score"] for r in runs]), seed=config.search.seed)
    return regmix_mixture(predictor, token_shares=space.token_shares, caps=limits, seed=seed + 1,
                          pool_size=config.search.pool_size, temperature=config.search.temperature), runs


def regmix_mixture(predictor: Predictor, *, token_shares: np.ndarray, caps: np.ndarray | None, seed: int,
                   pool_size: int, temperature: float, top_k: int = REGMIX_TOP_K) -> np.ndarray:
    """RegMix's answer from a fitted predictor: the mean of its top_k mixtures of a Dirichlet pool, rounded.

    Args:
        predictor: fitted on one round of random candidates (RegMix is one-shot).
        token_shares: (K,) the pool's Dirichlet prior.
        caps: (K,) largest weight per cluster, None for none (the mean of feasible rows is feasible).
        seed: seeds the pool.
        pool_size: mixtures simulated (RegMix: 1M; CLIMB's pool: 100k).
        temperature: the pool's prior exponent.
        top_k: mixtures averaged (RegMix: 100).
    """
    pool = dirichlet_candidates(token_shares, n=pool_size, seed=seed, temperature=temperature, caps=caps)
    top = pool[np.argsort(-predictor.predict(pool), kind="stable")[: min(top_k, len(pool))]]  # ties: draw order
    return round_to_simplex(top.mean(axis=0)[None, :])[0]


def _plots(space, rounds_weights: list[np.ndarray], optimal: np.ndarray, predicted: np.ndarray,
           observed: np.ndarray) -> tuple[bytes, bytes]:
    fig, ax = figure()
    bars = [w.mean(axis=0) for w in rounds_weights] + [optimal]
    bottom = np.zeros(len(bars))
    for i, cid in enumerate(space.cluster_ids):
        values = np.array([b[i] for b in bars])
        ax.bar(range(len(bars)), values, bottom=bottom, label=f"{cid}: {space.labels[i]}"[:28])
        bottom += values
    ax.set_xticks(range(len(bars)), [f"round {r + 1}\n(mean)" for r in range(len(rounds_weights))] + ["optimal"])
    ax.set(title="mixture weights per round", ylabel="weight")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))
    weights_png = render(fig)
    fig, ax = figure()
    ax.scatter(predicted, observed, s=12)
    low, high = float(min(predicted.min(), observed.min())), float(max(predicted.max(), observed.max()))
    ax.plot([low, high], [low, high], color="#999999", linewidth=1)
    ax.set(title="final predictor vs observed search score", xlabel="predicted", ylabel="observed")
    return weights_png, render(fig)


def choose_optimal(*, storage: Storage, config: ClimbConfig, log: logging.Logger | None = None) -> dict:
    """The optimal mixture, verified, with the baselines side by side (docs/method.md, step 6).

    Args:
        storage: holds every round and receives `optimal_mixture`.
        config: the search, proxy and target settings; `search.baselines` says which baselines to run.
        log: progress.
    """
    log = log or logging.getLogger(__name__)
    space, n_rounds = search_space(storage), len(config.search.rounds)
    predictor = Predictor.from_json(storage.read_json(PREDICTOR, "predictor.json", str(n_rounds)))
    limits, workers = caps(config, space), workers_for(config)
    optimal, predicted_optimal = argmax_mixture(predictor, token_shares=space.token_shares, caps=limits,
                                                seed=config.search.seed, pool_size=config.search.pool_size)
    evaluated, scores, rows = evaluated_runs(storage, space, range(1, n_rounds + 1))
    methods: dict[str, np.ndarray] = {"climb": optimal}
    wanted = set(config.search.baselines)
    if "uniform" in wanted:
        methods["uniform"] = np.full(len(space.cluster_ids), 1 / len(space.cluster_ids))
    if "token_proportional" in wanted:
        methods["token_proportional"] = space.token_shares
    extra_runs = 0
    if "regmix" in wanted:
        methods["regmix"], regmix_runs = _regmix(config, storage, space, limits, workers, log)
        extra_runs = len(regmix_runs)
    names = list(methods)
    results = run_proxies(make_jobs(np.stack([methods[m] for m in names]), [f"verify {m}" for m in names],
                                    storage=storage, config=config, space=space, workers=workers),
                          storage=storage, workers=workers, log=log)
    comparison = []
    for name, result in zip(names, results):
        w = methods[name]
        comparison.append({"method": name, "weights": [round(float(x), 4) for x in w],
                           "predicted": float(predictor.predict(w[None, :])[0]), "search_score": result["search_score"],
                           "holdout_score": result["holdout_score"], "holdout_metrics": result["holdout_metrics"],
                           "feasible": bool(is_feasible(w[None, :], limits)[0]),
                           "proxy_runs": sum(config.search.rounds) if name == "climb" else
                           (extra_runs if name == "regmix" else 0)})
    if "best_of_n" in wanted:
        best = rows[int(np.argmax(scores))]
        w = evaluated[int(np.argmax(scores))]
        comparison.append({"method": "best_of_n", "weights": [round(float(x), 4) for x in w],
                           "predicted": float(predictor.predict(w[None, :])[0]), "search_score": best["search_score"],
                           "holdout_score": best["holdout_score"], "holdout_metrics": {}, "feasible": True,
                           "proxy_runs": sum(config.search.rounds)})
    rounds_weights = [weights_of(storage.read_table("candidate_mixtures", "candidates.parquet", str(r)), space)
                      for r in range(1, n_rounds + 1)]
    weights_png, scatter_png = _plots(space, rounds_weights, optimal, predictor.predict(evaluated), scores)
    verified = comparison[0]
    summary = {
        "weights": {str(cid): round(float(w), 4) for cid, w in zip(space.cluster_ids, optimal)},
        "labels": {str(cid): label for cid, label in zip(space.cluster_ids, space.labels)},
        "predicted_score": float(predicted_optimal), "observed_search_score": verified["search_score"],
        "observed_holdout_score": verified["holdout_score"], "predictor_family": predictor.family,
        "comparison": comparison,
    }
    with storage.write_partition(OPTIMAL) as writer:
        writer.write_json("optimal_mixture.json", summary)
        writer.write_table("comparison.parquet", pa.Table.from_pylist(
            [{k: v for k, v in row.items() if k != "holdout_metrics"} for row in comparison]))
        writer.write_bytes("weights_per_round.png", weights_png)
        writer.write_bytes("predicted_vs_observed.png", scatter_png)
    return {**summary, "weights_png": weights_png, "scatter_png": scatter_png, "path": storage.require(OPTIMAL)}
