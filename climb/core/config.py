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
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from climb.core.config_sections import (RATER_FORMS, BenchmarkTarget, ClusteringConfig, CorpusConfig, CsvOptions,
                                        ContaminationConfig, DedupConfig, NearDedupConfig, SemanticDedupConfig,
                                        DeploymentConfig, EmbeddingConfig, ExportConfig, FastTextRaterConfig,
                                        GpuPodConfig, HfClassifierRaterConfig, LengthFilters, ProxyConfigSection,
                                        QualityConfig, RaterChoice, RaterName, ReclusterConfig, SearchConfig,
                                        TargetConfig, TokenizerConfig, TrainedRaterConfig, _Section)

__all__ = ["DEFAULT_CONFIG_PATH", "DEFAULT_STORAGE_ROOT", "RATER_FORMS", "BenchmarkTarget", "ClimbConfig",
           "ClusteringConfig", "ConfigError", "ContaminationConfig", "CorpusConfig", "CsvOptions", "DedupConfig", "NearDedupConfig", "DeploymentConfig", "EmbeddingConfig",
           "ExportConfig", "FastTextRaterConfig", "GpuPodConfig", "HfClassifierRaterConfig", "LengthFilters",
           "ProxyConfigSection", "QualityConfig", "RaterChoice", "RaterName", "ReclusterConfig", "SearchConfig",
           "SemanticDedupConfig", "TargetConfig",
           "TokenizerConfig", "TrainedRaterConfig", "load_config"]

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[1] / "demo" / "climb.yaml"
DEFAULT_STORAGE_ROOT = "climb_home"


class ConfigError(ValueError):
    """A configuration problem, with the file and key it comes from in the message."""


class ClimbConfig(_Section):
    storage_root: str = DEFAULT_STORAGE_ROOT
    corpus: CorpusConfig
    dedup: DedupConfig = DedupConfig()
    embedding: EmbeddingConfig = EmbeddingConfig()
    quality: QualityConfig = QualityConfig()
    clustering: ClusteringConfig = ClusteringConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    search: SearchConfig = SearchConfig()
    proxy: ProxyConfigSection = ProxyConfigSection()
    target: TargetConfig = TargetConfig()
    export: ExportConfig = ExportConfig()
    deployment: DeploymentConfig = DeploymentConfig()
    # Set by load_config, not by the file: where the file lives (relative paths resolve here).
    config_path: str = ""

    @property
    def config_dir(self) -> str:
        return str(Path(self.config_path).parent) if self.config_path else os.getcwd()

    def resolve_path(self, path: str) -> str:
        """A path from the file: `~` and `$VARS` expanded, relative to the file's folder, URIs untouched."""
        expanded = os.path.expanduser(os.path.expandvars(path.replace("{climb_home}", self.storage_root)))
        if "://" in expanded or os.path.isabs(expanded):
            return expanded
        return os.path.normpath(os.path.join(self.config_dir, expanded))


def _is_union_tag(part: Any) -> bool:
    """Pydantic names the branch of a union in the location (`literal['heuristic']`, `FastTextRaterConfig`)."""
    return isinstance(part, str) and (part.startswith(("literal[", "function-")) or part[:1].isupper()
                                      or part == "[key]")


_RATER_TAGS = {"heuristic": None, "fasttext": "FastTextRaterConfig", "trained": "TrainedRaterConfig",
               "hf_classifier": "HfClassifierRaterConfig"}


def _rater_model(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], type[BaseModel] | None]:
    """Drop the union tag pydantic puts after `quality.raters.<name>`; also return that branch's model."""
    if loc[:2] == ("quality", "raters") and len(loc) >= 4 and loc[3] in _RATER_TAGS:
        model = {"fasttext": FastTextRaterConfig, "trained": TrainedRaterConfig,
                 "hf_classifier": HfClassifierRaterConfig}.get(loc[3])
        return loc[:3] + loc[4:], model
    return loc, None


def _format_location(loc: tuple[Any, ...]) -> str:
    loc, _ = _rater_model(loc)
    out = ""
    for part in loc:
        if _is_union_tag(part):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<top level>"


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The valid keys of the section that `loc` points into (for 'did you mean')."""
    for part in loc[:-1]:
        if isinstance(part, int) or _is_union_tag(part):
            continue
        annotation = getattr(model.model_fields.get(part), "annotation", None)
        # a section that may be null (`near: NearDedupConfig | None`) is its model's branch of the union
        models = [a for a in get_args(annotation) or (annotation,) if isinstance(a, type) and issubclass(a, BaseModel)]
        if len(models) != 1:
            return []
        model = models[0]
    return [name for name in model.model_fields if name != "config_path"]


def _describe(error: dict[str, Any]) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        loc, branch = _rater_model(error["loc"])
        known = [n for n in branch.model_fields] if branch else _known_keys(ClimbConfig, loc)
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(known)}"
        return f"unknown key{hint}"
    if kind == "missing":
        return "required key is missing"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        return f"expected {RATER_FORMS} (got {value!r})"
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
        by_location: dict[str, list[str]] = {}
        for error in err.errors():
            by_location.setdefault(_format_location(error["loc"]), []).append(_describe(error))
        problems = [
            f"{config_path}: {where}: " + (found[0] if len(found) == 1 else "none of the accepted forms matches: "
                                           + "; ".join(dict.fromkeys(found)))
            for where, found in by_location.items()
        ]
        raise ConfigError("\n".join(problems)) from None
