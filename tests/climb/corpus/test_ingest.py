"""Tests for ingestion (climb.corpus.ingest) and the documents partition (climb.corpus.documents)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from climb.core.config import load_config
from climb.corpus.documents import ASSET, config_shards, locate_shard, verify_accounting, write_documents
from climb.corpus.ingest import (
    DUPLICATE,
    IngestSettings,
    ingest_settings,
    ingest_shard,
    length_filter_reason,
    normalize_text,
    reader_options,
)
from climb.corpus.readers import ReaderOptions
from climb.corpus.shards import Shard
from climb.core.storage import Storage

NO_FILTERS = IngestSettings(min_chars=None, max_chars=None, min_words=None, max_words=None)
OK = "an ordinary document with enough words"  # passes the default filters (>= 20 chars, >= 3 words)


def _ingest(path: Path, storage: Storage, options: ReaderOptions = ReaderOptions(),
            settings: IngestSettings = NO_FILTERS, fmt: str = "jsonl", **kwargs):
    return ingest_shard(Shard(key=path.name, uri=str(path), format=fmt), options=options, settings=settings,
                        storage=storage, **kwargs)


# ------------------------------------------------------------------------------ accounting
def test_accounting_identity_on_every_outcome(write_jsonl, storage):
    """input_records == kept + filtered + duplicates + quarantined, with an exact count per reason."""
    records = [
        {"id": "k1", "text": "a perfectly ordinary document text"},
        {"id": "k2", "text": "another perfectly ordinary document"},
        {"id": "f1", "text": "tiny one two"},  # 12 chars
        {"id": "f2", "text": "supercalifragilistic words"},  # 2 words
        {"id": "f3", "text": "x" * 210},  # over max_chars
        {"id": "f4", "text": " ".join(["ab"] * 40)},  # over max_words
        {"id": "d1", "text": "a perfectly ordinary document text"},  # same text as k1
        '{"id": "q1", "text": ',
        '["not", "an", "object"]',
        b'{"id": "q3", "text": "bad \xff bytes in this line"}',
        {"id": "q4", "body": "no text field"},
        {"id": "q5", "text": 12345},
        {"id": "q6", "text": "y " * 300},  # line over max_record_bytes
        {"text": "a document that has no id at all"},
        {"id": "k1", "text": "reuses the id of the first document"},
        {"id": "q9", "text": "  \r\n\t  "},
        "",  # blank lines are not records
        "   ",
    ]
    path = write_jsonl("mixed.jsonl", records)
    settings = IngestSettings(min_chars=20, max_chars=200, min_words=3, max_words=30)
    result = _ingest(path, storage, ReaderOptions(id_field="id", max_record_bytes=400), settings)
    account = result.account
    assert account.balanced
    assert (account.input_records, account.kept, account.filtered, account.duplicates, account.quarantined) == (
        16, 2, 4, 1, 9)
    assert dict(account.reasons) == {
        "filter:min_chars": 1, "filter:min_words": 1, "filter:max_chars": 1, "filter:max_words": 1,
        "duplicate:exact": 1,
        "quarantine:malformed_json": 1, "quarantine:not_an_object": 1, "quarantine:undecodable_bytes": 1,
        "quarantine:missing_text": 1, "quarantine:non_string_text": 1, "quarantine:oversized": 1,
        "quarantine:missing_id": 1, "quarantine:duplicate_id": 1, "quarantine:empty_text": 1,
    }
    assert result.documents.column("id").to_pylist() == ["k1", "k2"]
    assert result.documents.num_rows == account.kept
    assert result.removed.num_rows == account.filtered + account.duplicates
    assert result.quarantine.num_rows == account.quarantined
    assert Counter(result.quarantine.column("reason").to_pylist()) == {
        r: n for r, n in account.reasons.items() if r.startswith("quarantine:")}
    rows = dict(zip(result.quarantine.column("reason").to_pylist(), result.quarantine.column("row").to_pylist()))
    assert rows["quarantine:malformed_json"] == 8 and rows["quarantine:empty_text"] == 16
    assert set(result.quarantine.column("file").to_pylist()) == {str(path)}


def test_empty_shard_gives_empty_tables_with_schema(write_jsonl, storage):
    """A shard with no records gives zero counts and empty tables that still have their columns."""
    result = _ingest(write_jsonl("empty.jsonl", ["", ""]), storage, ReaderOptions(metadata_fields=("label",)))
    assert result.account.input_records == 0 and result.account.balanced
    assert result.documents.column_names == ["id", "text", "shard", "row", "content_hash", "n_chars", "n_words",
                                             "label"]
    assert result.documents.num_rows == result.removed.num_rows == result.quarantine.num_rows == 0


# ------------------------------------------------------------------------------ normalisation
@pytest.mark.parametrize(
    "raw, form, expected",
    [
        ("\ufb01ne print", "NFC", "\ufb01ne print"),
        ("\ufb01ne print", "NFKC", "fine print"),
        ("\ufb01ne print", "none", "\ufb01ne print"),
        ("cafe\u0301", "NFC", "caf\u00e9"),
        ("cafe\u0301", "NFKC", "caf\u00e9"),
        ("cafe\u0301", "none", "cafe\u0301"),
        ("one\r\ntwo\rthree\n", "NFC", "one\ntwo\nthree"),
        ("one\r\ntwo", "none", "one\ntwo"),
        ("  \t padded text \n\n", "NFC", "padded text"),
    ],
)
def test_normalize_text(raw, form, expected):
    """Normal form as configured, Unix newlines, no surrounding whitespace."""
    assert normalize_text(raw, form) == expected


@pytest.mark.parametrize(
    "texts, form, kept_texts",
    [
        (["caf\u00e9 au lait", "cafe\u0301 au lait"], "NFC", ["caf\u00e9 au lait"]),
        (["caf\u00e9 au lait", "cafe\u0301 au lait"], "none", ["caf\u00e9 au lait", "cafe\u0301 au lait"]),
        (["\ufb01ne print", "fine print"], "NFKC", ["fine print"]),
        (["\ufb01ne print", "fine print"], "NFC", ["\ufb01ne print", "fine print"]),
        (["line one\r\nline two", "  line one\nline two  "], "none", ["line one\nline two"]),
    ],
    ids=["nfc-merges-composed", "none-keeps-both", "nfkc-folds-ligature", "nfc-keeps-ligature", "newlines-strip"],
)
def test_normalisation_decides_duplicates(write_jsonl, storage, texts, form, kept_texts):
    """Texts equal after normalisation are duplicates; the stored text is the normalised one."""
    path = write_jsonl("s.jsonl", [{"text": t} for t in texts])
    result = _ingest(path, storage, settings=IngestSettings(form, None, None, None, None))
    assert result.documents.column("text").to_pylist() == kept_texts
    assert result.account.duplicates == len(texts) - len(kept_texts)


# ------------------------------------------------------------------------------ length filters
@pytest.mark.parametrize(
    "bound, value, text, reason",
    [
        ("min_chars", 5, "abcd", "filter:min_chars"),
        ("min_chars", 5, "abcde", None),
        ("max_chars", 5, "abcdef", "filter:max_chars"),
        ("max_chars", 5, "abcde", None),
        ("min_words", 3, "two words", "filter:min_words"),
        ("min_words", 3, "now three words", None),
        ("max_words", 2, "now three words", "filter:max_words"),
        ("max_words", 2, "two words", None),
        ("min_chars", None, "", None),
        ("min_words", None, "", None),
        ("min_chars", 0, "", None),
    ],
)
def test_length_filter_each_bound(bound, value, text, reason):
    """Each bound gives filter:<bound> when broken (bounds inclusive); None or 0 disables it."""
    settings = IngestSettings(**{"min_chars": None, "min_words": None, bound: value})
    assert length_filter_reason(text, len(text.split()), settings) == reason


def test_first_broken_bound_wins():
    """A text breaking several bounds is reported under the first (min_chars, max_chars, min_words, max_words)."""
    settings = IngestSettings(min_chars=100, max_chars=None, min_words=10, max_words=None)
    assert length_filter_reason("short", 1, settings) == "filter:min_chars"


@pytest.mark.parametrize("bound, value", [("min_chars", 30), ("max_chars", 10), ("min_words", 6), ("max_words", 2)])
def test_filtered_records_go_to_removed(write_jsonl, storage, bound, value):
    """A record outside a bound is in removed with reason filter:<bound> and a chars/words detail."""
    path = write_jsonl("s.jsonl", [{"text": "three short words"}])
    result = _ingest(path, storage, settings=IngestSettings(**{"min_chars": None, "min_words": None, bound: value}))
    assert result.documents.num_rows == 0
    assert result.removed.to_pylist()[0] | {"content_hash": None} == {
        "id": "s.jsonl:1", "shard": "s.jsonl", "row": 1, "reason": f"filter:{bound}",
        "detail": "17 chars, 3 words", "content_hash": None}


def test_filters_measure_the_normalised_text(write_jsonl, storage):
    """Length filters count the normalised, stripped text, not the raw input."""
    path = write_jsonl("s.jsonl", [{"text": "   abcd   "}])
    result = _ingest(path, storage, settings=IngestSettings(min_chars=5, min_words=None))
    assert result.account.reasons == {"filter:min_chars": 1}


# ------------------------------------------------------------------------------ in-shard duplicates and ids
def test_in_shard_exact_duplicates(write_jsonl, storage):
    """The first occurrence is kept; later ones are duplicate:exact naming the first id and row."""
    path = write_jsonl("s.jsonl", [{"id": "a", "text": "same"}, {"id": "b", "text": "other"},
                                   {"id": "c", "text": "same"}, {"id": "d", "text": "same"}])
    result = _ingest(path, storage, ReaderOptions(id_field="id"))
    assert result.documents.column("id").to_pylist() == ["a", "b"]
    removed = result.removed.to_pylist()
    assert [(r["id"], r["reason"], r["detail"]) for r in removed] == [
        ("c", DUPLICATE, "same text as a (s.jsonl row 1)"), ("d", DUPLICATE, "same text as a (s.jsonl row 1)")]
    assert result.content_index.column("id").to_pylist() == ["a", "b"]


def test_in_shard_duplicate_ids_are_quarantined(write_jsonl, storage):
    """A second document reusing an id is quarantine:duplicate_id; the first keeps it."""
    path = write_jsonl("s.jsonl", [{"id": 7, "text": "first"}, {"id": "7", "text": "second"}])
    result = _ingest(path, storage, ReaderOptions(id_field="id"))
    assert result.documents.column("text").to_pylist() == ["first"]
    assert result.quarantine.select(["row", "reason"]).to_pylist() == [{"row": 2, "reason": "quarantine:duplicate_id"}]


def test_default_ids_are_shard_and_row(write_jsonl, storage):
    """Without id_field a document's id is '<shard key>:<row>'."""
    path = write_jsonl("s.jsonl", ["", {"text": "one"}, {"text": "two"}])
    result = _ingest(path, storage)
    assert result.documents.select(["id", "row", "shard"]).to_pylist() == [
        {"id": "s.jsonl:2", "row": 2, "shard": "s.jsonl"}, {"id": "s.jsonl:3", "row": 3, "shard": "s.jsonl"}]


def test_documents_carry_hash_counts_and_metadata(write_jsonl, storage):
    """Kept documents carry content_hash, n_chars, n_words and the metadata fields as strings."""
    path = write_jsonl("s.jsonl", [{"text": "a b  c", "label": 3}, {"text": "a b  c!", "label": None}])
    docs = _ingest(path, storage, ReaderOptions(metadata_fields=("label",))).documents.to_pylist()
    assert [(d["n_chars"], d["n_words"], d["label"]) for d in docs] == [(6, 3, "3"), (7, 3, None)]
    assert len({d["content_hash"] for d in docs}) == 2 and all(len(d["content_hash"]) == 32 for d in docs)


# ------------------------------------------------------------------------------ write_documents and dedup across shards
SHARED = "this exact text appears in both shards"


@pytest.fixture
def project(tmp_path, write_jsonl):
    """A config over data/*.jsonl with two shards sharing one text, and its storage."""
    write_jsonl("data/a.jsonl", [{"id": "a1", "text": SHARED}, {"id": "a2", "text": "only in shard a, row two"}])
    write_jsonl("data/b.jsonl", [{"id": "b1", "text": "only in shard b, row one"}, {"id": "b2", "text": SHARED}])
    config_path = tmp_path / "climb.yaml"
    config_path.write_text("corpus:\n  paths: [data/*.jsonl]\n  id_field: id\n  filters: {min_chars: 1, min_words: 1}\n")
    config = load_config(config_path, home=str(tmp_path / "home"))
    shards = {s.key: s for s in config_shards(config)}
    return config, Storage(config.storage_root), shards


def _documents(storage: Storage, key: str) -> pa.Table:
    return storage.read_table(ASSET, "documents.parquet", key)


@pytest.mark.parametrize("order", [["b.jsonl", "a.jsonl"], ["a.jsonl", "b.jsonl"]], ids=["b-first", "a-first"])
def test_cross_shard_dedup_follows_key_order(project, order):
    """Whatever order shards are ingested in, the copy in the earlier key (a.jsonl) wins."""
    config, storage, shards = project
    for key in order:
        earlier = [s for k, s in shards.items() if k < key]
        write_documents(shards[key], config=config, storage=storage, earlier_shards=earlier)
    assert _documents(storage, "a.jsonl").column("id").to_pylist() == ["a1", "a2"]
    assert _documents(storage, "b.jsonl").column("id").to_pylist() == ["b1"]
    removed = storage.read_table(ASSET, "removed.parquet", "b.jsonl").to_pylist()
    assert [(r["id"], r["reason"], r["detail"]) for r in removed] == [
        ("b2", DUPLICATE, "same text as a1 (a.jsonl row 1)")]
    for key in shards:
        assert verify_accounting(storage, key)[0]


def test_cross_shard_dedup_on_an_fsspec_root(project):
    """With the storage root on an fsspec filesystem (memory://) DuckDB reads the earlier shards' content
    indexes through it, and each index is mapped back to its shard."""
    config, _, shards = project
    storage = Storage(f"memory://climb-dedup-{uuid.uuid4().hex}")
    try:
        write_documents(shards["a.jsonl"], config=config, storage=storage, earlier_shards=[])
        write_documents(shards["b.jsonl"], config=config, storage=storage, earlier_shards=[shards["a.jsonl"]])
        assert _documents(storage, "b.jsonl").column("id").to_pylist() == ["b1"]
        removed = storage.read_table(ASSET, "removed.parquet", "b.jsonl").to_pylist()
        assert [(r["id"], r["detail"]) for r in removed] == [("b2", "same text as a1 (a.jsonl row 1)")]
    finally:
        storage.fs.rm(storage._root_path, recursive=True)


def test_cross_shard_duplicate_id_is_quarantined(tmp_path, project, write_jsonl):
    """A document reusing an id kept in an earlier shard is quarantine:duplicate_id."""
    config, storage, shards = project
    write_jsonl("data/b.jsonl", [{"id": "a2", "text": "new text, but the id of a2"}])
    report = write_documents(shards["b.jsonl"], config=config, storage=storage, earlier_shards=[shards["a.jsonl"]])
    assert dict(report.account.reasons) == {"quarantine:duplicate_id": 1}
    quarantine = storage.read_table(ASSET, "quarantine.parquet", "b.jsonl").to_pylist()
    assert [(q["row"], q["reason"]) for q in quarantine] == [(1, "quarantine:duplicate_id")]


def test_text_of_a_quarantined_document_is_not_lost(tmp_path, write_jsonl):
    """A text whose first occurrence was quarantined (reused id) is kept at its next occurrence."""
    write_jsonl("data/a.jsonl", [{"id": "x", "text": "text of a"}])
    write_jsonl("data/b.jsonl", [{"id": "x", "text": "text first seen in b"}])
    write_jsonl("data/c.jsonl", [{"id": "c1", "text": "text first seen in b"}])
    (tmp_path / "climb.yaml").write_text("corpus:\n  paths: [data/*.jsonl]\n  id_field: id\n"
                                         "  filters: {min_chars: 1, min_words: 1}\n")
    config = load_config(tmp_path / "climb.yaml", home=str(tmp_path / "home"))
    storage, shards = Storage(config.storage_root), config_shards(config)
    for i, shard in enumerate(shards):
        write_documents(shard, config=config, storage=storage, earlier_shards=shards[:i])
    kept = [t for s in shards for t in _documents(storage, s.key).column("text").to_pylist()]
    assert "text first seen in b" in kept


def test_earlier_shard_change_refreshes_its_index(project, write_jsonl):
    """When an earlier shard's file changes, its cached content index is rebuilt (no stale duplicates)."""
    config, storage, shards = project
    earlier = [shards["a.jsonl"]]
    assert write_documents(shards["b.jsonl"], config=config, storage=storage, earlier_shards=earlier).account.duplicates == 1
    write_jsonl("data/a.jsonl", [{"id": "a1", "text": "a changed its text"}])
    assert write_documents(shards["b.jsonl"], config=config, storage=storage, earlier_shards=earlier).account.duplicates == 0


def test_write_documents_is_idempotent(project):
    """Writing a shard twice gives identical documents, removed and quarantine tables and the same stats."""
    config, storage, shards = project
    shard, earlier = shards["b.jsonl"], [shards["a.jsonl"]]

    def snapshot():
        write_documents(shard, config=config, storage=storage, earlier_shards=earlier)
        tables = {n: storage.read_table(ASSET, n, "b.jsonl") for n in ("documents.parquet", "removed.parquet",
                                                                      "quarantine.parquet")}
        stats = storage.read_json(ASSET, "stats.json", "b.jsonl")
        stats.pop("seconds")
        return tables, stats

    (tables1, stats1), (tables2, stats2) = snapshot(), snapshot()
    assert stats1 == stats2
    for name in tables1:
        assert tables1[name].equals(tables2[name]), name
    assert storage.committed_partitions(ASSET) == ["b.jsonl"]


def test_stats_json_records_the_accounting(project):
    """stats.json holds the counts, reasons, shard, file and format of the committed partition."""
    config, storage, shards = project
    report = write_documents(shards["a.jsonl"], config=config, storage=storage, earlier_shards=[])
    stats = storage.read_json(ASSET, "stats.json", "a.jsonl")
    assert {k: stats[k] for k in ("input_records", "kept", "filtered", "duplicates", "quarantined", "reasons",
                                  "shard", "file", "format")} == {
        "input_records": 2, "kept": 2, "filtered": 0, "duplicates": 0, "quarantined": 0, "reasons": {},
        "shard": "a.jsonl", "file": shards["a.jsonl"].uri, "format": "jsonl"}
    assert report.path == storage.require(ASSET, "a.jsonl")


def test_verify_accounting_detects_tampering(project):
    """verify_accounting is True for a committed partition and False once a file disagrees with the stats."""
    config, storage, shards = project
    write_documents(shards["b.jsonl"], config=config, storage=storage, earlier_shards=[shards["a.jsonl"]])
    ok, report = verify_accounting(storage, "b.jsonl")
    assert ok and report["rows_in_files"] == {"kept": 1, "quarantined": 0, "duplicates": 1, "filtered": 0}
    path = storage.require(ASSET, "b.jsonl")
    pq.write_table(_documents(storage, "b.jsonl").slice(0, 0), f"{path}/documents.parquet")
    ok, report = verify_accounting(storage, "b.jsonl")
    assert not ok and report["rows_in_files"]["kept"] == 0 and report["kept"] == 1


def test_verify_accounting_detects_broken_identity(project):
    """verify_accounting is False when the stats themselves do not add up."""
    config, storage, shards = project
    write_documents(shards["a.jsonl"], config=config, storage=storage, earlier_shards=[])
    path = Path(storage.require(ASSET, "a.jsonl")) / "stats.json"
    stats = json.loads(path.read_text())
    path.write_text(json.dumps(stats | {"input_records": stats["input_records"] + 1}))
    assert verify_accounting(storage, "a.jsonl")[0] is False


def test_locate_shard(project):
    """locate_shard finds a current key and says so clearly when a key no longer matches."""
    from climb.core.config import ConfigError

    config, _, shards = project
    assert locate_shard(config, "a.jsonl") == shards["a.jsonl"]
    with pytest.raises(ConfigError, match="'gone.jsonl' is not among the files"):
        locate_shard(config, "gone.jsonl")


def test_config_fields_reach_the_engines(tmp_path):
    """Every corpus field that steers reading or filtering reaches ReaderOptions / IngestSettings."""
    (tmp_path / "c.yaml").write_text(
        "corpus:\n  paths: [x]\n  text_field: [title, body]\n  id_field: uid\n  metadata_fields: [label]\n"
        "  txt_mode: paragraphs\n  csv: {header: false, columns: [uid, body], delimiter: ';'}\n"
        "  normalization: NFKC\n  filters: {min_chars: 1, max_chars: 2, min_words: 3, max_words: 4}\n"
        "  max_record_bytes: 99\n")
    corpus = load_config(tmp_path / "c.yaml", home=str(tmp_path)).corpus
    assert reader_options(corpus) == ReaderOptions(
        text_field=("title", "body"), id_field="uid", metadata_fields=("label",), txt_mode="paragraphs",
        csv_header=False, csv_columns=("uid", "body"), csv_delimiter=";", max_record_bytes=99)
    assert ingest_settings(corpus) == IngestSettings("NFKC", 1, 2, 3, 4)


# ------------------------------------------------------------------------------ bad bytes must not crash ingestion
@pytest.mark.parametrize(
    "name, fmt, data",
    [
        ("s.csv", "csv", b"text\ngood text here\nbad \xff\xfe bytes\n"),
        ("s.jsonl", "jsonl", b'{"text": "good text here"}\n{"text": "lone \\ud800 surrogate"}\n'),
    ],
    ids=["csv-undecodable", "jsonl-lone-surrogate"],
)
def test_bad_bytes_are_quarantined_not_fatal(tmp_path, storage, name, fmt, data):
    """A record with invalid bytes is quarantined as undecodable_bytes; the shard still ingests."""
    path = tmp_path / name
    path.write_bytes(data)
    result = _ingest(path, storage, fmt=fmt)
    assert result.account.balanced and result.account.kept == 1
    assert dict(result.account.reasons) == {"quarantine:undecodable_bytes": 1}
