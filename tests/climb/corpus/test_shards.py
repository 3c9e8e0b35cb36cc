"""Tests for shard discovery (climb.corpus.shards.discover_shards)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from climb.core.config import ConfigError, CorpusConfig
from climb.corpus.shards import HF_DATASET, Shard, detect_format, discover_shards


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('{"text": "x"}\n')


def _discover(tmp_path: Path, *patterns: str, storage_root: str | None = None) -> list[Shard]:
    return discover_shards(
        CorpusConfig(paths=list(patterns)),
        config_dir=str(tmp_path),
        storage_root=storage_root or str(tmp_path / "home"),
    )


def _keys(shards: list[Shard]) -> list[str]:
    return [s.key for s in shards]


@pytest.mark.parametrize("index", [0, 1])
def test_glob_matching_nothing_names_its_index(tmp_path, index):
    """A pattern that matches no file is a ConfigError naming corpus.paths[i] and the pattern."""
    _touch(tmp_path, "d/a.jsonl")
    patterns = ["d/*.jsonl", "d/*.jsonl"]
    patterns[index] = "d/*.parquet"
    with pytest.raises(ConfigError) as excinfo:
        _discover(tmp_path, *patterns)
    assert f"corpus.paths[{index}]" in str(excinfo.value)
    assert "d/*.parquet" in str(excinfo.value)
    assert "matches no file" in str(excinfo.value)


def test_missing_plain_file_is_config_error(tmp_path):
    """A non-glob path to a file that does not exist is a ConfigError naming corpus.paths[0]."""
    with pytest.raises(ConfigError, match=r"corpus\.paths\[0\].*matches no file"):
        _discover(tmp_path, "missing.jsonl")


@pytest.mark.parametrize(
    "files, pattern, keys",
    [
        (["d/a.jsonl", "d/b.jsonl"], "d/*.jsonl", ["a.jsonl", "b.jsonl"]),
        (["d/sub/a.jsonl", "d/other/b.jsonl"], "d/**/*.jsonl", ["other/b.jsonl", "sub/a.jsonl"]),
        (["d/sub/a.jsonl"], "d/sub/a.jsonl", ["a.jsonl"]),
        (["d/x1/a.jsonl", "d/x2/a.jsonl"], "d/x*/a.jsonl", ["x1/a.jsonl", "x2/a.jsonl"]),
        (["d/my file.jsonl"], "d/*.jsonl", ["my_file.jsonl"]),
    ],
    ids=["flat-glob", "recursive-glob", "plain-file", "wildcard-folder", "unsafe-chars-replaced"],
)
def test_keys_are_relative_to_the_fixed_folder(tmp_path, files, pattern, keys):
    """A shard's key is its path relative to the fixed part of its glob (unsafe characters become '_')."""
    _touch(tmp_path, *files)
    shards = _discover(tmp_path, pattern)
    assert _keys(shards) == keys
    for shard in shards:
        assert Path(shard.uri).is_absolute() and Path(shard.uri).is_file()


def test_relative_patterns_resolve_against_config_dir(tmp_path, monkeypatch):
    """A relative pattern is taken from config_dir, not from the working directory."""
    _touch(tmp_path, "cfg/data/a.jsonl")
    monkeypatch.chdir(tmp_path)
    shards = discover_shards(CorpusConfig(paths=["data/*.jsonl"]), config_dir=str(tmp_path / "cfg"),
                             storage_root=str(tmp_path / "home"))
    assert [s.uri for s in shards] == [str(tmp_path / "cfg" / "data" / "a.jsonl")]


def test_climb_home_placeholder_expands_to_storage_root(tmp_path):
    """{climb_home} in a pattern is replaced by the storage root."""
    _touch(tmp_path, "elsewhere/home/corpus/a.jsonl")
    shards = _discover(tmp_path, "{climb_home}/corpus/*.jsonl", storage_root=str(tmp_path / "elsewhere" / "home"))
    assert _keys(shards) == ["a.jsonl"]
    assert shards[0].uri == str(tmp_path / "elsewhere" / "home" / "corpus" / "a.jsonl")


def test_environment_variables_expand(tmp_path, monkeypatch):
    """$VARS in a pattern are expanded."""
    _touch(tmp_path, "vdir/a.jsonl")
    monkeypatch.setenv("CLIMB_TEST_DATA", str(tmp_path / "vdir"))
    assert _keys(_discover(tmp_path, "$CLIMB_TEST_DATA/*.jsonl")) == ["a.jsonl"]


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("a.jsonl", "jsonl"),
        ("a.jsonl.gz", "jsonl.gz"),
        ("a.jsonl.zst", "jsonl.zst"),
        ("a.parquet", "parquet"),
        ("a.csv", "csv"),
        ("a.txt", "txt"),
        ("A.JSONL", "jsonl"),
    ],
)
def test_format_detected_from_suffix(tmp_path, name, fmt):
    """The format comes from the suffix (longest first, case-insensitive)."""
    _touch(tmp_path, f"d/{name}")
    assert [(s.key, s.format) for s in _discover(tmp_path, "d/*")] == [(name, fmt)]
    assert detect_format(name) == fmt


@pytest.mark.parametrize("name", ["a.json", "a.gz", "a.tsv", "README"])
def test_unknown_suffix_is_config_error(tmp_path, name):
    """A matched file with no reader is a ConfigError naming the pattern index and the file."""
    _touch(tmp_path, f"d/{name}")
    with pytest.raises(ConfigError) as excinfo:
        _discover(tmp_path, "d/*")
    assert "corpus.paths[0]" in str(excinfo.value)
    assert name in str(excinfo.value)
    assert "no reader" in str(excinfo.value)


@pytest.mark.parametrize("pattern", ["d", "d/*"], ids=["folder-path", "glob-matching-a-folder"])
def test_plain_folder_is_config_error(tmp_path, pattern):
    """A folder that is not a datasets.save_to_disk folder is a ConfigError suggesting a file glob."""
    _touch(tmp_path, "d/sub/a.jsonl")
    with pytest.raises(ConfigError, match=r"corpus\.paths\[0\].*is a folder but not a dataset"):
        _discover(tmp_path, pattern)


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="needs the datasets package")
@pytest.mark.parametrize("pattern", ["saved/ds", "saved/*"])
def test_saved_dataset_folder_is_hf_dataset(tmp_path, pattern):
    """A folder written by datasets.save_to_disk is one shard of format hf_dataset."""
    import datasets

    datasets.Dataset.from_dict({"text": ["one", "two"]}).save_to_disk(str(tmp_path / "saved" / "ds"))
    shards = _discover(tmp_path, pattern)
    assert [(s.key, s.format) for s in shards] == [("ds", HF_DATASET)]


def test_hidden_files_are_ignored(tmp_path):
    """Files whose name starts with '.' are not shards."""
    _touch(tmp_path, "d/a.jsonl", "d/.partial.jsonl", "d/.DS_Store.txt")
    assert _keys(_discover(tmp_path, "d/*")) == ["a.jsonl"]


def test_files_in_hidden_folders_are_ignored(tmp_path):
    """A recursive glob does not descend into hidden folders."""
    _touch(tmp_path, "d/sub/a.jsonl", "d/.ipynb_checkpoints/a-checkpoint.jsonl")
    assert _keys(_discover(tmp_path, "d/**/*.jsonl")) == ["sub/a.jsonl"]


def test_key_collision_across_patterns_is_config_error(tmp_path):
    """Two different files giving the same key is a ConfigError naming both files and the key."""
    _touch(tmp_path, "x/a.jsonl", "y/a.jsonl")
    with pytest.raises(ConfigError) as excinfo:
        _discover(tmp_path, "x/*.jsonl", "y/*.jsonl")
    message = str(excinfo.value)
    assert "'a.jsonl'" in message
    assert str(tmp_path / "x" / "a.jsonl") in message and str(tmp_path / "y" / "a.jsonl") in message


def test_key_collision_after_sanitising_is_config_error(tmp_path):
    """Two files whose names differ only in unsafe characters collide and are reported."""
    _touch(tmp_path, "d/my file.jsonl", "d/my_file.jsonl")
    with pytest.raises(ConfigError, match="both give the shard key 'my_file.jsonl'"):
        _discover(tmp_path, "d/*.jsonl")


def test_same_file_from_two_patterns_is_one_shard(tmp_path):
    """A file matched by two patterns is one shard, not a collision."""
    _touch(tmp_path, "d/a.jsonl")
    assert _keys(_discover(tmp_path, "d/*.jsonl", "d/a.jsonl")) == ["a.jsonl"]


def test_results_sorted_by_key_across_patterns(tmp_path):
    """Shards from all patterns come back sorted by key, whatever the pattern order."""
    _touch(tmp_path, "p/z.jsonl", "p/b.csv", "q/a.txt", "q/m.parquet")
    shards = _discover(tmp_path, "p/*", "q/*")
    assert _keys(shards) == ["a.txt", "b.csv", "m.parquet", "z.jsonl"]


def test_memory_filesystem_uri(tmp_path):
    """An fsspec URI pattern gives shards whose uri keeps the protocol."""
    import uuid

    import fsspec

    fs = fsspec.filesystem("memory")
    base = f"/shards-{uuid.uuid4().hex}"
    fs.pipe(f"{base}/data/a.jsonl", b'{"text": "x"}\n')
    try:
        shards = _discover(tmp_path, f"memory://{base}/data/*.jsonl")
        assert [(s.key, s.uri, s.format) for s in shards] == [("a.jsonl", f"memory://{base}/data/a.jsonl", "jsonl")]
    finally:
        fs.rm(base, recursive=True)


def test_dir_name_is_one_path_component():
    """Shard.dir_name quotes '/' so a nested key is one folder name."""
    assert Shard(key="web/a.jsonl", uri="/x", format="jsonl").dir_name == "web%2Fa.jsonl"
