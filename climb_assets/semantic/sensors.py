"""Sensors of the semantic stage: re-clustering when the corpus has grown or drifted (docs/architecture.md, partitions and sensors)."""

import json
import time

import dagster as dg

from climb_assets.backfills import backfill_subset
from climb_assets.partitions import SHARDS
from resources import ProjectResource
from climb.semantic import CENTROIDS, CorpusGrowth, corpus_growth
from climb.core import ReclusterConfig
from climb.core import Storage


def _measured(growth: CorpusGrowth, rules: ReclusterConfig) -> tuple[list[str], str]:
    """(the rules that fire, one line saying what was measured against which threshold)."""
    share, drift = growth.new_document_share, growth.distance_drift
    fired, parts = [], []
    parts.append(f"new documents {growth.new_documents:,} of {growth.fitted_documents:,} fitted = share {share:.3f} "
                 f"(threshold {rules.new_document_share})")
    if rules.new_document_share is not None and share >= rules.new_document_share:
        fired.append(f"new_document_share {share:.3f} >= {rules.new_document_share}")
    if drift is None:
        parts.append(f"distance drift unmeasured ({growth.new_shards_assigned} new shard(s) assigned)")
    else:
        parts.append(f"mean distance {growth.new_distance:.4f} vs {growth.fit_distance:.4f} at fit = drift "
                     f"{drift:+.3f} (threshold {rules.distance_drift})")
        if rules.distance_drift is not None and drift >= rules.distance_drift:
            fired.append(f"distance_drift {drift:+.3f} >= {rules.distance_drift}")
    return fired, "; ".join(parts)


# What a re-clustering redoes: new centroids and everything after them up to ClimbLab. The search and ClimbMix
# follow by their automation conditions (eager: each once its upstream is updated).
RECLUSTER_SELECTION = dg.AssetSelection.assets(CENTROIDS).downstream() - dg.AssetSelection.groups("search", "climbmix")


def _recluster_request(context: dg.SensorEvaluationContext, storage: Storage, fired: list[str]) -> dg.RunRequest:
    """One asset backfill: centroids, the assignments of every shard already embedded (the others wait for their
    ingestion, new_shards_sensor), clusters, super-clusters and ClimbLab; Dagster orders the runs."""
    graph = context.repository_def.asset_graph
    embedded = [s for s in context.instance.get_dynamic_partitions(SHARDS)
                if storage.partition_path("embeddings", s) is not None]
    subset = backfill_subset(graph, RECLUSTER_SELECTION.resolve(graph), context.instance, shards=embedded)
    return dg.RunRequest.for_asset_graph_subset(subset, tags={"climb/recluster": "; ".join(fired)})


def evaluate_recluster(context: dg.SensorEvaluationContext, project: ProjectResource):
    """Request a re-clustering backfill when the corpus has grown or drifted past `clustering.recluster`; then
    wait until it has replaced the centroids."""
    config, storage = project.config(), project.storage()
    if storage.partition_path(CENTROIDS) is None:
        return dg.SkipReason("no centroids yet: nothing to re-cluster (materialise centroids first)")
    cursor = json.loads(context.cursor) if context.cursor else {}
    growth = corpus_growth(storage, shard_keys=sorted(context.instance.get_dynamic_partitions(SHARDS)))
    if cursor.get("superseded") == growth.centroids_version:
        return dg.SkipReason(f"waiting for the re-clustering backfill to replace centroids {growth.centroids_version[:8]}; "
                             "if it failed, re-execute it from the UI's backfills page or reset this sensor's cursor")
    rules = config.clustering.recluster
    fired, measured = _measured(growth, rules)
    cursor = {"superseded": None, "centroids_version": growth.centroids_version,
              "new_document_share": round(growth.new_document_share, 4),
              "distance_drift": None if growth.distance_drift is None else round(growth.distance_drift, 4)}
    if not fired:
        return dg.SensorResult(skip_reason=f"no re-clustering: {measured}", cursor=json.dumps(cursor))
    elapsed = time.time() - growth.fitted_at
    if elapsed < rules.minimum_interval_seconds:
        return dg.SensorResult(skip_reason=f"{', '.join(fired)}, but the centroids are {elapsed:.0f} s old "
                                           f"(minimum_interval_seconds {rules.minimum_interval_seconds}): {measured}",
                               cursor=json.dumps(cursor))
    context.log.info(f"re-clustering: {', '.join(fired)} ({measured})")
    return dg.SensorResult(run_requests=[_recluster_request(context, storage, fired)],
                           cursor=json.dumps({**cursor, "superseded": growth.centroids_version}))


def build_recluster_sensor() -> dg.SensorDefinition:
    """`recluster_sensor`: its requests are asset backfills of RECLUSTER_SELECTION."""
    return dg.sensor(
        name="recluster_sensor", asset_selection=RECLUSTER_SELECTION, minimum_interval_seconds=300,
        description="Launches a re-clustering backfill when the share of documents added since the last fit, or the "
        "rise of the mean distance to the nearest centroid, passes clustering.recluster's thresholds (and its "
        "minimum interval has passed): new centroids, cluster_assignments of every embedded shard, clusters, "
        "super-clusters and ClimbLab, in the order Dagster plans. The search follows by its automation conditions.",
    )(evaluate_recluster)
