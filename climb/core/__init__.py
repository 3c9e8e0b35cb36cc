"""Shared foundations: the configuration file, storage, device placement, plots, hashing and tables."""

from climb.core.config import (DEFAULT_CONFIG_PATH, ClimbConfig, ConfigError, DeploymentConfig, EmbeddingConfig,
                               ReclusterConfig, load_config)
from climb.core.device import available_cpus, resolve_placement
from climb.core.hashing import content_hash
from climb.core.plots import as_markdown, cluster_sizes
from climb.core.storage import Storage
from climb.core.tables import markdown_table

__all__ = ["DEFAULT_CONFIG_PATH", "ClimbConfig", "ConfigError", "DeploymentConfig", "EmbeddingConfig",
           "ReclusterConfig", "Storage", "as_markdown", "available_cpus", "cluster_sizes", "content_hash",
           "load_config", "markdown_table", "resolve_placement"]
