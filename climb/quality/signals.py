"""Heuristic quality signals and the four heuristic raters on the paper's 0-5 scale (docs/method.md, step 3).

CLIMB prunes clusters by four raters scored 0-5: overall quality, educational value, informational value and
advertisement (higher = less promotional). The paper's raters are fastText classifiers; this module is the
transparent default that needs no model. It measures established web-quality signals once per document
(`compute_signals`) and maps them to each rater with a documented formula:

- Gopher (Rae et al. 2021, "Scaling Language Models", appendix A, table A1): word count 50-100,000, mean word
  length 3-10, hash/ellipsis-to-word ratio <= 0.1, >= 80% of words with an alphabetic character, >= 2 of
  eight stop words, <= 90% bullet lines, <= 30% ellipsis lines, duplicate lines <= 30% (chars <= 20%),
  top 2/3/4-gram character fractions <= 0.20/0.18/0.16, duplicate 5/10-gram character fractions <= 0.15/0.10.
- C4 (Raffel et al. 2020, section 2.2): lines end in terminal punctuation; no "lorem ipsum", "javascript",
  cookie / privacy-policy / terms-of-use boilerplate.
- FineWeb (Penedo et al. 2024, section 3.3 custom filters): line-end punctuation ratio >= 0.12, short lines
  (<= 30 chars) <= 67%, characters in duplicated lines <= 10%.

The published filters are hard cut-offs; here each becomes a *badness* `b` in [0, 1] that rises linearly from
a pass value to a fail value set around the published threshold (one row of `_CLEAN_RULES` per rule, naming
its source), and the rules combine as a soft AND: a score is multiplied by `(1 - w * b)` per rule, so a
document breaking one rule loses at most the share `w`, and scores stay continuous. Signals are English-centric, as Gopher's are: non-English text scores low on the stop-word rule.

Speed: pure Python, about 0.25 ms for a 150-word document on one core (one split, three regex scans, three
n-gram counts, one dictionary look-up per word): a million documents in about four minutes.

The measurements (`QualitySignals`, `compute_signals` and their vocabularies) live in climb.quality.measures
and are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from climb.quality.measures import (BOILERPLATE_PHRASES, BOILERPLATE_WORDS, BULLETS, EDUCATIONAL_MARKERS, PROMO_PHRASES,
                                    PROMO_WORDS, SHORT_LINE_CHARS, STOP_WORDS, STRIP, TERMINAL_PUNCTUATION, TTR_WINDOW,
                                    QualitySignals, compute_signals)

__all__ = ["BOILERPLATE_PHRASES", "BOILERPLATE_SCALE", "BOILERPLATE_WEIGHT", "BOILERPLATE_WORDS", "BULLETS",
           "CAPS_FAIL", "CAPS_PASS", "CAPS_WEIGHT", "EDUCATIONAL_MARKERS", "MAX_SCORE", "NGRAM_LIMITS", "PROMO_PHRASES",
           "PROMO_WORDS", "RATERS", "SHORT_LINE_CHARS", "STOP_WORDS", "STRIP", "TERMINAL_PUNCTUATION", "TTR_WINDOW",
           "QualitySignals", "advertisement_score", "cleanliness", "compute_signals", "educational_value_score",
           "heuristic_scores", "informational_value_score", "quality_score", "rate_signals", "unpromotional"]

RATERS = ("quality", "educational_value", "informational_value", "advertisement")
MAX_SCORE = 5.0


# ---- the raters ----------------------------------------------------------------------------------
NGRAM_LIMITS = (0.20, 0.18, 0.16, 0.15, 0.10)  # Gopher: top 2/3/4-gram, duplicate 5/10-gram char fractions
# Soft filters: (name, signal, pass value, fail value, weight, source). Each repetition rule takes the worst of
# its Gopher measures relative to their thresholds (1.0 = at a threshold), so one repeated phrase counts once. Badness b = 0 at the pass value,
# 1 at the fail value, linear between (either direction); a rule multiplies `cleanliness` by (1 - weight * b).
_CLEAN_RULES = (
    ("short_document", lambda s: s.words, 50.0, 5.0, 0.5, "Gopher: >= 50 words"),
    ("long_document", lambda s: s.words, 100_000.0, 1_000_000.0, 0.5, "Gopher: <= 100,000 words"),
    ("short_words", lambda s: s.mean_word_length, 3.0, 1.5, 0.5, "Gopher: mean word length >= 3"),
    ("long_words", lambda s: s.mean_word_length, 10.0, 15.0, 0.5, "Gopher: mean word length <= 10"),
    ("symbols", lambda s: s.symbol_word_ratio, 0.05, 0.2, 0.5, "Gopher: hash/ellipsis per word <= 0.1"),
    ("non_alpha_words", lambda s: s.alpha_word_fraction, 0.8, 0.4, 0.5, "Gopher: >= 80% words with a letter"),
    ("no_stop_words", lambda s: s.stop_word_fraction, 0.10, 0.02, 0.5, "Gopher: >= 2 of 8 stop words"),
    ("bullet_lines", lambda s: s.bullet_line_fraction, 0.5, 0.9, 0.5, "Gopher: <= 90% bullet lines"),
    ("ellipsis_lines", lambda s: s.ellipsis_line_fraction, 0.1, 0.3, 0.5, "Gopher: <= 30% ellipsis lines"),
    ("repeated_lines", lambda s: max(s.duplicate_line_fraction / 0.3, s.duplicate_line_char_fraction / 0.2),
     0.0, 1.0, 0.6, "Gopher: <= 30% duplicate lines, <= 20% of chars in them (FineWeb: 10%)"),
    ("repeated_ngrams",
     lambda s: max(f / limit for f, limit in zip(s.top_ngram_char_fraction + s.duplicate_ngram_char_fraction,
                                                NGRAM_LIMITS)),
     0.5, 1.5, 0.6, "Gopher: top 2/3/4-gram chars <= 0.20/0.18/0.16, duplicate 5/10-gram chars <= 0.15/0.10"),
    ("unpunctuated_lines", lambda s: s.terminal_line_fraction, 0.8, 0.12, 0.3,
     "C4: lines end in terminal punctuation; FineWeb: line-end punctuation ratio >= 0.12"),
    ("short_lines", lambda s: s.short_line_fraction, 0.3, 0.67, 0.4, "FineWeb: <= 67% lines of <= 30 chars"),
    ("lorem_ipsum", lambda s: s.lorem_ipsum, 0.0, 1.0, 0.8, "C4: drops pages with 'lorem ipsum'"),
)
BOILERPLATE_SCALE, BOILERPLATE_WEIGHT = 5.0, 0.7  # C4: boilerplate lines are dropped; 5 per 100 words -> b = 0.63

# Promotion: (name, signal, saturation scale, weight); b = 1 - exp(-signal / scale); multiplies by (1 - w * b).
_PROMO_RULES = (
    ("promo_phrases", lambda s: s.promo_density, 4.0, 0.6),  # per 100 words
    ("exclamations", lambda s: s.exclamation_density, 4.0, 0.4),  # per 100 words
    ("urls", lambda s: s.url_density, 2.0, 0.4),  # per 100 words
    ("site_furniture", lambda s: s.boilerplate_density, 5.0, 0.5),  # C4 boilerplate per 100 words
)
CAPS_PASS, CAPS_FAIL, CAPS_WEIGHT = 0.08, 0.30, 0.4  # abstracts hold up to ~8% acronyms; spam shouts more


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at or below lo, 1 at or above hi, linear between."""
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def _saturate(x: float, scale: float) -> float:
    """1 - exp(-x / scale): 0 at 0, 0.63 at `scale`, strictly rising toward 1 (never flat, unlike a ramp)."""
    return 1.0 - math.exp(-x / scale)


def _badness(x: float, passing: float, failing: float) -> float:
    return _ramp(x, passing, failing) if failing > passing else _ramp(-x, -passing, -failing)


def cleanliness(s: QualitySignals) -> float:
    """Soft AND of the Gopher, C4 and FineWeb filters, in [0, 1]: the product over `_CLEAN_RULES` of
    (1 - w * b), with b rising linearly from each rule's pass value to its fail value, times
    (1 - 0.7 * (1 - exp(-boilerplate_density / 5))) for C4's boilerplate phrases."""
    value = 1.0 - BOILERPLATE_WEIGHT * _saturate(s.boilerplate_density, BOILERPLATE_SCALE)
    for _, signal, passing, failing, weight, _ in _CLEAN_RULES:
        value *= 1.0 - weight * _badness(signal(s), passing, failing)
    return value


def unpromotional(s: QualitySignals) -> float:
    """How far from promotional, in [0, 1]: the product over `_PROMO_RULES` of
    (1 - w * (1 - exp(-signal / scale))) times (1 - 0.4 * ramp(caps_word_fraction, 0.08, 0.30))."""
    value = 1.0 - CAPS_WEIGHT * _ramp(s.caps_word_fraction, CAPS_PASS, CAPS_FAIL)
    for _, signal, scale, weight in _PROMO_RULES:
        value *= 1.0 - weight * _saturate(signal(s), scale)
    return value


def _fluency(s: QualitySignals) -> float:
    return (_ramp(s.stop_word_fraction, 0.02, 0.2) + _ramp(s.type_token_ratio, 0.3, 0.8)
            + s.terminal_line_fraction + _ramp(s.mean_word_length, 3.5, 5.5)) / 4.0


def _educational(s: QualitySignals) -> float:
    return (0.45 * _saturate(s.educational_density, 2.5) + 0.35 * _saturate(s.math_density, 8.0)
            + 0.2 * _ramp(s.mean_word_length, 4.0, 6.0))


def _informational(s: QualitySignals) -> float:
    return (0.35 * _saturate(s.number_density, 5.0) + 0.35 * _ramp(s.type_token_ratio, 0.35, 0.8)
            + 0.3 * _ramp(s.mean_word_length, 4.0, 6.0)) * (0.5 + 0.5 * _ramp(s.words, 20.0, 200.0))


def _clip(x: float) -> float:
    return min(MAX_SCORE, max(0.0, x))


def quality_score(s: QualitySignals) -> float:
    """Overall quality: 5 * C * (1 - 0.5 * (1 - U)) * (0.6 + 0.4 * F), clipped to [0, 5].

    C = `cleanliness` (Gopher, C4, FineWeb soft filters), U = `unpromotional`, and F = fluency =
    mean(ramp(stop_word_fraction, 0.02, 0.2), ramp(type_token_ratio, 0.3, 0.8), terminal_line_fraction,
    ramp(mean_word_length, 3.5, 5.5)), where ramp(x, lo, hi) = clip((x - lo) / (hi - lo), 0, 1).
    """
    return _quality(s, cleanliness(s), unpromotional(s))


def _quality(s: QualitySignals, clean: float, unpromo: float) -> float:
    return _clip(5.0 * clean * (1.0 - 0.5 * (1.0 - unpromo)) * (0.6 + 0.4 * _fluency(s)))


def educational_value_score(s: QualitySignals) -> float:
    """Educational value: 5 * C * U * (0.25 + 0.75 * E), clipped to [0, 5].

    E = 0.45 * sat(educational_density, 2.5) + 0.35 * sat(math_density, 8) + 0.2 * ramp(mean_word_length, 4, 6),
    with sat(x, k) = 1 - exp(-x / k): explanation and reasoning markers (because, therefore, example, theorem,
    method, evidence, ...), worked arithmetic, and the longer words of technical vocabulary.
    """
    return _educational_value(s, cleanliness(s), unpromotional(s))


def _educational_value(s: QualitySignals, clean: float, unpromo: float) -> float:
    return _clip(5.0 * clean * unpromo * (0.25 + 0.75 * _educational(s)))


def informational_value_score(s: QualitySignals) -> float:
    """Informational value: 5 * C * U * (0.3 + 0.7 * I), clipped to [0, 5].

    I = (0.35 * sat(number_density, 5) + 0.35 * ramp(type_token_ratio, 0.35, 0.8)
    + 0.3 * ramp(mean_word_length, 4, 6)) * (0.5 + 0.5 * ramp(words, 20, 200)): facts and figures, lexical
    diversity and vocabulary, and enough text to carry them.
    """
    return _informational_value(s, cleanliness(s), unpromotional(s))


def _informational_value(s: QualitySignals, clean: float, unpromo: float) -> float:
    return _clip(5.0 * clean * unpromo * (0.3 + 0.7 * _informational(s)))


def advertisement_score(s: QualitySignals) -> float:
    """Advertisement (higher = less promotional): 5 * U, clipped to [0, 5], with U = `unpromotional`:
    promotional phrases (w 0.6, scale 4 per 100 words), exclamation marks (0.4, 4), URLs (0.4, 2), site
    furniture such as cookie banners and menus (0.5, 5), each as (1 - w * sat(density, scale)), and words
    in capitals beyond acronym level (1 - 0.4 * ramp(caps_word_fraction, 0.08, 0.30))."""
    return _clip(5.0 * unpromotional(s))


def rate_signals(s: QualitySignals) -> tuple[float, float, float, float]:
    """The four scores in RATERS order, computing C and U once."""
    clean, unpromo = cleanliness(s), unpromotional(s)
    return (_quality(s, clean, unpromo), _educational_value(s, clean, unpromo),
            _informational_value(s, clean, unpromo), _clip(5.0 * unpromo))


def heuristic_scores(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """All four heuristic raters over `texts`: one float32 array of shape (N,) per name in RATERS."""
    out = np.empty((len(texts), len(RATERS)), dtype=np.float32)
    for i, text in enumerate(texts):
        out[i] = rate_signals(compute_signals(text))
    return {name: out[:, j].copy() for j, name in enumerate(RATERS)}
