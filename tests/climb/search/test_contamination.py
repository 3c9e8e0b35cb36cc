"""Target decontamination on real text: a training document overlapping a target window by the threshold share of
its word n-grams is contaminated; unrelated real news is not."""

from __future__ import annotations

import csv
import json

import pytest

from climb.corpus.near_duplicates import jaccard, shingles
from climb.search.contamination import (CONTAMINATION, ContaminationSettings, TargetDocument, TargetIndex,
                                        find_contamination)
from tests.conftest import shared_data


def _news(n: int) -> list[str]:
    """`n` real AG News articles (title and description, ~40 words each)."""
    with open(shared_data("ag_news", "test.csv"), newline="", encoding="utf-8") as handle:
        return [f"{title}. {description}" for (_, title, description), _ in zip(csv.reader(handle), range(n))]


def _abstracts(n: int) -> list[list[str]]:
    """The paragraphs of `n` real PubMedQA abstracts of at least three paragraphs (~250 words each)."""
    data = json.loads(shared_data("pubmedqa", "ori_pqal.json").read_text())
    return [entry["CONTEXTS"] for entry in data.values() if len(entry["CONTEXTS"]) >= 3][:n]


def _edit(text: str, edits: int) -> str:
    """A reworded copy: `edits` words, evenly spaced, replaced."""
    words = text.split()
    at = {(k + 1) * len(words) // (edits + 1) for k in range(edits)}
    return " ".join("changed" if i in at else w for i, w in enumerate(words))


@pytest.fixture(scope="module")
def case():
    news, abstracts = _news(400), _abstracts(4)
    targets = ([TargetDocument(f"news.jsonl row {i}", "search" if i % 3 else "holdout", t) for i, t in enumerate(news[:30])]
               + [TargetDocument(f"pubmed.jsonl row {i}", "search", "\n\n".join(p)) for i, p in enumerate(abstracts)])
    planted = {"edited": _edit(news[6], 3),  # target row 6 (holdout, 103 words), three words changed
               # one paragraph of an abstract between two unrelated articles
               "embedded": f"{news[200]}\n\n{abstracts[1][1]}\n\n{news[201]}"}
    unrelated = {f"news-{i}": text for i, text in enumerate(news[100:400])}
    return {"targets": targets, "training": {**planted, **unrelated}, "abstract": abstracts[1]}


def _found(case, **settings) -> dict[str, dict]:
    training = case["training"]
    table = find_contamination([("shard-a", list(training), list(training.values()))],
                               TargetIndex(case["targets"], ContaminationSettings(**settings)))
    return {row["id"]: row for row in table.to_pylist()}


def test_planted_overlaps_are_removed_and_real_news_is_kept(case):
    """Defaults (8-grams, 50-word windows, 0.5): the edited copy and the embedded paragraph are found, each
    naming its target document, split and overlap; none of 300 unrelated AG News articles is."""
    found = _found(case)
    assert set(found) == {"edited", "embedded"}
    edited, embedded = found["edited"], found["embedded"]
    assert edited["target_document"] == "news.jsonl row 6" and edited["split"] == "holdout"
    assert embedded["target_document"] == "pubmed.jsonl row 1" and embedded["split"] == "search"
    assert {edited["reason"], embedded["reason"]} == {CONTAMINATION} and edited["shard"] == "shard-a"
    assert 0.5 <= edited["overlap"] < 1 and embedded["overlap"] == 1.0
    assert "overlaps target news.jsonl row 6 (holdout split)" in edited["detail"]


def test_jaccard_misses_the_embedded_paragraph(case):
    """Why containment: the document carrying the paragraph is far from the abstract by Jaccard (0.34 on word
    5-grams), so near dedup at 0.8 would keep it."""
    embedded = shingles(case["training"]["embedded"], 5)
    assert jaccard(embedded, shingles("\n\n".join(case["abstract"]), 5)) < 0.4


@pytest.mark.parametrize("settings, expected", [
    ({"threshold": 0.9}, {"embedded"}),  # a changed word leaves its window's share at ~0.8
    ({"window": 100_000}, {"edited"}),  # one window per document: a paragraph is a small share of the abstract
    ({"threshold": 0.7}, {"edited", "embedded"}),
    ({"ngram": 13, "threshold": 0.7}, {"embedded"}),  # a changed word breaks 13 n-grams of a window, not 8
])
def test_each_setting_decides(case, settings, expected):
    """Threshold, window and n-gram length each change what is found."""
    assert set(_found(case, **settings)) == expected


@pytest.mark.parametrize("boilerplate, found", [(None, 2), (2, 0)])
def test_markup_shared_by_target_documents_is_ignored(boilerplate, found):
    """AG News's Washington Post articles end in the same HTML footer (22 word 8-grams): with two of them as the
    target, the other two, unrelated stories, hold 0.51 of a window through the footer alone; the boilerplate
    rule (n-grams in 2+ target documents ignored) leaves them at 0.12."""
    news = _news(2000)
    post = [text for text in news if "The Washington Post&lt;/B&gt;" in text]
    assert len(post) == 4
    targets = [TargetDocument(f"news.jsonl row {i}", "search", text) for i, text in enumerate(post[:2])]
    table = find_contamination([("shard-a", ["c", "d"], post[2:])],
                               TargetIndex(targets, ContaminationSettings(boilerplate_documents=boilerplate)))
    assert table.num_rows == found


@pytest.mark.parametrize("section, problem", [
    ("{threshold: 1.5}", "dedup.contamination.threshold"),
    ("{ngram: 0}", "dedup.contamination.ngram"),
    ("{boilerplate_documents: 1}", "dedup.contamination.boilerplate_documents"),
    ("{windw: 40}", "window"),  # an unknown key names the nearest valid one
])
def test_the_section_is_validated(tmp_path, section, problem):
    """dedup.contamination is checked at load, the error naming the key; null turns decontamination off."""
    from climb.core.config import ConfigError, load_config

    (tmp_path / "climb.yaml").write_text(f"corpus: {{paths: ['x']}}\ndedup: {{contamination: {section}}}\n")
    with pytest.raises(ConfigError, match=problem.replace(".", r"\.")):
        load_config(tmp_path / "climb.yaml")
    (tmp_path / "off.yaml").write_text("corpus: {paths: ['x']}\ndedup: {contamination: null}\n")
    assert load_config(tmp_path / "off.yaml").dedup.contamination is None
