"""Tests for the format readers (climb.corpus.readers): records out, and every bad input with its reason and row."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from climb.corpus.readers import (
    MALFORMED_CSV,
    MALFORMED_JSON,
    MISSING_ID,
    MISSING_TEXT,
    NON_STRING_TEXT,
    NOT_AN_OBJECT,
    OVERSIZED,
    TRUNCATED,
    UNDECODABLE,
    RawRecord,
    ReaderOptions,
    UnreadableFileError,
    read_shard,
)
from climb.corpus.shards import HF_DATASET, Shard

ROWS = [
    {"id": "d1", "text": "first document", "label": "news"},
    {"id": "d2", "text": "second document", "label": None},
    {"id": 3, "text": "third document", "label": "web"},
]
OPTIONS = ReaderOptions(id_field="id", metadata_fields=("label",))
EXPECTED = [("first document", "d1", {"label": "news"}), ("second document", "d2", {"label": None}),
            ("third document", "3", {"label": "web"})]


def _read(path: Path, fmt: str, options: ReaderOptions = ReaderOptions()) -> list[RawRecord]:
    return list(read_shard(Shard(key=path.name, uri=str(path), format=fmt), options))


def _good(records: list[RawRecord]) -> list[tuple]:
    return [(r.text, r.doc_id, r.metadata) for r in records]


def _bad(records: list[RawRecord]) -> list[tuple[int, str]]:
    return [(r.row, r.reason) for r in records if r.reason is not None]


# ------------------------------------------------------------------------------ good records, every format
def _write_format(tmp_path: Path, fmt: str) -> Path:
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in ROWS)
    if fmt == "jsonl":
        path = tmp_path / "s.jsonl"
        path.write_bytes(lines)
    elif fmt == "jsonl.gz":
        path = tmp_path / "s.jsonl.gz"
        path.write_bytes(gzip.compress(lines))
    elif fmt == "jsonl.zst":
        path = tmp_path / "s.jsonl.zst"
        path.write_bytes(zstandard.ZstdCompressor().compress(lines))
    elif fmt == "parquet":
        path = tmp_path / "s.parquet"
        table = pa.table({"id": [str(r["id"]) for r in ROWS], "text": [r["text"] for r in ROWS],
                          "label": [r["label"] for r in ROWS]})
        pq.write_table(table, path, row_group_size=2)  # rows span two row groups
    return path


@pytest.mark.parametrize(
    "fmt, rows",
    [("jsonl", [1, 2, 3]), ("jsonl.gz", [1, 2, 3]), ("jsonl.zst", [1, 2, 3]), ("parquet", [0, 1, 2])],
)
def test_record_formats_give_texts_ids_metadata_rows(tmp_path, fmt, rows):
    """JSONL (plain, gzip, zstd) and Parquet yield text, id, metadata; rows 1-based lines / 0-based rows."""
    records = _read(_write_format(tmp_path, fmt), fmt, OPTIONS)
    assert _bad(records) == []
    assert _good(records) == EXPECTED
    assert [r.row for r in records] == rows


def test_csv_with_header(tmp_path):
    """CSV with a header: columns by name, rows are 1-based line numbers (header is line 1)."""
    path = tmp_path / "s.csv"
    path.write_text('id,text,label\nd1,first document,news\nd2,"second, quoted\ndocument",web\n\nd3,third,\n',
                    encoding="utf-8")
    records = _read(path, "csv", OPTIONS)
    assert _good(records) == [("first document", "d1", {"label": "news"}),
                              ("second, quoted\ndocument", "d2", {"label": "web"}),
                              ("third", "d3", {"label": ""})]
    assert [r.row for r in records] == [2, 3, 6]  # a quoted multi-line field starts at line 3; line 5 is blank


def test_csv_without_header_uses_columns(tmp_path):
    """CSV without a header takes column names from csv.columns; the first line is a record."""
    path = tmp_path / "s.csv"
    path.write_text("d1;first document\nd2;second document\n", encoding="utf-8")
    options = ReaderOptions(id_field="id", csv_header=False, csv_columns=("id", "text"), csv_delimiter=";")
    records = _read(path, "csv", options)
    assert _good(records) == [("first document", "d1", {}), ("second document", "d2", {})]
    assert [r.row for r in records] == [1, 2]


def test_csv_without_header_or_columns_is_unreadable(tmp_path):
    """header: false without columns cannot name the fields: UnreadableFileError naming the file."""
    path = tmp_path / "s.csv"
    path.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=str(path)):
        _read(path, "csv", ReaderOptions(csv_header=False))


def test_empty_csv_gives_no_records(tmp_path):
    """An empty CSV file (no header) yields nothing."""
    path = tmp_path / "s.csv"
    path.write_bytes(b"")
    assert _read(path, "csv") == []


@pytest.mark.parametrize(
    "mode, expected",
    [
        ("file", [(1, "Para one\nline two\n\n\nPara two\n\nPara three")]),
        ("paragraphs", [(1, "Para one\nline two\n"), (5, "Para two\n"), (7, "Para three")]),
    ],
)
def test_txt_modes(tmp_path, mode, expected):
    """TXT: one document per file (row 1) or one per blank-line block (row = the block's first line)."""
    path = tmp_path / "s.txt"
    path.write_bytes(b"Para one\nline two\n\n\nPara two\n\nPara three")
    records = _read(path, "txt", ReaderOptions(txt_mode=mode, metadata_fields=("label",)))
    assert [(r.row, r.text) for r in records] == expected
    assert all(r.doc_id is None and r.metadata == {"label": None} for r in records)


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="needs the datasets package")
@pytest.mark.parametrize("as_dict", [False, True], ids=["dataset", "dataset-dict"])
def test_hf_dataset(tmp_path, as_dict):
    """A save_to_disk folder yields its rows 0-based, a DatasetDict's splits in name order."""
    import datasets

    first = datasets.Dataset.from_dict({"id": ["d1", "d2"], "text": ["first document", "second document"],
                                        "label": ["news", None]})
    second = datasets.Dataset.from_dict({"id": ["d3"], "text": ["third document"], "label": ["web"]})
    folder = tmp_path / "ds"
    if as_dict:
        datasets.DatasetDict({"b_split": second, "a_split": first}).save_to_disk(str(folder))
    else:
        datasets.concatenate_datasets([first, second]).save_to_disk(str(folder))
    records = _read(folder, HF_DATASET, OPTIONS)
    assert _good(records) == [("first document", "d1", {"label": "news"}), ("second document", "d2", {"label": None}),
                              ("third document", "d3", {"label": "web"})]
    assert [r.row for r in records] == [0, 1, 2]


def test_text_field_list_joins_with_blank_line(tmp_path, write_jsonl):
    """text_field as a list joins the fields, in order, with a blank line; any missing one is missing_text."""
    path = write_jsonl("s.jsonl", [{"title": "T", "body": "B"}, {"title": "T"}])
    records = _read(path, "jsonl", ReaderOptions(text_field=("title", "body")))
    assert records[0].text == "T\n\nB"
    assert (records[1].reason, records[1].detail) == (MISSING_TEXT, "no field 'body'")


def test_blank_jsonl_lines_are_not_records(tmp_path, write_jsonl):
    """Empty and whitespace-only JSONL lines are skipped, but still count for line numbers."""
    path = write_jsonl("s.jsonl", ["", {"text": "a"}, "   \t", "\r", {"text": "b"}, ""])
    records = _read(path, "jsonl")
    assert [(r.row, r.text) for r in records] == [(2, "a"), (5, "b")]


def test_missing_ids_and_metadata(tmp_path, write_jsonl):
    """Without id_field ids are None; a metadata field absent from a record is None."""
    path = write_jsonl("s.jsonl", [{"text": "a", "id": "x"}])
    (record,) = _read(path, "jsonl", ReaderOptions(metadata_fields=("label",)))
    assert (record.doc_id, record.metadata) == (None, {"label": None})


# ------------------------------------------------------------------------------ bad records, one reason each
@pytest.mark.parametrize(
    "line, options, reason",
    [
        (b'{"text": "unterminated', ReaderOptions(), MALFORMED_JSON),
        (b'["a", "list"]', ReaderOptions(), NOT_AN_OBJECT),
        (b'"a string"', ReaderOptions(), NOT_AN_OBJECT),
        (b'{"text": "caf\xe9 latin-1"}', ReaderOptions(), UNDECODABLE),
        (b'{"body": "no text field"}', ReaderOptions(), MISSING_TEXT),
        (b'{"text": null}', ReaderOptions(), MISSING_TEXT),
        (b'{"text": 42}', ReaderOptions(), NON_STRING_TEXT),
        (b'{"text": ["a", "b"]}', ReaderOptions(), NON_STRING_TEXT),
        (b'{"text": {"nested": "x"}}', ReaderOptions(), NON_STRING_TEXT),
        (b'{"text": "' + b"x" * 200 + b'"}', ReaderOptions(max_record_bytes=64), OVERSIZED),
        (b'{"text": "fine"}', ReaderOptions(id_field="id"), MISSING_ID),
        (b'{"text": "fine", "id": null}', ReaderOptions(id_field="id"), MISSING_ID),
        (b'{"text": "fine", "id": ""}', ReaderOptions(id_field="id"), MISSING_ID),
        (b'{"text": "fine", "id": true}', ReaderOptions(id_field="id"), MISSING_ID),
        (b'{"text": "fine", "id": 1.5}', ReaderOptions(id_field="id"), MISSING_ID),
    ],
    ids=["malformed-json", "array-line", "string-line", "invalid-utf8", "missing-text", "null-text", "number-text",
         "list-text", "object-text", "oversized-line", "missing-id", "null-id", "empty-id", "bool-id", "float-id"],
)
def test_jsonl_bad_record_reason_and_row(tmp_path, write_jsonl, line, options, reason):
    """Each bad JSONL line gives its stable reason at its 1-based line; the records around it are unaffected."""
    good = {"text": "fine", "id": "ok"}
    path = write_jsonl("s.jsonl", [good, line, good | {"id": "ok2"}])
    records = _read(path, "jsonl", options)
    assert len(records) == 3
    assert _bad(records) == [(2, reason)]
    assert records[1].text is None and records[1].detail
    assert records[0].text == records[2].text == "fine"


def test_oversized_text_in_record(tmp_path):
    """A parsed record whose text is over max_record_bytes is oversized (Parquet: no line to measure)."""
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"text": ["short", "é" * 40]}), path)  # 80 bytes in UTF-8
    records = _read(path, "parquet", ReaderOptions(max_record_bytes=64))
    assert _bad(records) == [(1, OVERSIZED)]


def test_quarantine_raw_keeps_a_snippet(tmp_path, write_jsonl):
    """A quarantined record carries a snippet of its raw input (at most RAW_SNIPPET_CHARS)."""
    path = write_jsonl("s.jsonl", ['{"oops": ' + "x" * 1000])
    (record,) = _read(path, "jsonl")
    assert record.raw.startswith('{"oops": xxx') and len(record.raw) == 300


@pytest.mark.parametrize(
    "data, options, expected",
    [
        (b"id,text\nd1,good text\nd2,bad \xff\xfe bytes\n", ReaderOptions(), [(3, UNDECODABLE)]),
        (b"id,text\nd1,good text\nd2,too,many\n", ReaderOptions(), [(3, MALFORMED_CSV)]),
        (b"id,text\nd1,good text\nd2\n", ReaderOptions(), [(3, MALFORMED_CSV)]),
        (b"id,text\nd1,good text\n,no id\n", ReaderOptions(id_field="id"), [(3, MISSING_ID)]),
        (b"id,body\nd1,good text\n", ReaderOptions(), [(2, MISSING_TEXT)]),
        (b"id,text\nd1,good text\nd2," + b"x" * 100 + b"\n", ReaderOptions(max_record_bytes=50), [(3, OVERSIZED)]),
    ],
    ids=["undecodable-field", "too-many-fields", "too-few-fields", "empty-id", "no-text-column", "oversized-field"],
)
def test_csv_bad_record_reason_and_row(tmp_path, data, options, expected):
    """Each bad CSV row gives its stable reason at its 1-based line."""
    path = tmp_path / "s.csv"
    path.write_bytes(data)
    assert _bad(_read(path, "csv", options)) == expected


def test_csv_rows_after_an_error_keep_their_lines(tmp_path):
    """After a malformed or oversized row, later rows still come out with the right line numbers."""
    path = tmp_path / "s.csv"
    path.write_bytes(b"text\n" + b"y" * 100 + b'\nshort\n"multi\nline"\nx,y\nlast\n')
    records = _read(path, "csv", ReaderOptions(max_record_bytes=50))
    assert [(r.row, r.reason, r.text) for r in records] == [
        (2, OVERSIZED, None), (3, None, "short"), (4, None, "multi\nline"), (6, MALFORMED_CSV, None), (7, None, "last"),
    ]


def test_txt_undecodable_paragraph(tmp_path):
    """In paragraphs mode only the block with invalid UTF-8 is undecodable_bytes, at its first line."""
    path = tmp_path / "s.txt"
    path.write_bytes(b"good one\n\nbad \xff block\nsecond line\n\ngood two\n")
    records = _read(path, "txt", ReaderOptions(txt_mode="paragraphs"))
    assert [(r.row, r.reason, r.text) for r in records] == [
        (1, None, "good one\n"), (3, UNDECODABLE, None), (6, None, "good two\n"),
    ]


def test_txt_oversized_block(tmp_path):
    """A TXT block over max_record_bytes is oversized."""
    path = tmp_path / "s.txt"
    path.write_bytes(b"tiny\n\n" + b"z" * 100 + b"\n")
    records = _read(path, "txt", ReaderOptions(txt_mode="paragraphs", max_record_bytes=50))
    assert _bad(records) == [(3, OVERSIZED)]


@pytest.mark.parametrize(
    "fmt",
    [
        "jsonl.gz",
        "jsonl.zst",
    ],
)
def test_truncated_stream_keeps_earlier_lines(tmp_path, fmt):
    """A compressed stream cut in half yields its complete earlier lines, then one truncated_stream record."""
    lines = [{"id": f"d{i}", "text": f"document number {i} " + "word " * 20} for i in range(2000)]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in lines)
    compressed = gzip.compress(data) if fmt == "jsonl.gz" else zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"s.{fmt}"
    path.write_bytes(compressed[: len(compressed) // 2])
    records = _read(path, fmt, ReaderOptions(id_field="id"))
    *good, last = records
    assert 0 < len(good) < len(lines)
    assert [(r.doc_id, r.text, r.row) for r in good] == [(r["id"], r["text"], i + 1) for i, r in enumerate(lines[: len(good)])]
    assert (last.reason, last.row) == (TRUNCATED, len(good) + 1)
    assert sum(r.reason == TRUNCATED for r in records) == 1


@pytest.mark.parametrize(
    "name, fmt, data",
    [
        ("s.jsonl.gz", "jsonl.gz", b'{"text": "plain text, not gzip"}\n'),
        ("s.jsonl.zst", "jsonl.zst", b'{"text": "plain text, not zstd"}\n'),
        ("s.parquet", "parquet", b"PAR? definitely not parquet bytes"),
        ("s.parquet", "parquet", b""),
    ],
    ids=["not-gzip", "not-zstd", "not-parquet", "empty-parquet"],
)
def test_file_not_of_its_format_is_unreadable(tmp_path, name, fmt, data):
    """A file that is not the format its name says raises UnreadableFileError naming the path."""
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(UnreadableFileError) as excinfo:
        _read(path, fmt)
    assert str(path) in str(excinfo.value)


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "parquet", "csv", "txt", HF_DATASET])
def test_missing_file_is_unreadable(tmp_path, fmt):
    """A shard whose file has vanished raises UnreadableFileError naming the path."""
    if fmt == HF_DATASET and importlib.util.find_spec("datasets") is None:
        pytest.skip("needs the datasets package")
    path = tmp_path / f"gone.{fmt}"
    with pytest.raises(UnreadableFileError) as excinfo:
        _read(path, fmt)
    assert str(path) in str(excinfo.value)


def test_unknown_format_is_value_error(tmp_path):
    """read_shard refuses a format it has no reader for, rather than yielding nothing."""
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        read_shard(Shard(key="a.xml", uri=str(tmp_path / "a.xml"), format="xml"), ReaderOptions())


# ------------------------------------------------------------------------------ every emitted string is UTF-8
def _strings(record: RawRecord) -> list[str]:
    values = [record.text, record.doc_id, record.detail, record.raw, *record.metadata.values()]
    return [v for v in values if v is not None]


@pytest.mark.parametrize(
    "name, fmt, data, options",
    [
        ("s.jsonl", "jsonl", b'{"text": "escaped \\udc80 low surrogate"}\n', ReaderOptions()),
        pytest.param("s.jsonl", "jsonl", b'{"text": "lone \\ud800 high surrogate"}\n', ReaderOptions(),
                     id="jsonl-lone-high-surrogate-text"),
        pytest.param("s.jsonl", "jsonl", b'{"text": "fine text", "id": "x\\ud83d"}\n', ReaderOptions(id_field="id"),
                     id="jsonl-lone-surrogate-id"),
        pytest.param("s.csv", "csv", b"id,text\nd1,bad \xff bytes\n", ReaderOptions(),
                     id="csv-undecodable-text-raw-snippet"),
        pytest.param("s.csv", "csv", b"id,text\nd\xff1,fine text\n", ReaderOptions(id_field="id"),
                     id="csv-undecodable-id"),
        pytest.param("s.csv", "csv", b"label,text\nn\xffws,fine text\n", ReaderOptions(metadata_fields=("label",)),
                     id="csv-undecodable-metadata"),
        ("s.txt", "txt", b"bad \xff text\n", ReaderOptions()),
    ],
    ids=["jsonl-escaped-low-surrogate-text", None, None, None, None, None, "txt-undecodable"],
)
def test_every_emitted_string_is_valid_utf8(tmp_path, name, fmt, data, options):
    """Whatever the input bytes, every string a reader emits encodes as UTF-8 (so it can go into Parquet)."""
    path = tmp_path / name
    path.write_bytes(data)
    records = _read(path, fmt, options)
    assert records
    for record in records:
        for value in _strings(record):
            value.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate


def test_read_csv_leaves_global_csv_limit_alone(tmp_path):
    """Reading a CSV shard does not change csv.field_size_limit for the rest of the process."""
    import csv

    path = tmp_path / "s.csv"
    path.write_text("text\nhello\n", encoding="utf-8")
    before = csv.field_size_limit()
    _read(path, "csv", ReaderOptions(max_record_bytes=50))
    assert csv.field_size_limit() == before
