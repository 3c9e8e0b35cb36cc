"""Pure helpers of benchmarks/search_quality.py: round allocation, the planted mixture, the `verified` final rule's
choice (as climb.search.optimal._answer makes it), the run-count estimate, and the summaries (mean and standard
deviation over seeds, the gap to the best-known mixture, paired wins with a tie tolerance, the final rules, CV
Spearman per round, the interior check)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Sequence
from functools import reduce

import numpy as np

TIE = 0.01  # nats: verified losses closer than this are a tie (one proxy's seed-to-seed noise is 0.02-0.09)
NEAR = 0.1  # nats: "within reach" of the best-known mixture
INTERIOR = 0.9  # an answer is interior when no super-cluster holds more than this
SINGLE_RULES = ("argmax", "topk_mean", "regularised")  # climb.search.final's single-answer rules


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


def ratio_of(rounds: Sequence[int]) -> tuple[int, ...]:
    """A round schedule reduced to its ratio: [64, 32, 16] -> (4, 2, 1)."""
    divisor = reduce(math.gcd, rounds)
    return tuple(r // divisor for r in rounds)


def target_weight(weights: Sequence[float], composition: Sequence[dict], labels: Collection[str]) -> float:
    """The weight a mixture puts on super-clusters whose majority label is one of the target's labels."""
    majority = [max(c, key=c.get) if c else None for c in composition]
    return float(sum(w for w, m in zip(weights, majority) if m in labels))


def planted_mixture(composition: Sequence[dict], target: dict[str, float]) -> np.ndarray:
    """The target's known composition mapped onto super-clusters (K,), summing to 1.

    Each target label's share goes to the super-clusters in proportion to their share of that label's documents
    (a label spread over two super-clusters gives both some); labels no super-cluster holds are dropped and the
    rest renormalised.

    Args:
        composition: per super-cluster, label -> documents (the lab's `composition`).
        target: label -> documents (or shares) of the target.
    """
    weights = np.zeros(len(composition))
    for label, share in target.items():
        held = np.array([c.get(label, 0) for c in composition], dtype=float)
        if share > 0 and held.sum() > 0:
            weights += share * held / held.sum()
    if weights.sum() <= 0:
        raise ValueError(f"no super-cluster holds any of the target's labels {sorted(target)}")
    return weights / weights.sum()


def verify_plan(distances: Sequence[float], runs: int) -> list[int]:
    """The finalists the `verified` rule trains: the first `runs` (in RULES order) that no round evaluated."""
    return [i for i, d in enumerate(distances) if d > 0][:runs]


def verified_choice(search_scores: Sequence[float | None], best_run_score: float) -> int:
    """The `verified` rule's answer: the index of the best search score among the trained finalists (None: not
    trained), or len(search_scores) for the best evaluated run; ties go to the earlier (max's first), as in
    climb.search.optimal._answer, where the best run comes after the finalists."""
    scored = [(s, i) for i, s in enumerate(search_scores) if s is not None] + [(best_run_score, len(search_scores))]
    return max(scored, key=lambda pair: pair[0])[1]


def estimate_runs(*, labs: dict[str, int], budgets: dict[int, Sequence[int]], rounds_first: dict[int, int],
                  verify_runs: int, ablation: dict[str, int] | None = None,
                  ablation_seeds: Sequence[int] = ()) -> dict:
    """An upper bound on the proxy runs of the benchmark (every finalist trained, no mixture repeated).

    Args:
        labs: lab -> targets.
        budgets: budget -> seeds run at it.
        rounds_first: budget -> CLIMB's round-1 size (shared by a lab's targets: round 1 is target-free).
        verify_runs: the verified rule's v.
        ablation: variant -> proxy runs of one search that the main search does not share.
        ablation_seeds: seeds of the ablations.
    Runs per (lab, seed): uniform and token-proportional (once, whatever the budget), RegMix's batch of B + v
    (a budget's batch is a prefix of a larger one's: only the new rows count), CLIMB's round 1; per (target,
    seed): the planted mixture (once), later rounds B - round 1, v finalists, RegMix's verification.
    """
    total, parts, seen_seeds, batch_done = 0, {}, defaultdict(set), defaultdict(int)
    for budget, seeds in sorted(budgets.items()):
        n = 0
        for lab, targets in labs.items():
            for seed in seeds:
                fresh = seed not in seen_seeds[lab]
                seen_seeds[lab].add(seed)
                batch = budget + verify_runs
                n += 2 * fresh + (batch - batch_done[(lab, seed)]) + rounds_first[budget]
                batch_done[(lab, seed)] = max(batch_done[(lab, seed)], batch)
                n += targets * (fresh + budget - rounds_first[budget] + verify_runs + 1)
        parts[f"budget {budget}"] = n
        total += n
    if ablation:
        n = sum(ablation.values()) * len(ablation_seeds)
        parts["ablations"] = n
        total += n
    return {"total": total, **parts}


# ---- summaries -------------------------------------------------------------------------------------------------
def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else math.nan


def compare(a: float, b: float, tie: float = TIE) -> int:
    """-1 when loss a is lower than b by at least `tie`, +1 when higher, 0 for a tie."""
    return 0 if abs(a - b) < tie else (-1 if a < b else 1)


def best_known(rows: Sequence[dict]) -> dict[tuple, float]:
    """(lab, target, seed) -> the lowest verified holdout loss of any row: every method at every budget, the
    ablation variants and the planted mixture (all proxies of one seed share the proxy settings)."""
    best: dict[tuple, float] = {}
    for r in rows:
        key = (r["lab"], r["target"], r["seed"])
        best[key] = min(best.get(key, math.inf), r["holdout_loss"])
    return best


def _index(rows: Sequence[dict]) -> dict[tuple, dict]:
    return {(r["lab"], r["target"], r["budget"], r["seed"], r["method"]): r for r in rows}


def summarise(rows: Sequence[dict], *, methods: Sequence[str], best: dict[tuple, float],
              reference: str = "climb", tie: float = TIE, near: float = NEAR) -> list[dict]:
    """Per (lab, target, budget, method): verified holdout loss over seeds, the gap to the best-known mixture
    (mean, std, seeds within `near`), `reference`'s paired record against it (wins / losses / ties within `tie`),
    the weight on the target's super-clusters and the largest single weight.

    Args:
        rows: one per (lab, target, budget, seed, method): keys lab, target, budget, seed, method, holdout_loss,
            and optionally target_weight, max_weight.
        methods: the methods shown, in the table's order (rows of others are ignored).
        best: best_known(...) of every row.
        reference: the method whose paired record against each other method is counted.
    """
    index = _index(rows)
    cells = sorted({(r["lab"], r["target"], r["budget"]) for r in rows if r["method"] in methods},
                   key=lambda c: (c[2], c[0], c[1]))
    out = []
    for lab, target, budget in cells:
        for method in methods:
            mine = sorted(s for (l, t, b, s, m) in index if (l, t, b, m) == (lab, target, budget, method))
            if not mine:
                continue
            got = [index[(lab, target, budget, s, method)] for s in mine]
            gaps = [g["holdout_loss"] - best[(lab, target, s)] for g, s in zip(got, mine)]
            record = [compare(index[(lab, target, budget, s, reference)]["holdout_loss"], g["holdout_loss"], tie)
                      for g, s in zip(got, mine) if (lab, target, budget, s, reference) in index]
            (loss_mean, loss_std), (gap_mean, gap_std) = _mean_std([g["holdout_loss"] for g in got]), _mean_std(gaps)
            shares = [g["target_weight"] for g in got if g.get("target_weight") is not None]
            largest = [g["max_weight"] for g in got if g.get("max_weight") is not None]
            out.append({"lab": lab, "target": target, "budget": budget, "method": method, "seeds": len(mine),
                        "loss_mean": loss_mean, "loss_std": loss_std, "gap_mean": gap_mean, "gap_std": gap_std,
                        "near": sum(g < near for g in gaps), f"{reference}_wins": record.count(-1),
                        f"{reference}_losses": record.count(1), f"{reference}_ties": record.count(0),
                        "paired_seeds": len(record),
                        "target_weight_mean": float(np.mean(shares)) if shares else math.nan,
                        "max_weight_mean": float(np.mean(largest)) if largest else math.nan})
    return out


def headline(rows: Sequence[dict], *, best: dict[tuple, float], method: str = "climb", versus: str = "regmix",
             baseline: str = "uniform", interior_target: str | None = None, tie: float = TIE,
             near: float = NEAR) -> list[dict]:
    """Per budget, over every (lab, target, seed): `method` against `versus` (wins / losses / ties, the share of
    non-tie pairs won), pairs not worse than `baseline` (loss <= baseline's + tie), pairs within `near` of the
    best-known mixture, and on `interior_target` how many answers are interior (no weight above INTERIOR)."""
    index = _index(rows)
    out = []
    for budget in sorted({r["budget"] for r in rows if r["method"] == method}):
        mine = [r for r in rows if r["method"] == method and r["budget"] == budget]
        record, worse, gaps, interior = [], [], [], []
        for r in mine:
            key = (r["lab"], r["target"], budget, r["seed"])
            if (*key, versus) in index:
                record.append(compare(r["holdout_loss"], index[(*key, versus)]["holdout_loss"], tie))
            if (*key, baseline) in index:
                worse.append(r["holdout_loss"] > index[(*key, baseline)]["holdout_loss"] + tie)
            gaps.append(r["holdout_loss"] - best[(r["lab"], r["target"], r["seed"])])
            if r["target"] == interior_target:
                interior.append(max(r["weights"]) <= INTERIOR)
        wins, losses = record.count(-1), record.count(1)
        out.append({"budget": budget, "method": method, "versus": versus, "pairs": len(record), "wins": wins,
                    "losses": losses, "ties": record.count(0),
                    "win_share": wins / (wins + losses) if wins + losses else math.nan,
                    "baseline": baseline, "worse_than_baseline": sum(worse), "baseline_pairs": len(worse),
                    "near": sum(g < near for g in gaps), "gap_pairs": len(gaps), "gap_mean": _mean_std(gaps)[0],
                    "interior_target": interior_target, "interior": sum(interior), "interior_seeds": len(interior)})
    return out


def final_rules(rows: Sequence[dict], *, best: dict[tuple, float], method: str = "climb",
                near: float = NEAR) -> list[dict]:
    """Per (lab, target, budget): each single-answer rule's finalist, the `verified` answer and the best
    evaluated run, from `method`'s rows (which carry `finalists`: rule, holdout_loss, chosen): verified loss,
    gap to the best-known mixture, seeds within `near`, and how often `verified` chose it."""
    cells = defaultdict(list)
    for r in rows:
        if r["method"] == method and r.get("finalists"):
            cells[(r["lab"], r["target"], r["budget"])].append(r)
    out = []
    for (lab, target, budget), got in sorted(cells.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        for rule in (*SINGLE_RULES, "best_evaluated_run", "verified"):
            losses, gaps, chosen = [], [], 0
            for r in got:
                if rule == "verified":
                    loss = r["holdout_loss"]
                else:
                    entry = next((f for f in r["finalists"] if f["rule"] == rule), None)
                    if entry is None or entry.get("holdout_loss") is None:
                        continue
                    loss, chosen = entry["holdout_loss"], chosen + bool(entry.get("chosen"))
                losses.append(loss)
                gaps.append(loss - best[(lab, target, r["seed"])])
            if not losses:
                continue
            (loss_mean, loss_std), (gap_mean, _) = _mean_std(losses), _mean_std(gaps)
            out.append({"lab": lab, "target": target, "budget": budget, "rule": rule, "seeds": len(losses),
                        "loss_mean": loss_mean, "loss_std": loss_std, "gap_mean": gap_mean,
                        "near": sum(g < near for g in gaps), "chosen": chosen if rule != "verified" else None})
    return out


def rules_overall(rows: Sequence[dict], *, best: dict[tuple, float], method: str = "climb",
                  tie: float = TIE) -> list[dict]:
    """Per budget and rule, over every (lab, target, seed): mean gap to the best-known mixture and the rule's
    record against `verified` (lower / higher / tie), so the rules can be ranked in one line each."""
    out = []
    for budget in sorted({r["budget"] for r in rows if r["method"] == method}):
        mine = [r for r in rows if r["method"] == method and r["budget"] == budget and r.get("finalists")]
        for rule in (*SINGLE_RULES, "best_evaluated_run"):
            gaps, record = [], []
            for r in mine:
                entry = next((f for f in r["finalists"] if f["rule"] == rule), None)
                if entry is None or entry.get("holdout_loss") is None:
                    continue
                gaps.append(entry["holdout_loss"] - best[(r["lab"], r["target"], r["seed"])])
                record.append(compare(entry["holdout_loss"], r["holdout_loss"], tie))
            out.append({"budget": budget, "rule": rule, "pairs": len(gaps), "gap_mean": _mean_std(gaps)[0],
                        "better_than_verified": record.count(-1), "worse_than_verified": record.count(1),
                        "ties": record.count(0), "chosen": sum(
                            bool(next((f for f in r["finalists"] if f["rule"] == rule), {}).get("chosen"))
                            for r in mine)})
    return out


def spearman_by_round(rows: Sequence[dict], *, method: str) -> list[dict]:
    """Per (lab, target, budget, round): mean and std over seeds of the chosen predictor's cross-validated
    Spearman (rows carry `rounds`: one dict per round with `spearman`, None when undefined), and the families
    chosen."""
    cells = defaultdict(list)
    for r in rows:
        if r["method"] == method:
            for i, info in enumerate(r.get("rounds", []), start=1):
                cells[(r["lab"], r["target"], r["budget"], i)].append(info)
    out = []
    for (lab, target, budget, round_number), infos in sorted(cells.items(), key=lambda kv: (kv[0][2], *kv[0][:2],
                                                                                          kv[0][3])):
        values = [i["spearman"] for i in infos if i["spearman"] is not None and not math.isnan(i["spearman"])]
        families = defaultdict(int)
        for i in infos:
            families[i["family"]] += 1
        mean, std = _mean_std(values)
        out.append({"lab": lab, "target": target, "budget": budget, "method": method, "round": round_number,
                    "points": infos[0]["points"], "spearman_mean": mean, "spearman_std": std, "seeds": len(infos),
                    "families": dict(sorted(families.items(), key=lambda kv: -kv[1]))})
    return out
