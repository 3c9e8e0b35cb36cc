"""Ingestion of real corpora from ../shared/data (skipped when that folder is absent)."""

import csv
import re
from collections import Counter

import pytest

from climb.core.config import load_config
from climb.corpus.documents import config_shards, verify_accounting, write_documents
from climb.corpus.near_duplicates import jaccard, shingles
from climb.core.storage import Storage
from tests.conftest import shared_data


def _ingest(tmp_path, config_text: str):
    path = tmp_path / "climb.yaml"
    path.write_text(config_text)
    config = load_config(path, home=str(tmp_path / "home"))
    storage = Storage(config.storage_root)
    shards = config_shards(config)
    reports = [write_documents(s, config=config, storage=storage, earlier_shards=shards[:i])
               for i, s in enumerate(shards)]
    return storage, reports


def test_ag_news_csv(tmp_path):
    """AG News test.csv (no header, 3 columns): every row kept with its class but the near-duplicates the test
    split really has (30 wire stories filed twice: a recased or reworded headline, a dropped dateline), each
    naming an earlier twin whose word-bigram Jaccard, recomputed here from the CSV, is the one reported and at
    least 0.7; accounting balanced."""
    csv_path = shared_data("ag_news", "test.csv")
    storage, (report,) = _ingest(tmp_path, f"""
corpus:
  paths: ['{csv_path}']
  text_field: [title, description]
  metadata_fields: [label]
  csv: {{header: false, columns: [label, title, description]}}
""")
    assert report.account.input_records == 7600
    assert report.account.kept == 7570 and report.account.balanced
    assert dict(report.account.reasons) == {"duplicate:near": 30}
    with open(csv_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    removed = storage.read_table("documents", "removed.parquet", "test.csv").to_pylist()
    for r in removed:
        twin = int(re.search(r"\(test.csv row (\d+)\)", r["detail"]).group(1))
        assert twin < r["row"] and r["detail"].startswith(f"near duplicate of test.csv:{twin} ")
        similarity = jaccard(*(shingles(f"{rows[k - 1][1]}\n\n{rows[k - 1][2]}", 2) for k in (twin, r["row"])))
        assert similarity >= 0.7 and r["detail"].endswith(f"Jaccard {similarity:.3f}")
    assert "test.csv:2996" in {r["id"] for r in removed}  # "HOUSTON -" vs "HOUSTON --": the same story
    table = storage.read_table("documents", "documents.parquet", "test.csv")
    expected = Counter(label for label, _, _ in rows) - Counter(rows[r["row"] - 1][0] for r in removed)
    assert Counter(table.column("label").to_pylist()) == expected
    assert table.column("id").to_pylist()[0] == "test.csv:1"
    assert "\n\n" in table.column("text").to_pylist()[0]  # title and description joined
    assert verify_accounting(storage, "test.csv")[0]


@pytest.mark.parametrize("split", ["valid.txt", "test.txt"])
def test_wikitext_paragraphs(tmp_path, split):
    """WikiText-2 in paragraph mode: one record per blank-line separated block, repeated headings are duplicates
    (exact, or near at another heading level)."""
    path = shared_data("wikitext2", split)
    lines = [bool(line.strip()) for line in path.read_bytes().split(b"\n")]
    paragraphs = sum(1 for previous, current in zip([False] + lines, lines) if current and not previous)
    storage, (report,) = _ingest(tmp_path, f"""
corpus:
  paths: ['{path}']
  txt_mode: paragraphs
  filters: {{min_chars: 1, min_words: 1}}
""")
    account = report.account
    assert account.input_records == paragraphs and account.balanced
    assert account.duplicates > 0  # section headings such as "= = Reception = =" recur
    removed = storage.read_table("documents", "removed.parquet", split).to_pylist()
    # headings recur exactly, or with another level ("= = Reception = =" after "= = = Reception = = =")
    assert {r["reason"] for r in removed} == {"duplicate:exact", "duplicate:near"}
    assert verify_accounting(storage, split)[0]
