"""Deterministic generator of the built-in demo corpus.

The demo corpus stands in for a real pre-training corpus so the whole CLIMB
pipeline (ingest -> embed -> cluster -> proxy training -> mixture search) can
run offline.  Documents come from six template grammars (``demo_grammar``)
whose vocabularies barely overlap, so the domains form clearly separate
embedding clusters, while a few shared neutral sentences keep them from being
trivially disjoint.  Domains have unequal sizes, the corpus is spread over
shards in several formats with a handful of deliberate defects for the
ingestion accounting, and a target set is drawn from a known mixture of
domains, which is the answer the mixture search should recover.

Everything is a pure function of the arguments: the same call writes
byte-identical files.

Documents are drawn by ``climb.demo.templates``; ``climb.demo.manifest`` holds the manifest.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climb.demo.manifest import MANIFEST_FILE, DemoManifest
from climb.demo.templates import (DOMAINS, MAX_SENTENCES, MAX_WORDS, MIN_SENTENCES, MIN_WORDS, NEUTRAL_RATE, _documents,
                                  _Draws)

__all__ = ["CORPUS_SUBDIR", "DEFAULT_TARGET_MIXTURE", "DOMAINS", "DOMAIN_SHARES", "MANIFEST_FILE", "MAX_SENTENCES",
           "MAX_WORDS", "MIN_DOCUMENTS", "MIN_SENTENCES", "MIN_WORDS", "NEUTRAL_RATE", "SHARD_NAMES", "TARGET_FILE",
           "TARGET_SUBDIR", "DemoManifest", "generate_demo_corpus"]

# ------------------------------------------------------------------ constants
# Unequal on purpose: token shares of the natural corpus must not be uniform.
DOMAIN_SHARES: Mapping[str, float] = MappingProxyType(
    {"sports": 0.30, "finance": 0.22, "cooking": 0.16, "medicine": 0.14, "astronomy": 0.10, "law": 0.08}
)
DEFAULT_TARGET_MIXTURE: Mapping[str, float] = MappingProxyType({"medicine": 0.7, "cooking": 0.3})
SHARD_NAMES: tuple[str, ...] = (
    "news_00.jsonl",
    "news_01.jsonl.gz",
    "part_02.parquet",
    "part_03.csv",
    "part_04.jsonl",
)
CORPUS_SUBDIR = "corpus"
TARGET_SUBDIR = "target"
TARGET_FILE = "target.jsonl"

MIN_DOCUMENTS = 50  # every shard needs enough documents to host its defects

# Independent random streams, so e.g. changing n_target_documents never
# changes the corpus and target texts cannot collide by construction of state.
_CORPUS_STREAM, _TARGET_STREAM, _LAYOUT_STREAM = 0, 1, 2

# Deliberate defects (extra records on top of n_documents).
_MALFORMED_LINE = '{"id": "broken-1", "text": "unterminated'
_SHORT_TEXTS = ("Read more.", "Click here now.")
_N_DUPLICATES = 3
_DEFECT_SHARD, _DUPLICATE_SHARD = SHARD_NAMES[0], SHARD_NAMES[4]


# -------------------------------------------------------------------- helpers
def _apportion(shares: Mapping[str, float], total: int) -> dict[str, int]:
    """Exact integer counts summing to ``total`` (largest-remainder rounding)."""
    norm = sum(shares.values())
    raw = {k: round(v / norm * total, 9) for k, v in shares.items()}
    counts = {k: math.floor(r) for k, r in raw.items()}
    by_remainder = sorted(raw, key=lambda k: (-(raw[k] - counts[k]), list(raw).index(k)))
    for k in by_remainder[: total - sum(counts.values())]:
        counts[k] += 1
    return counts


def _normalise_mixture(mixture: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(mixture) - set(DOMAINS))
    if unknown:
        raise ValueError(f"unknown domains in target_mixture: {unknown}; expected a subset of {DOMAINS}")
    if any(not math.isfinite(w) or w < 0 for w in mixture.values()) or sum(mixture.values()) <= 0:
        raise ValueError(f"target_mixture weights must be finite, >= 0 and not all zero: {dict(mixture)}")
    total = sum(mixture.values())
    return {d: float(mixture[d]) / total for d in DOMAINS if d in mixture}


def _shuffled_domains(counts: Mapping[str, int], rng: np.random.Generator) -> list[str]:
    labels = [d for d, c in counts.items() for _ in range(c)]
    return [labels[i] for i in rng.permutation(len(labels))]


def _record(doc_id: str, text: Any, domain: str) -> dict[str, Any]:
    return {"id": doc_id, "text": text, "domain": domain}


def _insert_randomly(records: list, extras: Sequence, rng: np.random.Generator) -> None:
    """Scatter defect records through a shard (not all at the end)."""
    for extra in extras:
        records.insert(int(rng.integers(0, len(records) + 1)), extra)


def _jsonl_bytes(records: Sequence[dict[str, Any] | str]) -> bytes:
    # A str record is a raw (malformed) line written verbatim.
    lines = (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records)
    return "".join(f"{line}\n" for line in lines).encode("utf-8")


def _shard_bytes(name: str, records: Sequence[dict[str, Any] | str]) -> bytes:
    if name.endswith(".jsonl"):
        return _jsonl_bytes(records)
    if name.endswith(".jsonl.gz"):
        return gzip.compress(_jsonl_bytes(records), mtime=0)  # no timestamp, no file name
    if name.endswith(".parquet"):
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_pylist(list(records)), sink)
        return sink.getvalue().to_pybytes()
    if name.endswith(".csv"):
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(
            buf, fieldnames=["id", "text", "domain"], quoting=csv.QUOTE_MINIMAL, lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(records)
        return buf.getvalue().encode("utf-8")
    raise ValueError(f"no writer for shard {name!r}")


def _atomic_write(path: Path, data: bytes) -> None:
    """Readers never see a half-written file: write a sibling temp file, then rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _word_counts(texts: Sequence[str], domains: Sequence[str], keys: Sequence[str]) -> dict[str, int]:
    out = dict.fromkeys(keys, 0)
    for text, domain in zip(texts, domains):
        out[domain] += len(text.split())
    return out


# ---------------------------------------------------------------- public API
def generate_demo_corpus(
    out_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    n_documents: int = 2400,
    n_target_documents: int = 240,
    target_mixture: Mapping[str, float] | None = None,
) -> DemoManifest:
    """Write the demo corpus shards, the target set and ``manifest.json`` into ``out_dir``.

    ``n_documents`` clean corpus documents (defects come on top) and
    ``n_target_documents`` target documents whose domains follow
    ``target_mixture`` exactly up to rounding (default 70% medicine, 30% cooking).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if n_documents < MIN_DOCUMENTS:
        raise ValueError(f"n_documents must be >= {MIN_DOCUMENTS}, got {n_documents}")
    if n_target_documents < 1:
        raise ValueError(f"n_target_documents must be >= 1, got {n_target_documents}")
    mixture = _normalise_mixture(DEFAULT_TARGET_MIXTURE if target_mixture is None else target_mixture)
    seed = int(seed)

    # Corpus documents, ids in generation order; domains interleaved at random.
    corpus_rng = np.random.default_rng([seed, _CORPUS_STREAM])
    domain_counts = _apportion(DOMAIN_SHARES, n_documents)
    corpus_domains = _shuffled_domains(domain_counts, corpus_rng)
    seen: set[str] = set()
    corpus_texts = _documents(corpus_domains, _Draws(corpus_rng), seen)
    corpus = [_record(f"demo-{i:06d}", t, d) for i, (t, d) in enumerate(zip(corpus_texts, corpus_domains))]

    # Target set: its own stream, and `seen` rules out any text of the corpus.
    target_rng = np.random.default_rng([seed, _TARGET_STREAM])
    target_counts = _apportion(mixture, n_target_documents)
    target_domains = _shuffled_domains(target_counts, target_rng)
    target_texts = _documents(target_domains, _Draws(target_rng), seen)
    target = [_record(f"target-{i:06d}", t, d) for i, (t, d) in enumerate(zip(target_texts, target_domains))]

    # Shard layout: shuffle, split, then scatter the defects.
    layout_rng = np.random.default_rng([seed, _LAYOUT_STREAM])
    chunks = np.array_split(layout_rng.permutation(n_documents), len(SHARD_NAMES))
    shard_records: dict[str, list] = {
        name: [corpus[i] for i in chunk] for name, chunk in zip(SHARD_NAMES, chunks)
    }
    shard_domain_counts = {
        name: {d: sum(r["domain"] == d for r in recs) for d in DOMAINS}
        for name, recs in shard_records.items()
    }

    def pick_domain() -> str:
        return DOMAINS[int(layout_rng.integers(len(DOMAINS)))]

    invalid = [
        ("malformed_json", _MALFORMED_LINE, "broken-1"),
        ("empty_text", _record("bad-empty-1", "", pick_domain()), "bad-empty-1"),
        ("missing_text", {"id": "bad-missing-1", "domain": pick_domain()}, "bad-missing-1"),
        ("non_string_text", _record("bad-nonstring-1", 404, pick_domain()), "bad-nonstring-1"),
    ]
    originals = [
        shard_records[_DEFECT_SHARD][i]
        for i in sorted(layout_rng.choice(len(shard_records[_DEFECT_SHARD]), _N_DUPLICATES, replace=False))
    ]
    duplicates = [_record(f"dup-{k:06d}", r["text"], r["domain"]) for k, r in enumerate(originals, start=1)]
    shorts = [_record(f"short-{k}", t, pick_domain()) for k, t in enumerate(_SHORT_TEXTS, start=1)]
    _insert_randomly(shard_records[_DEFECT_SHARD], [rec for _, rec, _ in invalid], layout_rng)
    _insert_randomly(shard_records[_DUPLICATE_SHARD], duplicates + shorts, layout_rng)

    defects = tuple(
        [{"shard": _DEFECT_SHARD, "kind": kind, "count": 1, "ids": [doc_id]} for kind, _, doc_id in invalid]
        + [
            {
                "shard": _DUPLICATE_SHARD,
                "kind": "exact_duplicate",
                "count": len(duplicates),
                "ids": [r["id"] for r in duplicates],
                "duplicate_of": [r["id"] for r in originals],
                "duplicate_of_shard": _DEFECT_SHARD,
            },
            {
                "shard": _DUPLICATE_SHARD,
                "kind": "too_short",
                "count": len(shorts),
                "ids": [r["id"] for r in shorts],
            },
        ]
    )

    root = Path(out_dir).resolve()
    corpus_dir, target_dir = root / CORPUS_SUBDIR, root / TARGET_SUBDIR
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, records in shard_records.items():
        _atomic_write(corpus_dir / name, _shard_bytes(name, records))
    _atomic_write(target_dir / TARGET_FILE, _jsonl_bytes(target))

    shards = {name: len(records) for name, records in shard_records.items()}
    manifest = DemoManifest(
        seed=seed,
        n_documents=n_documents,
        n_target_documents=n_target_documents,
        out_dir=str(root),
        corpus_dir=str(corpus_dir),
        target_dir=str(target_dir),
        target_file=str(target_dir / TARGET_FILE),
        domains=DOMAINS,
        domain_shares=dict(DOMAIN_SHARES),
        domain_counts=domain_counts,
        token_estimate=_word_counts(corpus_texts, corpus_domains, DOMAINS),
        shards=shards,
        shard_domain_counts=shard_domain_counts,
        defects=defects,
        target_mixture=mixture,
        target_counts=target_counts,
        target_token_estimate=_word_counts(target_texts, target_domains, list(mixture)),
        expected={
            "input_records": sum(shards.values()),
            "quarantined": len(invalid),
            "duplicates": len(duplicates),
            "short": len(shorts),
            "clean": n_documents,
        },
    )
    # Written last, so its presence means the folder is complete.
    _atomic_write(root / MANIFEST_FILE, manifest.to_json().encode("utf-8"))
    return manifest
