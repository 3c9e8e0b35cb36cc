"""Tests for the built-in demo corpus generator (climb.demo.corpus)."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import itertools
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from climb.demo.corpus import (
    DEFAULT_TARGET_MIXTURE,
    DOMAINS,
    SHARD_NAMES,
    DemoManifest,
    generate_demo_corpus,
)

_STOPWORDS = frozenset(
    """a about after all an and are as at be before by for from has have her his in into is it its
    more most no not of on one or our over said than that the their them then they this those three
    to two up was were when where which while who will with within would""".split()
)


# -------------------------------------------------------------------- helpers
def _read_shard(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Parsed records and raw malformed lines of one shard, whatever its format."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist(), []
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh)), []
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    records, malformed = [], []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            malformed.append(line)
    return records, malformed


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _corpus_docs(manifest: DemoManifest) -> list[dict[str, Any]]:
    """All generated (non-defect) corpus records across shards."""
    docs = []
    for name in SHARD_NAMES:
        records, _ = _read_shard(Path(manifest.corpus_dir) / name)
        docs += [r for r in records if str(r["id"]).startswith("demo-")]
    return docs


def _target_docs(manifest: DemoManifest) -> list[dict[str, Any]]:
    return _read_shard(Path(manifest.target_file))[0]


def _top_words(texts: list[str], k: int = 20) -> set[str]:
    words = (w for t in texts for w in re.findall(r"[a-z]+", t.lower()))
    counts = Counter(w for w in words if w not in _STOPWORDS and len(w) > 2)
    return {w for w, _ in counts.most_common(k)}


# ------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return generate_demo_corpus(tmp_path_factory.mktemp("demo"), seed=0)


# ---------------------------------------------------------------------- tests
def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    """Re-running, in place or in another folder, rewrites every file byte for byte."""
    first = generate_demo_corpus(tmp_path / "a", seed=3, n_documents=300, n_target_documents=50)
    before = _snapshot(tmp_path / "a")
    again = generate_demo_corpus(tmp_path / "a", seed=3, n_documents=300, n_target_documents=50)
    generate_demo_corpus(tmp_path / "b", seed=3, n_documents=300, n_target_documents=50)
    assert again == first
    assert len(before) == len(SHARD_NAMES) + 2
    assert _snapshot(tmp_path / "a") == before
    assert _snapshot(tmp_path / "b") == before
    assert not list((tmp_path / "a").rglob(".*.tmp"))  # no temp files left behind
    assert before["corpus/news_01.jsonl.gz"][4:8] == b"\0\0\0\0"  # gzip mtime field is zeroed


def test_different_seed_gives_different_text(tmp_path: Path) -> None:
    """A different seed changes the corpus and target texts, not just their order."""
    a = generate_demo_corpus(tmp_path / "a", seed=0, n_documents=200, n_target_documents=40)
    b = generate_demo_corpus(tmp_path / "b", seed=1, n_documents=200, n_target_documents=40)
    texts_a = {d["text"] for d in _corpus_docs(a)}
    texts_b = {d["text"] for d in _corpus_docs(b)}
    assert len(texts_a & texts_b) == 0
    assert {d["text"] for d in _target_docs(a)}.isdisjoint(d["text"] for d in _target_docs(b))


@pytest.mark.parametrize("shard", SHARD_NAMES)
def test_shard_counts_match_manifest(demo: DemoManifest, shard: str) -> None:
    """Every shard reads back with the declared record and per-domain counts."""
    records, malformed = _read_shard(Path(demo.corpus_dir) / shard)
    assert len(records) + len(malformed) == demo.shards[shard]
    generated = Counter(r["domain"] for r in records if r["id"].startswith("demo-"))
    assert {d: generated[d] for d in DOMAINS} == demo.shard_domain_counts[shard]
    assert all(set(r) <= {"id", "text", "domain"} for r in records)


def test_corpus_totals_match_manifest(demo: DemoManifest) -> None:
    """Generated documents sum to n_documents with the declared, unequal domain sizes."""
    docs = _corpus_docs(demo)
    assert len(docs) == demo.n_documents == sum(demo.domain_counts.values())
    assert dict(Counter(d["domain"] for d in docs)) == demo.domain_counts
    assert demo.domain_counts == {
        "sports": 720, "finance": 528, "cooking": 384, "medicine": 336, "astronomy": 240, "law": 192,
    }
    words = Counter()
    for d in docs:
        words[d["domain"]] += len(d["text"].split())
    assert dict(words) == demo.token_estimate
    assert demo.expected["input_records"] == sum(demo.shards.values()) == demo.n_documents + 9


def test_defects_present_as_declared(demo: DemoManifest) -> None:
    """Exactly the declared defects exist, in the declared shards, and nowhere else."""
    kinds = {d["kind"]: d for d in demo.defects}
    assert {k: (d["shard"], d["count"]) for k, d in kinds.items()} == {
        "malformed_json": ("news_00.jsonl", 1),
        "empty_text": ("news_00.jsonl", 1),
        "missing_text": ("news_00.jsonl", 1),
        "non_string_text": ("news_00.jsonl", 1),
        "exact_duplicate": ("part_04.jsonl", 3),
        "too_short": ("part_04.jsonl", 2),
    }
    assert demo.expected == {
        "input_records": demo.n_documents + 9, "quarantined": 4, "duplicates": 3, "short": 2,
        "clean": demo.n_documents,
    }
    news, malformed = _read_shard(Path(demo.corpus_dir) / "news_00.jsonl")
    by_id = {r["id"]: r for r in news}
    assert len(malformed) == 1 and malformed[0].startswith('{"id": "broken-1"')
    assert by_id[kinds["empty_text"]["ids"][0]]["text"] == ""
    assert "text" not in by_id[kinds["missing_text"]["ids"][0]]
    assert not isinstance(by_id[kinds["non_string_text"]["ids"][0]]["text"], str)

    part4 = {r["id"]: r for r in _read_shard(Path(demo.corpus_dir) / "part_04.jsonl")[0]}
    dup = kinds["exact_duplicate"]
    for dup_id, original_id in zip(dup["ids"], dup["duplicate_of"], strict=True):
        assert part4[dup_id]["text"] == by_id[original_id]["text"]
        assert part4[dup_id]["domain"] == by_id[original_id]["domain"]
    assert all(2 <= len(part4[i]["text"].split()) <= 3 for i in kinds["too_short"]["ids"])

    # Outside the declared ids every record is a well-formed generated document.
    declared = {i for d in demo.defects for i in d["ids"]}
    for shard in SHARD_NAMES:
        for r in _read_shard(Path(demo.corpus_dir) / shard)[0]:
            if r["id"] not in declared:
                assert r["id"].startswith("demo-") and isinstance(r["text"], str) and r["domain"] in DOMAINS


@pytest.mark.parametrize(
    ("mixture", "n_target", "expected"),
    [
        (None, 240, {"medicine": 168, "cooking": 72}),
        ({"law": 1.0, "astronomy": 1.0}, 101, {"astronomy": 51, "law": 50}),
        ({"sports": 0.5, "finance": 0.25, "cooking": 0.25}, 40, {"sports": 20, "finance": 10, "cooking": 10}),
        ({"medicine": 1.0}, 17, {"medicine": 17}),
    ],
)
def test_target_counts_follow_mixture(
    tmp_path: Path, mixture: dict[str, float] | None, n_target: int, expected: dict[str, int]
) -> None:
    """The target set has exact per-domain counts from the mixture and no corpus text."""
    m = generate_demo_corpus(tmp_path, n_documents=120, n_target_documents=n_target, target_mixture=mixture)
    target = _target_docs(m)
    assert len(target) == n_target == m.n_target_documents
    assert dict(Counter(d["domain"] for d in target)) == expected == m.target_counts
    weights = mixture or DEFAULT_TARGET_MIXTURE
    assert m.target_mixture == pytest.approx({d: w / sum(weights.values()) for d, w in weights.items()})
    assert {d["text"] for d in target}.isdisjoint(d["text"] for d in _corpus_docs(m))
    assert all(d["id"].startswith("target-") for d in target)


def test_domains_are_lexically_distinct(demo: DemoManifest) -> None:
    """Each domain's top-20 content words are mostly its own (mean pairwise Jaccard < 0.2)."""
    docs = _corpus_docs(demo)
    tops = {dom: _top_words([d["text"] for d in docs if d["domain"] == dom]) for dom in DOMAINS}
    pairs = itertools.combinations(DOMAINS, 2)
    jaccards = [len(tops[a] & tops[b]) / len(tops[a] | tops[b]) for a, b in pairs]
    assert sum(jaccards) / len(jaccards) < 0.2
    assert max(jaccards) < 0.35


def test_no_accidental_duplicate_texts(demo: DemoManifest) -> None:
    """Apart from the declared duplicates, all corpus and target texts are unique."""
    texts = [d["text"] for d in _corpus_docs(demo)] + [d["text"] for d in _target_docs(demo)]
    assert len(set(texts)) == len(texts)


def test_document_shape_and_lengths(demo: DemoManifest) -> None:
    """Documents are a title line plus 3-10 sentences, 40-260 words in total."""
    for d in _corpus_docs(demo) + _target_docs(demo):
        title, _, body = d["text"].partition("\n\n")
        assert title and "\n" not in title and body
        assert 40 <= len(d["text"].split()) <= 260
        assert 3 <= len(re.findall(r"(?<!Dr)(?<!St)[.!?](?:\s|$)", body)) <= 10  # "Dr." is no sentence end


def test_manifest_file_mirrors_dataclass(demo: DemoManifest) -> None:
    """manifest.json equals to_json(), uses relative paths, and load() round-trips."""
    root = Path(demo.out_dir)
    text = (root / "manifest.json").read_text(encoding="utf-8")
    assert text == demo.to_json()
    data = json.loads(text)
    assert list(data) == sorted(data) and "out_dir" not in data
    assert (data["corpus_dir"], data["target_dir"]) == ("corpus", "target")
    assert DemoManifest.load(root) == demo
    assert sorted(p.name for p in Path(demo.corpus_dir).iterdir()) == sorted(SHARD_NAMES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"target_mixture": {"poetry": 1.0}},
        {"target_mixture": {"law": -0.5, "cooking": 1.0}},
        {"target_mixture": {"law": 0.0}},
        {"n_documents": 10},
        {"n_target_documents": 0},
        {"seed": -1},
    ],
)
def test_invalid_arguments_raise(tmp_path: Path, kwargs: dict[str, Any]) -> None:
    """Bad mixtures, sizes and seeds fail fast with ValueError and write nothing."""
    with pytest.raises(ValueError):
        generate_demo_corpus(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()
