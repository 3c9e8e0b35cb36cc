"""Search evidence carried across a re-clustering (docs/architecture.md, partitions and sensors): proxy runs evaluated on old
super-cluster weights, translated to the new super-clusters through document membership.

A mixture that puts weight w_i on old super-cluster i trains on i's documents in proportion to their
tokens. After re-clustering those documents lie in new super-clusters, so the same training distribution
is, over the documents that still exist,

    new_w[j] = sum_i w_i * T[i, j],   T[i, j] = tokens of old cluster i's documents now in new cluster j
                                                / tokens of old cluster i.

A row of T sums to the share of cluster i's tokens that still exist (documents removed from the corpus or
now pruned are lost), so a run's translated weights sum to its mapped share m <= 1. The weights are
renormalised onto the simplex; a run with m < min_mapped_share trained mostly on documents the new
clusters no longer hold, and is dropped with the reason "translation:lost_mass".
Token counts are the old membership's: the old weights were shares of those tokens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from climb.search.mixtures import round_to_simplex

MIN_MAPPED_SHARE = 0.8  # a score says little about a mixture that lost more than a fifth of what it trained on
LOST_MASS = "translation:lost_mass"


@dataclass(frozen=True)
class ClusterOverlap:
    """Tokens shared by old and new super-clusters, counted on the old membership's documents."""

    old_cluster_ids: tuple[int, ...]
    new_cluster_ids: tuple[int, ...]
    tokens: np.ndarray  # (K_old, K_new) tokens of old cluster i's documents now in new cluster j
    old_tokens: np.ndarray  # (K_old,) every token of old cluster i, mapped or lost

    @property
    def transfer(self) -> np.ndarray:
        """(K_old, K_new) T[i, j]: share of old cluster i's tokens now in new cluster j (rows sum to <= 1)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = self.tokens / self.old_tokens[:, None]
        return np.where(self.old_tokens[:, None] > 0, shares, 0.0)

    @property
    def mapped_share(self) -> float:
        """Share of the old membership's token mass that lies in some new super-cluster."""
        total = float(self.old_tokens.sum())
        return float(self.tokens.sum()) / total if total else 0.0


def cluster_overlap(rows: Iterable[tuple[int, int | None, int]], *, old_cluster_ids: Sequence[int],
                    new_cluster_ids: Sequence[int]) -> ClusterOverlap:
    """The overlap matrix from aggregated membership rows.

    Args:
        rows: (old cluster id, new cluster id or None when the documents are gone, tokens) — typically
            `SELECT old.cluster_id, new.cluster_id, sum(old.token_count) ... LEFT JOIN new USING (id) GROUP BY 1, 2`.
            A pair may appear more than once (summed).
        old_cluster_ids: the old super-clusters, in the order of the old weights' columns.
        new_cluster_ids: the new super-clusters, in the order of the translated weights' columns.
    """
    old_index = {int(c): i for i, c in enumerate(old_cluster_ids)}
    new_index = {int(c): j for j, c in enumerate(new_cluster_ids)}
    tokens = np.zeros((len(old_index), len(new_index)))
    old_tokens = np.zeros(len(old_index))
    for old, new, count in rows:
        if int(old) not in old_index:
            raise ValueError(f"membership row of old cluster {old}, not among {list(old_cluster_ids)}")
        if new is not None and int(new) not in new_index:
            raise ValueError(f"membership row of new cluster {new}, not among {list(new_cluster_ids)}")
        old_tokens[old_index[int(old)]] += count
        if new is not None:
            tokens[old_index[int(old)], new_index[int(new)]] += count
    return ClusterOverlap(tuple(int(c) for c in old_cluster_ids), tuple(int(c) for c in new_cluster_ids),
                          tokens, old_tokens)


@dataclass(frozen=True)
class TranslatedRuns:
    """Runs translated to the new super-clusters; `kept` indexes the input rows they came from."""

    weights: np.ndarray  # (n_kept, K_new) on the simplex (10**-4 grid)
    scores: np.ndarray  # (n_kept,)
    kept: np.ndarray  # (n_kept,) input row of each translated run
    mapped_share: np.ndarray  # (n,) share of every input run's weight that mapped, kept or not
    reasons: dict[str, int]  # dropped runs per reason


def translate_runs(weights: np.ndarray, scores: np.ndarray, overlap: ClusterOverlap, *,
                   min_mapped_share: float = MIN_MAPPED_SHARE) -> TranslatedRuns:
    """Old mixtures re-expressed over the new super-clusters, with their observed scores.

    Args:
        weights: (n, K_old) old mixtures, columns in `overlap.old_cluster_ids` order, rows summing to 1.
        scores: (n,) their observed search scores (unchanged by translation).
        overlap: old-to-new token overlap from `cluster_overlap`.
        min_mapped_share: runs whose translated weights sum to less are dropped (in (0, 1]).
    """
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    y = np.asarray(scores, dtype=np.float64)
    if w.shape[1] != len(overlap.old_cluster_ids) or len(y) != len(w):
        raise ValueError(f"weights {w.shape} and scores {y.shape} do not match {len(overlap.old_cluster_ids)} "
                         "old super-clusters")
    if not 0 < min_mapped_share <= 1:
        raise ValueError(f"min_mapped_share = {min_mapped_share}, expected in (0, 1]")
    translated = w @ overlap.transfer  # (n, K_new)
    mapped = translated.sum(axis=1)
    kept = np.flatnonzero((mapped >= min_mapped_share) & (mapped > 0))
    rows = round_to_simplex(translated[kept]) if len(kept) else np.zeros((0, len(overlap.new_cluster_ids)))
    assert np.allclose(rows.sum(axis=1), 1.0), "translated mixtures must sum to 1"
    reasons = Counter({LOST_MASS: len(w) - len(kept)}) if len(kept) < len(w) else Counter()
    return TranslatedRuns(weights=rows, scores=y[kept], kept=kept, mapped_share=mapped, reasons=dict(reasons))
