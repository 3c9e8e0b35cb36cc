"""The proxy runs of a round: one job per candidate mixture, trained (or taken from the content-addressed
cache) and committed as the round's table, `<root>/proxy_runs/<r>/runs.parquet`.

The asset graph trains each candidate in its own step (`train_candidate`) and commits the round once all are
done (`commit_round`); `run_round` does both in one call with a pool of worker processes (benchmarks, tests).
"""

from __future__ import annotations

import json
import logging

import numpy as np

from climb.climblab.build import CLIMBLAB, TOKEN_STORES, cluster_folder
from climb.core.config import ClimbConfig
from climb.core.storage import Storage
from climb.search.evidence import snapshot_membership
from climb.search.proxy import proxy_key
from climb.search.proxy_jobs import ProxyJob, default_workers, job_threads, run_one, run_proxies, tokenizer_folder
from climb.search.saved_proxies import saves
from climb.search.rounds import (CANDIDATES, PROXY_RUNS, SearchSpace, scores_context, weights_table, proxy_config,
                                 search_space, weights_of)
from climb.search.target_set import TARGET, require_parts


def make_jobs(weights: np.ndarray, labels: list[str], *, storage: Storage, config: ClimbConfig, space: SearchSpace,
              workers: int, meta: list[dict] | None = None, verification: bool = False) -> list[ProxyJob]:
    """Proxy jobs for rows of mixture weights (content-addressed keys); `verification` jobs verify optimal_mixture,
    and `proxy.save` says whether they (or all jobs) keep their trained proxy."""
    climblab = storage.require(CLIMBLAB)
    folders = {cid: f"{climblab}/{TOKEN_STORES}/{cluster_folder(cid)}" for cid in space.cluster_ids}
    target = storage.read_json(TARGET, "target.json")
    require_parts(target)
    vocab = storage.read_json("tokenizer", "stats.json")["vocab_size"]
    settings = proxy_config(config, threads=job_threads(workers))
    save_root = storage.root if saves(config.proxy.save, verification=verification) else None
    jobs = []
    for i, row in enumerate(weights):
        mixture = {cid: float(w) for cid, w in zip(space.cluster_ids, row)}
        key = proxy_key(weights=mixture, config=settings, target_id=target["target_id"], data_version=space.data_version)
        jobs.append(ProxyJob(key=key, weights=mixture, store_folders=folders, vocab_size=vocab, proxy=settings,
                             target_folder=storage.require(TARGET), tokenizer_folder=tokenizer_folder(storage),
                             label=labels[i], meta=(meta or [{}] * len(weights))[i], save_root=save_root))
    return jobs


def workers_for(config: ClimbConfig) -> int:
    from climb.core.device import resolve_placement

    return config.search.workers or default_workers(resolve_placement(config.proxy.device).device)


def run_round(round_number: int, *, storage: Storage, config: ClimbConfig, log: logging.Logger | None = None) -> dict:
    """Train and score one proxy per candidate of the round in a pool of workers; commit the round."""
    space = search_space(storage)
    weights = round_weights(round_number, storage=storage)
    workers = workers_for(config)
    labels = [f"round {round_number} #{i}" for i in range(len(weights))]
    results = run_proxies(make_jobs(weights, labels, storage=storage, config=config, space=space, workers=workers),
                          storage=storage, workers=workers, log=log)
    return commit_round(round_number, results, storage=storage, config=config, workers=workers)


def round_weights(round_number: int, *, storage: Storage) -> np.ndarray:
    """(n, K) the committed candidate mixtures of a round."""
    space = search_space(storage)
    return weights_of(storage.read_table(CANDIDATES, "candidates.parquet", str(round_number)), space)


def train_candidate(round_number: int, index: int, *, storage: Storage, config: ClimbConfig,
                    log: logging.Logger | None = None) -> dict:
    """Train and score the proxy of one candidate of a round, in this process (or take it from the cache)."""
    space = search_space(storage)
    weights = round_weights(round_number, storage=storage)
    if not 0 <= index < len(weights):
        raise ValueError(f"round {round_number} has {len(weights)} candidates; no candidate {index}")
    [job] = make_jobs(weights[index:index + 1], [f"round {round_number} #{index}"], storage=storage, config=config,
                      space=space, workers=1)
    return run_one(job, storage=storage, log=log)


def commit_round(round_number: int, results: list[dict], *, storage: Storage, config: ClimbConfig,
                 workers: int = 1) -> dict:
    """Commit a round's runs, in candidate order (one result per candidate), and return its summary."""
    space = search_space(storage)
    weights = round_weights(round_number, storage=storage)
    if len(results) != len(weights):
        raise ValueError(f"round {round_number}: {len(results)} results for {len(weights)} candidates")
    table = weights_table(weights, space, {
        "round": [round_number] * len(results), "index": list(range(len(results))),
        "key": [r["key"] for r in results], "search_score": [r["search_score"] for r in results],
        "holdout_score": [r["holdout_score"] for r in results],
        "search_metrics": [json.dumps(r["search_metrics"]) for r in results],
        "train_loss": [r["training"]["final_loss"] for r in results],
        "tokens_per_second": [r["training"]["tokens_per_second"] for r in results],
        "seconds": [r["seconds"] for r in results], "reused": [r["reused"] for r in results],
    })
    with storage.write_partition(PROXY_RUNS, str(round_number)) as writer:
        writer.write_table("runs.parquet", table)
        writer.write_json("stats.json", {"data_version": space.data_version, "cluster_ids": list(space.cluster_ids),
                                         **scores_context(storage, config)})
    snapshot_membership(storage, data_version=space.data_version)  # what these runs' clusters were made of
    scores = table.column("search_score").to_numpy()
    return {"runs": len(results), "reused": int(sum(r["reused"] for r in results)), "best_score": float(scores.max()),
            "mean_score": float(scores.mean()), "workers": workers,
            "tokens_per_second": float(np.mean([r["training"]["tokens_per_second"] for r in results]))}
