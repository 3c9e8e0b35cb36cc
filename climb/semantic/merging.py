"""Super-clusters: Ward linkage of the surviving fine-cluster centroids (docs/method.md, step 4).

CLIMB merges the centroids that survive pruning hierarchically (Ward linkage, Euclidean distance on
L2-normalised centroids) and cuts the tree at a distance threshold (paper: 1.5) or at a target number of
super-clusters (paper: 21; ClimbLab: 20). Every cut here is "the first n merges of the linkage", which for
Ward (monotone heights) is what `fcluster(criterion="distance")` does at a threshold, and honours a target
count exactly even where merge heights tie (where `criterion="maxclust"` may return fewer clusters).

Collapse guard: on a narrow corpus one super-cluster can swallow most tokens, leaving the mixture search
nothing to choose. When a super-cluster holds more than `max_token_share` of the tokens, the cut moves
deeper one merge at a time (K + 1 each step) until no super-cluster exceeds the cap, or every offender is a
single fine cluster, which no cut can split. Each action is a sentence in `MergeResult.warnings`.

Ids are stable: super-clusters are numbered by descending token count, ties by their smallest member
fine-cluster index, so the same inputs always give the same ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MergeSettings", "MergeResult", "merge_clusters"]

PAPER_THRESHOLD = 1.5  # paper: Ward distance threshold on unit centroids
SHARE_TOLERANCE = 1e-9  # token shares must sum to 1 within this


@dataclass(frozen=True)
class MergeSettings:
    """How the Ward tree is cut; `target` overrides `threshold`, None disables the collapse guard."""

    threshold: float | None = PAPER_THRESHOLD  # Ward height cut on L2-normalised centroids (> 0)
    target: int | None = None  # cut at this many super-clusters instead (paper: 21; ClimbLab: 20)
    max_token_share: float | None = 0.5  # collapse guard: the most of the tokens one super-cluster may hold

    def __post_init__(self):
        if self.threshold is None and self.target is None:
            raise ValueError("MergeSettings needs a threshold or a target number of super-clusters")
        if self.threshold is not None and not (math.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError(f"merge threshold must be a positive number, got {self.threshold}")
        if self.target is not None and self.target < 1:
            raise ValueError(f"target super-clusters must be >= 1, got {self.target}")
        if self.max_token_share is not None and not (0 < self.max_token_share <= 1):
            raise ValueError(f"max_token_share must lie in (0, 1], got {self.max_token_share}")


@dataclass(frozen=True)
class MergeResult:
    super_of_fine: np.ndarray  # (m,) super-cluster id of each surviving fine cluster (input order), 0..K-1
    k: int
    token_share: np.ndarray  # (K,) share of the tokens per super-cluster, sums to 1
    threshold_used: float | None  # the Ward height cut at (None for a single fine cluster: no tree)
    linkage: np.ndarray  # (m-1, 4) scipy linkage matrix on the normalised centroids
    warnings: tuple[str, ...]


def _unit_rows(centroids: np.ndarray) -> np.ndarray:
    x = np.asarray(centroids, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"centroids must be an (m, d) array, got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError("no fine cluster survived pruning: nothing to merge (loosen the prune rule)")
    if not np.isfinite(x).all():
        raise ValueError(f"centroid row {int(np.argwhere(~np.isfinite(x))[0, 0])} is not finite")
    norms = np.linalg.norm(x, axis=1, keepdims=True)  # (m, 1)
    if (norms == 0).any():
        raise ValueError(f"centroid row {int(np.flatnonzero(norms[:, 0] == 0)[0])} is zero; it has no direction")
    return x / norms


def _cut(tree: np.ndarray, m: int, k: int) -> np.ndarray:
    """(m,) flat cluster of each leaf after the first m - k merges (union-find over the linkage rows)."""
    parent = np.arange(2 * m - 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in range(m - k):
        a, b = int(tree[row, 0]), int(tree[row, 1])
        parent[root(a)] = parent[root(b)] = m + row
    return np.array([root(i) for i in range(m)])


def _ordered_ids(flat: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Relabel flat clusters 0..K-1 by descending tokens, ties by the smallest member fine-cluster index."""
    roots, first, inverse = np.unique(flat, return_index=True, return_inverse=True)
    totals = np.bincount(inverse, weights=tokens, minlength=roots.size)  # (K,)
    rank = np.lexsort((first, -totals))  # rank[new_id] = old position
    new_of_old = np.empty_like(rank)
    new_of_old[rank] = np.arange(rank.size)
    return new_of_old[inverse]


def _cut_height(heights: np.ndarray, m: int, k: int) -> float:
    """Midway between the last merge kept and the first undone: fcluster's "distance" at it gives the same cut
    (unless the two heights tie, when no single height separates them)."""
    below = heights[m - k - 1] if k < m else 0.0
    above = heights[m - k] if k > 1 else below
    return float((below + above) / 2)


def _shares(ids: np.ndarray, tokens: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(ids, weights=tokens, minlength=k) / tokens.sum()


def merge_clusters(centroids: np.ndarray, token_counts: np.ndarray, *, settings: MergeSettings) -> MergeResult:
    """Merge the surviving fine clusters into super-clusters by Ward linkage (paper step 4).

    Args:
        centroids: (m, d) centroids of the fine clusters that survived pruning; each row is L2-normalised
            here (a zero or non-finite row is an error).
        token_counts: (m,) tokens (or documents) per fine cluster, >= 0 with a positive total; they give
            the super-clusters' token shares, the collapse guard and the id order.
        settings: threshold or target, and the collapse guard's cap.

    Returns:
        A MergeResult; `warnings` says when the target exceeded m, and every action of the collapse guard.

    Raises:
        ValueError: no surviving fine cluster, mismatched shapes, or unusable centroids / token counts.
    """
    tokens = np.asarray(token_counts, dtype=np.float64)
    x = _unit_rows(centroids)  # (m, d)
    m = x.shape[0]
    if tokens.shape != (m,):
        raise ValueError(f"token_counts must have shape ({m},) like the centroids, got {tokens.shape}")
    if not np.isfinite(tokens).all() or (tokens < 0).any() or tokens.sum() <= 0:
        raise ValueError("token_counts must be finite and >= 0 with a positive total")
    warnings: list[str] = []
    # (m-1, 4) Ward tree, Euclidean on unit vectors; scipy needs two observations
    from scipy.cluster.hierarchy import linkage  # scipy.cluster takes most of a second to import

    tree = linkage(x, method="ward") if m > 1 else np.zeros((0, 4))
    heights = tree[:, 2]  # (m-1,) non-decreasing for Ward
    if settings.target is not None:
        k = min(settings.target, m)
        if settings.target > m:
            warnings.append(f"target {settings.target} super-clusters exceeds the {m} surviving fine clusters; "
                            f"K = {m}, one super-cluster per fine cluster (lower the target or prune less)")
        cut_name, threshold = f"target {settings.target}", _cut_height(heights, m, k)
    else:
        k = m - int(np.count_nonzero(heights <= settings.threshold))  # as fcluster(criterion="distance")
        cut_name, threshold = f"threshold {settings.threshold:g}", float(settings.threshold)

    flat = _cut(tree, m, k)
    cap = settings.max_token_share
    if cap is not None:
        k0, share0 = k, float(_shares(_ordered_ids(flat, tokens), tokens, k).max())
        while True:
            ids = _ordered_ids(flat, tokens)
            shares = _shares(ids, tokens, k)
            sizes = np.bincount(ids, minlength=k)
            offenders = np.flatnonzero(shares > cap)
            if offenders.size == 0 or (sizes[offenders] == 1).all():
                break
            k += 1
            flat = _cut(tree, m, k)
        if k > k0:
            threshold = _cut_height(heights, m, k)
            warnings.append(f"collapse guard: super-cluster 0 held {share0:.0%} of tokens at {cut_name} "
                            f"(K {k0}), above max_token_share {cap:g}; cut deeper to threshold {threshold:.3g} "
                            f"(K {k0} -> {k}); the largest now holds {shares.max():.0%}")
        for sid in offenders:
            fine = int(np.flatnonzero(ids == sid)[0])
            warnings.append(f"collapse guard: super-cluster {sid} is fine cluster {fine} alone, holding "
                            f"{shares[sid]:.0%} of tokens, above max_token_share {cap:g}; one fine cluster "
                            f"cannot be split by merging, so the cap cannot be met (raise max_token_share, "
                            f"re-cluster with a larger K, or downsample that cluster)")

    ids = _ordered_ids(flat, tokens).astype(np.int64)
    shares = _shares(ids, tokens, k)
    assert ids.max() + 1 == k and abs(shares.sum() - 1.0) <= SHARE_TOLERANCE, (k, shares.sum())
    return MergeResult(ids, k, shares, threshold if m > 1 else None, tree, tuple(warnings))
