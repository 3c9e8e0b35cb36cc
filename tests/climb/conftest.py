"""Shared fixtures of the engine tests: files of records, a storage root, and csv's global limit."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from climb.core.storage import Storage


def _line(record: Any) -> bytes:
    """A dict becomes a JSON line; str and bytes are taken as the raw line (without its newline)."""
    if isinstance(record, bytes):
        return record + b"\n"
    if isinstance(record, str):
        return record.encode("utf-8") + b"\n"
    return json.dumps(record).encode("utf-8") + b"\n"


@pytest.fixture
def jsonl_bytes() -> Callable[[Iterable[Any]], bytes]:
    """The bytes of a JSONL file from dicts (JSON lines) and raw str/bytes lines."""

    def make(records: Iterable[Any]) -> bytes:
        return b"".join(_line(r) for r in records)

    return make


@pytest.fixture
def write_jsonl(tmp_path: Path, jsonl_bytes) -> Callable[..., Path]:
    """Write a JSONL file under tmp_path (folders created) and return its path."""

    def make(name: str, records: Iterable[Any]) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jsonl_bytes(records))
        return path

    return make


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    """A local storage root in tmp_path."""
    return Storage(str(tmp_path / "home"))


@pytest.fixture(autouse=True)
def _restore_csv_field_size_limit():
    """read_csv sets csv's process-wide field size limit; put it back so tests stay independent."""
    limit = csv.field_size_limit()
    yield
    csv.field_size_limit(limit)
