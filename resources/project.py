"""The project's configuration file and storage root as a Dagster resource."""

from __future__ import annotations

import functools
import os

import dagster as dg

from climb.core import DEFAULT_CONFIG_PATH, ClimbConfig, Storage, load_config

CONFIG_ENV, HOME_ENV = "CLIMB_CONFIG", "CLIMB_HOME"


@functools.lru_cache(maxsize=8)
def _load(config_path: str, home: str, modified: float) -> ClimbConfig:
    return load_config(config_path, home=home or None)


class ProjectResource(dg.ConfigurableResource):
    """The project's configuration file and storage root.

    Empty strings mean the defaults: `$CLIMB_CONFIG` (else the demo's file) and `$CLIMB_HOME`
    (else the file's `storage_root`). The code location sets them from `dg.EnvVar` when those
    variables exist, so the UI shows where they come from.
    """

    config_path: str = ""  # the YAML file; "" = $CLIMB_CONFIG, else the demo's
    home: str = ""  # the storage root (local folder or fsspec URI); "" = $CLIMB_HOME, else the file's

    def config(self) -> ClimbConfig:
        path = self.config_path or os.environ.get(CONFIG_ENV) or str(DEFAULT_CONFIG_PATH)
        home = self.home or os.environ.get(HOME_ENV, "")
        modified = os.path.getmtime(path) if os.path.exists(path) else 0.0  # an edited file is reloaded
        return _load(path, home, modified)

    def storage(self) -> Storage:
        return Storage(self.config().storage_root)
