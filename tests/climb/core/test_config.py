"""Tests for the configuration loader (climb.core.config.load_config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from climb.core.config import ClimbConfig, ConfigError, load_config

MINIMAL = "corpus:\n  paths: [data/*.jsonl]\n  text_field: text\n  id_field: id\n"


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch):
    """No test sees the caller's $CLIMB_HOME or $CLIMB_CONFIG."""
    monkeypatch.delenv("CLIMB_HOME", raising=False)
    monkeypatch.delenv("CLIMB_CONFIG", raising=False)


def _write(tmp_path: Path, text: str, name: str = "climb.yaml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ valid files
@pytest.mark.parametrize(
    "text, id_field",
    [
        (MINIMAL, "id"),
        ("corpus:\n  paths: [data/*.jsonl]\n  text_field: text\n", None),
    ],
    ids=["with-id", "id-optional"],
)
def test_minimal_file_loads(tmp_path, text, id_field):
    """A file with only corpus.paths/text_field (id_field optional) loads with defaults elsewhere."""
    path = _write(tmp_path, text)
    config = load_config(path, home=str(tmp_path / "home"))
    assert isinstance(config, ClimbConfig)
    assert config.corpus.paths == ["data/*.jsonl"]
    assert config.corpus.text_field == "text"
    assert config.corpus.id_field == id_field
    assert config.corpus.normalization == "NFC"
    assert config.config_path == str(path.resolve())
    assert config.config_dir == str(tmp_path.resolve())


def test_text_field_list_is_accepted(tmp_path):
    """text_field may be a list of fields (joined later with a blank line)."""
    path = _write(tmp_path, "corpus:\n  paths: [a.jsonl]\n  text_field: [title, body]\n")
    assert load_config(path, home=str(tmp_path)).corpus.text_field == ["title", "body"]


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "text, key, fragments",
    [
        (MINIMAL + "corpuss: {}\n", "corpuss", ["unknown key", "corpus"]),
        (
            MINIMAL + "  filters:\n    min_charz: 10\n",
            "corpus.filters.min_charz",
            ["unknown key", "did you mean 'min_chars'"],
        ),
        (MINIMAL + "  csv: {headr: false}\n", "corpus.csv.headr", ["unknown key", "did you mean 'header'"]),
        (MINIMAL + "  filters:\n    min_chars: ten\n", "corpus.filters.min_chars", ["valid integer", "'ten'", "str"]),
        (MINIMAL + "  filters:\n    min_chars: '10'\n", "corpus.filters.min_chars", ["valid integer", "'10'"]),
        ("corpus:\n  paths: a.jsonl\n", "corpus.paths", ["valid list", "'a.jsonl'"]),
        ("corpus:\n  text_field: text\n", "corpus.paths", ["required key is missing"]),
        ("corpus:\n  paths: []\n", "corpus.paths", ["at least 1"]),
        (MINIMAL + "  normalization: NFD\n", "corpus.normalization", ["'NFC'", "'NFKC'", "'NFD'"]),
        ("storage_root: here\n", "corpus", ["required key is missing"]),
        (MINIMAL + "storage_root: 5\n", "storage_root", ["valid string"]),
        (MINIMAL + "  filters:\n    min_chars: -1\n", "corpus.filters.min_chars", ["greater than or equal to 0"]),
        ("corpus:\n  paths: [a.jsonl]\n  text_field: []\n", "corpus.text_field", ["at least one field"]),
        (MINIMAL + "export:\n  tokenizer: 5\n", "export.tokenizer", ["valid string"]),
        (MINIMAL + "export:\n  license: ''\n", "export.license", ["at least 1 character"]),
        (MINIMAL + "export:\n  language: []\n", "export.language", ["at least 1 item"]),
    ],
    ids=[
        "unknown-top-level",
        "unknown-nested",
        "unknown-csv-option",
        "wrong-type-int",
        "quoted-number-not-coerced",
        "paths-string-not-list",
        "missing-paths",
        "empty-paths",
        "invalid-literal",
        "missing-corpus",
        "storage-root-not-string",
        "negative-bound",
        "empty-text-field",
        "export-tokenizer-not-string",
        "export-license-empty",
        "export-language-empty",
    ],
)
def test_schema_error_names_file_key_and_problem(tmp_path, text, key, fragments):
    """A schema problem is a ConfigError whose message names the file, the dotted key and the problem."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, home=str(tmp_path / "home"))
    message = str(excinfo.value)
    assert f"{path.resolve()}: {key}: " in message
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("- corpus\n- paths\n", "top level must be a mapping"),
        ("just a string\n", "top level must be a mapping"),
        ("", "top level must be a mapping"),
        ("corpus: {paths: [a.jsonl]\n", "not valid YAML"),
        ("corpus:\n\tpaths: [a]\n", "not valid YAML"),
        (MINIMAL + "config_path: /elsewhere.yaml\n", "config_path: unknown key"),
    ],
    ids=["list", "scalar", "empty-file", "unclosed-bracket", "tab-indent", "reserved-config-path"],
)
def test_unparsable_or_non_mapping_file_is_config_error(tmp_path, text, fragment):
    """A file that is not YAML, or whose top level is not a mapping, is a ConfigError naming the file."""
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as excinfo:
        load_config(path)
    assert str(path.resolve()) in str(excinfo.value)
    assert fragment in str(excinfo.value)


def test_missing_file_is_config_error(tmp_path):
    """A path that does not exist is a ConfigError naming it and saying it was not found."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="not found") as excinfo:
        load_config(path)
    assert str(path) in str(excinfo.value)


def test_every_problem_is_reported(tmp_path):
    """Several problems in one file are all reported, one line each."""
    path = _write(tmp_path, MINIMAL + "  normalization: NFD\n  filters: {min_charz: 1}\n")
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, home=str(tmp_path))
    lines = str(excinfo.value).splitlines()
    assert len(lines) == 2
    assert any("corpus.normalization" in line for line in lines)
    assert any("corpus.filters.min_charz" in line for line in lines)


# ------------------------------------------------------------------------------ storage root
@pytest.mark.parametrize(
    "home_arg, env_home, file_root, expected",
    [
        ("arg", "env", "file_root", "arg"),
        (None, "env", "file_root", "env"),
        (None, None, "file_root", "cfg/file_root"),
        (None, None, None, "cwd/climb_home"),
        (None, "", "file_root", "cfg/file_root"),
    ],
    ids=["home-arg-wins", "env-beats-file", "file-relative-to-its-folder", "default-under-cwd", "empty-env-ignored"],
)
def test_storage_root_precedence(tmp_path, monkeypatch, home_arg, env_home, file_root, expected):
    """Storage root: home= > $CLIMB_HOME > file's storage_root (relative to the file) > ./climb_home."""
    cfg_dir, cwd = tmp_path / "cfg", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    if env_home is not None:
        monkeypatch.setenv("CLIMB_HOME", str(tmp_path / env_home) if env_home else "")
    text = MINIMAL + (f"storage_root: {file_root}\n" if file_root else "")
    path = _write(cfg_dir, text)
    home = str(tmp_path / home_arg) if home_arg else None
    config = load_config(path, home=home)
    assert config.storage_root == str((tmp_path / expected).resolve())


def test_absolute_and_uri_storage_roots(tmp_path):
    """An absolute storage_root is kept as is; a URI keeps its scheme and loses a trailing slash."""
    absolute = tmp_path / "abs_root"
    path = _write(tmp_path, MINIMAL + f"storage_root: {absolute}\n")
    assert load_config(path).storage_root == str(absolute)
    assert load_config(path, home="memory://bucket/prefix/").storage_root == "memory://bucket/prefix"


def test_relative_home_argument_is_from_cwd(tmp_path, monkeypatch):
    """A relative home= argument resolves against the working directory, not the file's folder."""
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "cfg", MINIMAL)
    assert load_config(path, home="rel_home").storage_root == str((tmp_path / "rel_home").resolve())


def test_climb_config_env_used_when_path_is_none(tmp_path, monkeypatch):
    """With path=None the file named by $CLIMB_CONFIG is loaded."""
    path = _write(tmp_path, "corpus:\n  paths: [from_env.jsonl]\n")
    monkeypatch.setenv("CLIMB_CONFIG", str(path))
    config = load_config(home=str(tmp_path / "home"))
    assert config.corpus.paths == ["from_env.jsonl"]
    assert config.config_path == str(path.resolve())


def test_explicit_path_beats_climb_config(tmp_path, monkeypatch):
    """An explicit path wins over $CLIMB_CONFIG."""
    monkeypatch.setenv("CLIMB_CONFIG", str(_write(tmp_path, "corpus:\n  paths: [env.jsonl]\n", "env.yaml")))
    path = _write(tmp_path, "corpus:\n  paths: [arg.jsonl]\n", "arg.yaml")
    assert load_config(path, home=str(tmp_path)).corpus.paths == ["arg.jsonl"]


def test_default_is_the_demo_file(tmp_path):
    """With no path and no $CLIMB_CONFIG the demo's shipped file loads without error."""
    config = load_config(home=str(tmp_path))
    assert config.config_path.endswith("climb.yaml")
    assert config.corpus.paths
