"""The quality scores of one shard: the paper's four raters per kept document (paper step 3).

Files of partition `<root>/quality_scores/<shard>/`:
- `quality_scores.parquet`: id, quality, educational_value, informational_value, advertisement (0-5);
- `stats.json`: per-rater kind, mean and histogram; cross-validation of trained raters; where each Hugging Face
  classifier ran (device and dtype).

A trained rater is fitted once per (labelled file, settings, embedder) and cached under
`<root>/_cache/quality_raters/`, so every shard is scored by the same model.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

import fsspec
import numpy as np
import pyarrow as pa

from climb.core.hashing import content_hash
from climb.core.config import ClimbConfig, FastTextRaterConfig, HfClassifierRaterConfig, TrainedRaterConfig
from climb.quality.hf_classifier import hf_classifier_rater
from climb.quality.raters import (
    RATERS,
    FastTextRaterSpec,
    HeuristicRaterSpec,
    HfClassifierRaterSpec,
    RaterSpec,
    TrainedRater,
    TrainedRaterSpec,
    rate,
    score_histogram,
)
from climb.core.storage import Storage

ASSET = "quality_scores"
CACHE = "quality_raters"
HISTOGRAM_BINS = 10  # over [0, 5]: half-point bins
KINDS = {HeuristicRaterSpec: "heuristic", FastTextRaterSpec: "fasttext", TrainedRaterSpec: "trained",
         HfClassifierRaterSpec: "hf_classifier"}  # the configuration's words


@dataclass(frozen=True)
class QualityReport:
    count: int
    kinds: dict[str, str]
    means: dict[str, float]
    histograms: dict[str, list[int]]
    cross_validation: dict[str, dict]
    placements: dict[str, str]  # Hugging Face classifier rater -> device and dtype it ran with
    path: str


def rater_specs(config: ClimbConfig) -> dict[str, RaterSpec]:
    """Engine specs of the four raters from the `quality` section (paths resolved from the file's folder)."""
    specs: dict[str, RaterSpec] = {}
    for name in RATERS:
        choice = config.quality.raters.get(name, "heuristic")
        if isinstance(choice, FastTextRaterConfig):
            specs[name] = FastTextRaterSpec(model=config.resolve_path(choice.fasttext),
                                            label_scores=tuple(sorted(choice.label_scores.items())))
        elif isinstance(choice, TrainedRaterConfig):
            specs[name] = TrainedRaterSpec(path=config.resolve_path(choice.trained), text_field=choice.text_field,
                                           score_field=choice.score_field, folds=choice.folds, seed=choice.seed)
        elif isinstance(choice, HfClassifierRaterConfig):
            specs[name] = _hf_classifier_spec(config, choice)
        else:
            specs[name] = HeuristicRaterSpec()
    return specs


def _hf_classifier_spec(config: ClimbConfig, choice: HfClassifierRaterConfig) -> HfClassifierRaterSpec:
    """A folder relative to the configuration file when there is one, else the name as given (a hub name)."""
    local = config.resolve_path(choice.hf_classifier)
    model = local if os.path.isdir(local) else choice.hf_classifier
    label_scores = tuple(sorted(choice.label_scores.items())) if choice.label_scores is not None else None
    return HfClassifierRaterSpec(model=model, label_scores=label_scores, regression=choice.regression,
                                 batch_size=choice.batch_size, max_length=choice.max_length, device=choice.device,
                                 dtype=choice.dtype, threads=choice.threads)


def _cache_key(spec: TrainedRaterSpec, embedder_settings) -> str:
    fs, path = fsspec.core.url_to_fs(spec.path)
    return content_hash([asdict(spec), fs.ukey(path), asdict(embedder_settings)], length=32)


def trained_raters(specs: dict[str, RaterSpec], *, storage: Storage, embedder,
                   log: logging.Logger | None = None) -> dict[str, TrainedRater]:
    """Fit (or load from the cache) every trained rater among `specs`.

    Args:
        specs: the four raters' specs.
        storage: holds the cache of fitted raters.
        embedder: a callable's provider; `embedder()` returns the loaded Embedder (only called when fitting).
        log: progress messages.
    """
    fitted: dict[str, TrainedRater] = {}
    for name, spec in specs.items():
        if not isinstance(spec, TrainedRaterSpec):
            continue
        model = embedder()
        folder = f"{storage.cache_dir(CACHE)}/{_cache_key(spec, model.settings)}"
        if storage.fs.exists(f"{folder}/done"):
            fitted[name] = TrainedRater.load(folder)
            continue
        (log or logging.getLogger(__name__)).info(f"fitting the {name} rater on {spec.path}")
        rater = TrainedRater.fit(spec, embed=lambda texts: model.embed(texts).vectors.astype(np.float32),
                                 threads=model.placement.threads)
        storage.fs.makedirs(folder, exist_ok=True)
        rater.save(folder)
        storage.fs.pipe(f"{folder}/done", b"ok")  # written last: a half-saved rater is refitted
        fitted[name] = rater
    return fitted


def _placement(spec: HfClassifierRaterSpec) -> str:
    placement = hf_classifier_rater(spec).placement  # loaded by `rate` already: the cache answers
    return f"{placement.name}, {placement.dtype}"


def write_quality_scores(shard_key: str, *, storage: Storage, specs: dict[str, RaterSpec],
                         trained: dict[str, TrainedRater], log: logging.Logger | None = None) -> QualityReport:
    """Score the kept documents of one shard with the four raters and commit the partition.

    Args:
        shard_key: the shard (partition key of `documents`).
        storage: where `documents` and `embeddings` were written and `quality_scores` goes.
        specs: the four raters' specs.
        trained: fitted trained raters by rater name (from `trained_raters`).
        log: progress messages.
    """
    documents = storage.read_table("documents", "documents.parquet", shard_key, columns=["id", "text"])
    vectors = storage.read_array("embeddings", "embeddings.npy", shard_key) if trained else None
    scores = rate(documents.column("text").to_pylist(), specs=specs, embeddings=vectors, trained=trained)
    kinds = {name: KINDS[type(specs[name])] for name in RATERS}
    placements = {name: _placement(spec) for name, spec in specs.items() if isinstance(spec, HfClassifierRaterSpec)}
    for name, where in placements.items():
        (log or logging.getLogger(__name__)).info(f"{name} rater: {specs[name].model} ran on {where}")
    report = QualityReport(
        count=documents.num_rows, kinds=kinds,
        means={name: round(float(np.mean(scores[name])), 4) if documents.num_rows else 0.0 for name in RATERS},
        histograms={name: score_histogram(scores[name], bins=HISTOGRAM_BINS) for name in RATERS},
        cross_validation={name: asdict(rater.cv) for name, rater in trained.items()}, placements=placements, path="",
    )
    table = pa.table({"id": documents.column("id"), **{name: pa.array(scores[name], pa.float32()) for name in RATERS}})
    with storage.write_partition(ASSET, shard_key) as writer:
        writer.write_table("quality_scores.parquet", table)
        writer.write_json("stats.json", asdict(report))
    return QualityReport(**{**asdict(report), "path": storage.require(ASSET, shard_key)})


def verify_quality_scores(storage: Storage, shard_key: str) -> tuple[bool, dict]:
    """One row per kept document, in order, every score within [0, 5] (reads the committed files)."""
    table = storage.read_table(ASSET, "quality_scores.parquet", shard_key)
    document_ids = storage.read_table("documents", "documents.parquet", shard_key, columns=["id"]).column("id")
    aligned = table.num_rows == len(document_ids) and table.column("id").equals(document_ids)
    out_of_range = {}
    for name in RATERS:
        values = table.column(name).to_numpy(zero_copy_only=False) if name in table.column_names else None
        if values is None:
            out_of_range[name] = "missing column"
            continue
        bad = int((~np.isfinite(values) | (values < 0) | (values > 5)).sum())
        if bad:
            out_of_range[name] = bad
    details = {"rows": table.num_rows, "documents": len(document_ids), "aligned_with_documents": aligned,
               "out_of_range": out_of_range}
    return aligned and not out_of_range, details
