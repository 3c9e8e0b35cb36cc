"""Input shards: the files (or saved datasets) that the corpus globs match, one partition each.

A shard's key is its path relative to the fixed part of its glob (`data/news/*.jsonl` gives
`a.jsonl`; `data/**/*.jsonl` gives `web/a.jsonl`), so keys are readable and stay the same when
other files come and go. Keys are the Dagster partition keys of every per-shard asset.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote

import fsspec

from climb.core.config import ConfigError, CorpusConfig

# Longest suffix first, so `.jsonl.gz` is not taken for `.gz`.
FORMATS_BY_SUFFIX = {
    ".jsonl.gz": "jsonl.gz",
    ".jsonl.zst": "jsonl.zst",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
    ".csv": "csv",
    ".txt": "txt",
}
HF_DATASET = "hf_dataset"
_GLOB_CHARS = re.compile(r"[*?\[]")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._\-/=+@]")


@dataclass(frozen=True, order=True)
class Shard:
    key: str  # partition key
    uri: str  # absolute local path or fsspec URI
    format: str  # one of FORMATS_BY_SUFFIX's values or HF_DATASET

    @property
    def dir_name(self) -> str:
        """The key as one path component (storage folders)."""
        return quote(self.key, safe="")


def expand_pattern(pattern: str, *, config_dir: str, storage_root: str) -> str:
    """`{climb_home}`, `$VARS` and `~` expanded; a relative local path is taken from `config_dir`."""
    expanded = os.path.expanduser(os.path.expandvars(pattern.replace("{climb_home}", storage_root)))
    if "://" in expanded or os.path.isabs(expanded):
        return expanded
    return os.path.normpath(os.path.join(config_dir, expanded))


def _fixed_prefix(path: str) -> str:
    """The folder part of a glob before its first wildcard."""
    parts = path.split("/")
    for i, part in enumerate(parts):
        if _GLOB_CHARS.search(part):
            return "/".join(parts[:i])
    return "/".join(parts[:-1])


def _is_hf_dataset(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    return any(fs.exists(f"{path}/{marker}") for marker in ("dataset_info.json", "dataset_dict.json", "state.json"))


def detect_format(name: str) -> str | None:
    lower = name.lower()
    for suffix, fmt in FORMATS_BY_SUFFIX.items():
        if lower.endswith(suffix):
            return fmt
    return None


def _shards_of_pattern(index: int, pattern: str, *, config_dir: str, storage_root: str) -> list[Shard]:
    where = f"corpus.paths[{index}]"
    expanded = expand_pattern(pattern, config_dir=config_dir, storage_root=storage_root)
    fs, fs_path = fsspec.core.url_to_fs(expanded)
    if _GLOB_CHARS.search(fs_path):
        matches = sorted(fs.glob(fs_path))
        base = _fixed_prefix(fs_path)
    else:
        matches = [fs_path] if fs.exists(fs_path) else []
        base = fs_path.rsplit("/", 1)[0] if "/" in fs_path else ""
    # Hidden files and anything inside hidden folders (.git/, .ipynb_checkpoints/) are not corpus.
    matches = [m for m in matches if not any(part.startswith(".") for part in m[len(base):].split("/"))]
    if not matches:
        raise ConfigError(f"{where}: {pattern!r} (expanded to {expanded!r}) matches no file")
    shards = []
    for match in matches:
        if fs.isdir(match):
            if not _is_hf_dataset(fs, match):
                raise ConfigError(
                    f"{where}: {match!r} is a folder but not a dataset saved with datasets.save_to_disk; "
                    "narrow the glob to files (e.g. folder/*.jsonl)"
                )
            fmt = HF_DATASET
        else:
            fmt = detect_format(match)
            if fmt is None:
                raise ConfigError(
                    f"{where}: {match!r} has no reader; known suffixes: {', '.join(FORMATS_BY_SUFFIX)} "
                    "(or a datasets.save_to_disk folder)"
                )
        relative = match[len(base) :].lstrip("/") if base and match.startswith(base) else match.rsplit("/", 1)[-1]
        key = _UNSAFE_KEY_CHARS.sub("_", relative).replace("...", "_")
        uri = match if "://" not in expanded else fs.unstrip_protocol(match)
        shards.append(Shard(key=key, uri=uri, format=fmt))
    return shards


def discover_shards(corpus: CorpusConfig, *, config_dir: str, storage_root: str) -> list[Shard]:
    """Every shard the corpus paths match, sorted by key; a duplicate key is a ConfigError."""
    by_key: dict[str, Shard] = {}
    for index, pattern in enumerate(corpus.paths):
        for shard in _shards_of_pattern(index, pattern, config_dir=config_dir, storage_root=storage_root):
            other = by_key.get(shard.key)
            if other is not None and other.uri != shard.uri:
                raise ConfigError(
                    f"corpus.paths: {other.uri!r} and {shard.uri!r} both give the shard key {shard.key!r}; "
                    "use globs with distinct fixed folders"
                )
            by_key[shard.key] = shard
    return sorted(by_key.values())
