"""The per-record rules of ingestion: settings from the `corpus` and `dedup` sections, normalisation, hash, length filters.

`IngestSettings` and `ReaderOptions` come from a `CorpusConfig`; `normalize_text`, `content_hash` and
`length_filter_reason` decide what one text becomes (climb.corpus.ingest, which re-exports every name here).
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass

from climb.core.config import CorpusConfig, DedupConfig
from climb.corpus.near_duplicates import NearSettings
from climb.corpus.records import ReaderOptions


@dataclass(frozen=True)
class IngestSettings:
    """Normalisation and length filters (see CorpusConfig); None disables a bound."""

    normalization: str = "NFC"
    min_chars: int | None = 20
    max_chars: int | None = None
    min_words: int | None = 3
    max_words: int | None = None
    near: NearSettings | None = None  # lexical near-duplicates (climb/corpus/near_duplicates.py); None: off


def reader_options(corpus: CorpusConfig) -> ReaderOptions:
    text_field = corpus.text_field if isinstance(corpus.text_field, str) else tuple(corpus.text_field)
    return ReaderOptions(
        text_field=text_field,
        id_field=corpus.id_field,
        metadata_fields=tuple(corpus.metadata_fields),
        txt_mode=corpus.txt_mode,
        csv_header=corpus.csv.header,
        csv_columns=tuple(corpus.csv.columns) if corpus.csv.columns else None,
        csv_delimiter=corpus.csv.delimiter,
        max_record_bytes=corpus.max_record_bytes,
    )


def ingest_settings(corpus: CorpusConfig, dedup: DedupConfig | None = None) -> IngestSettings:
    f = corpus.filters
    near = NearSettings(**dedup.near.model_dump()) if dedup is not None and dedup.near is not None else None
    return IngestSettings(corpus.normalization, f.min_chars, f.max_chars, f.min_words, f.max_words, near)


def normalize_text(text: str, form: str) -> str:
    """Unicode normal form, Unix newlines, no surrounding whitespace."""
    if form != "none":
        text = unicodedata.normalize(form, text)
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def length_filter_reason(text: str, n_words: int, settings: IngestSettings) -> str | None:
    """The first length bound the text breaks, as `filter:<bound>`, or None."""
    checks = (
        ("min_chars", settings.min_chars, len(text) < (settings.min_chars or 0)),
        ("max_chars", settings.max_chars, settings.max_chars is not None and len(text) > settings.max_chars),
        ("min_words", settings.min_words, n_words < (settings.min_words or 0)),
        ("max_words", settings.max_words, settings.max_words is not None and n_words > settings.max_words),
    )
    for name, bound, broken in checks:
        if bound is not None and broken:
            return f"filter:{name}"
    return None
