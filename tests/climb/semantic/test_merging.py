"""Tests for super-clusters (climb.semantic.merging, paper step 4): Ward linkage of the surviving centroids.

Contract: a threshold or a target cuts the Ward tree of the unit-normalised centroids; super-cluster
ids run 0..K-1 by descending tokens (ties by smallest member); token shares sum to 1; the collapse guard
cuts deeper until no super-cluster holds more than max_token_share, or says why it cannot; every action
is a warning sentence; the same inputs give the same result.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster

from climb.semantic.merging import MergeResult, MergeSettings, merge_clusters

GROUPS, PER_GROUP, DIM = 5, 8, 32


def _groups(seed: int = 0, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """(40, 32) noisy copies of 5 random unit directions (deliberately not unit length), and the true group."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(GROUPS, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    truth = np.repeat(np.arange(GROUPS), PER_GROUP)
    x = centres[truth] + rng.normal(scale=noise, size=(GROUPS * PER_GROUP, DIM))
    return x * rng.uniform(0.5, 3.0, size=(len(x), 1)), truth  # normalisation must undo the scale


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _check_invariants(result: MergeResult, tokens: np.ndarray) -> None:
    assert result.super_of_fine.shape == tokens.shape
    assert sorted(set(result.super_of_fine.tolist())) == list(range(result.k))
    assert result.token_share.shape == (result.k,)
    assert abs(result.token_share.sum() - 1.0) <= 1e-9
    np.testing.assert_allclose(result.token_share, np.bincount(result.super_of_fine, tokens) / tokens.sum())
    assert (np.diff(result.token_share) <= 0).all(), "ids must run by descending tokens"


@pytest.mark.parametrize("settings", [MergeSettings(threshold=1.5), MergeSettings(target=GROUPS)])
def test_threshold_and_target_recover_separated_groups(settings):
    """5 well-separated groups of 8 centroids come back exactly as 5 super-clusters."""
    x, truth = _groups()
    tokens = np.arange(1.0, len(x) + 1)
    result = merge_clusters(x, tokens, settings=settings)
    assert result.k == GROUPS and _same_partition(result.super_of_fine, truth)
    assert result.warnings == ()
    assert result.linkage.shape == (len(x) - 1, 4)
    _check_invariants(result, tokens)


def test_threshold_cut_matches_fcluster_and_threshold_used_reproduces_target_cuts():
    """A threshold cut equals scipy's fcluster(criterion="distance"); a target's threshold_used reproduces it."""
    x, _ = _groups(noise=0.3)
    tokens = np.ones(len(x))
    for threshold in (0.3, 0.8, 1.5, 3.0):
        result = merge_clusters(x, tokens, settings=MergeSettings(threshold=threshold, max_token_share=None))
        assert result.threshold_used == threshold
        assert _same_partition(result.super_of_fine, fcluster(result.linkage, threshold, criterion="distance"))
    for target in (1, 2, 7, 20, len(x)):
        result = merge_clusters(x, tokens, settings=MergeSettings(target=target, max_token_share=None))
        assert result.k == target
        cut = fcluster(result.linkage, result.threshold_used, criterion="distance")
        assert _same_partition(result.super_of_fine, cut)


@pytest.mark.parametrize("target", [1, 3, 5, 9, 17, 40])
def test_target_count_is_honoured(target):
    """target = K super-clusters, exactly (the collapse guard off)."""
    x, _ = _groups()
    result = merge_clusters(x, np.ones(len(x)), settings=MergeSettings(target=target, max_token_share=None))
    assert result.k == target
    _check_invariants(result, np.ones(len(x)))


def test_target_overrides_threshold():
    x, _ = _groups()
    settings = MergeSettings(threshold=1.5, target=2, max_token_share=None)
    assert merge_clusters(x, np.ones(len(x)), settings=settings).k == 2


def test_ids_run_by_descending_tokens_then_smallest_member():
    """Super-cluster 0 holds the most tokens; equal totals are ordered by their smallest fine-cluster index."""
    x, truth = _groups()
    tokens = np.array([1.0, 5.0, 2.0, 5.0, 3.0])[truth]  # groups 1 and 3 tie on tokens
    result = merge_clusters(x, tokens, settings=MergeSettings(max_token_share=None))
    assert [int(result.super_of_fine[g * PER_GROUP]) for g in range(GROUPS)] == [4, 0, 3, 1, 2]
    np.testing.assert_allclose(result.token_share, np.array([5, 5, 3, 2, 1]) / 16)


def test_ids_do_not_depend_on_how_the_input_is_scaled_or_repeated():
    """The same inputs give the same result; scaling a centroid changes nothing (rows are normalised)."""
    x, _ = _groups()
    tokens = np.random.default_rng(3).integers(1, 100, size=len(x)).astype(float)
    a = merge_clusters(x, tokens, settings=MergeSettings())
    b = merge_clusters(x.copy(), tokens.copy(), settings=MergeSettings())
    c = merge_clusters(x * 7.0, tokens, settings=MergeSettings())
    for other in (b, c):
        np.testing.assert_array_equal(a.super_of_fine, other.super_of_fine)
        np.testing.assert_allclose(a.linkage, other.linkage)
        assert a.warnings == other.warnings and a.threshold_used == other.threshold_used


def test_collapse_guard_splits_a_dominant_super_cluster():
    """A group holding 90% of tokens is cut deeper until no super-cluster exceeds 50%, and a warning says so."""
    x, truth = _groups()
    tokens = np.where(truth == 2, 0.9 / PER_GROUP, 0.1 / (len(x) - PER_GROUP))
    guarded = merge_clusters(x, tokens, settings=MergeSettings(threshold=1.5, max_token_share=0.5))
    unguarded = merge_clusters(x, tokens, settings=MergeSettings(threshold=1.5, max_token_share=None))
    assert unguarded.k == GROUPS and unguarded.token_share.max() == pytest.approx(0.9)
    assert guarded.k > GROUPS and guarded.token_share.max() <= 0.5
    assert guarded.threshold_used < 1.5
    (warning,) = guarded.warnings
    assert "super-cluster 0 held 90% of tokens at threshold 1.5 (K 5)" in warning
    assert f"(K 5 -> {guarded.k})" in warning and "max_token_share 0.5" in warning
    _check_invariants(guarded, tokens)
    # the guard cuts only as deep as needed: one merge fewer leaves a super-cluster above the cap
    shallower = merge_clusters(x, tokens, settings=MergeSettings(target=guarded.k - 1, max_token_share=None))
    assert shallower.token_share.max() > 0.5


def test_collapse_guard_stops_at_an_unsplittable_fine_cluster():
    """One fine cluster holding 95% cannot be split: the guard isolates it and warns, never loops forever."""
    x, _ = _groups()
    tokens = np.full(len(x), 0.05 / (len(x) - 1))
    tokens[11] = 0.95
    result = merge_clusters(x, tokens, settings=MergeSettings(threshold=1.5, max_token_share=0.5))
    assert result.super_of_fine[11] == 0 and np.count_nonzero(result.super_of_fine == 0) == 1
    assert result.token_share[0] == pytest.approx(0.95)
    assert len(result.warnings) == 2
    assert "cut deeper" in result.warnings[0]
    assert "super-cluster 0 is fine cluster 11 alone, holding 95% of tokens" in result.warnings[1]
    assert "cap cannot be met" in result.warnings[1] and "raise max_token_share" in result.warnings[1]
    _check_invariants(result, tokens)


def test_collapse_guard_warns_even_when_no_cut_helps():
    """A lone fine cluster above the cap at the user's cut is reported, with the cut unchanged."""
    x, _ = _groups()
    tokens = np.ones(len(x))
    tokens[0] = 1000.0
    result = merge_clusters(x, tokens, settings=MergeSettings(target=len(x), max_token_share=0.5))
    assert result.k == len(x)
    assert len(result.warnings) == 1 and "fine cluster 0 alone" in result.warnings[0]


def test_single_fine_cluster_is_one_super_cluster():
    result = merge_clusters(np.array([[0.0, 2.0]]), np.array([10]), settings=MergeSettings(max_token_share=None))
    assert result.k == 1 and result.super_of_fine.tolist() == [0] and result.token_share.tolist() == [1.0]
    assert result.linkage.shape == (0, 4) and result.threshold_used is None and result.warnings == ()


def test_target_above_m_gives_m_with_a_warning():
    x, _ = _groups()
    result = merge_clusters(x[:6], np.ones(6), settings=MergeSettings(target=10))
    assert result.k == 6 and sorted(result.super_of_fine.tolist()) == list(range(6))
    (warning,) = result.warnings
    assert "target 10 super-clusters exceeds the 6 surviving fine clusters; K = 6" in warning


@pytest.mark.parametrize(
    ("centroids", "tokens", "match"),
    [
        (np.zeros((0, 4)), np.zeros(0), "no fine cluster survived pruning"),
        (np.ones(4), np.ones(1), r"\(m, d\) array"),
        (np.ones((3, 4)), np.ones(2), r"token_counts must have shape \(3,\)"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), np.ones(2), "centroid row 1 is zero"),
        (np.array([[1.0, 0.0], [np.nan, 1.0]]), np.ones(2), "centroid row 1 is not finite"),
        (np.eye(2), np.array([1.0, -1.0]), "finite and >= 0"),
        (np.eye(2), np.zeros(2), "positive total"),
    ],
)
def test_bad_inputs_raise(centroids, tokens, match):
    with pytest.raises(ValueError, match=match):
        merge_clusters(centroids, tokens, settings=MergeSettings())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": None}, "needs a threshold or a target"),
        ({"threshold": 0.0}, "positive number"),
        ({"target": 0}, ">= 1"),
        ({"max_token_share": 0.0}, r"\(0, 1\]"),
        ({"max_token_share": 1.5}, r"\(0, 1\]"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MergeSettings(**kwargs)
