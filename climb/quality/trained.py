"""Trained quality rater: LightGBM regression on document embeddings, fitted from a user's labelled file.

A labelled file (JSONL, CSV with a header, or Parquet) gives a text and a 0-5 score per row. The texts
are embedded with the project's embedder, a LightGBM regressor is fitted on (embedding, score), and its
k-fold cross-validated MAE and Spearman rank correlation are reported. A fitted rater is saved as a
folder (LightGBM model text + a JSON sidecar) so one fit serves every shard.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import fsspec
import numpy as np

from climb.quality.signals import MAX_SCORE

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


def features(embeddings: Any, *, rows: int | None, dim: int | None, source: str) -> np.ndarray:
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
        x = features(embed(texts), rows=len(texts), dim=None, source=f"{spec.path}: embed()")
        params = _lightgbm_params(spec.seed, threads)
        cv = _cross_validate(x, y, spec.folds, params, spec.seed)
        return cls(booster=_train_booster(x, y, params), spec=spec, cv=cv, dim=x.shape[1], threads=threads)

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """Scores of documents from their embeddings, float32 of shape (N,) within [0, 5].

        Args:
            embeddings: (N, d) float16 or float32, from the embedder the rater was fitted with.
        """
        x = features(embeddings, rows=None, dim=self.dim, source=f"trained rater ({self.spec.path})")
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
