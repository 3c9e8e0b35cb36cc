"""The methods compared by benchmarks/search_quality.py, each a small state machine on the Scheduler.

Per (lab, seed): `random_batch` trains `budget` random Dirichlet candidates (the engine's round 1 drawn with
n = budget, so CLIMB's round 1 is their first rows: one paired draw, trained once) and gives RegMix one-shot
(predictor on the batch, mean of its top 100 of a pool; climb.search.optimal.regmix_mixture) and Best@N (the
batch's best by search score); `fixed` gives uniform and token-proportional; `doremi` gives DoReMi.
Per (lab, target, seed): `Climb` runs the engine's rounds (climb.search.rounds.round_candidates), refits the
predictor after each (climb.search.predictor.fit_predictor) and verifies the final argmax (argmax_mixture).
Every chosen mixture is verified by a proxy with the same settings and seed, scored on the holdout split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.search_quality_data import Lab
from benchmarks.search_quality_lib import target_weight, uniform_random_candidates
from benchmarks.search_quality_runs import Job, Scheduler
from climb.search.mixtures import feasibility_caps, is_feasible, round_to_simplex
from climb.search.optimal import regmix_mixture
from climb.search.predictor import argmax_mixture, fit_predictor
from climb.search.proxy import ProxyConfig
from climb.search.rounds import round_candidates, round_seed

REGMIX_POOL_SEED = 999  # RegMix's simulation pool: round_seed(seed, 999), apart from every CLIMB round


@dataclass(frozen=True)
class Setting:
    """What every method of one (lab, seed) shares."""

    lab: Lab
    seed: int
    proxy: ProxyConfig
    budget: int  # proxy runs of a search (CLIMB's rounds sum to it; RegMix's and Best@N's batch is this size)
    pool_size: int
    top_n: int | None
    temperature: float
    max_epochs: float
    target_labels: dict  # target name -> labels its documents came from (for target_weight)
    main: bool = True  # the main table's work runs before any ablation's (ablations can be cut short)

    def priority(self, step: int) -> int:
        """Scheduler priority: main before ablations, then deeper steps first (searches finish, not pile up)."""
        return step + (100 if self.main else 0)

    @property
    def caps(self) -> np.ndarray:
        return feasibility_caps(self.lab.store_tokens, tokens_per_run=self.proxy.tokens, max_epochs=self.max_epochs)

    def jobs(self, weights: np.ndarray, targets: list[str], label: str) -> list[Job]:
        lab = self.lab
        folders = {lab.target_ids[t]: lab.targets[t] for t in targets}
        return [Job("proxy", {c: float(w) for c, w in zip(lab.cluster_ids, row)}, lab.store_folders, lab.vocab_size,
                    self.proxy, lab.data_version, folders, f"{lab.name} seed {self.seed} {label} #{i}")
                for i, row in enumerate(np.atleast_2d(weights))]

    def row(self, method: str, target: str, weights: np.ndarray, result: dict, runs: int, **extra) -> dict:
        score = result["scores"][self.lab.target_ids[target]]
        return {"lab": self.lab.name, "target": target, "seed": self.seed, "method": method,
                "weights": [round(float(w), 4) for w in weights], "search_score": score["search"],
                "holdout_score": score["holdout"], "holdout_loss": -score["holdout"], "proxy_runs": runs,
                "feasible": bool(is_feasible(np.asarray(weights)[None, :], self.caps)[0]),
                "target_weight": target_weight(weights, self.lab.composition, self.target_labels[target]), **extra}


def _cv(predictor) -> dict:
    chosen = next(s for s in predictor.cv if s.family == predictor.family)
    return {"points": predictor.n_points, "family": predictor.family,
            "spearman": None if np.isnan(chosen.spearman) else chosen.spearman,
            "all": {s.family: None if np.isnan(s.spearman) else s.spearman for s in predictor.cv}}


def random_batch(s: Setting, sched: Scheduler, rows: list, targets: list[str]) -> None:
    """RegMix one-shot and Best@N on one batch of `budget` random candidates."""
    weights, _ = round_candidates(1, n=s.budget, token_shares=s.lab.token_shares, caps=s.caps,
                                  evaluated=np.zeros((0, len(s.lab.cluster_ids))), predictor=None, seed=s.seed,
                                  temperature=s.temperature, pool_size=s.pool_size, top_n=s.top_n)

    def trained(results: list[dict]) -> None:
        for target in targets:
            tid = s.lab.target_ids[target]
            search = np.array([r["scores"][tid]["search"] for r in results])
            best = int(np.argmax(search))
            rows.append(s.row("best_of_n", target, weights[best], results[best], len(weights)))
            predictor = fit_predictor(weights, search, seed=s.seed)
            mixture = regmix_mixture(predictor, token_shares=s.lab.token_shares, caps=s.caps,
                                     seed=round_seed(s.seed, REGMIX_POOL_SEED), pool_size=s.pool_size,
                                     temperature=s.temperature)
            sched.submit(s.jobs(mixture, [target], f"regmix verify {target}"), priority=s.priority(9),
                         done=lambda res, t=target, m=mixture, p=predictor: rows.append(
                             s.row("regmix", t, m, res[0], len(weights) + 1, rounds=[_cv(p)])))

    sched.submit(s.jobs(weights, list(s.lab.targets), "random"), priority=s.priority(1), done=trained)


def fixed(s: Setting, sched: Scheduler, rows: list, targets: list[str]) -> None:
    """Uniform (1/K) and token-proportional (the corpus as it is; the paper's "Random")."""
    k = len(s.lab.cluster_ids)
    for method, weights in (("uniform", round_to_simplex(np.full(k, 1 / k))),
                            ("token_proportional", round_to_simplex(s.lab.token_shares))):
        sched.submit(s.jobs(weights, list(s.lab.targets), method), priority=s.priority(8),
                     done=lambda res, m=method, w=weights: [rows.append(s.row(m, t, w, res[0], 1)) for t in targets])


def doremi(s: Setting, sched: Scheduler, rows: list, targets: list[str]) -> None:
    """DoReMi over the super-clusters (target-agnostic: one mixture for every target), then verified."""
    k = len(s.lab.cluster_ids)
    job = Job("doremi", {c: 1 / k for c in s.lab.cluster_ids}, s.lab.store_folders, s.lab.vocab_size, s.proxy,
              s.lab.data_version, {}, f"{s.lab.name} seed {s.seed} doremi")

    def weighed(results: list[dict]) -> None:
        mixture = round_to_simplex(np.array([results[0]["doremi_weights"][str(c)] for c in s.lab.cluster_ids]))
        sched.submit(s.jobs(mixture, list(s.lab.targets), "doremi verify"), priority=s.priority(9),
                     done=lambda res: [rows.append(s.row("doremi", t, mixture, res[0], 3)) for t in targets])

    sched.submit([job], priority=s.priority(10), done=weighed)


class Climb:
    """CLIMB's iterative bootstrapping for one target: rounds `schedule`, round 1 Dirichlet or uniform-random."""

    def __init__(self, s: Setting, sched: Scheduler, rows: list, target: str, schedule: list[int],
                 init: str = "dirichlet", method: str = "climb"):
        self.s, self.sched, self.rows, self.target, self.schedule = s, sched, rows, target, schedule
        self.init, self.method = init, method
        self.weights = np.zeros((0, len(s.lab.cluster_ids)))
        self.scores, self.holdouts, self.rounds, self.predictor = [], [], [], None
        self._round(1)

    def _round(self, r: int) -> None:
        s, n = self.s, self.schedule[r - 1]
        if r == 1 and self.init == "random":
            weights = uniform_random_candidates(len(s.lab.cluster_ids), n=n, seed=s.seed, caps=s.caps)
        else:
            weights, _ = round_candidates(r, n=n, token_shares=s.lab.token_shares, caps=s.caps, evaluated=self.weights,
                                          predictor=self.predictor, seed=s.seed, temperature=s.temperature,
                                          pool_size=s.pool_size, top_n=s.top_n)
        targets = list(s.lab.targets) if r == 1 else [self.target]  # round 1 is target-free: shared, scored on all
        self.sched.submit(s.jobs(weights, targets, f"{self.method} {self.target} round {r}"),
                          priority=s.priority(r + 1), done=lambda res: self._fed(r, weights, res))

    def _fed(self, r: int, weights: np.ndarray, results: list[dict]) -> None:
        tid = self.s.lab.target_ids[self.target]
        self.weights = np.vstack([self.weights, weights])
        self.scores += [res["scores"][tid]["search"] for res in results]
        self.holdouts += results
        self.predictor = fit_predictor(self.weights, np.array(self.scores), seed=self.s.seed)
        self.rounds.append(_cv(self.predictor))
        if r < len(self.schedule):
            return self._round(r + 1)
        best = int(np.argmax(self.scores))  # the search's own best run: optimal.py's best_of_n
        self.rows.append(self.s.row(f"{self.method}_best_run", self.target, self.weights[best], self.holdouts[best],
                                    len(self.scores)))
        optimal, predicted = argmax_mixture(self.predictor, token_shares=self.s.lab.token_shares, caps=self.s.caps,
                                            seed=self.s.seed, pool_size=self.s.pool_size)

        def verified(results: list[dict]) -> None:
            self.rows.append(self.s.row(self.method, self.target, optimal, results[0], len(self.scores) + 1,
                                        rounds=self.rounds, predicted=float(predicted), schedule=self.schedule,
                                        init=self.init))

        self.sched.submit(self.s.jobs(optimal, [self.target], f"{self.method} verify {self.target}"),
                          priority=self.s.priority(len(self.schedule) + 2), done=verified)
