"""ClimbMix export engines (climb.climbmix.plan, climbmix_formats, climbmix_export).

Contract: whole documents drawn per super-cluster at weight × budget (off by at most half a document),
repeated up to max_epochs with the shortfall reported, deterministic for a seed; Parquet, tokenized
JSONL and Megatron indexed datasets that agree with each other and with the card's checksums; an export
folder written atomically and never over a non-empty one without overwrite.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from climb.climbmix.plan import (LIMIT_DOCUMENT_SIZE, LIMIT_MAX_EPOCHS, ExportSettings, check_plan, plan_mixture,
                                plan_rows)
from climb.climbmix.card import card_checksums
from climb.climbmix.export import export_to_directory, verify_export
from climb.climbmix.formats import IndexedDataset, sha256_of, write_indexed_dataset
from climb.core.storage import Storage
from climb.climblab.build import CLUSTERS_FILE, DATA, TOKEN_STORES, cluster_folder
from climb.climblab.token_store import TokenStoreWriter

VOCAB, EOS = 1000, 0
SIZES = {0: (40, 20, 80), 1: (30, 30, 90), 2: (10, 40, 60)}  # cluster -> (documents, min length, max length)
WEIGHTS = {0: 0.5, 1: 0.3, 2: 0.2}


def _counts(seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {cid: rng.integers(low, high, size=n) for cid, (n, low, high) in SIZES.items()}


def build_climblab_storage(root: Path, *, weights: dict[int, float] = WEIGHTS) -> Storage:
    """A storage root holding a small ClimbLab (two part files per cluster, token stores), the tokenizer's
    stats and an optimal mixture. Each text spells its ids ("c<k> 17 4 ..."), so formats can be cross-checked."""
    storage, rng = Storage(str(root)), np.random.default_rng(1)
    with storage.write_partition("tokenizer") as writer:
        writer.write_json("stats.json", {"source": "test", "vocab_size": VOCAB, "eos_id": EOS})
    rows = []
    with storage.write_partition("climblab") as writer:
        for cid, counts in _counts().items():
            ids = [rng.integers(1, VOCAB, size=int(n)) for n in counts]
            texts = [f"c{cid} " + " ".join(map(str, d)) for d in ids]
            half = len(ids) // 2
            for part, (lo, hi) in enumerate(((0, half), (half, len(ids)))):
                writer.write_table(f"{DATA}/{cluster_folder(cid)}/part-{part:05d}.parquet", pa.table({
                    "text": texts[lo:hi], "cluster_id": pa.array([cid] * (hi - lo), pa.int32()),
                    "token_count": pa.array(counts[lo:hi], pa.int64())}))
            with TokenStoreWriter(f"{writer.path}/{TOKEN_STORES}/{cluster_folder(cid)}", vocab_size=VOCAB,
                                  eos_id=EOS) as s:
                for d in ids:
                    s.add(d)
            rows.append({"cluster_id": cid, "label": f"topic {cid}", "documents": len(ids),
                         "tokens": int(counts.sum())})
        writer.write_table(CLUSTERS_FILE, pa.Table.from_pylist(rows))
    with storage.write_partition("optimal_mixture") as writer:
        writer.write_json("optimal_mixture.json", {
            "weights": {str(k): v for k, v in weights.items()},
            "labels": {str(r["cluster_id"]): r["label"] for r in rows},
            "predictor_family": "ridge", "observed_holdout_score": -3.5})
    return storage


@pytest.fixture
def storage(tmp_path) -> Storage:
    return build_climblab_storage(tmp_path / "home")


# ---- the sampling plan -------------------------------------------------------------------------------
@pytest.mark.parametrize("budget", [5_000, 7_000, 9_000])  # cluster 2 (~500 tokens) caps at ~9,900
def test_targets_met_within_a_document(budget):
    """The total lands within half the longest document of the budget and each cluster within one document
    of weight × budget (rounding is carried between clusters); totals and weights meet the issue's
    tolerances; nothing is reported as limited."""
    counts = _counts()
    longest = max(int(c.max()) for c in counts.values())
    plan = plan_mixture(weights=WEIGHTS, token_counts=counts, settings=ExportSettings(tokens=budget))
    assert abs(plan.tokens - budget) <= longest / 2
    for draw in plan.clusters:
        assert abs(draw.tokens - draw.target_tokens) <= longest
        assert draw.tokens == int(counts[draw.cluster_id][draw.documents].sum())
    passed, details = check_plan(plan_rows(plan), budget=budget)
    assert passed and details["meets_tolerances"] and not plan.limited
    assert abs(plan.tokens - budget) <= 0.01 * budget


def test_short_cluster_repeats_up_to_the_epoch_cap_and_reports_its_shortfall():
    """A cluster holding less than its target repeats at most max_epochs times, stops there, and reports
    the shortfall; the other clusters are not topped up."""
    counts = _counts()
    available = int(counts[2].sum())
    budget = 7_000  # cluster 2 wants 1,400 tokens of its ~500; clusters 0 and 1 have enough for 2 epochs
    plan = plan_mixture(weights=WEIGHTS, token_counts=counts, settings=ExportSettings(tokens=budget, max_epochs=2))
    short = plan.clusters[2]
    assert short.limit == LIMIT_MAX_EPOCHS and plan.limited == {2: LIMIT_MAX_EPOCHS}
    assert 2 * available - counts[2].max() < short.tokens <= 2 * available
    assert short.shortfall == round(0.2 * budget) - short.tokens and short.epochs <= 2
    assert max(Counter(short.documents.tolist()).values()) <= 2
    for draw in plan.clusters[:2]:
        assert abs(draw.tokens - draw.target_tokens) <= max(int(c.max()) for c in counts.values())
    passed, details = check_plan(plan_rows(plan), budget=budget)
    assert passed and not details["meets_tolerances"] and details["limited"] == {"2": LIMIT_MAX_EPOCHS}


@pytest.mark.parametrize("max_epochs", [0.5, 1.0, 1.5, 3.0])
def test_max_epochs_bounds_repeats(max_epochs):
    """No document appears more than ceil(max_epochs) times and a cluster never exceeds max_epochs × its tokens."""
    counts = {0: _counts()[0]}
    plan = plan_mixture(weights={0: 1.0}, token_counts=counts,
                        settings=ExportSettings(tokens=100_000, max_epochs=max_epochs))
    draw = plan.clusters[0]
    assert draw.tokens <= max_epochs * counts[0].sum()
    assert max(Counter(draw.documents.tolist()).values()) <= np.ceil(max_epochs)
    assert draw.limit == LIMIT_MAX_EPOCHS and draw.shortfall == 100_000 - draw.tokens


def test_same_seed_same_plan_and_clusters_draw_independently():
    """The same seed gives the same documents in the same order; another seed another order; a cluster's
    draw does not depend on the other clusters' weights."""
    counts = _counts()
    settings = ExportSettings(tokens=5_000, seed=3)
    first, again = (plan_mixture(weights=WEIGHTS, token_counts=counts, settings=settings) for _ in range(2))
    assert all(np.array_equal(a.documents, b.documents) for a, b in zip(first.clusters, again.clusters))
    assert all(np.array_equal(a, b) for a, b in zip(first.interleaved(), again.interleaved()))
    other = plan_mixture(weights=WEIGHTS, token_counts=counts, settings=ExportSettings(tokens=5_000, seed=4))
    assert not np.array_equal(first.clusters[0].documents, other.clusters[0].documents)
    shifted = plan_mixture(weights={0: 0.5, 1: 0.5}, token_counts=counts, settings=settings)
    assert np.array_equal(first.clusters[0].documents, shifted.clusters[0].documents)
    assert len(shifted.clusters[2].documents) == 0


def test_documents_too_long_for_the_weight_are_reported():
    """A budget so small that whole documents cannot come within 0.02 reports limit:document_size."""
    counts = {0: np.array([1000, 1000]), 1: np.array([10] * 50)}
    plan = plan_mixture(weights={0: 0.03, 1: 0.97}, token_counts=counts, settings=ExportSettings(tokens=400))
    assert plan.clusters[0].tokens == 0 and plan.limited[0] == LIMIT_DOCUMENT_SIZE
    assert plan.limited[1] == LIMIT_DOCUMENT_SIZE  # its share is 1.0, not 0.97: reported too
    assert check_plan(plan_rows(plan), budget=400)[0]


@pytest.mark.parametrize("weights, message", [
    ({0: 0.5, 9: 0.5}, "does not have"), ({0: 0.5, 1: 0.3}, "sum to 1"), ({0: 1.2, 1: -0.2}, ">= 0")])
def test_invalid_weights_raise(weights, message):
    with pytest.raises(ValueError, match=message):
        plan_mixture(weights=weights, token_counts=_counts(), settings=ExportSettings(tokens=1000))


@pytest.mark.parametrize("rows, budget, passed", [
    ([{"cluster_id": 0, "weight": 0.5, "tokens": 505, "limit": None},
      {"cluster_id": 1, "weight": 0.5, "tokens": 500, "limit": None}], 1000, True),
    ([{"cluster_id": 0, "weight": 0.5, "tokens": 550, "limit": None},
      {"cluster_id": 1, "weight": 0.5, "tokens": 500, "limit": None}], 1000, False),  # 5% over, weights 0.024 off
    ([{"cluster_id": 0, "weight": 0.5, "tokens": 100, "limit": LIMIT_MAX_EPOCHS},
      {"cluster_id": 1, "weight": 0.5, "tokens": 500, "limit": None}], 1000, True),  # reported shortfall
])
def test_check_plan(rows, budget, passed):
    """Tolerances hold, or a limit says why the data cannot meet them."""
    assert check_plan(rows, budget=budget)[0] is passed


def test_settings_reject_unknown_formats():
    with pytest.raises(ValueError, match="formats"):
        ExportSettings(tokens=10, formats=("parquet", "csv"))


# ---- Megatron indexed datasets ------------------------------------------------------------------------
@pytest.mark.parametrize("vocab, code, itemsize", [(1000, 8, 2), (65_499, 8, 2), (65_500, 4, 4), (128_256, 4, 4)])
def test_megatron_index_follows_the_published_layout(tmp_path, vocab, code, itemsize):
    """The .idx bytes are header, version 1, dtype code, counts, int32 sizes, int64 byte pointers and
    int64 document indices [0..n]; .bin holds the documents back to back in that dtype."""
    documents = [np.array([1, 2, 3]), np.array([vocab - 1]), np.array([4, 5])]
    write_indexed_dataset(tmp_path / "d", documents, vocab_size=vocab)
    raw = (tmp_path / "d.idx").read_bytes()
    assert raw[:9] == b"MMIDIDX\x00\x00"
    assert struct.unpack_from("<QBQQ", raw, 9) == (1, code, 3, 4)
    assert np.frombuffer(raw, "<i4", 3, 34).tolist() == [3, 1, 2]
    assert np.frombuffer(raw, "<i8", 3, 46).tolist() == [0, 3 * itemsize, 4 * itemsize]
    assert np.frombuffer(raw, "<i8", 4, 70).tolist() == [0, 1, 2, 3] and len(raw) == 102
    assert (tmp_path / "d.bin").stat().st_size == 6 * itemsize
    read = IndexedDataset.read(tmp_path / "d")
    assert [read[i].tolist() for i in range(len(read))] == [d.tolist() for d in documents]


def test_megatron_core_reads_the_export(tmp_path):
    """Megatron-LM's own IndexedDataset reads what we write (megatron-core, a dev dependency)."""
    megatron = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    documents = [np.array([7, 8, 9, 0]), np.array([5, 0]), np.array([1, 2, 3, 4, 0])]
    write_indexed_dataset(tmp_path / "d", documents, vocab_size=VOCAB)
    dataset = megatron.IndexedDataset(str(tmp_path / "d"))
    assert len(dataset) == 3 and dataset.index.dtype == np.uint16
    assert [dataset[i].tolist() for i in range(3)] == [d.tolist() for d in documents]
    assert dataset.document_indices.tolist() == [0, 1, 2, 3]


# ---- exports ------------------------------------------------------------------------------------------
def _rows(folder: Path, pattern: str) -> list[dict]:
    return [json.loads(line) for path in sorted(folder.glob(pattern)) for line in path.read_text().splitlines()]


def test_export_writes_three_formats_that_agree(storage, tmp_path):
    """Parquet rows and JSONL rows are the same documents in the same order (the text spells the ids);
    each Megatron dataset is its cluster's documents each ending with EOS; the card's checksums match."""
    out = tmp_path / "mix"
    summary = export_to_directory(storage=storage, settings=ExportSettings(tokens=5_000, documents_per_file=25),
                                  out=out)
    table = pa.concat_tables([pq.read_table(p) for p in sorted((out / "parquet").glob("*.parquet"))]).to_pylist()
    assert set(table[0]) == {"text", "cluster_id", "token_count"}
    tokenized = _rows(out, "jsonl/part_*.tokenized.jsonl")
    assert len(table) == len(tokenized) == summary["totals"]["documents"] and len(summary["outputs"]["jsonl"]) > 1
    for row, line in zip(table, tokenized):
        cid, *ids = row["text"].split()
        assert cid == f"c{line['cluster_id']}" == f"c{row['cluster_id']}"
        assert list(map(int, ids)) == line["tokens"] and line["token_count"] == row["token_count"] == len(ids)
    by_cluster = Counter()
    for line in tokenized:
        by_cluster[line["cluster_id"]] += line["token_count"]
    blend = json.loads((out / "megatron" / "blend.json").read_text())
    for entry in blend["datasets"]:
        dataset = IndexedDataset.read(out / entry["prefix"])
        assert all(dataset[i][-1] == EOS for i in range(len(dataset)))
        assert int(dataset.sizes.sum()) - len(dataset) == by_cluster[entry["cluster_id"]]
    assert blend["data_path"].split()[1::2] == [e["prefix"] for e in blend["datasets"]]
    card = (out / "README.md").read_text()
    checksums = card_checksums(card)
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"README.md"}
    assert set(checksums) == files and all(sha256_of(out / n) == sha for n, sha in checksums.items())
    assert "| 2 | topic 2 |" in card and '"seed": 0' in card
    assert verify_export(str(out))[0]


def test_export_is_byte_identical_for_a_seed(storage, tmp_path):
    """Two exports with one seed are byte-identical; another seed changes the files."""
    def export(name: str, seed: int) -> dict[str, bytes]:
        out = tmp_path / name
        export_to_directory(storage=storage, settings=ExportSettings(tokens=3_000, seed=seed), out=out)
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    first, again, other = export("a", 0), export("b", 0), export("c", 1)
    assert first == again
    assert first["parquet/part-00000.parquet"] != other["parquet/part-00000.parquet"]


def test_existing_output_is_refused_unless_overwrite(storage, tmp_path):
    """A non-empty --out is refused; overwrite replaces it whole; no staging folder is left behind."""
    out = tmp_path / "mix"
    out.mkdir()
    (out / "keep.txt").write_text("user data")
    settings = ExportSettings(tokens=2_000, formats=("parquet",))
    with pytest.raises(FileExistsError, match="not empty: pass --overwrite"):
        export_to_directory(storage=storage, settings=settings, out=out)
    assert (out / "keep.txt").exists()
    export_to_directory(storage=storage, settings=settings, out=out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "parquet").is_dir()
    assert not (out / "jsonl").exists() and not (out / "megatron").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "mix"]
    assert verify_export(str(out))[0]


def test_verify_detects_a_changed_file(storage, tmp_path):
    """Changing one byte of a data file fails the verification, naming the file."""
    out = tmp_path / "mix"
    export_to_directory(storage=storage, settings=ExportSettings(tokens=2_000), out=out)
    target = out / "jsonl" / "part_00000.tokenized.jsonl"
    target.write_text(target.read_text().replace('"token_count":', '"token_count": ', 1))
    passed, details = verify_export(str(out))
    assert not passed and details["bad_checksums"] == ["jsonl/part_00000.tokenized.jsonl"]


def test_shortfall_is_in_the_card(tmp_path):
    """A cluster short of tokens is named in the card with its shortfall, not hidden."""
    storage = build_climblab_storage(tmp_path / "home")
    summary = export_to_directory(storage=storage, settings=ExportSettings(tokens=30_000, max_epochs=1),
                                  out=tmp_path / "mix")
    card = (tmp_path / "mix" / "README.md").read_text()
    assert summary["clusters"][2]["limit"] == LIMIT_MAX_EPOCHS and summary["clusters"][2]["shortfall"] > 0
    assert "super-cluster 2 (topic 2): limit:max_epochs, short by" in card
    assert verify_export(str(tmp_path / "mix"))[0]


def test_unweighted_clusters_are_listed_but_not_drawn(tmp_path):
    """Clusters at weight 0 appear in the table with 0 tokens and get no Megatron dataset."""
    storage = build_climblab_storage(tmp_path / "home", weights={1: 1.0})
    summary = export_to_directory(storage=storage, settings=ExportSettings(tokens=1_500), out=tmp_path / "mix")
    assert [r["tokens"] > 0 for r in summary["clusters"]] == [False, True, False]
    assert {r["cluster_id"] for r in _rows(tmp_path / "mix", "jsonl/*.jsonl")} == {1}
    assert [d["cluster_id"] for d in summary["outputs"]["megatron"]["datasets"]] == [1]
    assert verify_export(str(tmp_path / "mix"))[0]


def test_no_optimal_mixture_says_run_the_search(tmp_path):
    storage = Storage(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="run the search first"):
        export_to_directory(storage=storage, settings=ExportSettings(tokens=10), out=tmp_path / "mix")
    assert not (tmp_path / "mix").exists()


def test_datasets_loads_the_parquet_and_the_card_configs(storage, tmp_path):
    """`load_dataset("parquet", data_dir=<out>/parquet)` and `load_dataset(<out>)` (the card's configs) load it."""
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "mix"
    summary = export_to_directory(storage=storage, settings=ExportSettings(tokens=2_000), out=out)
    for loaded in (datasets.load_dataset("parquet", data_dir=str(out / "parquet"), cache_dir=str(tmp_path / "hf")),
                   datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf2"))):
        assert loaded["train"].num_rows == summary["totals"]["documents"]
        assert {"text", "cluster_id"} <= set(loaded["train"].column_names)
