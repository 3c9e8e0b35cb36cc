"""Quality raters: the paper's four raters on its 0-5 scale, from heuristics, a fastText model or a fitted regressor.

CLIMB (DESIGN section 1 step 3) prunes clusters whose mean rating is low on four raters: `quality`,
`educational_value`, `informational_value` and `advertisement` (higher = less promotional). Each rater is one of:
- heuristic (the default): transparent formulas over Gopher / C4 / FineWeb signals (resources.quality_signals);
- fastText: a supervised fastText model file (such as the raters NVIDIA released) whose labels map to scores;
  a document scores the expected value sum(p(label) * label_score) over all labels;
- trained: LightGBM regression on the document embeddings, fitted from a user's labelled file (text, 0-5 score),
  reporting its k-fold cross-validated MAE and Spearman rank correlation; saved as a folder of LightGBM model
  text plus a JSON sidecar so that one fit serves every shard.

`rate` runs all four over a batch of documents and returns one float32 array per rater, each within [0, 5].
"""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import fsspec
import numpy as np

from resources.quality_signals import MAX_SCORE, RATERS, QualitySignals, compute_signals, heuristic_scores

__all__ = [
    "RATERS", "QualitySignals", "compute_signals", "heuristic_scores", "HeuristicRaterSpec", "FastTextRaterSpec",
    "TrainedRaterSpec", "RaterSpec", "FastTextRater", "CrossValidation", "TrainedRater", "read_labelled", "rate",
    "score_histogram",
]

FASTTEXT_LABEL_PREFIX = "__label__"
TRAINED_FORMAT = "climb-trained-rater/1"
MODEL_FILE = "lightgbm_model.txt"  # a saved trained rater is a folder holding these two files
SIDECAR_FILE = "rater.json"
MIN_TRAINING_ROWS = 10
# LightGBM for a few hundred to a few thousand (embedding, score) rows: shallow trees, strong row/column
# subsampling and L2, a small fixed number of rounds (no early stopping: every row is needed for the fit).
LIGHTGBM_PARAMS = {
    "objective": "regression",  # squared error on the 0-5 score
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 4,  # 4 levels: enough for interactions, too few to memorise a few hundred rows
    "min_data_in_leaf": 10,
    "feature_fraction": 0.5,  # half of the embedding dimensions per tree decorrelates the trees
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "deterministic": True,
    "force_row_wise": True,  # LightGBM asks for a fixed histogram layout when deterministic is set
    "verbosity": -1,
}
NUM_BOOST_ROUND = 300


# ---- specs -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeuristicRaterSpec:
    """The built-in heuristic rater (resources.quality_signals); no settings."""


@dataclass(frozen=True)
class FastTextRaterSpec:
    """A supervised fastText model and the 0-5 score of each of its labels.

    Args:
        model: local path of the model file (.bin or .ftz).
        label_scores: score of each label, as a mapping or (label, score) pairs; a label may be given with
            or without fastText's `__label__` prefix. Stored as sorted pairs so that the spec is hashable.
    """

    model: str
    label_scores: Mapping[str, float] | tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        pairs = self.label_scores.items() if isinstance(self.label_scores, Mapping) else self.label_scores
        scores: dict[str, float] = {}
        for label, score in pairs:
            full = label if label.startswith(FASTTEXT_LABEL_PREFIX) else FASTTEXT_LABEL_PREFIX + label
            if full in scores:
                raise ValueError(f"{self.model}: label {full!r} is given twice in label_scores")
            if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
                raise ValueError(f"{self.model}: label {label!r} has score {score!r}, expected a finite number")
            scores[full] = float(score)
        if not scores:
            raise ValueError(f"{self.model}: label_scores is empty")
        object.__setattr__(self, "label_scores", tuple(sorted(scores.items())))


@dataclass(frozen=True)
class TrainedRaterSpec:
    """A rater fitted on the document embeddings from a labelled file.

    Args:
        path: JSONL, CSV (with a header) or Parquet file, local or any fsspec URI; `.gz` etc. are decompressed.
        text_field: the column holding the document text.
        score_field: the column holding its score, a number in [0, 5].
        folds: k of the k-fold cross-validation that is reported (>= 2).
        seed: shuffles the folds and seeds LightGBM's row and column sampling.
    """

    path: str
    text_field: str = "text"
    score_field: str = "score"
    folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.folds < 2:
            raise ValueError(f"{self.path}: folds = {self.folds}, expected at least 2")


RaterSpec = HeuristicRaterSpec | FastTextRaterSpec | TrainedRaterSpec


# ---- fastText ------------------------------------------------------------------------------------------------
def _import_fasttext():
    try:
        import fasttext
    except ImportError as err:
        raise ImportError("fastText raters need the 'fasttext' module: "
                          "pip install fasttext-numpy2-wheel==0.9.2") from err
    return fasttext


class FastTextRater:
    """Scores documents with a supervised fastText model: sum over labels of p(label) * label_score, in [0, 5].

    Args:
        spec: the model file and the score of each label; every label of the model must have a score.
    """

    def __init__(self, spec: FastTextRaterSpec):
        fasttext = _import_fasttext()
        self.spec = spec
        self._label_scores = dict(spec.label_scores)
        if not os.path.isfile(spec.model):
            raise ValueError(f"{spec.model}: no such fastText model file")
        try:
            self._model = fasttext.load_model(spec.model)
        except ValueError as err:
            raise ValueError(f"{spec.model}: not a readable fastText model: {err}") from err
        for label in self._model.get_labels():
            self._score_of(label)

    def _score_of(self, label: str) -> float:
        try:
            return self._label_scores[label]
        except KeyError:
            known = ", ".join(self._label_scores)
            raise ValueError(f"{self.spec.model}: the model's label {label!r} has no score in label_scores "
                             f"(scores given for: {known})") from None

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Expected score of each text, float32 of shape (N,).

        Args:
            texts: the documents; newlines become spaces (fastText predicts one line at a time).
        """
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float32)
        lines = [text.replace("\r", " ").replace("\n", " ") for text in texts]
        labels, probabilities = self._model.predict(lines, k=-1)
        out = np.empty(len(lines), dtype=np.float32)
        for i, (doc_labels, p) in enumerate(zip(labels, probabilities)):
            out[i] = float(np.dot(p, [self._score_of(label) for label in doc_labels]))
        return np.clip(out, 0.0, MAX_SCORE)


@functools.lru_cache(maxsize=8)
def _cached_fasttext_rater(spec: FastTextRaterSpec, modified_ns: int) -> FastTextRater:
    return FastTextRater(spec)  # modified_ns is part of the cache key only: a rewritten file is reloaded


# ---- labelled files -----------------------------------------------------------------------------------------
def _labelled_rows(path: str, text_field: str, score_field: str) -> Iterator[tuple[str, Any, Any]]:
    """(where, text, score) per record; JSONL and CSV count lines from 1, Parquet rows from 0 (as the readers)."""
    name = path.lower()
    for suffix in (".gz", ".bz2", ".xz", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        with fsspec.open(path, "rb") as handle:
            table = pq.read_table(handle)
        for column in (text_field, score_field):
            if column not in table.column_names:
                raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(table.column_names)})")
        for row, (text, score) in enumerate(zip(table[text_field].to_pylist(), table[score_field].to_pylist())):
            yield f"row {row}", text, score
    elif name.endswith(".csv"):
        with fsspec.open(path, "rt", encoding="utf-8", newline="", compression="infer") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            for column in (text_field, score_field):
                if column not in header:
                    raise ValueError(f"{path}: no column {column!r} in the header ({', '.join(header)})")
            start = 2
            for record in reader:
                yield f"line {start}", record.get(text_field), record.get(score_field)
                start = reader.line_num + 1
    elif name.endswith((".jsonl", ".ndjson")):
        with fsspec.open(path, "rt", encoding="utf-8", compression="infer") as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}: line {line_no}: not valid JSON: {err}") from err
                if not isinstance(record, dict):
                    raise ValueError(f"{path}: line {line_no}: a JSON {type(record).__name__}, expected an object")
                yield f"line {line_no}", record.get(text_field), record.get(score_field)
    else:
        raise ValueError(f"{path}: unknown labelled-file format (expected .jsonl, .csv or .parquet)")


def _checked_score(path: str, where: str, field: str, value: Any) -> float:
    if isinstance(value, str):  # CSV holds only strings; JSON and Parquet exports sometimes quote numbers
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{path}: {where}: score {value!r} in {field!r} is not a number") from None
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{path}: {where}: score {value!r} in {field!r} is not a number")
    if not 0.0 <= value <= MAX_SCORE:  # also rejects NaN
        raise ValueError(f"{path}: {where}: score {value!r} in {field!r} is outside [0, {MAX_SCORE:g}]")
    return float(value)


def read_labelled(path: str, *, text_field: str = "text", score_field: str = "score") -> tuple[list[str], np.ndarray]:
    """The texts and float32 scores of a labelled file; the first bad row raises ValueError naming file and row.

    Args:
        path: JSONL, CSV (header row) or Parquet; local or any fsspec URI.
        text_field: column of the document text (a non-empty string).
        score_field: column of its score: a number in [0, 5], or a string that parses as one.
    """
    texts: list[str] = []
    scores: list[float] = []
    for where, text, score in _labelled_rows(path, text_field, score_field):
        if not isinstance(text, str) or not text.strip():
            what = "missing" if text is None else "empty" if isinstance(text, str) else f"a {type(text).__name__}"
            raise ValueError(f"{path}: {where}: text in {text_field!r} is {what}, expected a non-empty string")
        texts.append(text)
        scores.append(_checked_score(path, where, score_field, score))
    return texts, np.asarray(scores, dtype=np.float32)


# ---- trained rater -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold quality of a trained rater: MAE on the 0-5 scale and Spearman rank correlation."""

    folds: int
    rows: int
    mae: float
    spearman: float


def _features(embeddings: Any, *, rows: int | None, dim: int | None, source: str) -> np.ndarray:
    x = np.asarray(embeddings)
    if x.ndim != 2 or (rows is not None and x.shape[0] != rows) or (dim is not None and x.shape[1] != dim):
        expected = f"({rows if rows is not None else 'N'}, {dim if dim is not None else 'd'})"
        raise ValueError(f"{source}: embeddings of shape {x.shape}, expected {expected}")
    x = x.astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(f"{source}: embeddings hold NaN or infinite values")
    return x


def _lightgbm_params(seed: int, threads: int | None) -> dict[str, Any]:
    return {**LIGHTGBM_PARAMS, "seed": seed, "num_threads": threads or 0}  # 0: LightGBM's default, all cores


def _train_booster(x: np.ndarray, y: np.ndarray, params: dict[str, Any]):
    import lightgbm

    return lightgbm.train(params, lightgbm.Dataset(x, label=y, params={"verbosity": -1}), NUM_BOOST_ROUND)


def _cross_validate(x: np.ndarray, y: np.ndarray, folds: int, params: dict[str, Any], seed: int) -> CrossValidation:
    from scipy.stats import spearmanr

    out_of_fold = np.empty_like(y)
    order = np.random.default_rng(seed).permutation(len(y))
    for held_out in np.array_split(order, folds):
        train = np.setdiff1d(order, held_out, assume_unique=True)
        booster = _train_booster(x[train], y[train], params)
        out_of_fold[held_out] = np.clip(booster.predict(x[held_out]), 0.0, MAX_SCORE)
    spearman = spearmanr(out_of_fold, y).statistic if np.ptp(out_of_fold) > 0 else float("nan")
    return CrossValidation(folds=folds, rows=len(y), mae=float(np.mean(np.abs(out_of_fold - y))),
                           spearman=float(spearman))


def _write_atomically(path: str, text: str) -> None:
    fs, target = fsspec.core.url_to_fs(path)
    parent = target.rsplit("/", 1)[0] if "/" in target else "."
    fs.makedirs(parent, exist_ok=True)
    temporary = f"{target}.tmp-{uuid.uuid4().hex}"
    with fs.open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    fs.mv(temporary, target)


class TrainedRater:
    """LightGBM regression from document embeddings to a 0-5 score, fitted on a user's labelled file.

    Build with `fit` or `load`. Attributes: `spec` (what it was fitted from), `cv` (its cross-validation),
    `dim` (embedding width it expects), `threads` (LightGBM threads; None = all cores).
    """

    def __init__(self, *, booster, spec: TrainedRaterSpec, cv: CrossValidation, dim: int, threads: int | None):
        self._booster = booster
        self.spec = spec
        self.cv = cv
        self.dim = dim
        self.threads = threads

    @classmethod
    def fit(cls, spec: TrainedRaterSpec, *, embed: Callable[[list[str]], np.ndarray],
            threads: int | None = None) -> TrainedRater:
        """Read the labelled file, embed its texts, cross-validate, then fit on every row.

        Args:
            spec: the labelled file, its columns, the number of folds and the seed.
            embed: texts -> (N, d) float unit vectors, the same embedder that embeds the corpus.
            threads: LightGBM threads (None: all cores).
        """
        texts, y = read_labelled(spec.path, text_field=spec.text_field, score_field=spec.score_field)
        if len(y) < max(MIN_TRAINING_ROWS, 2 * spec.folds):
            raise ValueError(f"{spec.path}: {len(y)} labelled rows, a trained rater needs at least "
                             f"{max(MIN_TRAINING_ROWS, 2 * spec.folds)} (for {spec.folds} folds)")
        if np.ptp(y) == 0:
            raise ValueError(f"{spec.path}: every row has score {y[0]:g}; a rater needs scores that vary")
        x = _features(embed(texts), rows=len(texts), dim=None, source=f"{spec.path}: embed()")
        params = _lightgbm_params(spec.seed, threads)
        cv = _cross_validate(x, y, spec.folds, params, spec.seed)
        return cls(booster=_train_booster(x, y, params), spec=spec, cv=cv, dim=x.shape[1], threads=threads)

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """Scores of documents from their embeddings, float32 of shape (N,) within [0, 5].

        Args:
            embeddings: (N, d) float16 or float32, from the embedder the rater was fitted with.
        """
        x = _features(embeddings, rows=None, dim=self.dim, source=f"trained rater ({self.spec.path})")
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        predicted = self._booster.predict(x, num_threads=self.threads or 0)
        return np.clip(predicted, 0.0, MAX_SCORE).astype(np.float32)

    def save(self, path: str) -> None:
        """Write the rater into folder `path` (created if needed): LightGBM's model text and a JSON sidecar
        with the spec, cross-validation and settings, each file written atomically.

        Args:
            path: a local folder or fsspec URI.
        """
        sidecar = {
            "format": TRAINED_FORMAT, "spec": asdict(self.spec), "cv": asdict(self.cv), "dim": self.dim,
            "threads": self.threads, "lightgbm_params": LIGHTGBM_PARAMS, "num_boost_round": NUM_BOOST_ROUND,
        }
        _write_atomically(f"{path.rstrip('/')}/{MODEL_FILE}", self._booster.model_to_string())
        _write_atomically(f"{path.rstrip('/')}/{SIDECAR_FILE}", json.dumps(sidecar, indent=2, sort_keys=True))

    @classmethod
    def load(cls, path: str, *, threads: int | None = None) -> TrainedRater:
        """A rater written by `save`.

        Args:
            path: the folder given to `save`.
            threads: LightGBM threads for scoring (None: those recorded at fit time).
        """
        import lightgbm

        sidecar_path, model_path = f"{path.rstrip('/')}/{SIDECAR_FILE}", f"{path.rstrip('/')}/{MODEL_FILE}"
        with fsspec.open(sidecar_path, "rt", encoding="utf-8") as handle:
            sidecar = json.load(handle)
        if sidecar.get("format") != TRAINED_FORMAT:
            raise ValueError(f"{sidecar_path}: format {sidecar.get('format')!r}, expected {TRAINED_FORMAT!r}")
        with fsspec.open(model_path, "rt", encoding="utf-8") as handle:
            booster = lightgbm.Booster(model_str=handle.read())
        return cls(booster=booster, spec=TrainedRaterSpec(**sidecar["spec"]), cv=CrossValidation(**sidecar["cv"]),
                   dim=int(sidecar["dim"]), threads=threads if threads is not None else sidecar["threads"])


# ---- all four raters -------------------------------------------------------------------------------------
def rate(texts: Sequence[str], *, specs: Mapping[str, RaterSpec], embeddings: np.ndarray | None = None,
         trained: Mapping[str, TrainedRater] | None = None) -> dict[str, np.ndarray]:
    """The four ratings of every document (paper: quality, educational value, informational value, advertisement).

    Args:
        texts: the documents.
        specs: rater name -> spec; a rater in RATERS missing here is heuristic; other names are an error.
        embeddings: (N, d) document embeddings, needed when any rater is trained.
        trained: rater name -> fitted TrainedRater, for every rater whose spec is a TrainedRaterSpec.

    Returns:
        One float32 array of shape (N,) per name in RATERS, each within [0, 5].
    """
    unknown = sorted(set(specs) - set(RATERS))
    if unknown:
        raise ValueError(f"unknown rater {unknown[0]!r}; raters are {', '.join(RATERS)}")
    chosen = {name: specs.get(name, HeuristicRaterSpec()) for name in RATERS}
    heuristic = heuristic_scores(texts) if any(isinstance(s, HeuristicRaterSpec) for s in chosen.values()) else {}
    out: dict[str, np.ndarray] = {}
    for name, spec in chosen.items():
        if isinstance(spec, HeuristicRaterSpec):
            scores = heuristic[name]
        elif isinstance(spec, FastTextRaterSpec):
            if not os.path.isfile(spec.model):
                raise ValueError(f"rater {name!r}: {spec.model}: no such fastText model file")
            scores = _cached_fasttext_rater(spec, os.stat(spec.model).st_mtime_ns).score(texts)
        elif isinstance(spec, TrainedRaterSpec):
            rater = (trained or {}).get(name)
            if rater is None:
                raise ValueError(f"rater {name!r} is trained from {spec.path} but no fitted TrainedRater was given")
            if rater.spec != spec:
                raise ValueError(f"rater {name!r}: the fitted rater comes from {rater.spec}, the spec is {spec}")
            if embeddings is None:
                raise ValueError(f"rater {name!r} is trained from {spec.path} and needs the documents' embeddings")
            scores = rater.score(_features(embeddings, rows=len(texts), dim=None, source=f"rater {name!r}"))
        else:
            raise ValueError(f"rater {name!r}: unknown spec {spec!r}")
        scores = np.asarray(scores, dtype=np.float32)
        assert scores.shape == (len(texts),), f"rater {name!r}: {scores.shape} scores for {len(texts)} documents"
        assert bool(np.all((scores >= 0.0) & (scores <= MAX_SCORE))), f"rater {name!r}: a score outside [0, 5]"
        out[name] = scores
    return out


def score_histogram(scores: np.ndarray, bins: int = 10) -> list[int]:
    """Counts of scores in `bins` equal bins over [0, 5] (5.0 falls in the last bin).

    Args:
        scores: ratings, each within [0, 5].
        bins: number of bins (>= 1).
    """
    values = np.asarray(scores, dtype=np.float64).ravel()
    if bins < 1:
        raise ValueError(f"bins = {bins}, expected at least 1")
    if not np.all((values >= 0.0) & (values <= MAX_SCORE)):
        raise ValueError("scores outside [0, 5] (or NaN) cannot be binned over [0, 5]")
    return np.histogram(values, bins=bins, range=(0.0, MAX_SCORE))[0].tolist()
