"""Tests for the quality scores in storage (climb.quality.store): the raters' specs from the configuration (with
errors naming file, key and problem), one committed row of four 0-5 scores per kept document with its stats, also
from Hugging Face classifiers, and the check that catches a damaged file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from climb.core.config import ConfigError, load_config
from climb.core.storage import Storage
from climb.quality.raters import (RATERS, FastTextRaterSpec, HeuristicRaterSpec, HfClassifierRaterSpec,
                                  TrainedRaterSpec, heuristic_scores)
from climb.quality.store import ASSET, HISTOGRAM_BINS, rater_specs, verify_quality_scores, write_quality_scores
from tests.climb.quality.hf_models import spec_for

SHARD = "shard-0"
ARTICLE = ("Photosynthesis is the process by which green plants convert light energy into chemical energy. During "
           "this process, carbon dioxide and water are combined to form glucose and oxygen, which the plant uses "
           "for growth.")
SPAM = "BUY NOW!!! 50% OFF everything!! FREE SHIPPING on all orders! Click here to claim your coupon!"
TEXTS = (ARTICLE, SPAM, "Short note.", "The river flows north through the valley for ninety miles before it "
         "reaches the sea, carrying silt that built the delta over thousands of years.")
HEURISTIC = {name: HeuristicRaterSpec() for name in RATERS}


def write_documents(storage: Storage, texts=TEXTS, shard: str = SHARD, ids=None) -> list[str]:
    ids = ids or [f"doc-{i}" for i in range(len(texts))]
    with storage.write_partition("documents", shard) as writer:
        writer.write_table("documents.parquet", pa.table({"id": pa.array(ids, pa.string()),
                                                          "text": pa.array(list(texts), pa.string())}))
    return ids


def config_with(tmp_path: Path, raters_yaml: str):
    text = "corpus:\n  paths: [data/*.jsonl]\n  text_field: text\n" + raters_yaml
    path = tmp_path / "conf" / "climb.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return load_config(path, home=str(tmp_path / "home"))


# ---- rater_specs ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raters_yaml", "expected"),
    [
        pytest.param("", {name: HeuristicRaterSpec() for name in RATERS}, id="no-quality-section"),
        pytest.param("quality:\n  raters:\n    quality: heuristic\n", {name: HeuristicRaterSpec() for name in RATERS},
                     id="explicit-heuristic"),
        pytest.param(
            "quality:\n  raters:\n    educational_value:\n      fasttext: models/edu.bin\n"
            "      label_scores: {high: 5, low: 0}\n",
            {"quality": HeuristicRaterSpec(), "informational_value": HeuristicRaterSpec(),
             "advertisement": HeuristicRaterSpec(),
             "educational_value": FastTextRaterSpec(model="{conf}/models/edu.bin",
                                                    label_scores={"__label__high": 5.0, "__label__low": 0.0})},
            id="fasttext-relative-path"),
        pytest.param(
            "quality:\n  raters:\n    advertisement:\n      trained: /data/ads.jsonl\n      score_field: label\n"
            "      folds: 3\n      seed: 7\n",
            {"quality": HeuristicRaterSpec(), "educational_value": HeuristicRaterSpec(),
             "informational_value": HeuristicRaterSpec(),
             "advertisement": TrainedRaterSpec(path="/data/ads.jsonl", text_field="text", score_field="label",
                                               folds=3, seed=7)},
            id="trained-absolute-path"),
    ],
)
def test_rater_specs_from_config(tmp_path, raters_yaml, expected):
    """Every one of the four raters gets a spec; unlisted ones are heuristic; relative paths resolve from the
    configuration file's folder."""
    config = config_with(tmp_path, raters_yaml)
    conf = str((tmp_path / "conf").resolve())
    expected = {name: FastTextRaterSpec(model=spec.model.replace("{conf}", conf), label_scores=spec.label_scores)
                if isinstance(spec, FastTextRaterSpec) else spec for name, spec in expected.items()}
    specs = rater_specs(config)
    assert list(specs) == list(RATERS)
    assert specs == expected


def hf_config(tmp_path: Path, rater_yaml: str):
    """A configuration whose educational_value rater is given by `rater_yaml` (one key per line)."""
    indented = "".join(f"      {line}\n" for line in rater_yaml.splitlines())
    return config_with(tmp_path, "quality:\n  raters:\n    educational_value:\n" + indented)


def test_hf_classifier_specs_from_config(tmp_path):
    """A model folder relative to the configuration file resolves from its folder, a hub name stays as written;
    every setting reaches the spec."""
    (tmp_path / "conf" / "models" / "edu").mkdir(parents=True)
    local = hf_config(tmp_path, "hf_classifier: models/edu\nregression: true\nbatch_size: 8\nmax_length: 128\n"
                                "device: cpu\ndtype: float32\nthreads: 2")
    assert rater_specs(local)["educational_value"] == HfClassifierRaterSpec(
        model=str((tmp_path / "conf" / "models" / "edu").resolve()), regression=True, batch_size=8, max_length=128,
        device="cpu", dtype="float32", threads=2)
    specs = rater_specs(hf_config(tmp_path, "hf_classifier: org/classifier\nlabel_scores: {low: 0, high: 5}"))
    assert specs["educational_value"] == HfClassifierRaterSpec(model="org/classifier",
                                                               label_scores={"high": 5.0, "low": 0.0})
    assert specs["quality"] == HeuristicRaterSpec()


@pytest.mark.parametrize(
    ("rater_yaml", "message"),
    [
        pytest.param("hf_classifier: m", "quality.raters.educational_value: .*exactly one of the two", id="no-head"),
        pytest.param("hf_classifier: m\nregression: true\nlabel_scores: {a: 1}",
                     "quality.raters.educational_value: .*exactly one of the two", id="both-heads"),
        pytest.param("hf_classifier: m\nlabel_scores: {a: 7}",
                     "quality.raters.educational_value.label_scores.a: .*less than or equal to 5", id="score-7"),
        pytest.param("hf_classifier: m\nregression: true\nbatchsize: 8",
                     "quality.raters.educational_value.batchsize: unknown key; did you mean 'batch_size'",
                     id="misspelt-key"),
        pytest.param("hf_classifier: m\nregression: true\ndevice: gpu", "quality.raters.educational_value.device: ",
                     id="unknown-device"),
        pytest.param("hf_clasifier: m\nregression: true", r"quality.raters.educational_value: expected .*"
                     r"\{hf_classifier: MODEL, label_scores: \{...\} \| regression: true\}", id="misspelt-form"),
    ],
)
def test_hf_classifier_config_errors_name_file_key_and_problem(tmp_path, rater_yaml, message):
    with pytest.raises(ConfigError, match=f"{tmp_path / 'conf' / 'climb.yaml'}: {message}"):
        hf_config(tmp_path, rater_yaml)


# ---- write_quality_scores -----------------------------------------------------------------------------------------
def test_write_scores_one_row_per_document(storage):
    """One row per document in the documents' order, the four raters as float32 in [0, 5], equal to the heuristic
    raters; the report and stats.json carry the count, kinds, means and 10-bin histograms."""
    ids = write_documents(storage)
    report = write_quality_scores(SHARD, storage=storage, specs=HEURISTIC, trained={})
    table = storage.read_table(ASSET, "quality_scores.parquet", SHARD)
    assert table.column_names == ["id", *RATERS]
    assert table.column("id").to_pylist() == ids
    expected = heuristic_scores(list(TEXTS))
    for name in RATERS:
        assert table.schema.field(name).type == pa.float32()
        values = table.column(name).to_numpy()
        assert ((values >= 0) & (values <= 5)).all()
        np.testing.assert_array_equal(values, expected[name])
        assert report.means[name] == pytest.approx(round(float(values.mean()), 4))
        assert sum(report.histograms[name]) == len(TEXTS) and len(report.histograms[name]) == HISTOGRAM_BINS
    assert report.count == len(TEXTS)
    assert report.kinds == {name: "heuristic" for name in RATERS}
    assert report.cross_validation == {}
    assert report.path == storage.require(ASSET, SHARD)
    stats = storage.read_json(ASSET, "stats.json", SHARD)
    assert stats["count"] == len(TEXTS) and stats["means"] == report.means and stats["path"] == ""
    assert sorted(storage.manifest(ASSET, SHARD)["files"]) == ["quality_scores.parquet", "stats.json"]


def test_write_scores_rank_an_article_above_spam(storage):
    """The heuristic raters put the encyclopaedic article above the promotional page on all four scales
    (advertisement: higher is less promotional)."""
    write_documents(storage)
    write_quality_scores(SHARD, storage=storage, specs=HEURISTIC, trained={})
    rows = storage.read_table(ASSET, "quality_scores.parquet", SHARD).to_pylist()
    article, spam = rows[0], rows[1]
    for name in RATERS:
        assert article[name] > spam[name], name
    assert spam["advertisement"] < 1.0


def test_write_scores_of_an_empty_shard(storage):
    """A shard with no kept document commits an empty table with means 0 and empty histograms, and verifies."""
    write_documents(storage, texts=(), ids=[])
    report = write_quality_scores(SHARD, storage=storage, specs=HEURISTIC, trained={})
    assert report.count == 0
    assert report.means == {name: 0.0 for name in RATERS}
    assert report.histograms == {name: [0] * HISTOGRAM_BINS for name in RATERS}
    assert storage.read_table(ASSET, "quality_scores.parquet", SHARD).num_rows == 0
    assert verify_quality_scores(storage, SHARD)[0]


@pytest.mark.parametrize(
    ("specs", "trained", "error", "message"),
    [
        pytest.param({"spam_score": HeuristicRaterSpec()}, {}, ValueError, "unknown rater 'spam_score'",
                     id="unknown-rater"),
        pytest.param({"quality": FastTextRaterSpec(model="/nonexistent/model.bin", label_scores={"hi": 5.0})}, {},
                     ValueError, "no such fastText model file", id="missing-fasttext-model"),
        pytest.param({"advertisement": TrainedRaterSpec(path="/data/ads.jsonl")}, {}, ValueError,
                     "no fitted TrainedRater was given", id="trained-rater-not-fitted"),
    ],
)
def test_write_scores_rejects_bad_specs_and_commits_nothing(storage, specs, trained, error, message):
    write_documents(storage)
    with pytest.raises(error, match=message):
        write_quality_scores(SHARD, storage=storage, specs=specs, trained=trained)
    assert storage.partition_path(ASSET, SHARD) is None


def test_write_scores_without_documents_names_the_partition(storage):
    with pytest.raises(FileNotFoundError, match=r"documents\[shard-0\] has not been materialised"):
        write_quality_scores(SHARD, storage=storage, specs=HEURISTIC, trained={})


# ---- verify_quality_scores ------------------------------------------------------------------------------------
def _damage(storage: Storage, change) -> None:
    """Re-commit quality_scores/<SHARD> with `change(table) -> table` applied."""
    table = change(storage.read_table(ASSET, "quality_scores.parquet", SHARD))
    with storage.write_partition(ASSET, SHARD) as writer:
        writer.write_table("quality_scores.parquet", table)


def _set(name: str, row: int, value: float):
    def change(table: pa.Table) -> pa.Table:
        values = table.column(name).to_numpy().copy()
        values[row] = value
        return table.set_column(table.column_names.index(name), name, pa.array(values, pa.float32()))
    return change


@pytest.mark.parametrize(
    ("change", "aligned", "out_of_range"),
    [
        pytest.param(lambda t: t, True, {}, id="intact"),
        pytest.param(_set("quality", 1, 5.5), True, {"quality": 1}, id="score-above-5"),
        pytest.param(_set("advertisement", 0, -0.1), True, {"advertisement": 1}, id="negative-score"),
        pytest.param(_set("educational_value", 2, float("nan")), True, {"educational_value": 1}, id="nan-score"),
        pytest.param(lambda t: t.drop_columns(["informational_value"]), True,
                     {"informational_value": "missing column"}, id="missing-rater-column"),
        pytest.param(lambda t: t.slice(0, 3), False, {}, id="row-dropped"),
        pytest.param(lambda t: t.take([1, 0, 2, 3]), False, {}, id="rows-reordered"),
        pytest.param(lambda t: pa.concat_tables([t, t.slice(0, 1)]), False, {}, id="row-duplicated"),
    ],
)
def test_verify_catches_damaged_scores(storage, change, aligned, out_of_range):
    """verify passes only an intact file: one row per document in order, every score finite and within [0, 5];
    details say which rater is off and by how many rows."""
    write_documents(storage)
    write_quality_scores(SHARD, storage=storage, specs=HEURISTIC, trained={})
    _damage(storage, change)
    ok, details = verify_quality_scores(storage, SHARD)
    assert ok is (aligned and not out_of_range)
    assert details["aligned_with_documents"] is aligned
    assert details["out_of_range"] == out_of_range
    assert details["documents"] == len(TEXTS)
    assert details["rows"] == storage.read_table(ASSET, "quality_scores.parquet", SHARD).num_rows


def test_verify_catches_documents_rewritten_after_scoring(storage):
    """Documents re-ingested with other ids after scoring: the scores no longer line up."""
    write_documents(storage)
    write_quality_scores(SHARD, storage=storage, specs=HEURISTIC, trained={})
    write_documents(storage, ids=[f"new-{i}" for i in range(len(TEXTS))])
    ok, details = verify_quality_scores(storage, SHARD)
    assert not ok and details["aligned_with_documents"] is False and details["out_of_range"] == {}


def test_write_scores_with_hf_classifiers(storage, hf_models, hf_texts):
    """Both heads through the writer: educational text above spam and boilerplate on their raters, kinds and the
    device and dtype each model ran with in the report and stats.json, every row in the histograms."""
    texts = hf_texts["good"][:6] + hf_texts["bad"][:6]
    write_documents(storage, texts=texts)
    specs = {**HEURISTIC, "educational_value": spec_for(hf_models, "regression"),
             "quality": spec_for(hf_models, "classification")}
    report = write_quality_scores(SHARD, storage=storage, specs=specs, trained={})
    table = storage.read_table(ASSET, "quality_scores.parquet", SHARD)
    for name in ("educational_value", "quality"):
        values = table.column(name).to_numpy()
        assert values[:6].min() > values[6:].max(), name
        assert sum(report.histograms[name]) == len(texts)
    assert report.kinds == {"quality": "hf_classifier", "educational_value": "hf_classifier",
                            "informational_value": "heuristic", "advertisement": "heuristic"}
    assert sorted(report.placements) == ["educational_value", "quality"]
    assert report.placements["quality"].endswith(("float32", "bfloat16", "float16"))
    assert storage.read_json(ASSET, "stats.json", SHARD)["placements"] == report.placements
    assert verify_quality_scores(storage, SHARD)[0]
