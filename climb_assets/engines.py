"""The Dagster faces of the engines in `resources/`: primitive fields in, a plain engine out."""

from __future__ import annotations

import functools
import os

import dagster as dg

from resources.config import DEFAULT_CONFIG_PATH, ClimbConfig, EmbeddingConfig, load_config
from resources.storage import Storage
from resources.vectors import embedder_settings


@functools.lru_cache(maxsize=8)
def _load(config_path: str, home: str, modified: float) -> ClimbConfig:
    return load_config(config_path, home=home or None)


class ProjectResource(dg.ConfigurableResource):
    """The project's configuration file and storage root.

    Empty strings mean the defaults: `$CLIMB_CONFIG` (else the demo's file) and `$CLIMB_HOME`
    (else the file's `storage_root`).
    """

    config_path: str = ""
    home: str = ""

    def config(self) -> ClimbConfig:
        path = self.config_path or os.environ.get("CLIMB_CONFIG") or str(DEFAULT_CONFIG_PATH)
        home = self.home or os.environ.get("CLIMB_HOME", "")
        modified = os.path.getmtime(path) if os.path.exists(path) else 0.0  # an edited file is reloaded
        return _load(path, home, modified)

    def storage(self) -> Storage:
        return Storage(self.config().storage_root)


class EmbedderResource(dg.ConfigurableResource):
    """The embedding model (GPU work): settings from the `embedding` section of the configuration.

    `device` overrides the file where a deployment knows better (e.g. "cuda" in GPU pods); empty = the file's.
    """

    device: str = ""

    def embedder(self, config: EmbeddingConfig):
        from resources.embedding import Embedder

        return Embedder(embedder_settings(config, device=self.device or None))
