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
           "ingestion, rating, embedding and (when centroids exist) assignment to the current centroids.")
def new_shards_sensor(context: dg.SensorEvaluationContext, project: ProjectResource):
    try:
        shards = config_shards(project.config())
    except ConfigError as err:
        return dg.SkipReason(f"corpus.paths matches nothing usable: {err}")
    registered = set(context.instance.get_dynamic_partitions(SHARDS))
    new = [shard for shard in shards if shard.key not in registered]
    if not new:
        return dg.SkipReason(f"{len(shards)} file(s) match corpus.paths, all already registered")
    storage = project.storage()
    clustered = storage.partition_path("centroids") is not None and storage.partition_path("tokenizer") is not None
    selection = [dg.AssetKey(name) for name in INGEST + (("cluster_assignments",) if clustered else ())]
    run_requests = [dg.RunRequest(run_key=f"ingest:{shard.key}", partition_key=shard.key, asset_selection=selection)
                    for shard in new]
    context.log.info(f"{len(new)} new shard(s): {', '.join(s.key for s in new[:10])}")
    # The cursor (set last, after the work above) records what this tick saw, for the UI and the next tick.
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[shards_partitions.build_add_request([s.key for s in new])],
        cursor=json.dumps({"known_shards": len(registered) + len(new)}),
    )
