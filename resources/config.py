"""The project configuration: one YAML file, validated at load.

Where things come from, in order of precedence:
- the file: the `path` argument, else `$CLIMB_CONFIG`, else the demo's file shipped in the package;
- the storage root: the `home` argument, else `$CLIMB_HOME`, else `storage_root` in the file
  (relative to the file's folder), else `./climb_home` in the working directory.

Every problem is a `ConfigError` naming the file, the key and what is wrong with it: an unknown key
(with the nearest valid one), a wrong type, a missing key, a glob matching nothing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "climb_assets" / "demo" / "climb.yaml"
DEFAULT_STORAGE_ROOT = "climb_home"


class ConfigError(ValueError):
    """A configuration problem, with the file and key it comes from in the message."""


class _Section(BaseModel):
    # strict: YAML "10" stays a string and is reported, never coerced; forbid: typos are errors.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CsvOptions(_Section):
    header: bool = True  # first row names the columns
    columns: list[str] | None = None  # column names when header is false
    delimiter: str = ","


class LengthFilters(_Section):
    """Documents outside these bounds are kept out as `filter:*`; None disables a bound."""

    min_chars: int | None = Field(default=20, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    min_words: int | None = Field(default=3, ge=0)
    max_words: int | None = Field(default=None, ge=1)


class CorpusConfig(_Section):
    paths: list[str] = Field(min_length=1)  # globs, files, folders or fsspec URIs
    text_field: str | list[str] = "text"  # a list is joined with a blank line (e.g. title + body)
    id_field: str | None = None  # None: ids are "<shard>:<row>"
    metadata_fields: list[str] = []  # carried through as string columns (e.g. a label)
    txt_mode: Literal["file", "paragraphs"] = "file"  # .txt: one document per file or per blank-line block
    csv: CsvOptions = CsvOptions()
    normalization: Literal["NFC", "NFKC", "none"] = "NFC"  # Unicode normal form applied before hashing
    filters: LengthFilters = LengthFilters()
    max_record_bytes: int = Field(default=8 * 1024 * 1024, ge=1)  # larger records are quarantined

    @field_validator("text_field")
    @classmethod
    def _non_empty_text_field(cls, value: str | list[str]) -> str | list[str]:
        if not value:
            raise ValueError("must name at least one field")
        return value


class ClimbConfig(_Section):
    storage_root: str = DEFAULT_STORAGE_ROOT
    corpus: CorpusConfig
    # Set by load_config, not by the file: where the file lives (relative paths resolve here).
    config_path: str = ""

    @property
    def config_dir(self) -> str:
        return str(Path(self.config_path).parent) if self.config_path else os.getcwd()


def _format_location(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the section that `loc` points into (for 'did you mean')."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return [name for name in model.model_fields if name != "config_path"]


def _describe(error: dict[str, Any]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        known = _known_keys(ClimbConfig, error["loc"])
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(known)}"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    return f"{error['msg']} (got {value!r} of type {type(value).__name__})"


def _resolve_storage_root(raw_root: str | None, home: str | None, config_dir: str) -> str:
    root = home or os.environ.get("CLIMB_HOME") or None
    if root is None:
        if raw_root is None:
            return str(Path.cwd() / DEFAULT_STORAGE_ROOT)
        root = os.path.expanduser(os.path.expandvars(raw_root))
        if "://" not in root and not os.path.isabs(root):
            root = os.path.join(config_dir, root)
    if "://" in root:
        return root.rstrip("/")
    return str(Path(os.path.expanduser(root)).resolve())


def load_config(path: str | os.PathLike[str] | None = None, *, home: str | None = None) -> ClimbConfig:
    """Read and validate the configuration.

    Args:
        path: the YAML file; None means `$CLIMB_CONFIG`, else the demo's file.
        home: the storage root; None means `$CLIMB_HOME`, else the file's `storage_root`.
    """
    config_path = Path(path or os.environ.get("CLIMB_CONFIG") or DEFAULT_CONFIG_PATH).expanduser().resolve()
    if not config_path.is_file():
        raise ConfigError(f"{config_path}: configuration file not found")
    try:
        raw = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError(f"{config_path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ConfigError(f"{config_path}: the top level must be a mapping of sections, got {type(raw).__name__}")
    raw = dict(raw)
    if "config_path" in raw:
        raise ConfigError(f"{config_path}: config_path: unknown key (set by the loader)")
    raw["config_path"] = str(config_path)
    raw_root = raw.get("storage_root")
    if raw_root is None or isinstance(raw_root, str):  # a wrong type is left for validation to report
        raw["storage_root"] = _resolve_storage_root(raw_root, home, str(config_path.parent))
    try:
        return ClimbConfig.model_validate(raw)
    except ValidationError as err:
        problems = [f"{config_path}: {_format_location(e['loc'])}: {_describe(e)}" for e in err.errors()]
        raise ConfigError("\n".join(problems)) from None
