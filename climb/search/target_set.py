"""The search target, prepared once: what every proxy run is scored on (paper step 6).

`<root>/target_set/`:
- `text_search.npy`, `text_holdout.npy`: (n, length+1) token windows of the target text, split by
  document into what the search optimises and a held-apart verification split;
- `bench_<name>_search.jsonl`, `bench_<name>_holdout.jsonl`: multiple-choice items, split the same way;
- `contaminated.parquet`: the training documents that overlap a target document (climb.search.contamination),
  which ClimbLab leaves out, each with the target document, its split and the overlap;
- `target.json`: the parts (name, kind, metric, weight), the sizes, the contamination counts per split, and
  `target_id`, a hash of the target's content (the training documents removed are not part of it).
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from climb.core.config import ClimbConfig
from climb.core.hashing import content_hash
from climb.corpus.readers import ReaderOptions, read_shard
from climb.corpus.shards import Shard, detect_format
from climb.core.storage import Storage
from climb.search.contamination import (CONTAMINATED_FILE, CONTAMINATION_SCHEMA, ContaminationSettings,
                                        TargetDocument, TargetIndex, find_contamination)
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


def _target_texts(config: ClimbConfig) -> list[tuple[str, str]]:
    """(name, text) of every target document, in file then row order; name is "<file> row <row>"."""
    options = ReaderOptions(text_field=config.target.text_field)
    texts: list[tuple[str, str]] = []
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
                texts.append((f"{Path(path).name} row {record.row}", record.text))
    return texts


def target_documents(config: ClimbConfig) -> list[TargetDocument]:
    """The target text's documents, each with the split it falls in (`target.holdout_fraction`, `target.seed`)."""
    if not config.target.text:
        return []
    texts = _target_texts(config)
    halves = split_holdout(texts, holdout_fraction=config.target.holdout_fraction, seed=config.target.seed)
    return [TargetDocument(name, split, text) for split, half in zip(SPLITS, halves) for name, text in half]


def _corpus(storage: Storage, shard_keys: Sequence[str]):
    for key in shard_keys:
        table = storage.read_table("documents", "documents.parquet", key, columns=["id", "text"])
        yield key, table.column("id").to_pylist(), table.column("text").to_pylist()


def _contamination(storage: Storage, shard_keys: Sequence[str], documents: list[TargetDocument],
                   settings: ContaminationSettings | None) -> pa.Table:
    if settings is None or not documents:
        return CONTAMINATION_SCHEMA.empty_table()
    return find_contamination(_corpus(storage, shard_keys), TargetIndex(documents, settings))


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


def prepare_target(*, storage: Storage, config: ClimbConfig, tokenizer, shard_keys: Sequence[str] = ()) -> dict:
    """Tokenize and split the configured target, find the training documents that overlap its text, and commit.

    Args:
        storage: holds `documents` and receives `target_set`.
        config: the `target` section (text globs, benchmarks, holdout fraction), `dedup.contamination` (None: no
            training document is checked) and the proxy's sequence length.
        tokenizer: the project tokenizer.
        shard_keys: the corpus shards whose documents are checked against the target text.
    """
    target = config.target
    # Without a target the set is committed empty (ClimbLab reads it: nothing to decontaminate); the search
    # stops at its first proxy (require_parts).
    parts, sizes, digest = [], {}, hashlib.sha256()
    length = config.proxy.sequence_length
    with storage.write_partition(TARGET) as writer:
        documents = target_documents(config)
        if target.text:
            for split in SPLITS:
                docs = [d.text for d in documents if d.split == split]
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
        contamination = config.dedup.contamination
        settings = None if contamination is None else ContaminationSettings(**contamination.model_dump())
        contaminated = _contamination(storage, shard_keys, documents, settings)
        writer.write_table(CONTAMINATED_FILE, contaminated)
        splits = contaminated.column("split").to_pylist()
        info = {"parts": [asdict(p) for p in parts], "sizes": sizes, "sequence_length": length,
                "target_id": digest.hexdigest()[:32],
                "contamination": {"settings": None if settings is None else asdict(settings),
                                  "documents": {split: splits.count(split) for split in SPLITS},
                                  "id": content_hash(sorted(zip(contaminated.column("id").to_pylist(),
                                                               contaminated.column("detail").to_pylist())), length=32)}}
        writer.write_json("target.json", info)
    return {**info, "path": storage.require(TARGET)}


def contaminated_documents(storage: Storage) -> pa.Table:
    """The committed target set's contaminated training documents (CONTAMINATION_SCHEMA), which ClimbLab leaves out."""
    return storage.read_table(TARGET, CONTAMINATED_FILE)


def require_parts(info: dict) -> list[dict]:
    """The parts of a committed target (target.json), or the error saying the search has none to score."""
    if not info["parts"]:
        raise ValueError("no search target: set target.text (files of target text) and/or target.benchmarks")
    return info["parts"]


def load_target(folder: str, split: str) -> PreparedTarget:
    """A committed target split, read from its folder (workers read it themselves)."""
    info = json.loads(Path(folder, "target.json").read_text())
    parts = tuple(TargetPart(**p) for p in require_parts(info))
    windows = np.load(Path(folder, f"text_{split}.npy")) if any(p.kind == "text" for p in parts) else None
    benchmarks = {}
    for part in parts:
        if part.kind == "benchmark":
            lines = Path(folder, f"bench_{part.name}_{split}.jsonl").read_text().splitlines()
            benchmarks[part.name] = [MCItem(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(x).items()})
                                     for x in lines if x.strip()]
    return PreparedTarget(parts, windows, benchmarks, {p.name: p.metric for p in parts if p.kind == "benchmark"})
