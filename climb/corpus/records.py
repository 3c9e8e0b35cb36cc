"""What a reader yields: `RawRecord`s, the `quarantine:*` reasons, `ReaderOptions` and `record_from_mapping`.

Shared by every format reader (climb.corpus.readers, which re-exports every name here): a parsed record
becomes (text, id, metadata), or a stable reason with the detail and a snippet of the raw input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MALFORMED_JSON = "quarantine:malformed_json"
NOT_AN_OBJECT = "quarantine:not_an_object"
MALFORMED_CSV = "quarantine:malformed_csv"
UNDECODABLE = "quarantine:undecodable_bytes"
MISSING_TEXT = "quarantine:missing_text"
NON_STRING_TEXT = "quarantine:non_string_text"
EMPTY_TEXT = "quarantine:empty_text"
OVERSIZED = "quarantine:oversized"
MISSING_ID = "quarantine:missing_id"
DUPLICATE_ID = "quarantine:duplicate_id"
TRUNCATED = "quarantine:truncated_stream"
RAW_SNIPPET_CHARS = 300


class UnreadableFileError(RuntimeError):
    """The whole file cannot be read (missing, not the format its name says, corrupt from the start)."""


@dataclass(frozen=True)
class ReaderOptions:
    """What to take from each record (from the `corpus` section of the configuration)."""

    text_field: str | tuple[str, ...] = "text"
    id_field: str | None = None
    metadata_fields: tuple[str, ...] = ()
    txt_mode: str = "file"
    csv_header: bool = True
    csv_columns: tuple[str, ...] | None = None
    csv_delimiter: str = ","
    max_record_bytes: int = 8 * 1024 * 1024


@dataclass(frozen=True)
class RawRecord:
    row: int  # 1-based line (JSONL, CSV start line, TXT start line) or 0-based row (Parquet, datasets)
    text: str | None = None
    doc_id: str | None = None
    metadata: dict[str, str | None] = field(default_factory=dict)
    reason: str | None = None  # a quarantine:* reason when the record is unusable
    detail: str = ""
    raw: str = ""


_SURROGATES = re.compile("[\ud800-\udfff]")


def _snippet(value: Any) -> str:
    """The start of a raw record as valid UTF-8 (undecodable bytes become U+FFFD)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = value if isinstance(value, str) else repr(value)
    text = text[:RAW_SNIPPET_CHARS]
    return text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")


def _undecodable_field(values: dict[str, Any]) -> str | None:
    """The first field holding a surrogate: bytes that were not UTF-8, or a lone JSON escape like \\ud800."""
    for name, value in values.items():
        if isinstance(value, str) and _SURROGATES.search(value):
            return name
    return None


def record_from_mapping(row: int, obj: dict[str, Any], options: ReaderOptions, raw: str = "") -> RawRecord:
    """Text, id and metadata from one parsed record, or the reason it is unusable."""
    fields = (options.text_field,) if isinstance(options.text_field, str) else options.text_field
    parts = []
    for name in fields:
        if name not in obj or obj[name] is None:
            detail = f"no field {name!r}" if name not in obj else f"field {name!r} is null"
            return RawRecord(row, reason=MISSING_TEXT, detail=detail, raw=raw)
        if not isinstance(obj[name], str):
            kind = type(obj[name]).__name__
            return RawRecord(row, reason=NON_STRING_TEXT, detail=f"field {name!r} is {kind}", raw=raw)
        parts.append(obj[name])
    text = "\n\n".join(parts)
    checked = {"text": text, "id": obj.get(options.id_field) if options.id_field else None,
               **{name: obj.get(name) for name in options.metadata_fields}}
    bad_field = _undecodable_field(checked)
    if bad_field is not None:
        return RawRecord(row, reason=UNDECODABLE, detail=f"field {bad_field!r} is not valid UTF-8", raw=_snippet(raw))
    if len(text.encode("utf-8", errors="surrogatepass")) > options.max_record_bytes:
        return RawRecord(row, reason=OVERSIZED, detail=f"text over {options.max_record_bytes} bytes", raw=raw)
    doc_id = None
    if options.id_field is not None:
        value = obj.get(options.id_field)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            return RawRecord(row, reason=MISSING_ID, detail=f"field {options.id_field!r} = {value!r}", raw=raw)
        doc_id = str(value)
    metadata = {name: None if obj.get(name) is None else str(obj[name]) for name in options.metadata_fields}
    return RawRecord(row, text=text, doc_id=doc_id, metadata=metadata)
