"""CLIMB's iterative bootstrapping over super-clusters (paper step 6), one round at a time.

Round r: `candidate_mixtures` (round 1: the RegMix-style Dirichlet sampler; later rounds: a large
pool ranked by round r-1's predictor, M picked at random among the top N, evaluated mixtures
excluded, feasibility enforced) -> `proxy_runs` (one proxy per candidate, content-addressed) ->
`predictor` (fitted on every (mixture, score) of rounds 1..r). The optimal mixture is the final
predictor's argmax among feasible mixtures, verified by a proxy on the held-apart target split.

Files: `<root>/candidate_mixtures/<r>/candidates.parquet`, `<root>/proxy_runs/<r>/runs.parquet`,
`<root>/predictor/<r>/predictor.json`. Every round's files record the search space's data version. When round 1
starts on new super-clusters (a re-clustering), the evidence of earlier searches still in storage is translated
through document membership (climb.search.evidence) into `candidate_mixtures/1/translated_evidence.parquet`,
and every round's predictor fits those points too.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import asdict, dataclass, replace

import numpy as np
import pyarrow as pa

from climb.core.hashing import content_hash
from climb.climblab.build import CLIMBLAB, CLUSTERS_FILE
from climb.core.config import ClimbConfig
from climb.search import designs
from climb.search.mixtures import feasibility_caps, mixture_key
from climb.search.predictor import Predictor, fit_predictor
from climb.search.proxy import ProxyConfig
from climb.search.evidence import EvidenceSource, proxy_fingerprint, snapshot_membership, translate_evidence
from climb.search.target_set import TARGET
from climb.core.storage import Storage

CANDIDATES, PROXY_RUNS, PREDICTOR = "candidate_mixtures", "proxy_runs", "predictor"
TRANSLATED = "translated_evidence.parquet"  # in candidate_mixtures/1: earlier searches' runs, translated


@dataclass(frozen=True)
class SearchSpace:
    cluster_ids: tuple[int, ...]
    labels: tuple[str, ...]
    token_shares: np.ndarray  # (K,) shares of ClimbLab tokens
    store_tokens: np.ndarray  # (K,) tokens available to proxy training
    data_version: str  # content hash of ClimbLab's clusters and token stores


def search_space(storage: Storage) -> SearchSpace:
    clusters = sorted(storage.read_table(CLIMBLAB, CLUSTERS_FILE).to_pylist(), key=lambda c: c["cluster_id"])
    summary = [(c["cluster_id"], c["documents"], c["tokens"], c["store_tokens"]) for c in clusters]
    tokenizer_stats = storage.read_json("tokenizer", "stats.json")
    version = content_hash([summary, tokenizer_stats["vocab_size"], tokenizer_stats["source"]], length=16)
    tokens = np.array([c["tokens"] for c in clusters], dtype=float)
    return SearchSpace(tuple(c["cluster_id"] for c in clusters), tuple(c["label"] for c in clusters),
                       tokens / tokens.sum(), np.array([c["store_tokens"] for c in clusters], dtype=float), version)


def proxy_config(config: ClimbConfig, *, threads: int | None = None) -> ProxyConfig:
    p = config.proxy
    return ProxyConfig(preset=p.preset, tokens=p.tokens, sequence_length=p.sequence_length, batch_size=p.batch_size,
                       learning_rate=p.learning_rate, init_from=p.init_from, device=p.device,
                       precision=p.precision, seed=p.seed, threads=threads)


def caps(config: ClimbConfig, space: SearchSpace) -> np.ndarray:
    return feasibility_caps(space.store_tokens, tokens_per_run=config.proxy.tokens, max_epochs=config.search.max_epochs)


def weights_table(weights: np.ndarray, space: SearchSpace, extra: dict[str, list]) -> pa.Table:
    columns = {f"w_{cid}": pa.array(weights[:, i], pa.float64()) for i, cid in enumerate(space.cluster_ids)}
    return pa.table({**extra, **columns})


def _weight_columns(table: pa.Table, cluster_ids: tuple[int, ...]) -> np.ndarray:
    return np.stack([table.column(f"w_{cid}").to_numpy() for cid in cluster_ids], axis=1)


def weights_of(table: pa.Table, space: SearchSpace) -> np.ndarray:
    return _weight_columns(table, space.cluster_ids)


def evaluated_runs(storage: Storage, space: SearchSpace, rounds: range) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """(weights, search scores, rows) of every proxy run of the given rounds."""
    tables = [storage.read_table(PROXY_RUNS, "runs.parquet", str(r)) for r in rounds]
    if not tables:
        return np.zeros((0, len(space.cluster_ids))), np.zeros(0), []
    table = pa.concat_tables(tables)
    return weights_of(table, space), table.column("search_score").to_numpy(), table.to_pylist()


def round_seed(seed: int, round_number: int) -> int:
    """The sampler seed of one round: seed * 1000 + round_number (rounds of one search never share draws)."""
    return seed * 1000 + round_number


def round_candidates(round_number: int, *, n: int, token_shares: np.ndarray, caps: np.ndarray | None,
                     evaluated: np.ndarray, predictor: Predictor | None, seed: int, temperature: float,
                     pool_size: int, top_n: int | None, first_round: str = "coverage",
                     acquisition: str = "ucb", exploration: float = 1.0,
                     scores: np.ndarray | None = None,
                     fitted: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(weights (n', K), predicted (n',)) of one round, n' <= n; the pure core of `propose_candidates`.

    Round 1 is the `first_round` design (predicted = nan); later rounds rank a pool by the `acquisition`
    (`designs.acquire`). Evaluated mixtures are never proposed.

    Args:
        round_number: 1-based.
        n: candidates wanted.
        token_shares: (K,) the priors' token shares.
        caps: (K,) largest weight per cluster (`mixtures.feasibility_caps`), None for none.
        evaluated: (m, K) mixtures of earlier rounds (excluded).
        scores: (m,) their search scores (thompson's bootstrap); None for none.
        fitted: (weights, scores) the predictor was also fitted on (translated earlier evidence), for the bootstrap.
        predictor: round r-1's predictor; None in round 1.
        seed: the search seed (the round's draws use `round_seed(seed, round_number)`).
        temperature: the prior exponent (paper: 0.5).
        pool_size, top_n: later rounds' pool and top (`designs.acquire`).
        first_round: `coverage` or `dirichlet` (the paper's sampler).
        acquisition: `thompson`, `ucb` or `mean` (the paper's top-N by prediction).
        exploration: ucb's kappa.
    """
    exclude = {mixture_key(w) for w in evaluated}
    seed = round_seed(seed, round_number)
    if round_number == 1:
        weights = designs.first_round(first_round, token_shares, n=n, seed=seed, temperature=temperature, caps=caps,
                                      exclude=exclude)
        return weights, np.full(len(weights), np.nan)
    if predictor is None:
        raise ValueError(f"round {round_number} ranks its pool by round {round_number - 1}'s predictor: none given")
    return designs.acquire(predictor, token_shares=token_shares, n=n, seed=seed, pool_size=pool_size, top_n=top_n,
                           caps=caps, exclude=exclude, acquisition=acquisition, kappa=exploration,
                           temperature=temperature, evaluated=_with(evaluated, fitted, 0),
                           scores=None if scores is None else _with(scores, fitted, 1))


def _with(runs: np.ndarray, fitted: tuple[np.ndarray, np.ndarray] | None, part: int) -> np.ndarray:
    return runs if fitted is None or not len(fitted[1]) else np.concatenate([runs, fitted[part]])


def scores_context(storage: Storage, config: ClimbConfig) -> dict:
    """What makes two search scores comparable: the target and the proxy settings."""
    return {"target_id": storage.read_json(TARGET, "target.json")["target_id"],
            "proxy": proxy_fingerprint(proxy_config(config))}


def _earlier_evidence(storage: Storage, space: SearchSpace, scores_context: dict) -> tuple[list[EvidenceSource], dict]:
    """Evidence still in storage from searches on other super-clusters, scored like this one: what an earlier
    round 1 translated (carried on), then every round's proxy runs of another data version, each run once
    (by its content address). Returns the sources and the runs skipped, per reason."""
    found = []
    if storage.partition_path(CANDIDATES, "1") and TRANSLATED in storage.manifest(CANDIDATES, "1")["files"]:
        found.append(("translated_evidence", storage.read_json(CANDIDATES, "stats.json", "1")["evidence"],
                      CANDIDATES, "1", TRANSLATED))
    for r in storage.committed_partitions(PROXY_RUNS):
        versioned = "stats.json" in storage.manifest(PROXY_RUNS, r)["files"]
        info = storage.read_json(PROXY_RUNS, "stats.json", r) if versioned else None
        if info is None or info["data_version"] != space.data_version:  # this version's runs are the search's own
            found.append((f"proxy_runs[{r}]", info, PROXY_RUNS, r, "runs.parquet"))
    sources, skipped, seen = [], Counter(), set()
    for origin, info, asset, partition, name in found:
        table = storage.read_table(asset, name, partition)
        if info is None:  # written before runs recorded their data version
            skipped["translation:unversioned"] += table.num_rows
        elif any(info[k] != v for k, v in scores_context.items()):
            skipped["translation:other_target_or_proxy"] += table.num_rows
        else:
            fresh = [i for i, key in enumerate(table.column("key").to_pylist()) if key not in seen]
            table = table.take(fresh)
            seen.update(table.column("key").to_pylist())
            ids = tuple(info["cluster_ids"])
            sources.append(EvidenceSource(origin, info["data_version"], ids, _weight_columns(table, ids),
                                          table.column("search_score").to_numpy(),
                                          tuple(table.column("key").to_pylist())))
    return sources, dict(skipped)


def propose_candidates(round_number: int, *, storage: Storage, config: ClimbConfig,
                       log: logging.Logger | None = None) -> dict:
    """Candidate mixtures of one round, committed (docs/method.md, step 6).

    Args:
        round_number: 1-based; later rounds read round r-1's predictor and every earlier run.
        storage: holds ClimbLab, earlier rounds, and receives `candidate_mixtures/<r>`.
        config: the search schedule, sampler settings and proxy budget (feasibility).
        log: warnings (fewer candidates than asked).
    """
    log = log or logging.getLogger(__name__)
    space, search = search_space(storage), config.search
    evidence = _translate_earlier(storage, space, config, log) if round_number == 1 else None
    n = search.rounds[round_number - 1]
    limits = caps(config, space)
    done_weights, done_scores, _ = evaluated_runs(storage, space, range(1, round_number))
    predictor = None if round_number == 1 else Predictor.from_json(
        storage.read_json(PREDICTOR, "predictor.json", str(round_number - 1)))
    weights, predicted = round_candidates(round_number, n=n, token_shares=space.token_shares, caps=limits,
                                          evaluated=done_weights, predictor=predictor, seed=search.seed,
                                          temperature=search.temperature, pool_size=search.pool_size,
                                          top_n=search.top_n, first_round=search.first_round,
                                          acquisition=search.acquisition, exploration=search.exploration,
                                          scores=done_scores, fitted=translated_points(storage, space))
    seed = round_seed(search.seed, round_number)
    if len(weights) < n:
        log.warning(f"round {round_number}: only {len(weights)} distinct feasible candidates of {n} asked for")
    table = weights_table(weights, space, {"round": [round_number] * len(weights), "index": list(range(len(weights))),
                                            "predicted": predicted.tolist()})
    with storage.write_partition(CANDIDATES, str(round_number)) as writer:
        writer.write_table("candidates.parquet", table)
        if evidence is not None and len(evidence.scores):
            writer.write_table(TRANSLATED, weights_table(evidence.weights, space, {
                "key": evidence.keys, "search_score": evidence.scores.tolist(), "origin": evidence.origins,
                "mapped_share": evidence.mapped_share.tolist()}))
        writer.write_json("stats.json", {"round": round_number, "candidates": len(weights), "asked": n, "seed": seed,
                                         "caps": limits.tolist(), "cluster_ids": list(space.cluster_ids),
                                         "evidence": None if evidence is None else evidence.report})
    return {"candidates": len(weights), "asked": n, "weights": weights, "predicted": predicted, "space": space,
            "evidence": None if evidence is None else evidence.report,
            "coverage": designs.coverage_report(np.vstack([done_weights, weights]))}


def _translate_earlier(storage: Storage, space: SearchSpace, config: ClimbConfig, log: logging.Logger):
    """Round 1 on new super-clusters: earlier searches' runs translated, with the report stored beside them."""
    snapshot_membership(storage, data_version=space.data_version)  # what this search's clusters are made of
    context = scores_context(storage, config)
    sources, skipped = _earlier_evidence(storage, space, context)
    evidence = translate_evidence(storage, sources=sources, data_version=space.data_version,
                                  cluster_ids=space.cluster_ids)
    report = {**evidence.report, "data_version": space.data_version, "cluster_ids": list(space.cluster_ids),
              **context, "reasons": {**evidence.report["reasons"], **skipped}}
    if sources or skipped:
        log.info(f"earlier evidence: {report['translated']} of {report['runs']} runs translated to the current "
                 f"super-clusters; skipped {skipped or 'none'}")
    return replace(evidence, report=report)


def translated_points(storage: Storage, space: SearchSpace) -> tuple[np.ndarray, np.ndarray]:
    """(weights, scores) that round 1 of this data version translated from earlier searches (none: empty)."""
    if storage.partition_path(CANDIDATES, "1") is None or TRANSLATED not in storage.manifest(CANDIDATES, "1")["files"]:
        return np.zeros((0, len(space.cluster_ids))), np.zeros(0)
    if storage.read_json(CANDIDATES, "stats.json", "1")["evidence"]["data_version"] != space.data_version:
        return np.zeros((0, len(space.cluster_ids))), np.zeros(0)
    table = storage.read_table(CANDIDATES, TRANSLATED, "1")
    return weights_of(table, space), table.column("search_score").to_numpy()


def fit_round_predictor(round_number: int, *, storage: Storage, config: ClimbConfig) -> Predictor:
    """The predictor fitted on every (mixture, search score) of rounds 1..r; committed as JSON."""
    space = search_space(storage)
    weights, scores, _ = evaluated_runs(storage, space, range(1, round_number + 1))
    translated_weights, translated_scores = translated_points(storage, space)  # earlier searches' evidence
    predictor = fit_predictor(np.concatenate([weights, translated_weights]),
                              np.concatenate([scores, translated_scores]), seed=config.search.seed)
    with storage.write_partition(PREDICTOR, str(round_number)) as writer:
        writer.write_json("predictor.json", predictor.to_json())
        writer.write_json("cv.json", {"family": predictor.family, "n_points": predictor.n_points,
                                      "translated_points": len(translated_scores), "data_version": space.data_version,
                                      "cv": [asdict(s) for s in predictor.cv]})
    return predictor
