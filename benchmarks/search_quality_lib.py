"""Pure helpers of benchmarks/search_quality.py: round allocation, random-init candidates, and the summaries
(mean and standard deviation over seeds, regret against the best chosen mixture, paired wins, CV Spearman)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence

import numpy as np

from climb.search.mixtures import UNITS, clean_weights, is_feasible, sample_dirichlet

RANDOM_INIT_STREAM = 7  # uniform-random round 1 draws from default_rng((seed, 7))


def allocate_rounds(total: int, ratio: Sequence[int]) -> list[int]:
    """Proxy runs per round for a total budget split by `ratio` (largest remainder, every round >= 1).

    Args:
        total: proxy runs of the whole search (>= len(ratio)).
        ratio: relative round sizes, e.g. (4, 2, 1) -> 14 gives [8, 4, 2]; (2, 2, 1, 1) -> 14 gives [5, 5, 2, 2].
    """
    if total < len(ratio) or not ratio or min(ratio) <= 0:
        raise ValueError(f"cannot split {total} runs by {list(ratio)}: need positive parts and total >= rounds")
    exact = np.asarray(ratio, dtype=float) * total / sum(ratio)
    counts = np.maximum(1, np.floor(exact)).astype(int)
    while counts.sum() < total:  # the runs left go to the rounds furthest below their exact share
        counts[int(np.argmax(exact - counts))] += 1
    while counts.sum() > total:  # the floor of 1 can overshoot: take back from the rounds furthest above theirs
        counts[int(np.argmax(np.where(counts > 1, counts - exact, -np.inf)))] -= 1
    assert counts.sum() == total and counts.min() >= 1, (total, ratio, counts)
    return counts.tolist()


def uniform_random_candidates(k: int, *, n: int, seed: int, caps: np.ndarray | None = None,
                              exclude: Collection[tuple] = ()) -> np.ndarray:
    """Up to n distinct feasible mixtures drawn uniformly on the simplex (flat Dirichlet, alpha = 1 per cluster),
    cleaned and rounded like the Dirichlet sampler's: the "random initialisation" of the paper's ablation.

    Args:
        k: clusters.
        n: rows wanted.
        seed: seeds default_rng((seed, RANDOM_INIT_STREAM)).
        caps: (k,) largest weight per cluster, None for none.
        exclude: mixture keys (integer units) never to return.
    """
    rng = np.random.default_rng((seed, RANDOM_INIT_STREAM))
    rows = clean_weights(sample_dirichlet(np.ones((100 * max(n, 1), k)), rng))
    if caps is not None:
        rows = rows[is_feasible(rows, caps)]
    seen, found = {tuple(key) for key in exclude}, []
    for row in rows:
        key = tuple(np.rint(row * UNITS).astype(int).tolist())
        if key not in seen:
            seen.add(key)
            found.append(row)
            if len(found) == n:
                break
    return np.array(found).reshape(len(found), k)


def target_weight(weights: Sequence[float], composition: Sequence[dict], labels: Collection[str]) -> float:
    """The weight a mixture puts on super-clusters whose majority label is one of the target's labels."""
    majority = [max(c, key=c.get) if c else None for c in composition]
    return float(sum(w for w, m in zip(weights, majority) if m in labels))


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def summarise(rows: Sequence[dict], *, methods: Sequence[str], reference: str = "climb") -> list[dict]:
    """Per (lab, target, method): mean and std of the verified holdout loss over seeds, mean and std of the regret
    (loss minus the lowest loss any of `methods` chose for that seed), and `reference`'s paired wins.

    Args:
        rows: one per (lab, target, seed, method) with keys lab, target, seed, method, holdout_loss (and optionally
            target_weight); rows of other methods are ignored.
        methods: the methods compared (their order is the table's); the regret's best is over these.
        reference: the method whose wins (strictly lower loss, same seed) against each other method are counted.
    """
    loss = {(r["lab"], r["target"], r["seed"], r["method"]): r["holdout_loss"] for r in rows if r["method"] in methods}
    weight = {(r["lab"], r["target"], r["seed"], r["method"]): r.get("target_weight") for r in rows}
    cells = defaultdict(list)
    for (lab, target, seed, method) in loss:
        cells[(lab, target)].append(seed)
    out = []
    for (lab, target), seeds in cells.items():
        seeds = sorted(set(seeds))
        best = {s: min(v for (l, t, s2, _), v in loss.items() if (l, t, s2) == (lab, target, s)) for s in seeds}
        for method in methods:
            mine = [s for s in seeds if (lab, target, s, method) in loss]
            if not mine:
                continue
            losses = [loss[(lab, target, s, method)] for s in mine]
            regrets = [loss[(lab, target, s, method)] - best[s] for s in mine]
            paired = [s for s in mine if (lab, target, s, reference) in loss]
            wins = sum(loss[(lab, target, s, reference)] < loss[(lab, target, s, method)] for s in paired)
            ties = sum(loss[(lab, target, s, reference)] == loss[(lab, target, s, method)] for s in paired)
            shares = [weight[key] for key in ((lab, target, s, method) for s in mine) if weight.get(key) is not None]
            (loss_mean, loss_std), (regret_mean, regret_std) = _mean_std(losses), _mean_std(regrets)
            out.append({"lab": lab, "target": target, "method": method, "seeds": len(mine),
                        "loss_mean": loss_mean, "loss_std": loss_std,
                        "regret_mean": regret_mean, "regret_std": regret_std,
                        "best_count": sum(r == 0 for r in regrets), f"{reference}_wins": wins,
                        f"{reference}_ties": ties, "paired_seeds": len(paired),
                        "target_weight_mean": float(np.mean(shares)) if shares else math.nan})
    return out


def spearman_by_round(rows: Sequence[dict], *, method: str) -> list[dict]:
    """Per (lab, target, round): mean and std over seeds of the chosen predictor's cross-validated Spearman
    (rows carry `rounds`: one dict per round with `spearman`, nan when undefined), and the families chosen."""
    cells = defaultdict(list)
    for r in rows:
        if r["method"] == method:
            for i, info in enumerate(r.get("rounds", []), start=1):
                cells[(r["lab"], r["target"], i)].append(info)
    out = []
    for (lab, target, round_number), infos in sorted(cells.items()):
        values = [i["spearman"] for i in infos if i["spearman"] is not None and not math.isnan(i["spearman"])]
        families = defaultdict(int)
        for i in infos:
            families[i["family"]] += 1
        out.append({"lab": lab, "target": target, "method": method, "round": round_number, "points": infos[0]["points"],
                    "spearman_mean": _mean_std(values)[0] if values else math.nan,
                    "spearman_std": _mean_std(values)[1] if values else math.nan, "seeds": len(infos),
                    "families": dict(families)})
    return out


PAIRS = (("climb", "regmix"), ("climb", "best_of_n"), ("climb_best_run", "best_of_n"), ("climb_best_run", "regmix"),
         ("climb", "climb_best_run"))


def paired(rows: Sequence[dict], pairs: Sequence[tuple[str, str]] = PAIRS) -> list[dict]:
    """Per (lab, target) and pair (a, b): seeds where a's verified loss is strictly lower, ties, and the mean and std
    over seeds of loss(a) - loss(b) (negative: a chose better mixtures). Seeds lacking either method are skipped."""
    loss = {(r["lab"], r["target"], r["seed"], r["method"]): r["holdout_loss"] for r in rows}
    out = []
    for lab, target in sorted({(r["lab"], r["target"]) for r in rows}):
        seeds = sorted({r["seed"] for r in rows if (r["lab"], r["target"]) == (lab, target)})
        for a, b in pairs:
            both = [s for s in seeds if (lab, target, s, a) in loss and (lab, target, s, b) in loss]
            if not both:
                continue
            diff = [loss[(lab, target, s, a)] - loss[(lab, target, s, b)] for s in both]
            mean, std = _mean_std(diff)
            out.append({"lab": lab, "target": target, "a": a, "b": b, "seeds": len(both),
                        "a_wins": sum(x < 0 for x in diff), "ties": sum(x == 0 for x in diff),
                        "diff_mean": mean, "diff_std": std})
    return out
