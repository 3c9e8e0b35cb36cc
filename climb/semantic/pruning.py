"""Cluster pruning: drop fine clusters whose mean quality is low (docs/method.md, step 3).

CLIMB rates every document with four raters on a 0-5 scale (`quality`, `educational_value`,
`informational_value`, `advertisement`, where a higher advertisement score is less promotional) and
drops a fine cluster when its mean rating is low. Rules, each a `PruneRule`:

- `paper`: drop when the mean over the four raters' cluster means is < 3.0 (paper);
- `reference`: NVIDIA's recipe, keep only when advertisement >= 2.0 and every other rater >= 1.0;
- `none`: keep everything;
- a mapping `{rater: threshold}`: keep only when each listed rater's cluster mean >= its threshold.

A value exactly at a threshold is kept. A dropped cluster gets one stable reason string (the first
failing rater in RATERS order, then the mean rule), which becomes a counter and a report column:
`prune:<rater>_below_<threshold>` or `prune:mean_of_raters_below_<threshold>`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from climb.quality.signals import MAX_SCORE, RATERS

__all__ = ["RATERS", "PRESETS", "PruneRule", "prune_rule", "prune_decision"]

PAPER_MEAN_THRESHOLD = 3.0  # paper: clusters whose mean quality score is below 3 (of 5) are pruned
REFERENCE_ADVERTISEMENT = 2.0  # reference recipe: advertisement >= 2.0 ...
REFERENCE_OTHERS = 1.0  # ... and every other rater >= 1.0


def _check_threshold(rater: str, value: float) -> float:
    value = float(value)
    if not (0.0 <= value <= MAX_SCORE):
        raise ValueError(f"prune threshold for {rater!r} is {value}; thresholds lie on the 0-{MAX_SCORE:g} scale")
    return value


@dataclass(frozen=True)
class PruneRule:
    """A pruning rule: per-rater minimum cluster means, and/or a minimum mean over the four raters.

    `thresholds` holds (rater, minimum) pairs in RATERS order; `mean_of_raters_below` drops a cluster
    whose mean of the four raters' means is below it (None disables that rule).
    """

    name: str
    thresholds: tuple[tuple[str, float], ...] = ()
    mean_of_raters_below: float | None = None

    def __post_init__(self):
        names = [rater for rater, _ in self.thresholds]
        unknown = sorted(set(names) - set(RATERS))
        if unknown:
            raise ValueError(f"unknown rater {unknown[0]!r} in prune thresholds; raters are {', '.join(RATERS)}")
        if names != sorted(set(names), key=RATERS.index):
            raise ValueError(f"prune thresholds must name each rater once, in RATERS order; got {names}")
        for rater, value in self.thresholds:
            _check_threshold(rater, value)
        if self.mean_of_raters_below is not None:
            _check_threshold("mean_of_raters", self.mean_of_raters_below)


PRESETS: dict[str, PruneRule] = {
    "paper": PruneRule("paper", (), PAPER_MEAN_THRESHOLD),
    "reference": PruneRule(
        "reference",
        tuple((r, REFERENCE_ADVERTISEMENT if r == "advertisement" else REFERENCE_OTHERS) for r in RATERS),
        None,
    ),
    "none": PruneRule("none", (), None),
}


def prune_rule(spec: str | Mapping[str, float]) -> PruneRule:
    """The pruning rule named by a preset or given as per-rater thresholds (paper step 3).

    Args:
        spec: "paper" (mean of the four raters < 3.0 is dropped), "reference" (NVIDIA's recipe:
            advertisement >= 2.0 and the others >= 1.0 are kept), "none" (keep all), or a mapping
            {rater: minimum cluster mean} over names in RATERS, each threshold within [0, 5].

    Raises:
        ValueError: an unknown preset, an unknown rater name, or a threshold off the 0-5 scale.
    """
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise ValueError(f"unknown prune preset {spec!r}; presets are {', '.join(PRESETS)} or a mapping of raters")
        return PRESETS[spec]
    if not isinstance(spec, Mapping):
        raise TypeError(f"prune spec must be a preset name or a mapping of raters, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(RATERS))
    if unknown:
        raise ValueError(f"unknown rater {unknown[0]!r} in prune thresholds; raters are {', '.join(RATERS)}")
    return PruneRule("custom", tuple((r, _check_threshold(r, spec[r])) for r in RATERS if r in spec), None)


def _mean(means: Mapping[str, float], rater: str) -> float:
    if rater not in means:
        raise ValueError(f"cluster means lack rater {rater!r}; expected {', '.join(RATERS)}")
    value = float(means[rater])
    if not math.isfinite(value):
        raise ValueError(f"cluster mean of rater {rater!r} is {value}; a pruned cluster needs finite scores")
    return value


def prune_decision(means: Mapping[str, float], rule: PruneRule) -> tuple[bool, str]:
    """Whether a fine cluster survives pruning, and why not (paper step 3).

    Args:
        means: the cluster's mean score per rater (0-5); must hold every rater the rule reads.
        rule: from `prune_rule`.

    Returns:
        (keep, reason): reason is "" when kept, else `prune:<rater>_below_<threshold>` for the first
        failing rater in RATERS order, or `prune:mean_of_raters_below_<threshold>`. A mean exactly at a
        threshold is kept.
    """
    for rater, minimum in rule.thresholds:
        if _mean(means, rater) < minimum:
            return False, f"prune:{rater}_below_{float(minimum)}"
    if rule.mean_of_raters_below is not None:
        mean = math.fsum(_mean(means, r) for r in RATERS) / len(RATERS)
        if mean < rule.mean_of_raters_below:
            return False, f"prune:mean_of_raters_below_{float(rule.mean_of_raters_below)}"
    return True, ""
