"""Tests for cluster pruning (climb.semantic.pruning, paper step 3).

Contract: a preset or a mapping becomes a PruneRule; a cluster is kept when every rule passes, a mean
exactly at a threshold is kept, and a dropped cluster gets one stable `prune:` reason naming the first
failing rater in RATERS order (then the mean rule). Unknown presets and raters fail loudly, naming the
valid ones.
"""

from __future__ import annotations

import pytest

from climb.semantic.pruning import PRESETS, RATERS, PruneRule, prune_decision, prune_rule


def _means(quality=4.0, educational_value=4.0, informational_value=4.0, advertisement=4.0) -> dict[str, float]:
    return {"quality": quality, "educational_value": educational_value,
            "informational_value": informational_value, "advertisement": advertisement}


@pytest.mark.parametrize(
    ("spec", "means", "expected"),
    [
        # paper: the mean over the four raters' means must be >= 3.0
        ("paper", _means(), (True, "")),
        ("paper", _means(3.0, 3.0, 3.0, 3.0), (True, "")),  # exactly at the threshold
        ("paper", _means(2.5, 3.5, 3.0, 3.0), (True, "")),  # mean 3.0 from uneven raters
        ("paper", _means(5.0, 5.0, 5.0, 0.0), (True, "")),  # one very low rater is averaged away
        ("paper", _means(3.0, 3.0, 3.0, 2.96), (False, "prune:mean_of_raters_below_3.0")),
        ("paper", _means(0.0, 0.0, 0.0, 0.0), (False, "prune:mean_of_raters_below_3.0")),
        # reference: advertisement >= 2.0, every other rater >= 1.0
        ("reference", _means(1.0, 1.0, 1.0, 2.0), (True, "")),  # every rater exactly at its threshold
        ("reference", _means(1.0, 1.0, 1.0, 1.99), (False, "prune:advertisement_below_2.0")),
        ("reference", _means(0.99, 4.0, 4.0, 4.0), (False, "prune:quality_below_1.0")),
        ("reference", _means(4.0, 0.5, 4.0, 4.0), (False, "prune:educational_value_below_1.0")),
        ("reference", _means(4.0, 4.0, 0.5, 4.0), (False, "prune:informational_value_below_1.0")),
        ("reference", _means(0.0, 0.0, 0.0, 0.0), (False, "prune:quality_below_1.0")),  # first in RATERS order
        ("reference", _means(1.5, 1.5, 1.5, 2.5), (True, "")),  # pruned by the paper's rule, kept here
        # none: everything is kept
        ("none", _means(0.0, 0.0, 0.0, 0.0), (True, "")),
        # custom: each listed rater's mean >= its threshold; unlisted raters are ignored
        ({"advertisement": 3.5}, _means(0.0, 0.0, 0.0, 3.5), (True, "")),
        ({"advertisement": 3.5}, _means(5.0, 5.0, 5.0, 3.4), (False, "prune:advertisement_below_3.5")),
        ({"advertisement": 1, "quality": 2}, _means(1.0, 4.0, 4.0, 0.0), (False, "prune:quality_below_2.0")),
        ({"educational_value": 2.25}, _means(educational_value=2.25), (True, "")),
        ({}, _means(0.0, 0.0, 0.0, 0.0), (True, "")),
    ],
)
def test_prune_decision_table(spec, means, expected):
    """Each preset and a custom mapping keep or drop as documented, with the stable reason."""
    assert prune_decision(means, prune_rule(spec)) == expected


def test_presets_hold_the_published_thresholds():
    """paper: mean of raters < 3.0; reference: advertisement 2.0 and the others 1.0, in RATERS order."""
    assert prune_rule("paper") == PruneRule("paper", (), 3.0)
    assert prune_rule("reference").thresholds == (
        ("quality", 1.0), ("educational_value", 1.0), ("informational_value", 1.0), ("advertisement", 2.0))
    assert prune_rule("none") == PruneRule("none", (), None)
    assert set(PRESETS) == {"paper", "reference", "none"}


def test_custom_rule_is_ordered_like_raters():
    """A mapping's raters are stored in RATERS order whatever order the mapping lists them in."""
    rule = prune_rule({"advertisement": 2, "quality": 1.5})
    assert rule.name == "custom"
    assert rule.thresholds == (("quality", 1.5), ("advertisement", 2.0))


@pytest.mark.parametrize(
    ("spec", "error", "match"),
    [
        ("strict", ValueError, r"unknown prune preset 'strict'; presets are paper, reference, none"),
        ("Paper", ValueError, r"unknown prune preset 'Paper'"),
        ({"quality": 1.0, "spam": 2.0}, ValueError, r"unknown rater 'spam'.*" + ", ".join(RATERS)),
        ({"quality": 5.5}, ValueError, r"'quality' is 5.5; thresholds lie on the 0-5 scale"),
        ({"quality": -1}, ValueError, r"'quality' is -1.0"),
        ({"quality": float("nan")}, ValueError, r"'quality' is nan"),
        (3.0, TypeError, r"preset name or a mapping"),
    ],
)
def test_prune_rule_rejects_unknown_specs(spec, error, match):
    """Unknown presets, unknown raters and off-scale thresholds raise, naming the valid choices."""
    with pytest.raises(error, match=match):
        prune_rule(spec)


def test_prune_rule_checks_a_hand_built_rule():
    """A PruneRule built directly is held to the same invariants (known raters, RATERS order)."""
    with pytest.raises(ValueError, match="unknown rater 'spam'"):
        PruneRule("custom", (("spam", 1.0),))
    with pytest.raises(ValueError, match="RATERS order"):
        PruneRule("custom", (("advertisement", 1.0), ("quality", 1.0)))


@pytest.mark.parametrize(
    ("means", "match"),
    [
        ({"quality": 4.0, "educational_value": 4.0, "informational_value": 4.0}, "lack rater 'advertisement'"),
        (_means(quality=float("nan")), "'quality' is nan"),
    ],
)
def test_prune_decision_fails_loudly_on_missing_or_nan_means(means, match):
    """A cluster without a rater's mean (or with NaN) is an error, never a silent keep or drop."""
    with pytest.raises(ValueError, match=match):
        prune_decision(means, prune_rule("paper"))


def test_none_rule_reads_no_scores():
    """The `none` preset keeps a cluster whatever its scores, even with none recorded."""
    assert prune_decision({}, prune_rule("none")) == (True, "")
