"""The embedding model as a Dagster resource (a GPU resource: it decides where the encoder runs)."""

from __future__ import annotations

import dagster as dg

from climb.core import EmbeddingConfig

DEVICE_ENV = "CLIMB_EMBEDDING_DEVICE"  # set in GPU step pods: "cuda"


class EmbedderResource(dg.ConfigurableResource):
    """The encoder of the `embedding` section.

    `device` overrides the file where a deployment knows better (e.g. "cuda" in GPU pods,
    from `$CLIMB_EMBEDDING_DEVICE`); empty = the file's.
    """

    device: str = ""  # "" | auto | cpu | cuda

    def embedder(self, config: EmbeddingConfig):
        from climb.semantic import Embedder, embedder_settings

        return Embedder(embedder_settings(config, device=self.device or None))
