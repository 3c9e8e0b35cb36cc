"""The search target, prepared once: what every proxy run is scored on (paper step 6).

`<root>/target_set/`:
- `text_search.npy`, `text_holdout.npy`: (n, length+1) token windows of the target text, split by
  document into what the search optimises and a held-apart verification split;
- `bench_<name>_search.jsonl`, `bench_<name>_holdout.jsonl`: multiple-choice items, split the same way;
- `target.json`: the parts (name, kind, metric, weight), the sizes, and `target_id`, a hash of the content.
"""

from __future__ import annotations

import glob
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from climb.core.config import ClimbConfig
from climb.corpus.readers import ReaderOptions, read_shard
from climb.corpus.shards import Shard, detect_format
from climb.core.storage import Storage
from climb.search.targets import MCItem, TargetPart, load_benchmark, split_holdout, text_windows
from climb.climblab.tokenization import eos_id

TARGET = "target_set"
SPLITS = ("search", "holdout")


@dataclass(frozen=True)
class PreparedTarget:
    parts: tuple[TargetPart, ...]
    text_windows: np.ndarray | None
    benchmarks: dict[str, list[MCItem]]
    metrics: dict[str, str]  # benchmark name -> acc | acc_norm


def _target_texts(config: ClimbConfig) -> list[str]:
    options = ReaderOptions(text_field=config.target.text_field)
    texts: list[str] = []
    for index, pattern in enumerate(config.target.text):
        paths = sorted(glob.glob(config.resolve_path(pattern)))
        if not paths:
            raise ValueError(f"target.text[{index}]: {pattern!r} matches no file")
        for path in paths:
            fmt = detect_format(path)
            if fmt is None:
                raise ValueError(f"target.text[{index}]: {path} has no reader")
            for record in read_shard(Shard(key=Path(path).name, uri=path, format=fmt), options):
                if record.reason is not None:
                    raise ValueError(f"{path} row {record.row}: {record.reason} ({record.detail})")
                texts.append(record.text)
    return texts


def target_files_version(config: ClimbConfig) -> str:
    """Changes when a file the target reads (target.text matches, benchmark files) is added, removed or
    rewritten: names, sizes and modification times, not contents (a stat per file, no read)."""
    paths = [p for pattern in config.target.text for p in sorted(glob.glob(config.resolve_path(pattern)))]
    paths += [config.resolve_path(bench.path) for bench in config.target.benchmarks]
    stats = []
    for path in paths:
        try:
            info = Path(path).stat()
            stats.append([path, info.st_size, info.st_mtime_ns])
        except OSError:
            stats.append([path, None, None])
    return hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:32]


def _cap(windows: np.ndarray, limit: int, seed: int) -> np.ndarray:
    if len(windows) <= limit:
        return windows
    rows = np.sort(np.random.default_rng(seed).choice(len(windows), size=limit, replace=False))
    return windows[rows]


def prepare_target(*, storage: Storage, config: ClimbConfig, tokenizer) -> dict:
    """Tokenize and split the configured target, and commit it.

    Args:
        storage: receives `target_set`.
        config: the `target` section (text globs, benchmarks, holdout fraction) and the proxy's sequence length.
        tokenizer: the project tokenizer.
    """
    target = config.target
    if not target.text and not target.benchmarks:
        raise ValueError("no search target: set target.text (files of target text) and/or target.benchmarks")
    parts, sizes, digest = [], {}, hashlib.sha256()
    length = config.proxy.sequence_length
    with storage.write_partition(TARGET) as writer:
        if target.text:
            texts = _target_texts(config)
            search, holdout = split_holdout(texts, holdout_fraction=target.holdout_fraction, seed=target.seed)
            for split, docs in zip(SPLITS, (search, holdout)):
                windows = _cap(text_windows(docs, tokenizer, length=length, eos_id=eos_id(tokenizer)),
                               target.max_windows, target.seed)
                writer.write_array(f"text_{split}.npy", windows)
                sizes[f"text_{split}_documents"], sizes[f"text_{split}_windows"] = len(docs), len(windows)
                digest.update(windows.tobytes())
            parts.append(TargetPart(name="text", kind="text", metric="loss", weight=target.text_weight))
        for bench in target.benchmarks:
            items = load_benchmark(config.resolve_path(bench.path), bench.format, limit=bench.limit)
            for split, chosen in zip(SPLITS, split_holdout(items, holdout_fraction=target.holdout_fraction,
                                                           seed=target.seed)):
                lines = "\n".join(json.dumps(asdict(item)) for item in chosen) + "\n"
                writer.write_bytes(f"bench_{bench.name}_{split}.jsonl", lines.encode())
                sizes[f"{bench.name}_{split}_items"] = len(chosen)
                digest.update(lines.encode())
            parts.append(TargetPart(name=bench.name, kind="benchmark", metric=bench.metric, weight=bench.weight))
        info = {"parts": [asdict(p) for p in parts], "sizes": sizes, "sequence_length": length,
                "target_id": digest.hexdigest()[:32]}
        writer.write_json("target.json", info)
    return {**info, "path": storage.require(TARGET)}


def load_target(folder: str, split: str) -> PreparedTarget:
    """A committed target split, read from its folder (workers read it themselves)."""
    info = json.loads(Path(folder, "target.json").read_text())
    parts = tuple(TargetPart(**p) for p in info["parts"])
    windows = np.load(Path(folder, f"text_{split}.npy")) if any(p.kind == "text" for p in parts) else None
    benchmarks = {}
    for part in parts:
        if part.kind == "benchmark":
            lines = Path(folder, f"bench_{part.name}_{split}.jsonl").read_text().splitlines()
            benchmarks[part.name] = [MCItem(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(x).items()})
                                     for x in lines if x.strip()]
    return PreparedTarget(parts, windows, benchmarks, {p.name: p.metric for p in parts if p.kind == "benchmark"})
