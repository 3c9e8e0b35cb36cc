"""Saved proxies: a trained proxy kept as a Hugging Face checkpoint that lm-evaluation-harness can score.

`proxy.save` says which proxies are kept: `verification` (the default) those that verify `optimal_mixture`'s
answer and its baselines on the held-apart split, `all` every proxy run as well, `none` none (only the scores).
A proxy is saved beside its content-addressed result (docs/architecture.md, storage):

    <root>/_cache/proxy_runs/<key>.json       the run's scores
    <root>/_cache/proxy_models/<key>/         config.json, model.safetensors, generation_config.json,
                                              tokenizer.json, tokenizer_config.json, proxy.json, _manifest.json

The folder loads with `AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` (ClimbLab's
tokenizer, as the proxy was trained with it); `proxy.json` is the run that made it (mixture, settings,
training, scores). It is staged and committed like a partition, `_manifest.json` last, so a killed run leaves no
half checkpoint. Weights are float32, 4 bytes a parameter: tiny 2.6 MB (0.66M parameters with an 8k vocabulary),
62m 245 MB (61.4M with a 32k vocabulary), 350m 1.4 GB, for each proxy and seed kept.
"""

from __future__ import annotations

import tempfile

from climb.core.storage import CACHE, Storage

SAVE_CHOICES = ("none", "verification", "all")
MODELS = "proxy_models"  # beside climb.search.proxy_jobs.CACHE ("proxy_runs")
RECORD = "proxy.json"


def saves(setting: str, *, verification: bool) -> bool:
    """Whether a proxy is kept under `proxy.save`: verification runs under verification or all, others under all."""
    if setting not in SAVE_CHOICES:
        raise ValueError(f"proxy.save {setting!r}: expected one of {SAVE_CHOICES}")
    return setting == "all" or (verification and setting == "verification")


def relative_path(key: str) -> str:
    """A saved proxy's folder relative to the storage root (what optimal_mixture.json records: roots move)."""
    return f"{CACHE}/{MODELS}/{key}"


def saved_proxy(storage: Storage, key: str) -> str | None:
    """The committed checkpoint folder of a proxy run (a path or URI to open), or None when it was never saved."""
    folder = storage.cache_folder(MODELS, key)
    return None if folder is None else storage.uri(folder)


def save_proxy(model, *, storage: Storage, key: str, tokenizer_folder: str, record: dict) -> str:
    """Commit a trained proxy and its tokenizer as `<root>/_cache/proxy_models/<key>/`; returns its path or URI.

    Args:
        model: the trained causal LM (transformers `save_pretrained`).
        storage: the storage root (local or fsspec).
        key: the run's content address (climb.search.proxy.proxy_key).
        tokenizer_folder: the committed `tokenizer` asset the proxy was trained with (a local folder).
        record: the run's result, written as proxy.json (mixture, settings, training, scores).
    """
    from climb.climblab.tokenization import load_tokenizer, save_tokenizer

    with tempfile.TemporaryDirectory(prefix="climb-proxy-") as local:
        model.save_pretrained(local)  # safetensors; tied embeddings stored once
        save_tokenizer(load_tokenizer(tokenizer_folder), local)
        with storage.write_cache_folder(MODELS, key) as writer:
            writer.put_folder(local)
            writer.write_json(RECORD, record)
    return saved_proxy(storage, key)
