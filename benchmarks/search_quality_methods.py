"""The methods compared by benchmarks/search_quality.py, each a small state machine on the Scheduler.

Per (lab, seed, budget B): `random_batch` trains RegMix's one round of B + v Dirichlet candidates
(climb.search.optimal._regmix's draw: seed * 1000 + 999; v = the verified rule's final_verify_runs, so RegMix
gets every run CLIMB may spend) and gives RegMix one-shot (predictor on the batch, mean of its top 100 of a pool:
climb.search.optimal.regmix_mixture, verified by one more run) and Best@N (the batch's best by search score);
`fixed` gives uniform and token-proportional; `doremi` (off by default) DoReMi. Per (lab, target, seed):
`planted` verifies the target's known composition mapped onto the super-clusters. Per (lab, target, seed,
budget): `Climb` runs the engine's rounds (climb.search.rounds.round_candidates with the search settings:
first-round design, acquisition, exploration), refits the predictor after each (climb.search.predictor.fit_predictor), proposes the finalists
(climb.search.final.finalists) and answers by the final rule; under `verified` it trains the finalists no round
evaluated (at most v, counted in its budget) and takes the best search score among them and its best run,
exactly as climb.search.optimal._answer. Every proxy scores the search and the holdout split, so the answer and
every finalist come with their verified holdout loss at no extra run. Round 1 and RegMix's batch do not depend
on the target: one training per mixture is scored on every target of the lab.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from benchmarks.search_quality_data import Lab
from benchmarks.search_quality_lib import (SINGLE_RULES, allocate_rounds, planted_mixture, ratio_of, target_weight,
                                           verified_choice, verify_plan)
from benchmarks.search_quality_runs import Job, Scheduler
from climb.search.designs import coverage_report
from climb.search.final import finalists
from climb.search.mixtures import (dirichlet_candidates, feasibility_caps, is_feasible, mixture_key, round_to_simplex,
                                   tempered_prior)
from climb.search.optimal import regmix_mixture
from climb.search.predictor import FAMILIES, VERTEX_ONLY, fit_predictor
from climb.search.proxy import ProxyConfig
from climb.search.rounds import round_candidates

# The families fit_predictor may choose. The vertex-only ones (ridge, the mixing law) are cross-validated by the
# engine but can never be chosen when another family is tried, so leaving them out gives the same family, model and
# explorer (choose_family drops them first) and saves about 40% of every fit; their CV is not reported here.
CHOOSABLE = tuple(f for f in FAMILIES if f not in VERTEX_ONLY)


@dataclass(frozen=True)
class Search:
    """CLIMB's search settings: climb.core.config_sections.SearchConfig's defaults unless an ablation changes one."""

    ratio: tuple[int, ...]
    first_round: str
    acquisition: str
    exploration: float
    final: str
    top_k: int
    kl_weight: float
    verify_runs: int
    temperature: float
    max_epochs: float
    top_n: int | None

    @classmethod
    def defaults(cls) -> Search:
        from climb.core.config_sections import SearchConfig

        c = SearchConfig()
        return cls(ratio=ratio_of(c.rounds), first_round=c.first_round, acquisition=c.acquisition,
                   exploration=c.exploration, final=c.final, top_k=c.final_top_k, kl_weight=c.final_kl_weight,
                   verify_runs=c.final_verify_runs, temperature=c.temperature, max_epochs=c.max_epochs, top_n=c.top_n)

    def but(self, **changes) -> Search:
        return replace(self, **changes)

    def describe(self) -> dict:
        return {"ratio": ":".join(map(str, self.ratio)), "first_round": self.first_round,
                "acquisition": self.acquisition, "exploration": self.exploration, "final": self.final,
                "final_top_k": self.top_k, "final_kl_weight": self.kl_weight, "final_verify_runs": self.verify_runs}


@dataclass(frozen=True)
class Setting:
    """What every method of one (lab, seed, budget) shares."""

    lab: Lab
    seed: int
    proxy: ProxyConfig
    budget: int  # B: CLIMB's rounds sum to it; RegMix's and Best@N's batch is B + v
    pool_size: int
    search: Search
    target_labels: dict  # target name -> labels its documents came from (for target_weight)
    rank: int = 0  # scheduler priority offset: higher runs first (budget 14, then 28, then the ablations)

    def priority(self, step: int) -> int:
        """Scheduler priority: by rank, then deeper steps first (searches finish instead of piling up)."""
        return step + self.rank

    @property
    def caps(self) -> np.ndarray:
        return feasibility_caps(self.lab.store_tokens, tokens_per_run=self.proxy.tokens,
                                max_epochs=self.search.max_epochs)

    def jobs(self, weights: np.ndarray, targets: list[str], label: str) -> list[Job]:
        lab = self.lab
        folders = {lab.target_ids[t]: lab.targets[t] for t in targets}
        return [Job("proxy", {c: float(w) for c, w in zip(lab.cluster_ids, row)}, lab.store_folders, lab.vocab_size,
                    self.proxy, lab.data_version, folders, f"{lab.name} B{self.budget} seed {self.seed} {label} #{i}")
                for i, row in enumerate(np.atleast_2d(weights))]

    def scores(self, result: dict, target: str) -> tuple[float, float]:
        score = result["scores"][self.lab.target_ids[target]]
        return score["search"], score["holdout"]

    def row(self, method: str, target: str, weights: np.ndarray, result: dict, runs: int, **extra) -> dict:
        search, holdout = self.scores(result, target)
        weights = np.asarray(weights, dtype=float)
        return {"lab": self.lab.name, "target": target, "budget": self.budget, "seed": self.seed, "method": method,
                "weights": [round(float(w), 4) for w in weights], "search_score": search, "holdout_score": holdout,
                "holdout_loss": -holdout, "proxy_runs": runs, "max_weight": round(float(weights.max()), 4),
                "feasible": bool(is_feasible(weights[None, :], self.caps)[0]),
                "target_weight": target_weight(weights, self.lab.composition, self.target_labels[target]), **extra}

    def fit(self, weights: np.ndarray, scores: np.ndarray):
        return fit_predictor(weights, scores, seed=self.seed, families=CHOOSABLE)


def _cv(predictor) -> dict:
    chosen = next(s for s in predictor.cv if s.family == predictor.family)
    return {"points": predictor.n_points, "family": predictor.family,
            "spearman": None if np.isnan(chosen.spearman) else chosen.spearman,
            "all": {s.family: None if np.isnan(s.spearman) else s.spearman for s in predictor.cv}}


def regmix_batch(s: Setting) -> np.ndarray:
    """RegMix's one round: B + v Dirichlet candidates, drawn as climb.search.optimal._regmix draws them (a smaller
    budget's batch is a prefix of a larger one's, so the two budgets share those runs)."""
    return dirichlet_candidates(s.lab.token_shares, n=s.budget + s.search.verify_runs, seed=s.seed * 1000 + 999,
                                temperature=s.search.temperature, caps=s.caps)


def random_batch(s: Setting, sched: Scheduler, rows: list, targets: list[str]) -> None:
    """RegMix one-shot and Best@N on one batch of B + v random candidates."""
    weights = regmix_batch(s)

    def trained(results: list[dict]) -> None:
        for target in targets:
            search = np.array([s.scores(r, target)[0] for r in results])
            best = int(np.argmax(search))
            rows.append(s.row("best_of_n", target, weights[best], results[best], len(weights)))
            predictor = s.fit(weights, search)
            mixture = regmix_mixture(predictor, token_shares=s.lab.token_shares, caps=s.caps,
                                     seed=s.seed * 1000 + 999 + 1, pool_size=s.pool_size,
                                     temperature=s.search.temperature)
            sched.submit(s.jobs(mixture, [target], f"regmix verify {target}"), priority=s.priority(9),
                         done=lambda res, t=target, m=mixture, p=predictor: rows.append(
                             s.row("regmix", t, m, res[0], len(weights), rounds=[_cv(p)],
                                   batch_coverage=coverage_report(weights))))

    sched.submit(s.jobs(weights, list(s.lab.targets), "regmix batch"), priority=s.priority(1), done=trained)


def fixed(s: Setting, sched: Scheduler, rows: list, targets: list[str]) -> None:
    """Uniform (1/K) and token-proportional (the corpus as it is; the paper's "Random")."""
    k = len(s.lab.cluster_ids)
    for method, weights in (("uniform", round_to_simplex(np.full(k, 1 / k))),
                            ("token_proportional", round_to_simplex(s.lab.token_shares))):
        sched.submit(s.jobs(weights, list(s.lab.targets), method), priority=s.priority(8),
                     done=lambda res, m=method, w=weights: [rows.append(s.row(m, t, w, res[0], 1)) for t in targets])


def doremi(s: Setting, sched: Scheduler, rows: list, targets: list[str]) -> None:
    """DoReMi over the super-clusters (target-agnostic: one mixture for every target), then verified: 3 runs' worth.
    Off by default in the second stage (--doremi turns it on)."""
    k = len(s.lab.cluster_ids)
    job = Job("doremi", {c: 1 / k for c in s.lab.cluster_ids}, s.lab.store_folders, s.lab.vocab_size, s.proxy,
              s.lab.data_version, {}, f"{s.lab.name} seed {s.seed} doremi")

    def weighed(results: list[dict]) -> None:
        mixture = round_to_simplex(np.array([results[0]["doremi_weights"][str(c)] for c in s.lab.cluster_ids]))
        sched.submit(s.jobs(mixture, list(s.lab.targets), "doremi verify"), priority=s.priority(9),
                     done=lambda res: [rows.append(s.row("doremi", t, mixture, res[0], 3)) for t in targets])

    sched.submit([job], priority=s.priority(10), done=weighed)


def planted(s: Setting, sched: Scheduler, rows: list, target: str) -> None:
    """The target's known composition over the super-clusters (each label's share given to the super-clusters by
    their share of its documents), verified like every answer."""
    weights = round_to_simplex(planted_mixture(s.lab.composition, s.lab.target_compositions[target])[None, :])[0]
    sched.submit(s.jobs(weights, [target], f"planted {target}"), priority=s.priority(8),
                 done=lambda res: rows.append(s.row("planted", target, weights, res[0], 1,
                                                    composition=s.lab.target_compositions[target])))


class Climb:
    """CLIMB's iterative search for one target under `search`, answered by its final rule."""

    def __init__(self, s: Setting, sched: Scheduler, rows: list, target: str, search: Search,
                 method: str = "climb"):
        self.s, self.sched, self.rows, self.target, self.search = s, sched, rows, target, search
        self.method, self.schedule = method, allocate_rounds(s.budget, search.ratio)
        self.weights = np.zeros((0, len(s.lab.cluster_ids)))
        self.scores, self.results, self.rounds, self.predictor = [], [], [], None
        self.coverage = None
        self._round(1)

    def _round(self, r: int) -> None:
        s, n = self.s, self.schedule[r - 1]
        weights, _ = round_candidates(r, n=n, token_shares=s.lab.token_shares, caps=s.caps, evaluated=self.weights,
                                      predictor=self.predictor, seed=s.seed, temperature=self.search.temperature,
                                      pool_size=s.pool_size, top_n=self.search.top_n,
                                      first_round=self.search.first_round, acquisition=self.search.acquisition,
                                      exploration=self.search.exploration,
                                      scores=np.array(self.scores) if self.scores else None)
        if r == 1:
            self.coverage = coverage_report(weights)
        targets = list(s.lab.targets) if r == 1 else [self.target]  # round 1 is target-free: shared, scored on all
        self.sched.submit(s.jobs(weights, targets, f"{self.method} {self.target} round {r}"),
                          priority=s.priority(r + 1), done=lambda res: self._fed(r, weights, res))

    def _fed(self, r: int, weights: np.ndarray, results: list[dict]) -> None:
        self.weights = np.vstack([self.weights, weights])
        self.scores += [self.s.scores(res, self.target)[0] for res in results]
        self.results += results
        self.predictor = self.s.fit(self.weights, np.array(self.scores))
        self.rounds.append(_cv(self.predictor))
        if r < len(self.schedule):
            return self._round(r + 1)
        self._final()

    def _final(self) -> None:
        s, search = self.s, self.search
        best = int(np.argmax(self.scores))  # the search's own best run (optimal.py's best_of_n)
        self.rows.append(s.row(f"{self.method}_best_run", self.target, self.weights[best], self.results[best],
                               len(self.scores)))
        common = dict(token_shares=s.lab.token_shares, prior=tempered_prior(s.lab.token_shares, search.temperature),
                      caps=s.caps, seed=s.seed, pool_size=s.pool_size, temperature=search.temperature,
                      top_k=search.top_k, kl_weight=search.kl_weight, evaluated=self.weights)
        finals = finalists(self.predictor, rule=search.final, **common)
        # Every single-answer rule's own mixture, for the final-rules table (finalists de-duplicates: a rule whose
        # mixture repeats an earlier one's is proposed alone, which gives the same mixture: each rule has its seed).
        proposed = {f.rule: f for f in finals}
        if search.final == "verified":
            for rule in SINGLE_RULES:
                if rule not in proposed:
                    proposed[rule] = finalists(self.predictor, rule=rule, **common)[0]
        keys = {mixture_key(w): i for i, w in enumerate(self.weights)}
        counted = verify_plan([f.distance for f in finals], search.verify_runs) if search.final == "verified" else [0]
        needed = {mixture_key(f.weights): f for f in proposed.values() if mixture_key(f.weights) not in keys}
        order = list(needed)  # mixtures to train: the counted finalists and, for the table only, any other rule's

        def trained(results: list[dict]) -> None:
            by_key = {key: res for key, res in zip(order, results)}
            by_key.update({key: self.results[i] for key, i in keys.items()})
            entries = []
            for f in finals:
                search_score, holdout = s.scores(by_key[mixture_key(f.weights)], self.target)
                entries.append({"rule": f.rule, "weights": [round(float(w), 4) for w in f.weights],
                                "predicted": f.predicted, "distance": round(f.distance, 4),
                                "search_score": search_score,
                                "holdout_loss": -holdout, "counted": False, "chosen": False})
            for i in counted:
                entries[i]["counted"] = True
            if search.final == "verified":
                pick = verified_choice([entries[i]["search_score"] if entries[i]["counted"] else None
                                        for i in range(len(entries))], self.scores[best])
            else:
                pick = 0
            run_entry = {"rule": "best_evaluated_run", "weights": [round(float(w), 4) for w in self.weights[best]],
                         "predicted": float(self.predictor.predict(self.weights[best])[0]), "distance": 0.0,
                         "search_score": self.scores[best],
                         "holdout_loss": -s.scores(self.results[best], self.target)[1],
                         "counted": True, "chosen": False}
            entries.append(run_entry)
            entries[pick]["chosen"] = True
            for rule, f in proposed.items():  # rules de-duplicated away: their (shared) mixture's loss
                if rule not in {e["rule"] for e in entries}:
                    res = by_key[mixture_key(f.weights)]
                    entries.append({"rule": rule, "weights": [round(float(w), 4) for w in f.weights],
                                    "predicted": f.predicted, "distance": round(f.distance, 4),
                                    "search_score": s.scores(res, self.target)[0],
                                    "holdout_loss": -s.scores(res, self.target)[1], "counted": False,
                                    "chosen": False, "duplicate": True})
            answer = entries[pick]
            result = by_key[mixture_key(np.array(answer["weights"]))] if answer["rule"] != "best_evaluated_run" \
                else self.results[best]
            spent = len(self.scores) + (len(counted) if search.final == "verified" else 0)
            self.rows.append(s.row(self.method, self.target, np.array(answer["weights"]), result, spent,
                                   rounds=self.rounds, schedule=self.schedule, search=search.describe(),
                                   chosen_rule=answer["rule"], finalists=entries, round1_coverage=self.coverage,
                                   predictor_note=self.predictor.note))

        todo = np.array([needed[k].weights for k in order]) if order else np.zeros((0, len(s.lab.cluster_ids)))
        self.sched.submit(s.jobs(todo, [self.target], f"{self.method} {self.target} finalists"),
                          priority=s.priority(len(self.schedule) + 2), done=trained)
