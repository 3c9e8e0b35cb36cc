"""Tests for cluster keywords (climb.semantic.keywords): class-based TF-IDF as in BERTopic.

Contract: per class, the top_k terms by tf(term, class) * log(1 + A / f(term)), lowercase letter words
of at least 3 characters without English stop words; ties alphabetical; at most max_documents_per_class
texts per class read (seeded); deterministic; a class without usable words gets [].
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from climb.semantic.keywords import class_tfidf_keywords, label_from_keywords
from tests.conftest import shared_data

SPORTS_WORDS = {"game", "season", "team", "win", "league", "coach", "cup", "victory", "night", "players"}
TECH_WORDS = {"software", "microsoft", "internet", "computer", "new", "space", "google", "web", "company", "users"}


@pytest.fixture(scope="module")
def ag_news() -> tuple[list[str], np.ndarray]:
    """AG News test split (7,600 articles): title + description, and the true class 1-4."""
    with shared_data("ag_news", "test.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return [f"{title} {description}" for _, title, description in rows], np.array([int(r[0]) for r in rows])


@pytest.fixture(scope="module")
def ag_keywords(ag_news) -> dict[int, list[str]]:
    texts, labels = ag_news
    return class_tfidf_keywords(texts, labels, top_k=10)


def test_ag_news_classes_get_their_topic_words(ag_keywords):
    """On the true AG News classes, Sports (2) and Sci/Tech (4) are labelled by words of their topic."""
    assert sorted(ag_keywords) == [1, 2, 3, 4]
    assert all(len(terms) == 10 for terms in ag_keywords.values())
    assert len(SPORTS_WORDS & set(ag_keywords[2])) >= 2, ag_keywords[2]
    assert len(TECH_WORDS & set(ag_keywords[4])) >= 2, ag_keywords[4]


def test_ag_news_keywords_differ_across_classes(ag_keywords):
    """Most of each class's top-10 terms are its own (c-TF-IDF discounts words common to all classes)."""
    for a in ag_keywords:
        for b in ag_keywords:
            if a < b:
                shared = set(ag_keywords[a]) & set(ag_keywords[b])
                assert len(shared) <= 5, (a, b, shared)


def test_ag_news_sample_is_seeded(ag_news):
    """max_documents_per_class bounds the texts read; a seed gives the same sample, another seed another."""
    texts, labels = ag_news
    kwargs = dict(top_k=10, max_documents_per_class=100)
    first = class_tfidf_keywords(texts, labels, seed=1, **kwargs)
    assert first == class_tfidf_keywords(texts, labels, seed=1, **kwargs)
    assert first != class_tfidf_keywords(texts, labels, seed=2, **kwargs)
    assert first != class_tfidf_keywords(texts, labels, seed=1, top_k=10)  # the cap changed what was read


def test_scores_follow_the_c_tf_idf_formula():
    """A hand-computed case: the ranking follows tf / class total * log(1 + A / f(term))."""
    texts = ["apple apple apple banana", "banana cherry", "cherry cherry durian durian durian"]
    labels = [0, 0, 1]
    # class 0: apple 3, banana 2, cherry 1 (6 words); class 1: cherry 2, durian 3 (5 words); A = 5.5
    f = {"apple": 3, "banana": 2, "cherry": 3, "durian": 3}
    tf = {0: {"apple": 3, "banana": 2, "cherry": 1}, 1: {"cherry": 2, "durian": 3}}
    expected = {}
    for c, counts in tf.items():
        total = sum(counts.values())
        score = {t: n / total * math.log(1 + 5.5 / f[t]) for t, n in counts.items()}
        expected[c] = sorted(score, key=lambda t: (-score[t], t))
    assert class_tfidf_keywords(texts, labels) == expected
    assert expected[0] == ["apple", "banana", "cherry"]


def test_ties_are_alphabetical_and_top_k_is_honoured():
    """Terms with equal scores come out in alphabetical order; only top_k are returned."""
    texts = ["zebra yak xenon walrus", "other words entirely"]
    assert class_tfidf_keywords(texts, [0, 1])[0] == ["walrus", "xenon", "yak", "zebra"]
    assert class_tfidf_keywords(texts, [0, 1], top_k=2)[0] == ["walrus", "xenon"]


def test_words_are_lowercase_letters_of_three_or_more_without_stop_words():
    """Case folds; numbers, two-letter words and English stop words never become keywords."""
    keywords = class_tfidf_keywords(["The Rocket and THE rocket of 2024 to go at NASA"], [7])
    assert keywords == {7: ["rocket", "nasa"]}


def test_classes_without_usable_words_get_empty_lists():
    """A class of stop words or digits gets []; so does every class when no text has a usable word."""
    texts = ["the and of", "rocket launch", "12 34 to"]
    assert class_tfidf_keywords(texts, np.array([0, 1, 2])) == {0: [], 1: ["launch", "rocket"], 2: []}
    assert class_tfidf_keywords(["the of", "and"], [3, 5]) == {3: [], 5: []}
    assert class_tfidf_keywords([], []) == {}


@pytest.mark.parametrize(
    ("texts", "labels", "kwargs", "match"),
    [
        (["a", "b"], [0], {}, "one class per text"),
        (["a"], [0.5], {}, "must be integers"),
        (["a"], [0], {"top_k": 0}, "must be >= 1"),
        (["a"], [0], {"max_documents_per_class": 0}, "must be >= 1"),
    ],
)
def test_bad_arguments_raise(texts, labels, kwargs, match):
    """Mismatched labels, non-integer labels and non-positive limits are errors."""
    with pytest.raises(ValueError, match=match):
        class_tfidf_keywords(texts, labels, **kwargs)


@pytest.mark.parametrize(
    ("keywords", "n", "label"),
    [
        (["league", "coach", "goals", "season"], 3, "league · coach · goals"),
        (["league", "coach"], 3, "league · coach"),
        (["league", "coach", "goals"], 1, "league"),
        ([], 3, ""),
    ],
)
def test_label_from_keywords(keywords, n, label):
    """A label joins the first n keywords with " · "; no keywords give ""."""
    assert label_from_keywords(keywords, n=n) == label


def test_label_needs_a_positive_count():
    with pytest.raises(ValueError, match="n must be >= 1"):
        label_from_keywords(["a"], n=0)
