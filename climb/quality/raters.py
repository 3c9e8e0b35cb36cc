"""Quality raters: the paper's four raters on its 0-5 scale, from heuristics, a classifier model or a fitted regressor.

CLIMB (docs/method.md, step 3) prunes clusters whose mean rating is low on four raters: `quality`,
`educational_value`, `informational_value` and `advertisement` (higher = less promotional). Each rater is one of:
- heuristic (the default): transparent formulas over Gopher / C4 / FineWeb signals (climb.quality.signals);
- fastText: a supervised fastText model file (such as the raters NVIDIA released) whose labels map to scores;
  a document scores the expected value sum(p(label) * label_score) over all labels;
- trained: LightGBM regression on the document embeddings, fitted from a user's labelled file (text, 0-5 score),
  reporting its k-fold cross-validated MAE and Spearman rank correlation; saved as a folder of LightGBM model
  text plus a JSON sidecar so that one fit serves every shard;
- hf_classifier: a pretrained Hugging Face sequence classifier, a regression head giving the score or a
  classification head whose labels map to scores (climb.quality.hf_classifier).

`rate` runs all four over a batch of documents and returns one float32 array per rater, each within [0, 5].
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from climb.quality.hf_classifier import HfClassifierRaterSpec, hf_classifier_rater
from climb.quality.signals import MAX_SCORE, RATERS, QualitySignals, compute_signals, heuristic_scores
from climb.quality.trained import CrossValidation, TrainedRater, TrainedRaterSpec, features, read_labelled

__all__ = [
    "RATERS", "QualitySignals", "compute_signals", "heuristic_scores", "HeuristicRaterSpec", "FastTextRaterSpec",
    "TrainedRaterSpec", "HfClassifierRaterSpec", "RaterSpec", "FastTextRater", "CrossValidation", "TrainedRater",
    "read_labelled", "rate", "score_histogram",
]

FASTTEXT_LABEL_PREFIX = "__label__"


# ---- specs -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeuristicRaterSpec:
    """The built-in heuristic rater (climb.quality.signals); no settings."""


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


RaterSpec = HeuristicRaterSpec | FastTextRaterSpec | TrainedRaterSpec | HfClassifierRaterSpec


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
            scores = rater.score(features(embeddings, rows=len(texts), dim=None, source=f"rater {name!r}"))
        elif isinstance(spec, HfClassifierRaterSpec):
            try:
                scores = hf_classifier_rater(spec).score(texts)
            except ValueError as err:  # a model that does not fit its spec names the rater as well
                raise ValueError(f"rater {name!r}: {err}") from err
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
