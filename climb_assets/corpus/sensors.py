"""Sensors of the corpus stage: new input files become shards and are ingested."""

import json

import dagster as dg

from resources import ProjectResource
from climb_assets.partitions import SHARD_JOB, SHARDS, shards_partitions
from climb.core import ConfigError
from climb.corpus import config_shards

INGEST = ("documents", "embeddings", "quality_scores")


@dg.sensor(name="new_shards_sensor", job_name=SHARD_JOB, minimum_interval_seconds=60,
           description="Registers files newly matched by corpus.paths as shard partitions and requests their "
           "ingestion, rating, embedding and (when centroids exist) assignment to the current centroids; "
           "re-ingests shards whose file (or an earlier shard's) changed.")
def new_shards_sensor(context: dg.SensorEvaluationContext, project: ProjectResource):
    try:
        shards = config_shards(project.config())
    except ConfigError as err:
        return dg.SkipReason(f"corpus.paths matches nothing usable: {err}")
    registered = set(context.instance.get_dynamic_partitions(SHARDS))
    new = [shard for shard in shards if shard.key not in registered]
    edited = _edited(context.instance, project, shards, registered)
    if not new and not edited:
        return dg.SkipReason(f"{len(shards)} file(s) match corpus.paths, all already registered and unchanged")
    storage = project.storage()
    clustered = storage.partition_path("centroids") is not None and storage.partition_path("tokenizer") is not None
    selection = [dg.AssetKey(name) for name in INGEST + (("cluster_assignments",) if clustered else ())]
    run_requests = [dg.RunRequest(run_key=f"ingest:{shard.key}", partition_key=shard.key, asset_selection=selection)
                    for shard in new]
    # An edited file (or an earlier one: deduplication is global) re-ingests its shard, once per new version.
    run_requests += [dg.RunRequest(run_key=f"ingest:{key}:{version[:16]}", partition_key=key,
                                   asset_selection=selection) for key, version in edited.items()]
    context.log.info(f"{len(new)} new shard(s): {', '.join(s.key for s in new[:10])}; "
                     f"{len(edited)} changed: {', '.join(list(edited)[:10])}")
    # The cursor (set last, after the work above) records what this tick saw, for the UI and the next tick.
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[shards_partitions.build_add_request([s.key for s in new])] if new else [],
        cursor=json.dumps({"known_shards": len(registered) + len(new)}),
    )


def _edited(instance: dg.DagsterInstance, project: ProjectResource, shards: list, registered: set[str]) -> dict:
    """Ingested shards whose documents version (their file, an earlier shard, the reading settings) differs
    from the one their latest `documents` materialisation recorded: shard key -> the version now."""
    from dagster._core.definitions.data_version import DATA_VERSION_TAG

    from climb.corpus.documents import documents_versions
    from climb_assets.status import latest_materializations

    versions = documents_versions([s for s in shards if s.key in registered], project.config())
    latest = latest_materializations(instance, dg.AssetKey("documents"), sorted(versions))
    return {key: version for key, version in versions.items() if key in latest
            and (latest[key].asset_materialization.tags or {}).get(DATA_VERSION_TAG) != version}
