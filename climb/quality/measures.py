"""Heuristic quality signals of one document: the Gopher, C4 and FineWeb measurements (`compute_signals`).

The vocabularies and thresholds behind them are documented in climb.quality.signals, which maps these
signals to the four raters and re-exports every name here.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections import Counter
from dataclasses import dataclass

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
