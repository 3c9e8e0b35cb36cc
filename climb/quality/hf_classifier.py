"""Pretrained quality classifiers: any Hugging Face sequence classifier as one of the paper's four raters.

CLIMB's raters are classifiers scoring 0-5 (docs/method.md, step 3). This rater runs a model loaded with
transformers' AutoModelForSequenceClassification and AutoTokenizer, from a local folder (works offline) or a
hub name (where there is a network). Two kinds of head:
- regression (`regression: true`): one logit that is the score itself, as FineWeb-Edu's classifier;
- classification (`label_scores`): the expected score sum(softmax(logits)[label] * label_score) over the
  model's labels (its `id2label`), every one of which needs a score.

Scores are clipped to [0, 5]. Texts are tokenised once, truncated at the model's maximum length, sorted by
length and batched so that padding stays small; the device and dtype follow climb.core.device. A model is
loaded once per process and settings (`hf_classifier_rater`), not once per shard.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from climb.core.device import resolve_placement
from climb.quality.signals import MAX_SCORE

SORT_CHUNK = 8192  # texts tokenised and length-sorted together: bounded memory, little padding
FALLBACK_MAX_LENGTH = 512  # tokens, when neither the model nor its tokenizer states a limit
UNSTATED_LENGTH = 10**6  # tokenizers without a limit report a huge sentinel (int(1e30))


@dataclass(frozen=True)
class HfClassifierRaterSpec:
    """A Hugging Face sequence classifier and how its output becomes a 0-5 score.

    Args:
        model: a local model folder, or a hub name (fetched where there is a network, else from the local cache).
        label_scores: classification head: score in [0, 5] of each of the model's labels (names from its
            id2label), as a mapping or (label, score) pairs; stored as sorted pairs so the spec is hashable.
        regression: True for a one-logit head whose output is the score; exclusive with label_scores.
        batch_size: texts per forward pass.
        max_length: tokens a text is truncated to; None: the model's maximum (a larger value is capped to it).
        device: auto | cpu | cuda (climb.core.device).
        dtype: auto | float32 | float16 | bfloat16 (auto: the device rule of climb.core.device).
        threads: CPU threads torch may use; None: every available CPU.
    """

    model: str
    label_scores: Mapping[str, float] | tuple[tuple[str, float], ...] | None = None
    regression: bool = False
    batch_size: int = 32
    max_length: int | None = None
    device: str = "auto"
    dtype: str = "auto"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.regression == (self.label_scores is not None):
            raise ValueError(f"{self.model}: give label_scores (a classification head) or regression=True "
                             "(a one-logit head), exactly one of the two")
        if self.batch_size < 1 or (self.max_length is not None and self.max_length < 2) \
                or (self.threads is not None and self.threads < 1):
            raise ValueError(f"{self.model}: batch_size = {self.batch_size}, max_length = {self.max_length}, "
                             f"threads = {self.threads}; expected batch_size >= 1, max_length >= 2 and threads >= 1 "
                             "(the last two may be None)")
        if self.label_scores is not None:
            object.__setattr__(self, "label_scores", _checked_label_scores(self.model, self.label_scores))


def _checked_label_scores(model: str, label_scores) -> tuple[tuple[str, float], ...]:
    pairs = list(label_scores.items() if isinstance(label_scores, Mapping) else label_scores)
    if not pairs:
        raise ValueError(f"{model}: label_scores is empty")
    if len({label for label, _ in pairs}) != len(pairs):
        raise ValueError(f"{model}: a label is given twice in label_scores")
    for label, score in pairs:
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
                or not 0.0 <= score <= MAX_SCORE:
            raise ValueError(f"{model}: label {label!r} has score {score!r}, expected a number in [0, 5]")
    return tuple(sorted((str(label), float(score)) for label, score in pairs))


def _local_folder(model: str) -> str | None:
    """The folder `model` names, None for a hub name; a path that is no folder is an error, not a hub lookup."""
    expanded = os.path.expanduser(model)
    if os.path.isdir(expanded):
        return os.path.abspath(expanded)
    if os.path.isabs(expanded) or expanded.startswith(".") or expanded.count("/") > 1:
        raise ValueError(f"{model}: no such model folder")
    return None


def _load_pretrained(model: str, placement):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # progress goes to the run log
    folder = _local_folder(model)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder or model)
        network = AutoModelForSequenceClassification.from_pretrained(folder or model, dtype=placement.torch_dtype())
    except (OSError, ValueError) as err:  # transformers' words for a missing file, an unreachable hub, a bad folder
        reason = " ".join(str(err).split())  # one line, for run logs and Dagster's failure description
        if folder:
            raise ValueError(f"{model}: could not load a sequence classifier from the folder ({reason})") from err
        raise ValueError(f"{model}: not a local folder, and could not load a sequence classifier from the Hugging "
                         f"Face hub or its local cache ({reason}); offline, point hf_classifier at a downloaded "
                         "model folder") from err
    if tokenizer.pad_token is None:
        raise ValueError(f"{model}: the tokenizer has no padding token, which batching needs")
    return tokenizer, network.to(placement.device).eval()


class HfClassifierRater:
    """Scores documents with a Hugging Face sequence classifier, float32 within [0, 5].

    Attributes: `spec`, `placement` (device, dtype, threads, name), `labels` (the model's labels by output
    index), `max_length` (tokens per text after truncation).

    Args:
        spec: the model, its head (label_scores or regression), batch size, max length, device and dtype.
    """

    def __init__(self, spec: HfClassifierRaterSpec):
        import torch

        self.spec = spec
        self.placement = resolve_placement(spec.device, spec.dtype, spec.threads)
        if self.placement.device == "cpu":
            torch.set_num_threads(self.placement.threads)
        self.tokenizer, self.network = _load_pretrained(spec.model, self.placement)
        config = self.network.config
        self.labels = [str(config.id2label[i]) for i in range(config.num_labels)]
        self._label_scores = self._score_vector(getattr(config, "problem_type", None))
        limits = [getattr(config, "max_position_embeddings", None), self.tokenizer.model_max_length]
        model_limit = min((n for n in limits if n and n < UNSTATED_LENGTH), default=FALLBACK_MAX_LENGTH)
        self.max_length = min(spec.max_length or model_limit, model_limit)

    def _score_vector(self, problem_type: str | None):
        """Score of each output for a classification head (aligned with `labels`), None for a regression head."""
        model, labels = self.spec.model, ", ".join(map(repr, self.labels))
        if problem_type == "multi_label_classification":
            raise ValueError(f"{model}: a multi-label head (independent sigmoids) has no expected score")
        if self.spec.regression:
            if len(self.labels) != 1:
                raise ValueError(f"{model}: regression needs a one-logit head; the model has {len(self.labels)} "
                                 f"labels ({labels}): give label_scores instead")
            return None
        if len(self.labels) == 1:
            raise ValueError(f"{model}: the model has one logit (a regression head); use regression: true")
        given = dict(self.spec.label_scores)
        unknown = sorted(set(given) - set(self.labels))
        missing = [label for label in self.labels if label not in given]
        if unknown or missing:
            problem = (f"label_scores names {unknown[0]!r}, which is not a label of the model" if unknown
                       else f"label {missing[0]!r} of the model has no score in label_scores")
            raise ValueError(f"{model}: {problem} (the model's labels: {labels})")
        return np.asarray([given[label] for label in self.labels], dtype=np.float32)

    def _forward(self, encoded: dict[str, list], members: list[int]) -> np.ndarray:
        import torch

        batch = self.tokenizer.pad({key: [ids[i] for i in members] for key, ids in encoded.items()},
                                   return_tensors="pt")
        logits = self.network(**{key: value.to(self.placement.device) for key, value in batch.items()}).logits
        logits = logits.float()  # (B, num_labels); softmax and sums in float32 whatever the model's dtype
        if self._label_scores is None:
            return logits[:, 0].cpu().numpy()
        return (torch.softmax(logits, dim=-1).cpu().numpy() @ self._label_scores).astype(np.float32)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Score of each text, float32 of shape (N,) within [0, 5], in the texts' order.

        Args:
            texts: the documents; each is truncated to `max_length` tokens.
        """
        import torch

        out = np.zeros(len(texts), dtype=np.float32)
        inputs = self.tokenizer.model_input_names
        with torch.inference_mode():
            for start in range(0, len(texts), SORT_CHUNK):
                chunk = list(texts[start : start + SORT_CHUNK])
                encoded = self.tokenizer(chunk, truncation=True, max_length=self.max_length)
                encoded = {key: value for key, value in encoded.items() if key in inputs}
                order = sorted(range(len(chunk)), key=lambda i: len(encoded["input_ids"][i]))
                for b in range(0, len(order), self.spec.batch_size):
                    members = order[b : b + self.spec.batch_size]
                    out[[start + i for i in members]] = self._forward(encoded, members)
        return np.clip(out, 0.0, MAX_SCORE)


def _fingerprint(model: str) -> int:
    """Latest modification time in a local model folder (0 for a hub name): a rewritten model is reloaded."""
    folder = _local_folder(model)
    if folder is None:
        return 0
    return max((entry.stat().st_mtime_ns for entry in os.scandir(folder)), default=0)


@functools.lru_cache(maxsize=4)
def _cached_rater(spec: HfClassifierRaterSpec, fingerprint: int) -> HfClassifierRater:
    return HfClassifierRater(spec)  # fingerprint is part of the cache key only


def hf_classifier_rater(spec: HfClassifierRaterSpec) -> HfClassifierRater:
    """The rater for `spec`, loaded once per process (every shard reuses it while the model folder is unchanged)."""
    return _cached_rater(spec, _fingerprint(spec.model))
