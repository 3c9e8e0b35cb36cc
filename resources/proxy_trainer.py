"""The proxy trainer as a Dagster resource (a GPU resource: where and how many proxies train at once)."""

from __future__ import annotations

import dagster as dg

from climb.core import ClimbConfig

DEVICE_ENV = "CLIMB_PROXY_DEVICE"  # set in GPU step pods: "cuda"
WORKERS_ENV = "CLIMB_PROXY_WORKERS"


class ProxyTrainerResource(dg.ConfigurableResource):
    """Where proxy LMs train. Overrides `proxy.device` and `search.workers` of the configuration where a
    deployment knows better; neither changes a proxy's result, so cached runs stay valid (see
    `climb.search.learnt_settings`).
    """

    device: str = ""  # "" (the file's) | auto | cpu | cuda
    workers: int = 0  # proxies trained side by side; 0 = the file's (`search.workers`, else one per CPU / one per GPU)

    def configure(self, config: ClimbConfig) -> ClimbConfig:
        """The configuration with this resource's overrides applied."""
        proxy = config.proxy.model_copy(update={"device": self.device}) if self.device else config.proxy
        search = config.search.model_copy(update={"workers": self.workers}) if self.workers else config.search
        return config.model_copy(update={"proxy": proxy, "search": search})
