"""Targets: the objective a mixture search maximises (paper step 6, "score it on the target").

A proxy LM is scored on one or more target parts, and `combine` folds the parts into the single number the
predictor learns and the search maximises:

- text: mean next-token loss on target text cut into windows (the paper's domain-specific targets);
- benchmark: zero-shot multiple choice by log-likelihood (the paper's general-reasoning target is the
  mean of PIQA acc_norm, ARC-Easy acc and HellaSwag acc_norm, GENERAL_REASONING_TARGET).

Scoring follows lm-evaluation-harness (`loglikelihood` requests of `output_type: multiple_choice`):
context and continuation are encoded separately and concatenated, trailing whitespace of the context
moves to the continuation, an empty context becomes the end-of-text token, and the pair is cut from the
left to the model's length. `acc` picks the choice of the highest summed log P(continuation | context);
`acc_norm` divides each sum by the continuation's length in UTF-8 bytes first (lm-eval divides by
characters of the choice text: the same on ASCII, and the delimiter space adds one byte to every choice).
Ties go to the lowest index (numpy argmax).

`split_holdout` keeps part of a target away from the search, so the chosen mixture can be checked on
items the predictor never saw. The benchmark file formats live in climb.search.benchmarks.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from climb.search.benchmarks import FORMATS, MCItem, load_benchmark
from climb.climblab.tokenization import encode_batch
from climb.climblab.tokenization import eos_id as end_of_text_id

if TYPE_CHECKING:
    import tokenizers
    import torch

__all__ = ["FORMATS", "GENERAL_REASONING_TARGET", "MCItem", "TargetPart", "combine", "load_benchmark",
           "mean_token_loss", "score_multiple_choice", "split_holdout", "text_windows"]

KINDS = ("text", "benchmark")
METRICS = {"text": ("loss",), "benchmark": ("acc", "acc_norm")}  # the metrics each kind of part reports
ENCODE_BATCH = 1024  # texts tokenized together by text_windows (bounds the encodings held at once)
PAD_ID = 0  # any id works: padded positions are masked and never scored

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TargetPart:
    """One scored part of the target; `name` keys its score in the mapping `combine` reads."""

    name: str  # the text target's or benchmark's name, e.g. "piqa"; unique within a target
    kind: str  # "text" | "benchmark"
    metric: str  # "loss" for text; "acc" | "acc_norm" for a benchmark
    weight: float = 1.0  # relative weight in combine; > 0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"target part {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.metric not in METRICS[self.kind]:
            raise ValueError(f"target part {self.name!r}: a {self.kind} part reports {METRICS[self.kind]}, "
                             f"got metric {self.metric!r}")
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ValueError(f"target part {self.name!r}: weight must be finite and > 0, got {self.weight}")


# The paper's general-reasoning target (docs/method.md, step 6): the mean of three zero-shot accuracies.
GENERAL_REASONING_TARGET = (
    TargetPart("piqa", "benchmark", "acc_norm"),
    TargetPart("arc_easy", "benchmark", "acc"),
    TargetPart("hellaswag", "benchmark", "acc_norm"),
)


@contextmanager
def _evaluating(model: "torch.nn.Module", device: str):
    """The model on `device`, in eval mode and without autograd; its training flag restored afterwards."""
    import torch

    was_training = model.training
    model.to(device)
    model.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        model.train(was_training)


def _model_max_length(model) -> int | None:
    return getattr(getattr(model, "config", None), "max_position_embeddings", None)


def _encode_requests(tokenizer: "tokenizers.Tokenizer", items: Sequence[MCItem]) -> list[tuple[list[int], list[int]]]:
    """(context ids, continuation ids) per choice of every item, flattened in item order."""
    pairs = []
    for item in items:
        for context, continuation in zip(item.contexts, item.continuations):
            spaces = len(context) - len(context.rstrip())  # lm-eval: "Answer: " + "x" -> "Answer:" + " x"
            pairs.append((context[: len(context) - spaces], context[len(context) - spaces :] + continuation))
    unique = sorted({text for pair in pairs for text in pair})  # HellaSwag shares one context by 4 choices
    ids = dict(zip(unique, encode_batch(tokenizer, unique)))
    requests = []
    for context, continuation in pairs:
        context_ids = ids[context] or [end_of_text_id(tokenizer)]  # lm-eval's prefix token for an empty context
        requests.append((context_ids, ids[continuation]))
    return requests


def _loglikelihoods(model, requests: Sequence[tuple[list[int], list[int]]], *, batch_size: int, device: str,
                    max_length: int | None) -> np.ndarray:
    """(R,) float64: summed log P(continuation | context) per request, batched longest first."""
    import torch

    inputs, n_scored = [], []
    for context_ids, continuation_ids in requests:
        whole = context_ids + continuation_ids
        if max_length is not None:
            whole = whole[-(max_length + 1) :]
        inputs.append(whole[:-1])  # the last token is only ever a target
        n_scored.append(len(continuation_ids))
    order = sorted(range(len(requests)), key=lambda r: -len(inputs[r]))  # stable: ties keep request order
    scores = np.zeros(len(requests), dtype=np.float64)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        width = len(inputs[batch[0]])
        input_ids = torch.full((len(batch), width), PAD_ID, dtype=torch.long)
        attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, r in enumerate(batch):  # right padding: real tokens keep positions 0..len-1
            input_ids[row, : len(inputs[r])] = torch.tensor(inputs[r])
            attention_mask[row, : len(inputs[r])] = 1
        logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits  # (B, T, V)
        for row, r in enumerate(batch):
            end, n = len(inputs[r]), n_scored[r]
            log_probs = logits[row, end - n : end].float().log_softmax(dim=-1)  # (n, V): predicts the continuation
            targets = torch.tensor(requests[r][1], device=log_probs.device)
            scores[r] = log_probs.gather(1, targets[:, None]).double().sum().item()
    return scores


def score_multiple_choice(model, tokenizer: "tokenizers.Tokenizer", items: Sequence[MCItem], *, batch_size: int = 16,
                          device: str = "cpu", max_length: int | None = None, return_details: bool = False) -> dict:
    """Zero-shot accuracy by log-likelihood: {"acc", "acc_norm", "n"} (+ "details" on request).

    Args:
        model: a causal LM with `model(input_ids=, attention_mask=).logits` of shape (B, T, V) (a transformers
            causal LM); moved to `device`, run in eval mode without autograd, its training flag restored.
        tokenizer: the model's tokenizer (ids without special tokens; its end-of-text token stands in for
            an empty context).
        items: the questions (load_benchmark); empty raises ValueError.
        batch_size: (context, continuation) pairs per forward pass; right-padded with an attention mask,
            longest first; the result does not depend on it beyond float rounding.
        device: where the model runs ("cpu", "cuda"; see climb.core.device).
        max_length: the most tokens a pass sees; each pair is cut from the left to fit. None: the model's
            `config.max_position_embeddings`, or no cut for a model without one. A continuation longer
            than this raises ValueError.
        return_details: add "details", one dict per item: id, gold, loglikelihoods (per choice), pred
            (acc's choice), pred_norm (acc_norm's choice).
    """
    if not items:
        raise ValueError("score_multiple_choice needs at least one item")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    limit = max_length if max_length is not None else _model_max_length(model)
    if limit is not None and limit < 1:
        raise ValueError(f"max_length must be >= 1, got {limit}")
    requests = _encode_requests(tokenizer, items)
    owners = [item for item in items for _ in item.continuations]
    for item, (_, continuation_ids) in zip(owners, requests):
        if not continuation_ids:
            raise ValueError(f"item {item.id}: a continuation encodes to no tokens: {item.continuations}")
        if limit is not None and len(continuation_ids) > limit:
            raise ValueError(f"item {item.id}: a continuation of {len(continuation_ids)} tokens exceeds "
                             f"max_length {limit}")
    started = time.perf_counter()
    with _evaluating(model, device):
        scores = _loglikelihoods(model, requests, batch_size=batch_size, device=device, max_length=limit)
    correct = correct_norm = 0
    details, offset = [], 0
    for item in items:
        lls = scores[offset : offset + len(item.continuations)]
        offset += len(item.continuations)
        n_bytes = np.array([len(continuation.encode("utf-8")) for continuation in item.continuations], dtype=np.float64)
        pred, pred_norm = int(np.argmax(lls)), int(np.argmax(lls / n_bytes))  # argmax: lowest index on ties
        correct += pred == item.gold
        correct_norm += pred_norm == item.gold
        if return_details:
            details.append({"id": item.id, "gold": item.gold, "loglikelihoods": lls.tolist(), "pred": pred,
                            "pred_norm": pred_norm})
    seconds = time.perf_counter() - started
    log.info(f"scored {len(items):,} items ({len(requests):,} choices) in {seconds:.1f} s: "
             f"acc {correct / len(items):.4f}, acc_norm {correct_norm / len(items):.4f}")
    result = {"acc": correct / len(items), "acc_norm": correct_norm / len(items), "n": len(items)}
    if return_details:
        result["details"] = details
    return result


def text_windows(texts: Sequence[str], tokenizer: "tokenizers.Tokenizer", *, length: int, eos_id: int) -> np.ndarray:
    """(n, length + 1) int64: the texts as one token stream cut into non-overlapping windows.

    Each text is followed by `eos_id`; the tail shorter than a window is dropped.

    Args:
        texts: the target documents, in order.
        tokenizer: the proxies' tokenizer (ids without special tokens).
        length: tokens a model sees per window; each window holds one more, the last target.
        eos_id: the id appended after every text (climb.climblab.tokenization.eos_id).
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    pieces = []
    for start in range(0, len(texts), ENCODE_BATCH):
        for ids in encode_batch(tokenizer, texts[start : start + ENCODE_BATCH]):
            pieces.append(np.asarray(ids + [eos_id], dtype=np.int64))
    stream = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    n = len(stream) // (length + 1)
    if n == 0:
        raise ValueError(f"{len(texts):,} texts give {len(stream):,} tokens (EOS included), fewer than one "
                         f"window of {length + 1:,} (length {length:,} + 1)")
    return stream[: n * (length + 1)].reshape(n, length + 1)


def mean_token_loss(model, windows: np.ndarray, *, batch_size: int = 16, device: str = "cpu") -> float:
    """Mean next-token cross-entropy (nats) over every position of the windows.

    Args:
        model: a causal LM with `model(input_ids=, attention_mask=).logits` (B, T, V); moved to `device`,
            run in eval mode without autograd, its training flag restored.
        windows: (n, length + 1) integer ids (text_windows); input w[:, :-1], labels w[:, 1:].
        batch_size: windows per forward pass.
        device: where the model runs.
    """
    import torch
    import torch.nn.functional as F

    if windows.ndim != 2 or windows.shape[0] < 1 or windows.shape[1] < 2 or windows.dtype.kind not in "iu":
        raise ValueError(f"windows must be (n >= 1, length + 1 >= 2) integers, got {windows.shape} {windows.dtype}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    total = 0.0
    with _evaluating(model, device):
        for start in range(0, len(windows), batch_size):
            batch = torch.as_tensor(np.asarray(windows[start : start + batch_size], dtype=np.int64), device=device)
            inputs, labels = batch[:, :-1], batch[:, 1:]
            logits = model(input_ids=inputs, attention_mask=torch.ones_like(inputs)).logits  # (B, T, V)
            total += F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), reduction="sum").item()
    return total / (windows.shape[0] * (windows.shape[1] - 1))


def split_holdout(items: Sequence[T], *, holdout_fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """(search, holdout): a seeded random partition, each side in the input's order.

    The same length, fraction and seed always give the same partition; round(fraction * n) items are held
    out, and a side left empty raises ValueError (a placeholder split would hide the problem).

    Args:
        items: the target's items (MCItems, texts, windows: anything indexable).
        holdout_fraction: the share kept away from the search, in (0, 1).
        seed: seeds np.random.default_rng for the permutation.
    """
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    n = len(items)
    n_holdout = round(holdout_fraction * n)
    if not 0 < n_holdout < n:
        raise ValueError(f"holdout_fraction {holdout_fraction} of {n} items holds out {n_holdout}: "
                         f"both sides need at least one item")
    held = np.zeros(n, dtype=bool)
    held[np.random.default_rng(seed).permutation(n)[:n_holdout]] = True
    return [items[i] for i in np.flatnonzero(~held)], [items[i] for i in np.flatnonzero(held)]


def combine(scores: Mapping[str, float], parts: Sequence[TargetPart]) -> float:
    """The single objective to maximise: sum(weight * value) / sum(weight) over the parts.

    value is -loss for a loss metric (lower loss is better) and the accuracy otherwise.

    Args:
        scores: each part's score (its `metric`: a loss or an accuracy) under the part's name, e.g.
            {"piqa": acc_norm}; other keys are ignored; a missing or non-finite score raises ValueError.
        parts: the target's parts (e.g. GENERAL_REASONING_TARGET); empty or with a repeated name raises
            ValueError.
    """
    if not parts:
        raise ValueError("combine needs at least one target part")
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"target part names must be unique, got {names}")
    missing = [name for name in names if name not in scores]
    if missing:
        raise ValueError(f"scores lack {missing}; they hold {sorted(scores)}")
    total = weights = 0.0
    for part in parts:
        value = float(scores[part.name])
        if not math.isfinite(value):
            raise ValueError(f"score {part.name!r} is {value}, not a finite number")
        total += part.weight * (-value if part.metric == "loss" else value)
        weights += part.weight
    return total / weights
