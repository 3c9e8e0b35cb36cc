"""Step outputs as JSON under the storage root: the IO manager of the few values that pass between steps.

Assets write their own files under `<root>/<asset>/`; what passes between the steps of a graph (a round's
candidate indexes, each trained proxy's content address) is small JSON, written under
`<root>/_cache/step_outputs/<run id>/...` so that a step in another process, or another pod on Kubernetes with
an object-storage root, reads what an earlier step wrote. Large arrays never pass through here.
"""

from __future__ import annotations

import json

import dagster as dg

from resources.project import ProjectResource

CACHE = "step_outputs"


class StepOutputsIOManager(dg.ConfigurableIOManager):
    """JSON step outputs on the project's storage (local folder or fsspec URI)."""

    project: ProjectResource

    def _path(self, identifier: list[str]) -> str:
        return f"{self.project.storage().cache_dir(CACHE)}/{'/'.join(identifier)}.json"

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        storage = self.project.storage()
        path = self._path(context.get_identifier())
        storage.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with storage.fs.open(path, "w") as handle:
            json.dump(obj, handle)

    def load_input(self, context: dg.InputContext):
        with self.project.storage().fs.open(self._path(context.upstream_output.get_identifier()), "r") as handle:
            return json.load(handle)
