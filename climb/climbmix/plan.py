"""ClimbMix's sampling plan (paper step 7): ClimbLab's super-clusters drawn at the optimal weights.

Each super-cluster k gets a token target `weight_k × budget` and draws whole documents in a seeded
permutation, epoch after epoch, until the next document would overshoot the target by more than half
of itself. The rounding error of one cluster is added to the next one's target (error diffusion), so
the total is within half a document of the budget and each cluster within about one document of its
target. A cluster holding fewer tokens than its target repeats, at most `max_epochs` times its
tokens (never a partial excess over the cap); what it still lacks is its shortfall, reported with the
stable reason `limit:max_epochs`, never topped up from other clusters (that would change the mixture).
When whole documents cannot bring a weight within WEIGHT_TOLERANCE (a tiny budget, long documents) the
cluster is reported with `limit:document_size`.

Token counts are ClimbLab's `token_count` (the project tokenizer's tokens, special tokens excluded), so
realised tokens are measured, not estimated. Randomness: cluster k draws from
`default_rng([seed, DRAW_STREAM, k])`, the interleaving of all documents from `default_rng([seed, ORDER_STREAM])`:
a cluster's draw order does not depend on the other clusters (only where it stops, by the carried rounding),
and the same seed gives the same plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMATS = ("parquet", "jsonl", "megatron")
BUDGET_TOLERANCE = 0.01  # total tokens within 1% of the budget
WEIGHT_TOLERANCE = 0.02  # each realised weight within 0.02 of the optimal one
WEIGHT_SUM_TOLERANCE = 0.01  # optimal weights are stored rounded to 4 decimals: K clusters drift by K × 5e-5
LIMIT_MAX_EPOCHS = "limit:max_epochs"
LIMIT_EMPTY = "limit:empty_cluster"
LIMIT_DOCUMENT_SIZE = "limit:document_size"
DRAW_STREAM, ORDER_STREAM = 1, 2  # SeedSequence entropy words that separate the two uses of the seed


@dataclass(frozen=True)
class ExportSettings:
    """What an export is made with (saved in every export's climbmix.json and card).

    Args:
        tokens: the budget, in tokens of the project tokenizer (whole documents; >= 1).
        seed: seeds every draw and the interleaving.
        max_epochs: a cluster repeats its tokens at most this often (> 0).
        formats: any of FORMATS.
        documents_per_file: documents per Parquet / JSONL part file.
        tokenizer: a Hugging Face tokenizer (folder or hub name) for the JSONL and Megatron ids; None:
            ClimbLab's own tokenizer and stored ids (climb/climbmix/retokenize.py). The budget stays in ClimbLab tokens.
        license: the card's Hub license id; None: the card states no license.
        language: ISO 639-1 codes of the texts, for the card.
    """

    tokens: int
    seed: int = 0
    max_epochs: float = 4.0
    formats: tuple[str, ...] = FORMATS
    documents_per_file: int = 100_000
    tokenizer: str | None = None
    license: str | None = None
    language: tuple[str, ...] = ("en",)

    @classmethod
    def from_config(cls, export, *, tokens: int | None = None, seed: int | None = None,
                    formats: list[str] | None = None, tokenizer: str | None = None,
                    config_dir: str | None = None) -> ExportSettings:
        """The `export` section of the configuration, with the command line's overrides (None: the file's).

        A relative `export.tokenizer` naming a folder beside the file (`config_dir`) becomes that folder;
        anything else is passed on as written (a hub name, or a path from the working directory).
        """
        if tokenizer is None and export.tokenizer is not None:
            beside = Path(config_dir or ".") / Path(export.tokenizer).expanduser()
            tokenizer = str(beside.resolve()) if beside.is_dir() else export.tokenizer
        return cls(tokens=export.tokens if tokens is None else tokens, seed=export.seed if seed is None else seed,
                   max_epochs=export.max_epochs, formats=tuple(export.formats if formats is None else formats),
                   documents_per_file=export.documents_per_file, tokenizer=tokenizer, license=export.license,
                   language=tuple(export.language))

    def __post_init__(self):
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"formats must be a non-empty subset of {', '.join(FORMATS)}; got {list(self.formats)}")
        if self.tokens < 1 or self.max_epochs <= 0 or self.documents_per_file < 1:
            raise ValueError(f"need tokens >= 1, max_epochs > 0 and documents_per_file >= 1, got {self}")


@dataclass(frozen=True)
class ClusterDraw:
    """One super-cluster's part of the export."""

    cluster_id: int
    weight: float  # the optimal mixture's weight (renormalised to sum to 1)
    available_tokens: int  # ClimbLab tokens of the cluster
    available_documents: int
    target_tokens: float  # weight × budget
    tokens: int  # realised (with repeats)
    limit: str | None  # None, or a LIMIT_* reason the target could not be met
    documents: np.ndarray = field(repr=False, compare=False)  # (n,) indices into the cluster, in draw order

    @property
    def epochs(self) -> float:
        return self.tokens / self.available_tokens if self.available_tokens else 0.0

    @property
    def shortfall(self) -> int:
        """Tokens the target lacks because the cluster is too small (0 unless limited by max_epochs / emptiness)."""
        if self.limit in (LIMIT_MAX_EPOCHS, LIMIT_EMPTY):
            return max(0, int(round(self.target_tokens)) - self.tokens)
        return 0


@dataclass(frozen=True)
class MixturePlan:
    settings: ExportSettings
    clusters: tuple[ClusterDraw, ...]  # ordered by cluster id, every ClimbLab super-cluster

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.clusters)

    @property
    def documents(self) -> int:
        return sum(len(c.documents) for c in self.clusters)

    def realised_weights(self) -> dict[int, float]:
        total = max(self.tokens, 1)
        return {c.cluster_id: c.tokens / total for c in self.clusters}

    @property
    def limited(self) -> dict[int, str]:
        """Clusters whose target the data cannot meet, with the reason."""
        return {c.cluster_id: c.limit for c in self.clusters if c.limit}

    def interleaved(self) -> tuple[np.ndarray, np.ndarray]:
        """(cluster ids, document indices) of every drawn document in one seeded shuffled order."""
        clusters = np.concatenate([np.full(len(c.documents), c.cluster_id, np.int64) for c in self.clusters]
                                  + [np.zeros(0, np.int64)])
        documents = np.concatenate([c.documents for c in self.clusters] + [np.zeros(0, np.int64)])
        order = np.random.default_rng([self.settings.seed, ORDER_STREAM]).permutation(len(clusters))
        return clusters[order], documents[order]


def draw_documents(counts: np.ndarray, *, target: float, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of whole documents drawn in fresh permutations, epoch after epoch.

    A document is taken while at least half of it fits under `target` and all of it fits under `cap`
    (so the total is the nearest whole-document total to the target, never above the cap).

    Args:
        counts: (n,) tokens of each document of the cluster.
        target: tokens wanted.
        cap: tokens never exceeded (max_epochs × the cluster's tokens, floored).
        rng: the cluster's generator.
    """
    counts = np.asarray(counts, dtype=np.int64)
    if target <= 0 or counts.sum() <= 0:
        return np.zeros(0, dtype=np.int64)
    picks, total = [], 0
    while True:
        order = rng.permutation(counts.size)
        cumulative = total + np.cumsum(counts[order])
        # both conditions are monotone along the permutation, so the taken documents are a prefix
        taken = int(np.count_nonzero((cumulative - counts[order] / 2 <= target) & (cumulative <= cap)))
        picks.append(order[:taken])
        if taken < counts.size:
            break
        total = int(cumulative[-1])
    return np.concatenate(picks).astype(np.int64)


def plan_mixture(*, weights: Mapping[int, float], token_counts: Mapping[int, np.ndarray],
                 settings: ExportSettings) -> MixturePlan:
    """Which documents of each super-cluster go into the export, and what it falls short of.

    Args:
        weights: the optimal mixture, cluster id -> weight (>= 0, summing to 1 within
            WEIGHT_SUM_TOLERANCE; renormalised); a cluster absent here gets weight 0.
        token_counts: cluster id -> (n,) tokens of each of its documents, in ClimbLab's order (the
            indices in the plan index this order); every super-cluster of ClimbLab.
        settings: budget, seed and epoch cap.
    """
    unknown = sorted(set(weights) - set(token_counts))
    if unknown:
        raise ValueError(f"the optimal mixture weights super-clusters {unknown} that ClimbLab does not have "
                         f"({sorted(token_counts)}): re-run the search on the current ClimbLab")
    raw = np.array([float(weights.get(k, 0.0)) for k in sorted(token_counts)])
    if (raw < 0).any() or abs(raw.sum() - 1) > WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"optimal mixture weights must be >= 0 and sum to 1, got {raw.tolist()} (sum {raw.sum():.6f})")
    normalised = raw / raw.sum()
    draws, carry = [], 0.0
    for cluster_id, weight in zip(sorted(token_counts), normalised):
        counts = np.asarray(token_counts[cluster_id], dtype=np.int64)
        available = int(counts.sum())
        target = float(weight) * settings.tokens
        cap = int(np.floor(settings.max_epochs * available))
        limit = (LIMIT_EMPTY if target > 0 and available == 0 else LIMIT_MAX_EPOCHS if target > cap else None)
        # Rounding error is carried to the next weighted cluster (error diffusion), so the total stays within
        # half a document of the budget; a shortfall is not carried: that would top up other clusters.
        wanted = target + carry if weight > 0 and limit is None else target
        rng = np.random.default_rng([settings.seed, DRAW_STREAM, int(cluster_id)])
        documents = draw_documents(counts, target=wanted, cap=cap, rng=rng)
        tokens = int(counts[documents].sum())
        if weight > 0 and limit is None:
            carry = wanted - tokens
        draws.append((int(cluster_id), float(weight), available, counts.size, target, tokens, limit, documents))
    total = max(sum(d[5] for d in draws), 1)
    capped = any(d[6] for d in draws)
    clusters = tuple(
        ClusterDraw(cluster_id=cid, weight=w, available_tokens=available, available_documents=n, target_tokens=target,
                    tokens=tokens, documents=documents,
                    limit=limit or (LIMIT_DOCUMENT_SIZE if not capped and abs(tokens / total - w) > WEIGHT_TOLERANCE
                                    else None))
        for cid, w, available, n, target, tokens, limit, documents in draws)
    return MixturePlan(settings=settings, clusters=clusters)


def plan_rows(plan: MixturePlan, labels: Mapping[int, str] | None = None) -> list[dict]:
    """One JSON-ready row per super-cluster: weights, targets, realised tokens, epochs, shortfall, limit."""
    realised = plan.realised_weights()
    return [{"cluster_id": c.cluster_id, "label": (labels or {}).get(c.cluster_id, ""),
             "weight": round(c.weight, 6), "realised_weight": round(realised[c.cluster_id], 6),
             "target_tokens": int(round(c.target_tokens)), "tokens": c.tokens, "documents": len(c.documents),
             "epochs": round(c.epochs, 4), "available_tokens": c.available_tokens,
             "available_documents": c.available_documents, "shortfall": c.shortfall, "limit": c.limit}
            for c in plan.clusters]


def check_plan(rows: Sequence[dict], *, budget: int) -> tuple[bool, dict]:
    """Whether realised rows meet the budget and weights where the data allows (the export's tolerances).

    Passes when the total is within BUDGET_TOLERANCE of the budget and every realised weight within
    WEIGHT_TOLERANCE of the optimal one, or when the rows report why the data cannot (a `limit`).

    Args:
        rows: per-cluster rows with cluster_id, weight, tokens and limit (recounted from files by the caller).
        budget: the export's token budget.
    """
    total = sum(r["tokens"] for r in rows)
    errors = {str(r["cluster_id"]): round(r["tokens"] / max(total, 1) - r["weight"], 6) for r in rows}
    limited = {str(r["cluster_id"]): r["limit"] for r in rows if r.get("limit")}
    budget_error = (total - budget) / budget
    meets = abs(budget_error) <= BUDGET_TOLERANCE and all(abs(e) <= WEIGHT_TOLERANCE for e in errors.values())
    details = {"tokens": total, "budget": budget, "budget_error": round(budget_error, 6), "weight_errors": errors,
               "max_weight_error": max(map(abs, errors.values()), default=0), "limited": limited,
               "meets_tolerances": meets}
    return meets or bool(limited), details
