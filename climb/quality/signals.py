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
"""

from __future__ import annotations

import itertools
import math
import operator
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RATERS = ("quality", "educational_value", "informational_value", "advertisement")
MAX_SCORE = 5.0

STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})  # Gopher's eight
BULLETS = ("•", "●", "‣", "◦", "⁃", "-", "*", "·", "►", "▪", "–")
TERMINAL_PUNCTUATION = (".", "!", "?", '"', "'", "”", "’", "…", ")")  # C4 / FineWeb line ends
SHORT_LINE_CHARS = 30  # FineWeb: a line of at most 30 characters is short
TTR_WINDOW = 100  # type-token ratio over the first 100 words, so that it does not fall with length
STRIP = "\"'()[]{}<>.,;:!?“”‘’«»*_-–—/\\|`~#"  # stripped from both ends of words before look-ups

# Vocabulary is matched on lower-cased words with STRIP removed from their ends: single words through one
# dict look-up per word, phrases through the 2/3/4-gram counts that the Gopher repetition rules need anyway.
# Words that mark explanation, reasoning and scholarship.
EDUCATIONAL_MARKERS = frozenset(
    """because therefore thus hence since so consequently example examples e.g i.e explain explains explained
    explanation define defined defines definition theorem proof prove proves method methods result results
    study studies studied evidence hypothesis calculate calculated calculation equation equations solution
    solve solved cause causes caused effect effects analysis analyses analyze analyse patients students learn
    learning concept principle principles data experiment experiments observed measured significant compared
    conclusion conclusions research theory process function total average rate ratio percent""".split()
)
# Promotional vocabulary: calls to buy, price hooks, urgency, subscriptions; plus "N% off" (counted on the text).
PROMO_WORDS = frozenset(
    """discount discounts discounted coupon coupons deal deals sale subscribe bargain bargains clearance guaranteed
    cheap cheapest hurry voucher vouchers bestseller bestsellers limited-time money-back""".split()
)
PROMO_PHRASES = frozenset(
    tuple(p.split())
    for p in ("buy now", "shop now", "order now", "act now", "call now", "free shipping", "limited time",
              "promo code", "promo codes", "best price", "best prices", "lowest price", "lowest prices", "sign up",
              "special offer", "special offers", "exclusive offer", "exclusive offers", "free trial", "money back",
              "don't miss", "dont miss", "offer ends", "while supplies last", "add to cart")
)
# C4's boilerplate (cookie and policy notices, "javascript", "lorem ipsum") and the site furniture it comes with.
BOILERPLATE_WORDS = frozenset("cookie cookies javascript copyright newsletter sitemap login".split())
BOILERPLATE_PHRASES = frozenset(
    tuple(p.split())
    for p in ("privacy policy", "terms of use", "terms of service", "lorem ipsum", "all rights reserved",
              "click here", "skip to content", "skip to main content", "sign in", "log in", "read more",
              "powered by", "back to top", "accept all", "follow us", "contact us", "site map", "my account",
              "shopping cart")
)
_CATEGORY = {
    **{w: "edu" for w in EDUCATIONAL_MARKERS}, **{w: "promo" for w in PROMO_WORDS},
    **{w: "boilerplate" for w in BOILERPLATE_WORDS}, **{w: "stop" for w in STOP_WORDS},
}
_NUMBER = re.compile(r"\d[\d.,]*")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
_ARITHMETIC = re.compile(r"\d ?[*/x^-] ?\d")  # with '=', '+', '×', '÷' counted directly: worked arithmetic
_LETTER = re.compile(r"[^\W\d_]").search
_strip = operator.methodcaller("strip", STRIP)


@dataclass(frozen=True)
class QualitySignals:
    """Measurements of one document; fractions are in [0, 1], densities are per 100 words."""

    words: float  # whitespace-separated words (Gopher)
    mean_word_length: float  # characters per word (Gopher)
    symbol_word_ratio: float  # '#' and '...'/'…' per word (Gopher)
    alpha_word_fraction: float  # words holding an alphabetic character (Gopher)
    stop_words: float  # occurrences of Gopher's eight stop words
    stop_word_fraction: float  # the same, per word
    bullet_line_fraction: float  # lines starting with a bullet (Gopher)
    ellipsis_line_fraction: float  # lines ending with an ellipsis (Gopher)
    duplicate_line_fraction: float  # lines that repeat an earlier line (Gopher)
    duplicate_line_char_fraction: float  # characters in those lines (Gopher, FineWeb)
    top_ngram_char_fraction: tuple[float, float, float]  # most frequent 2/3/4-gram's character share (Gopher)
    duplicate_ngram_char_fraction: tuple[float, float]  # characters in repeated 5/10-grams (Gopher)
    terminal_line_fraction: float  # lines ending in terminal punctuation (C4, FineWeb)
    short_line_fraction: float  # lines of at most 30 characters (FineWeb)
    boilerplate_density: float  # C4 boilerplate phrases per 100 words
    lorem_ipsum: float  # 1.0 when "lorem ipsum" occurs (C4 drops the page)
    promo_density: float  # promotional phrases per 100 words
    exclamation_density: float  # '!' per 100 words
    url_density: float  # URLs per 100 words
    caps_word_fraction: float  # words in capitals, except 'I' and 'A'
    educational_density: float  # educational markers per 100 words
    math_density: float  # '=', '+', '×', '÷' and digit-operator-digit per 100 words
    number_density: float  # numbers per 100 words
    type_token_ratio: float  # distinct / all words over the first 100 words
    mean_sentence_words: float  # words per sentence


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at or below lo, 1 at or above hi, linear between."""
    return min(1.0, max(0.0, (x - lo) / (hi - lo)))


def _saturate(x: float, scale: float) -> float:
    """1 - exp(-x / scale): 0 at 0, 0.63 at `scale`, strictly rising toward 1 (never flat, unlike a ramp)."""
    return 1.0 - math.exp(-x / scale)


def _ngram_counts(tokens: list[str], n: int) -> Counter:
    return Counter(zip(*(tokens[i:] for i in range(n))))


def _top_ngram_char_fraction(counts: Counter, total_chars: int) -> float:
    """Characters covered by the most frequent n-gram (when it repeats) over all word characters."""
    if not counts or total_chars == 0:
        return 0.0
    (gram, count), = counts.most_common(1)
    return count * sum(map(len, gram)) / total_chars if count > 1 else 0.0


def _duplicate_ngram_char_fraction(tokens: list[str], n: int, total_chars: int) -> float:
    """Characters of the words in n-grams seen before (non-overlapping, as datatrove's Gopher filter)."""
    grams = list(zip(*(tokens[i:] for i in range(n))))
    if len(set(grams)) == len(grams) or total_chars == 0:  # no repeat: the common case, decided in C
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeated = i = 0
    while i < len(grams):
        if grams[i] in seen:
            repeated += sum(map(len, grams[i]))
            i += n
        else:
            seen.add(grams[i])
            i += 1
    return repeated / total_chars


def _phrase_hits(phrases: frozenset, *counts: Counter) -> int:
    return sum(c[p] for c in counts for p in phrases if p in c)


def compute_signals(text: str) -> QualitySignals:
    """Every heuristic signal of one document (any string; empty text gives zeros)."""
    words = text.split()
    n = len(words)
    per_word = 1.0 / n if n else 0.0
    per_100 = 100.0 * per_word
    lower = text.lower()
    tokens = list(filter(None, map(_strip, lower.split())))  # lower case, no surrounding punctuation
    token_chars = sum(map(len, tokens))
    grams = [_ngram_counts(tokens, k) for k in (2, 3, 4)]
    vocabulary = Counter(map(_CATEGORY.get, tokens))
    with_letter = len(tokens) - sum(1 for t in itertools.filterfalse(str.isalpha, tokens) if not _LETTER(t))
    duplicate_5grams = _duplicate_ngram_char_fraction(tokens, 5, token_chars)

    lines = [line.strip() for line in text.split("\n")]
    lines = [line for line in lines if line]
    per_line = 1.0 / len(lines) if lines else 0.0
    line_counts = Counter(lines)
    line_chars = sum(map(len, lines))
    duplicate_line_chars = sum(len(line) * (c - 1) for line, c in line_counts.items() if c > 1)

    window = tokens[:TTR_WINDOW]
    sentences = len(_SENTENCE_END.findall(text))
    arithmetic = sum(map(text.count, ("=", "+", "×", "÷"))) + len(_ARITHMETIC.findall(text))
    return QualitySignals(
        words=float(n),
        mean_word_length=sum(map(len, words)) * per_word,
        symbol_word_ratio=(text.count("#") + text.count("...") + text.count("…")) * per_word,
        alpha_word_fraction=with_letter * per_word,
        stop_words=float(vocabulary["stop"]),
        stop_word_fraction=vocabulary["stop"] * per_word,
        bullet_line_fraction=sum(1 for line in lines if line.startswith(BULLETS)) * per_line,
        ellipsis_line_fraction=sum(1 for line in lines if line.endswith(("...", "…"))) * per_line,
        duplicate_line_fraction=(len(lines) - len(line_counts)) * per_line,
        duplicate_line_char_fraction=duplicate_line_chars / line_chars if line_chars else 0.0,
        top_ngram_char_fraction=tuple(_top_ngram_char_fraction(c, token_chars) for c in grams),
        duplicate_ngram_char_fraction=(
            duplicate_5grams,
            _duplicate_ngram_char_fraction(tokens, 10, token_chars) if duplicate_5grams else 0.0,
        ),
        terminal_line_fraction=sum(1 for line in lines if line.endswith(TERMINAL_PUNCTUATION)) * per_line,
        short_line_fraction=sum(1 for line in lines if len(line) <= SHORT_LINE_CHARS) * per_line,
        boilerplate_density=(vocabulary["boilerplate"] + _phrase_hits(BOILERPLATE_PHRASES, *grams)
                             + lower.count("©")) * per_100,
        lorem_ipsum=1.0 if "lorem ipsum" in lower else 0.0,
        promo_density=(vocabulary["promo"] + _phrase_hits(PROMO_PHRASES, *grams[:2]) + lower.count("% off")
                       + lower.count("%off")) * per_100,
        exclamation_density=text.count("!") * per_100,
        url_density=(lower.count("http://") + lower.count("https://") + lower.count("www.")) * per_100,
        caps_word_fraction=(sum(map(str.isupper, words)) - words.count("I") - words.count("A")) * per_word,
        educational_density=vocabulary["edu"] * per_100,
        math_density=arithmetic * per_100,
        number_density=len(_NUMBER.findall(text)) * per_100,
        type_token_ratio=len(set(window)) / len(window) if window else 0.0,
        mean_sentence_words=n / max(1, sentences),
    )


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
