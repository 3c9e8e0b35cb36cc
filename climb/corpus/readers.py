"""Readers: one per input format, each turning a shard into a stream of `RawRecord`s.

A reader never drops a record silently. A record it cannot turn into (text, id, metadata) comes out
with a stable `quarantine:*` reason, its 1-based line (JSONL, CSV, TXT) or row (Parquet, datasets)
and a snippet of the raw input. Blank JSONL lines are not records. Only a file that cannot be read
at all raises `UnreadableFileError`, naming the file.

The records, their reasons and `ReaderOptions` live in climb.corpus.records and are re-exported here.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from typing import IO

import fsspec

from climb.corpus.records import (DUPLICATE_ID, EMPTY_TEXT, MALFORMED_CSV, MALFORMED_JSON, MISSING_ID, MISSING_TEXT,
                                  NON_STRING_TEXT, NOT_AN_OBJECT, OVERSIZED, RAW_SNIPPET_CHARS, TRUNCATED, UNDECODABLE,
                                  RawRecord, ReaderOptions, UnreadableFileError, _snippet, record_from_mapping)
from climb.corpus.shards import HF_DATASET, Shard

__all__ = ["DUPLICATE_ID", "EMPTY_TEXT", "MALFORMED_CSV", "MALFORMED_JSON", "MISSING_ID", "MISSING_TEXT",
           "NON_STRING_TEXT", "NOT_AN_OBJECT", "OVERSIZED", "RAW_SNIPPET_CHARS", "TRUNCATED", "UNDECODABLE", "RawRecord",
           "ReaderOptions", "UnreadableFileError", "read_csv", "read_hf_dataset", "read_jsonl", "read_parquet",
           "read_shard", "read_txt", "record_from_mapping"]


def _stream_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error, ValueError)
    try:
        import zstandard

        return (*errors, zstandard.ZstdError)
    except ImportError:
        return errors


def _decoded(row: int, data: bytes, options: ReaderOptions, size: str) -> str | RawRecord:
    """The bytes of one record as UTF-8 text, or the RawRecord that quarantines them (oversized, undecodable)."""
    if len(data) > options.max_record_bytes:
        return RawRecord(row, reason=OVERSIZED, detail=size, raw=_snippet(data))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        return RawRecord(row, reason=UNDECODABLE, detail=str(err), raw=_snippet(data))


def _iter_jsonl_lines(stream: IO[bytes], uri: str, options: ReaderOptions) -> Iterator[RawRecord]:
    line_no = 0
    try:
        for line_no, line in enumerate(stream, start=1):
            decoded = _decoded(line_no, line, options, f"line of {len(line)} bytes")
            if isinstance(decoded, RawRecord):
                yield decoded
                continue
            if not decoded.strip():
                continue
            try:
                obj = json.loads(decoded)
            except json.JSONDecodeError as err:
                yield RawRecord(line_no, reason=MALFORMED_JSON, detail=str(err), raw=_snippet(decoded))
                continue
            if not isinstance(obj, dict):
                kind = type(obj).__name__
                yield RawRecord(line_no, reason=NOT_AN_OBJECT, detail=f"a JSON {kind}", raw=_snippet(decoded))
                continue
            yield record_from_mapping(line_no, obj, options, raw=_snippet(decoded))
    except _stream_errors() as err:  # corrupt or truncated compressed stream
        if line_no == 0:
            raise UnreadableFileError(f"{uri}: cannot be read: {err}") from err
        detail = f"stream ends in error after line {line_no}: {err}; later records, if any, are lost"
        yield RawRecord(line_no + 1, reason=TRUNCATED, detail=detail)


class _ZstdStream(io.RawIOBase):
    """A zstd stream that raises EOFError when the input ends inside a frame (a cut-off file);
    zstandard's own stream_reader ends quietly there. Reads across concatenated frames."""

    def __init__(self, raw: IO[bytes]):
        import zstandard

        self._raw, self._zstd, self._pending = raw, zstandard, b""
        self._frame = zstandard.ZstdDecompressor().decompressobj()
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def _decompress(self, data: bytes) -> bytes:
        out = b""
        while data:
            self._in_frame = True
            out += self._frame.decompress(data)
            data = b""
            if self._frame.eof:
                data, self._in_frame = self._frame.unused_data, False
                self._frame = self._zstd.ZstdDecompressor().decompressobj()
        return out

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd stream ends inside a frame (truncated file)")
                return 0
            self._pending = self._decompress(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


def _open_jsonl(uri: str, fmt: str, raw_stream: IO[bytes]) -> IO[bytes]:
    if fmt == "jsonl.gz":
        return gzip.GzipFile(fileobj=raw_stream)
    if fmt == "jsonl.zst":
        return io.BufferedReader(_ZstdStream(raw_stream))
    return raw_stream


def read_jsonl(uri: str, fmt: str, options: ReaderOptions) -> Iterator[RawRecord]:
    try:
        raw_stream = fsspec.open(uri, "rb").open()
    except OSError as err:
        raise UnreadableFileError(f"{uri}: cannot be opened: {err}") from err
    with raw_stream:
        yield from _iter_jsonl_lines(_open_jsonl(uri, fmt, raw_stream), uri, options)


def read_parquet(uri: str, options: ReaderOptions) -> Iterator[RawRecord]:
    import pyarrow.parquet as pq

    try:
        handle = fsspec.open(uri, "rb").open()
        parquet = pq.ParquetFile(handle)
    except Exception as err:  # pyarrow raises ArrowInvalid / OSError for non-Parquet bytes
        raise UnreadableFileError(f"{uri}: not a readable Parquet file: {err}") from err
    with handle:
        row = 0
        for batch in parquet.iter_batches(batch_size=2048):
            for obj in batch.to_pylist():
                yield record_from_mapping(row, obj, options, raw=_snippet(json.dumps(obj, default=str)))
                row += 1


def _next_row(reader, limit: int) -> list[str]:
    """next(reader) under our field-size limit, leaving the process-wide csv limit as it was."""
    previous = csv.field_size_limit(limit)
    try:
        return next(reader)
    finally:
        csv.field_size_limit(previous)


def read_csv(uri: str, options: ReaderOptions) -> Iterator[RawRecord]:
    limit = options.max_record_bytes
    try:
        stream = fsspec.open(uri, "rt", encoding="utf-8", errors="surrogateescape", newline="").open()
    except OSError as err:
        raise UnreadableFileError(f"{uri}: cannot be opened: {err}") from err
    with stream:
        reader = csv.reader(stream, delimiter=options.csv_delimiter)
        columns = list(options.csv_columns or [])
        if options.csv_header:
            try:
                columns = _next_row(reader, limit)
            except StopIteration:
                return
            except csv.Error as err:
                raise UnreadableFileError(f"{uri}: the CSV header cannot be read: {err}") from err
        if not columns:
            raise UnreadableFileError(f"{uri}: no column names (corpus.csv.header is false and csv.columns unset)")
        start = reader.line_num + 1
        while True:
            try:
                values = _next_row(reader, limit)
            except StopIteration:
                return
            except csv.Error as err:
                yield RawRecord(start, reason=OVERSIZED if "field larger" in str(err) else MALFORMED_CSV, detail=str(err))
                start = reader.line_num + 1
                continue
            row, start = start, reader.line_num + 1
            if not values:
                continue  # a blank line is not a record
            raw = _snippet(options.csv_delimiter.join(values))
            if len(values) != len(columns):
                detail = f"{len(values)} fields, expected {len(columns)} ({', '.join(columns)})"
                yield RawRecord(row, reason=MALFORMED_CSV, detail=detail, raw=raw)
                continue
            yield record_from_mapping(row, dict(zip(columns, values)), options, raw=raw)


def _paragraphs(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(start line, block) for each blank-line separated block."""
    block: list[bytes] = []
    start = 0
    for line_no, line in enumerate(data.splitlines(keepends=True), start=1):
        if line.strip():
            if not block:
                start = line_no
            block.append(line)
        elif block:
            yield start, b"".join(block)
            block = []
    if block:
        yield start, b"".join(block)


def read_txt(uri: str, options: ReaderOptions) -> Iterator[RawRecord]:
    try:
        with fsspec.open(uri, "rb") as stream:
            data = stream.read()
    except OSError as err:
        raise UnreadableFileError(f"{uri}: cannot be read: {err}") from err
    blocks = _paragraphs(data) if options.txt_mode == "paragraphs" else iter([(1, data)])
    for row, block in blocks:
        text = _decoded(row, block, options, f"{len(block)} bytes")
        if isinstance(text, RawRecord):
            yield text
            continue
        yield RawRecord(row, text=text, metadata={name: None for name in options.metadata_fields})


def read_hf_dataset(uri: str, options: ReaderOptions) -> Iterator[RawRecord]:
    try:
        import datasets
    except ImportError as err:
        raise UnreadableFileError(
            f"{uri}: reading datasets.save_to_disk folders needs the 'datasets' package "
            "(pip install 'climb-dagster[hf]')"
        ) from err
    try:
        loaded = datasets.load_from_disk(uri)
    except Exception as err:
        raise UnreadableFileError(f"{uri}: not a readable datasets.save_to_disk folder: {err}") from err
    splits = [loaded[name] for name in sorted(loaded)] if isinstance(loaded, datasets.DatasetDict) else [loaded]
    row = 0
    for split in splits:
        for obj in split:
            yield record_from_mapping(row, obj, options, raw=_snippet(json.dumps(obj, default=str)))
            row += 1


def read_shard(shard: Shard, options: ReaderOptions) -> Iterator[RawRecord]:
    """Every record of a shard, in file order."""
    if shard.format in ("jsonl", "jsonl.gz", "jsonl.zst"):
        return read_jsonl(shard.uri, shard.format, options)
    if shard.format == "parquet":
        return read_parquet(shard.uri, options)
    if shard.format == "csv":
        return read_csv(shard.uri, options)
    if shard.format == "txt":
        return read_txt(shard.uri, options)
    if shard.format == HF_DATASET:
        return read_hf_dataset(shard.uri, options)
    raise ValueError(f"{shard.uri}: unknown format {shard.format!r}")
