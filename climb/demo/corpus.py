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
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from climb.demo.grammar import DOMAIN_GRAMMARS, NEUTRAL_SENTENCES, NEUTRAL_SLOTS

# ------------------------------------------------------------------ constants
DOMAINS: tuple[str, ...] = ("sports", "finance", "cooking", "medicine", "astronomy", "law")
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
MANIFEST_FILE = "manifest.json"

MIN_SENTENCES, MAX_SENTENCES = 3, 10
MIN_WORDS, MAX_WORDS = 60, 220  # whole document, title included
NEUTRAL_RATE = 0.08  # share of body sentences taken from the shared neutral pool
MIN_DOCUMENTS = 50  # every shard needs enough documents to host its defects

# Independent random streams, so e.g. changing n_target_documents never
# changes the corpus and target texts cannot collide by construction of state.
_CORPUS_STREAM, _TARGET_STREAM, _LAYOUT_STREAM = 0, 1, 2

# Deliberate defects (extra records on top of n_documents).
_MALFORMED_LINE = '{"id": "broken-1", "text": "unterminated'
_SHORT_TEXTS = ("Read more.", "Click here now.")
_N_DUPLICATES = 3
_DEFECT_SHARD, _DUPLICATE_SHARD = SHARD_NAMES[0], SHARD_NAMES[4]

_SLOT_RE = re.compile(r"\{([a-z_]+?)(?:_(\d+))?\}")


# -------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class _Template:
    """A template split into literals and (slot, variant) keys, compiled once."""

    literals: tuple[str, ...]  # len(keys) + 1 pieces around the slots
    keys: tuple[tuple[str, str], ...]


def _compile(template: str, slots: Mapping[str, Sequence[str]]) -> _Template:
    keys = tuple((m.group(1), m.group(2) or "") for m in _SLOT_RE.finditer(template))
    missing = sorted({name for name, _ in keys if name not in slots})
    if missing:
        raise KeyError(f"template {template!r} uses unknown slots {missing}")
    return _Template(tuple(_SLOT_RE.split(template)[::3]), keys)


@dataclass(frozen=True)
class _CompiledGrammar:
    titles: tuple[_Template, ...]
    sentences: tuple[_Template, ...]
    slots: Mapping[str, tuple[str, ...]]


def _compile_grammars() -> dict[str, _CompiledGrammar]:
    out = {}
    for domain in DOMAINS:
        g = DOMAIN_GRAMMARS[domain]
        slots = {**NEUTRAL_SLOTS, **g.slots}
        out[domain] = _CompiledGrammar(
            tuple(_compile(t, slots) for t in g.titles),
            tuple(_compile(t, slots) for t in g.sentences),
            slots,
        )
    return out


_GRAMMARS = _compile_grammars()
_NEUTRAL = tuple(_compile(t, NEUTRAL_SLOTS) for t in NEUTRAL_SENTENCES)


class _Draws:
    """Uniform draws served from numpy blocks: one Generator call per block is
    far cheaper than one per slot, and stays a pure function of the seed."""

    def __init__(self, rng: np.random.Generator, block: int = 8192) -> None:
        self._rng, self._block = rng, block
        self._buf: list[float] = []
        self._i = 0

    def uniform(self) -> float:
        if self._i == len(self._buf):
            self._buf, self._i = self._rng.random(self._block).tolist(), 0
        self._i += 1
        return self._buf[self._i - 1]

    def below(self, n: int) -> int:
        return min(int(self.uniform() * n), n - 1)


def _fill(template: _Template, slots: Mapping[str, tuple[str, ...]], draws: _Draws) -> str:
    """Instantiate a template; ``{x}`` and ``{x_2}`` get different values."""
    chosen: dict[tuple[str, str], str] = {}
    parts = [template.literals[0]]
    for key, literal in zip(template.keys, template.literals[1:]):
        if key not in chosen:
            vocab = slots[key[0]]
            taken = {v for (name, _), v in chosen.items() if name == key[0]}
            value = vocab[draws.below(len(vocab))]
            while value in taken:
                value = vocab[draws.below(len(vocab))]
            chosen[key] = value
        parts += (chosen[key], literal)
    text = "".join(parts)
    return text[:1].upper() + text[1:]


def _document(domain: str, draws: _Draws) -> str:
    """Title line, blank line, then 3-10 non-repeating sentences (60-220 words)."""
    grammar = _GRAMMARS[domain]
    title = _fill(grammar.titles[draws.below(len(grammar.titles))], grammar.slots, draws)
    n_wanted = MIN_SENTENCES + draws.below(MAX_SENTENCES - MIN_SENTENCES + 1)
    words, body, used = len(title.split()), [], set()
    while len(body) < MAX_SENTENCES and (len(body) < n_wanted or words < MIN_WORDS):
        neutral = draws.uniform() < NEUTRAL_RATE
        pool, slots = (_NEUTRAL, NEUTRAL_SLOTS) if neutral else (grammar.sentences, grammar.slots)
        index = draws.below(len(pool))
        if (id(pool), index) in used:  # a real article does not repeat a sentence
            continue
        used.add((id(pool), index))
        sentence = _fill(pool[index], slots, draws)
        n = len(sentence.split())
        if words + n > MAX_WORDS and len(body) >= MIN_SENTENCES:
            break
        body.append(sentence)
        words += n
    return f"{title}\n\n{' '.join(body)}"


def _documents(domains: Sequence[str], draws: _Draws, taken: set[str]) -> list[str]:
    """One unique document per entry of ``domains``; texts in ``taken`` are
    avoided (and the new ones added), so no accidental duplicates exist."""
    texts = []
    for domain in domains:
        text = _document(domain, draws)
        while text in taken:
            text = _document(domain, draws)
        taken.add(text)
        texts.append(text)
    return texts


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
@dataclass(frozen=True)
class DemoManifest:
    """What ``generate_demo_corpus`` wrote; mirrors ``manifest.json``.

    Paths are absolute here and relative to ``out_dir`` in the JSON file, so a
    generated folder can be moved.  ``expected`` is the accounting a correct
    ingestion must reproduce: ``input_records`` counts every physical record
    (the malformed line included), ``quarantined`` the unparseable/invalid
    ones, ``duplicates`` the exact copies, ``short`` the too-short texts and
    ``clean`` what remains (== n_documents).
    """

    seed: int
    n_documents: int
    n_target_documents: int
    out_dir: str
    corpus_dir: str
    target_dir: str
    target_file: str
    domains: tuple[str, ...]
    domain_shares: dict[str, float]
    domain_counts: dict[str, int]
    token_estimate: dict[str, int]  # whitespace words of the clean corpus, per domain
    shards: dict[str, int]  # file name -> records written, defects included
    shard_domain_counts: dict[str, dict[str, int]]  # generated documents only, defects excluded
    defects: tuple[dict[str, Any], ...]
    target_mixture: dict[str, float]
    target_counts: dict[str, int]
    target_token_estimate: dict[str, int]
    expected: dict[str, int]

    _PATH_FIELDS = ("corpus_dir", "target_dir", "target_file")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with paths relative to ``out_dir`` (``out_dir`` omitted)."""
        data = asdict(self)
        root = Path(data.pop("out_dir"))
        for key in self._PATH_FIELDS:
            data[key] = Path(data[key]).relative_to(root).as_posix()
        data["domains"] = list(self.domains)
        data["defects"] = list(self.defects)
        return data

    def to_json(self) -> str:
        """The exact contents of ``manifest.json`` (sorted keys, indent 2)."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2) + "\n"

    @classmethod
    def load(cls, out_dir: str | os.PathLike[str]) -> DemoManifest:
        """Read ``manifest.json`` from a generated folder, resolving paths against it."""
        root = Path(out_dir).resolve()
        data = json.loads((root / MANIFEST_FILE).read_text(encoding="utf-8"))
        for key in cls._PATH_FIELDS:
            data[key] = str(root / data[key])
        data["domains"] = tuple(data["domains"])
        data["defects"] = tuple(data["defects"])
        return cls(out_dir=str(root), **data)


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
