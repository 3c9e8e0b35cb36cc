"""The Dagster resources of the project: configuration and storage, the embedder, the proxy trainer, and
the IO manager of the small values passed between steps.

Each holds primitive fields (shown in the UI, from `dg.EnvVar` where the environment sets them) and hands
back plain engines from the `climb` package.
"""

from resources.embedder import EmbedderResource
from resources.project import ProjectResource
from resources.proxy_trainer import ProxyTrainerResource
from resources.step_outputs import StepOutputsIOManager

__all__ = ["EmbedderResource", "ProjectResource", "ProxyTrainerResource", "StepOutputsIOManager"]
