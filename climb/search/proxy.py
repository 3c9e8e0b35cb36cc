"""Proxy LMs: small Llama-style models trained on a candidate mixture of super-clusters (paper step 6).

CLIMB scores a candidate mixture by training a small proxy on it and measuring the proxy on the target;
the predictor learns mixture -> score from those runs. The paper's proxies have ~62M and ~350M
parameters; `tiny` (0.66M with an 8k vocabulary) is for CPU tests and the demo.

A run, start to finish: draw (B, T+1) windows from each super-cluster's token store in proportion to
the weights (`mixture_windows`), then AdamW (betas 0.9/0.95, decoupled weight decay on matrices only,
grad clip 1.0) under linear warmup and cosine decay to 10% of the peak lr, one pass, no dropout.

Precision (ProxyConfig.precision): float32 master weights and optimiser state always; `bfloat16`
runs the forward pass under bf16 autocast. `auto` is bf16 autocast on CUDA GPUs that support it and
float32 on CPUs. On this project's 2-core AVX512-BF16 machine, bf16 autocast was not reliably faster
for the tiny preset, the CPU workhorse (0.95x to 1.5x across four comparisons under shifting load;
same losses within 0.01), but was 2.4-3.5x faster for 62m (benchmarks/proxy_throughput.py --cpu-bf16):
CPU users of the larger presets may opt in. fp16 is not offered: it would need loss scaling.
`resolve_placement` picks the device and threads.

Determinism: on the CPU, the same stores, weights, config and thread count give bit-identical losses
and parameters (seeded init in a forked torch RNG, windows from np.random.default_rng(seed)).
torch and transformers are imported lazily.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np

from climb.core.hashing import content_hash
from climb.core.device import resolve_placement
from climb.climblab.token_store import TokenStore
from climb.search.proxy_model import (DEFAULT_LEARNING_RATES, PRECISIONS, PRESETS, ProxyArchitecture,
                                      ProxyConfig, build_model, llama_config, n_parameters)

__all__ = ["DEFAULT_LEARNING_RATES", "PRECISIONS", "PRESETS", "ProxyArchitecture", "ProxyConfig", "ProxyTraining",
           "build_model", "configure_optimizer", "learnt_settings", "learning_rate_at", "llama_config",
           "mean_token_loss", "mixture_windows", "n_parameters", "proxy_key", "train_proxy"]

BETAS = (0.9, 0.95)  # AdamW betas of GPT-3 / Llama pre-training
GRAD_CLIP = 1.0  # max global grad norm
MIN_LR_FRACTION = 0.1  # cosine decays to 10% of the peak (Llama recipe)
WEIGHT_SUM_TOLERANCE = 1e-6  # candidate mixtures are rounded to 6 decimals, so they sum to 1 within this
CHUNK_STEPS = 1024  # windows drawn per chunk of steps: 1024 * 16 * 257 * 8 B = 34 MB at batch 16, at any budget
KEY_VERSION = 1  # bump when a change to training changes results, so old proxy runs are not reused
RESULT_NEUTRAL_FIELDS = ("device", "threads")  # where and how fast, not what is learnt

logger = logging.getLogger(__name__)



def _checked_weights(weights: Mapping[int, float], stores: Mapping[int, TokenStore] | None) -> dict[int, float]:
    """The positive weights by cluster id, sorted; ValueError for negative, unnormalised or storeless weights."""
    if not weights:
        raise ValueError("a mixture needs at least one weight")
    negative = {c: w for c, w in weights.items() if not w >= 0}
    if negative:
        raise ValueError(f"mixture weights must be >= 0, got {negative}")
    total = math.fsum(float(w) for w in weights.values())
    if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
        raise ValueError(f"mixture weights must sum to 1 within {WEIGHT_SUM_TOLERANCE}, got {total!r}")
    if stores is not None and (missing := sorted(set(weights) - set(stores))):
        raise ValueError(f"mixture weights name clusters without a token store: {missing} "
                         f"(stores: {sorted(stores)})")
    return {int(c): float(w) for c, w in sorted(weights.items()) if w > 0}


def _window_counts(weights: dict[int, float], n: int) -> dict[int, int]:
    """round(w * n) per cluster by largest remainder, so counts sum to n (ties: lower cluster id first)."""
    exact = {c: w * n for c, w in weights.items()}
    counts = {c: math.floor(x) for c, x in exact.items()}
    by_remainder = sorted(exact, key=lambda c: (-(exact[c] - counts[c]), c))
    for c in by_remainder[: n - sum(counts.values())]:
        counts[c] += 1
    return counts


def _draw_windows(stores, weights: dict[int, float], n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    counts = _window_counts(weights, n)
    parts = [stores[c].sample_windows(counts[c], length, rng) for c in counts if counts[c]]
    windows = np.concatenate(parts) if parts else np.empty((0, length), dtype=np.int64)  # (n, length)
    return windows[rng.permutation(n)]


def mixture_windows(stores: Mapping[int, TokenStore], weights: Mapping[int, float], *, n_windows: int,
                    length: int, seed: int) -> np.ndarray:
    """(n_windows, length) int64 windows, round(weight * n_windows) from each cluster's store, shuffled.

    Largest-remainder rounding makes the counts sum to n_windows; a zero-weight cluster is never sampled.

    Args:
        stores: token store per super-cluster id.
        weights: mixture weight per super-cluster id (>= 0, summing to 1); every id needs a store.
        n_windows: how many windows.
        length: tokens per window (sequence_length + 1 for next-token targets).
        seed: np.random.default_rng seed; the same inputs and seed give the same array.
    """
    if n_windows < 0 or length < 1:
        raise ValueError(f"need n_windows >= 0 and length >= 1, got {n_windows} and {length}")
    return _draw_windows(stores, _checked_weights(weights, stores), n_windows, length, np.random.default_rng(seed))


@dataclass(frozen=True)
class ProxyTraining:
    """What a proxy run did: the budget spent, its speed, its losses and where it ran."""

    tokens: int  # tokens trained on: steps * batch_size * sequence_length
    steps: int
    seconds: float  # the training loop (window sampling included; model construction not)
    tokens_per_second: float
    final_loss: float  # mean training loss of the last 10% of steps (at least one): one batch is noisy
    losses: tuple[float, ...]  # per step, each measured before that step's update
    parameters: int  # total, tied embeddings once
    device: str  # Placement.name
    precision: str  # "float32" or "bfloat16 autocast"


def _uses_bf16(precision: str, device: str) -> bool:
    """The precision rule: auto is bf16 autocast on CUDA GPUs that support it, float32 on CPUs."""
    import torch

    if precision == "auto":
        return device == "cuda" and torch.cuda.is_bf16_supported()
    return precision == "bfloat16"


def _autocast(device: str, bf16: bool):
    import torch

    return torch.autocast(device, dtype=torch.bfloat16) if bf16 else nullcontext()


def _next_token_loss(model, batch, *, bf16: bool, reduction: str = "mean"):
    """Cross-entropy of predicting batch[:, t + 1] from batch[:, : t + 1] at every position. batch: (B, T+1)."""
    import torch.nn.functional as F

    inputs, targets = batch[:, :-1], batch[:, 1:]  # (B, T) each
    with _autocast(batch.device.type, bf16):
        logits = model(input_ids=inputs, use_cache=False).logits  # (B, T, V)
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(), reduction=reduction)


def learning_rate_at(step: int, steps: int, warmup: int, peak: float) -> float:
    """Linear warmup over `warmup` steps, then cosine from the peak to MIN_LR_FRACTION of it at the last step."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - 1 - warmup)  # 0 -> 1
    return peak * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


def configure_optimizer(model, config: ProxyConfig):
    """AdamW with weight decay on matrices (linear weights, embeddings) only; norms' gains are not decayed."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    # fused: one kernel over all parameters instead of a few ops per tensor (the tiny preset has 20 tensors).
    return torch.optim.AdamW(groups, lr=config.peak_learning_rate, betas=BETAS, fused=True)


def train_proxy(*, stores: Mapping[int, TokenStore], weights: Mapping[int, float], config: ProxyConfig,
                vocab_size: int, log: logging.Logger | None = None, log_every: int = 20):
    """Train one proxy on a mixture (paper step 6); returns (model in eval mode, ProxyTraining).

    Step s trains on windows[s * B : (s + 1) * B] of `mixture_windows(stores, weights, n_windows=steps * B,
    length=T + 1, seed=config.seed)` (drawn CHUNK_STEPS steps at a time from one generator, so runs of
    up to CHUNK_STEPS steps see exactly that array).

    Args:
        stores: token store per super-cluster id; those with a positive weight must share `vocab_size`.
        weights: mixture weight per super-cluster id (>= 0, summing to 1 within 1e-6).
        config: budget, architecture, optimiser, device, seed.
        vocab_size: the tokenizer's vocabulary size (the model's embedding rows).
        log: where progress goes (a Dagster context.log works); this module's logger by default.
        log_every: log step, loss and tokens/s every this many steps, and at the last step.
    """
    import torch

    log = log or logger
    mixture = _checked_weights(weights, stores)
    wrong_vocab = {c: stores[c].vocab_size for c in mixture if stores[c].vocab_size != vocab_size}
    if wrong_vocab:
        raise ValueError(f"token stores {wrong_vocab} (cluster: vocab_size) were not written with the proxy's "
                         f"vocabulary of {vocab_size:,}")
    placement = resolve_placement(config.device, "auto", config.threads)
    if placement.device == "cpu":
        torch.set_num_threads(placement.threads)
    B, T, steps = config.batch_size, config.sequence_length, config.steps
    model = build_model(config, vocab_size=vocab_size).to(placement.device).train()
    optimizer = configure_optimizer(model, config)
    warmup = max(1, round(config.warmup_fraction * steps))
    rng = np.random.default_rng(config.seed)
    losses = torch.empty(steps, device=placement.device)  # kept on the device: no sync per step
    bf16 = _uses_bf16(config.precision, placement.device)
    precision = "bfloat16 autocast" if bf16 else "float32"
    log.info("proxy: %s, %s steps of %s x %s tokens, peak lr %g, on %s (%s)", config.init_from or config.preset,
             steps, B, T, config.peak_learning_rate, placement.name, precision)

    started = time.perf_counter()
    for step in range(steps):
        if step % CHUNK_STEPS == 0:
            n = min(CHUNK_STEPS, steps - step) * B
            windows = torch.from_numpy(_draw_windows(stores, mixture, n, T + 1, rng))  # (n, T+1)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, steps, warmup, config.peak_learning_rate)
        row = (step % CHUNK_STEPS) * B
        batch = windows[row : row + B].to(placement.device, non_blocking=True)  # (B, T+1)
        loss = _next_token_loss(model, batch, bf16=bf16)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses[step] = loss.detach()
        if (step + 1) % log_every == 0 or step + 1 == steps:
            rate = (step + 1) * B * T / (time.perf_counter() - started)
            log.info("proxy step %d/%d: loss %.4f, %.0f tokens/s", step + 1, steps, loss.item(), rate)
    seconds = time.perf_counter() - started

    history = tuple(losses.tolist())
    tail = history[-max(1, steps // 10):]
    return model.eval(), ProxyTraining(
        tokens=steps * B * T, steps=steps, seconds=seconds, tokens_per_second=steps * B * T / seconds,
        final_loss=sum(tail) / len(tail), losses=history, parameters=n_parameters(model)["total"],
        device=placement.name, precision=precision,
    )


def mean_token_loss(model, windows: np.ndarray, *, batch_size: int = 16, device: str | None = None,
                    precision: str = "auto") -> float:
    """Mean next-token cross-entropy over every position of (n, length + 1) windows, without gradients.

    Args:
        model: a causal LM (a proxy from train_proxy); its train/eval mode is restored afterwards.
        windows: int token ids, shape (n, length + 1) with n >= 1 and length >= 1.
        batch_size: windows per forward pass (memory only: the result does not depend on it).
        device: where to run; None: where the model's parameters are.
        precision: auto | float32 | bfloat16, the rule of ProxyConfig.precision.
    """
    import torch

    windows = np.asarray(windows)
    if windows.ndim != 2 or windows.shape[0] < 1 or windows.shape[1] < 2 or windows.dtype.kind not in "iu":
        raise ValueError(f"windows must be integer ids of shape (n >= 1, length + 1 >= 2), got {windows.dtype} "
                         f"{windows.shape}")
    device = torch.device(device or next(model.parameters()).device)
    bf16 = _uses_bf16(precision, device.type)
    was_training = model.training
    model.eval().to(device)
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            batch = torch.from_numpy(windows[start : start + batch_size].astype(np.int64)).to(device)
            total += _next_token_loss(model, batch, bf16=bf16, reduction="sum").item()
    model.train(was_training)
    return total / (windows.shape[0] * (windows.shape[1] - 1))


def learnt_settings(config: ProxyConfig) -> dict:
    """The settings that change what a proxy learns: all but device and threads, the learning rate resolved
    (None and the preset's default are one run)."""
    settings = {k: v for k, v in asdict(config).items() if k not in RESULT_NEUTRAL_FIELDS}
    settings["learning_rate"] = config.peak_learning_rate
    return settings


def proxy_key(*, weights: Mapping[int, float], config: ProxyConfig, target_id: str, data_version: str) -> str:
    """Content address of a proxy run (docs/architecture.md, storage): sha256 hex of canonical JSON.

    Hashes the weights rounded to 6 decimals (sorted by cluster, zeros dropped), the config without the
    fields that do not change what is learnt (device, threads) and with the learning rate resolved (None
    and the preset's default are one run), the target and the data version. A checkpoint at init_from is
    named by its path: the caller's data_version must change when that checkpoint does.

    Args:
        weights: mixture weight per super-cluster id (>= 0, summing to 1 within 1e-6).
        config: the proxy settings.
        target_id: what the proxy is scored on (e.g. the target dataset's name and version).
        data_version: identifies the token stores (e.g. the super_clusters materialisation's data version).
    """
    rounded = {c: round(w, 6) for c, w in _checked_weights(weights, None).items()}
    payload = {"key_version": KEY_VERSION, "weights": [[c, w] for c, w in rounded.items() if w != 0],
               "config": learnt_settings(config), "target_id": target_id, "data_version": data_version}
    return content_hash(payload)
