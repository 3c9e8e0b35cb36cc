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

    def _key(self, identifier: list[str]) -> str:
        return "/".join(identifier)

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        storage = self.project.storage()
        key = self._key(context.get_identifier())
        storage.fs.makedirs(f"{storage.cache_dir(CACHE)}/{key}".rsplit("/", 1)[0], exist_ok=True)
        storage.write_cache_json(CACHE, key, obj)  # atomic: a reader never sees half a file

    def load_input(self, context: dg.InputContext):
        storage = self.project.storage()
        key = self._key(context.upstream_output.get_identifier())
        if not storage.fs.exists(f"{storage.cache_dir(CACHE)}/{key}.json"):
            raise FileNotFoundError(f"step output {key} is not under {storage.cache_dir(CACHE)}: the step that "
                                    "writes it has not run in this run (re-execute the whole run)")
        return storage.read_cache_json(CACHE, key)
