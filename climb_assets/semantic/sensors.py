"""Sensors of the semantic stage: re-clustering when the corpus has grown or drifted (docs/architecture.md, partitions and sensors)."""

import json
import time
from collections.abc import Sequence

import dagster as dg

from climb_assets.phases import plan_phases
from resources import ProjectResource
from climb_assets.partitions import CORPUS_JOB, SHARD_JOB, SHARDS
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


def _downstream_phases(graph) -> list[tuple[str, list[dg.AssetKey]]]:
    """The phases after `centroids` (as `climb run` orders them) up to ClimbLab; the search and ClimbMix follow by
    their automation conditions (eager: each once its upstream is updated)."""
    downstream = dg.AssetSelection.assets(CENTROIDS).downstream() - dg.AssetSelection.groups("search", "climbmix")
    return plan_phases(graph, set(downstream.resolve(graph)))[1:]


def _stale(storage: Storage, asset: dg.AssetKey, partition: str | None, fitted_at: float) -> bool:
    """Not committed since the current centroids were (every asset writes `<root>/<asset>/<partition>/`)."""
    name = asset.to_user_string()
    return storage.partition_path(name, partition) is None or \
        storage.manifest(name, partition)["committed_at"] < fitted_at


def _follow_up(context: dg.SensorEvaluationContext, storage: Storage, growth: CorpusGrowth, superseded: str,
               cursor: dict) -> dg.SensorResult | dg.SkipReason:
    """After the new centroids: the first phase downstream not yet redone, one run per shard or one run."""
    if growth.centroids_version == superseded:
        return dg.SkipReason(f"waiting for new centroids (run key recluster:{superseded}); if that run failed, "
                             "materialise centroids or reset this sensor's cursor")
    version = growth.centroids_version
    shards = sorted(context.instance.get_dynamic_partitions(SHARDS))
    for kind, keys in _downstream_phases(context.repository_def.asset_graph):
        names = "+".join(k.to_user_string() for k in keys)
        if kind == "corpus" and any(_stale(storage, k, None, growth.fitted_at) for k in keys):
            requests = [dg.RunRequest(run_key=f"recluster:{version}:{names}", job_name=CORPUS_JOB,
                                      asset_selection=keys)]
        elif kind == "shards":  # shards without embeddings wait for their ingestion (new_shards_sensor)
            requests = [dg.RunRequest(run_key=f"recluster:{version}:{names}:{shard}", job_name=SHARD_JOB,
                                      partition_key=shard, asset_selection=keys)
                        for shard in shards if storage.partition_path("embeddings", shard) is not None
                        and any(_stale(storage, k, shard, growth.fitted_at) for k in keys)]
        else:
            requests = []
        if requests:
            context.log.info(f"re-clustering {version[:8]}: {names} for {len(requests)} partition(s)")
            return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor))
    done = {**cursor, "superseded": None, "completed": version}
    return dg.SensorResult(skip_reason=f"re-clustering complete: centroids {version[:8]} (superseding "
                                       f"{superseded[:8]}) and everything downstream up to the search",
                           cursor=json.dumps(done))


def evaluate_recluster(context: dg.SensorEvaluationContext, project: ProjectResource):
    """Request new centroids when the corpus has grown or drifted past `clustering.recluster`; then, tick by
    tick, everything downstream of them up to the search, one phase at a time."""
    config, storage = project.config(), project.storage()
    if storage.partition_path(CENTROIDS) is None:
        return dg.SkipReason("no centroids yet: nothing to re-cluster (materialise centroids first)")
    cursor = json.loads(context.cursor) if context.cursor else {}
    growth = corpus_growth(storage, shard_keys=sorted(context.instance.get_dynamic_partitions(SHARDS)))
    if cursor.get("superseded"):
        return _follow_up(context, storage, growth, cursor["superseded"], cursor)
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
    request = dg.RunRequest(run_key=f"recluster:{growth.centroids_version}", job_name=CORPUS_JOB,
                            asset_selection=[dg.AssetKey(CENTROIDS)], tags={"climb/recluster": "; ".join(fired)})
    return dg.SensorResult(run_requests=[request], cursor=json.dumps({**cursor,
                                                                      "superseded": growth.centroids_version}))


def build_recluster_sensor(jobs: Sequence) -> dg.SensorDefinition:
    """`recluster_sensor`, targeting the code location's corpus-wide and per-shard jobs among `jobs`."""
    targets = [job for job in jobs if job.name in (CORPUS_JOB, SHARD_JOB)]
    return dg.sensor(
        name="recluster_sensor", jobs=targets, minimum_interval_seconds=300,
        description="Requests new centroids when the share of documents added since the last fit, or the rise of "
        "the mean distance to the nearest centroid, passes clustering.recluster's thresholds (and its minimum "
        "interval has passed); then, tick by tick, cluster_assignments of every shard and the corpus-wide assets "
        "downstream (clusters, super-clusters, ClimbLab). The search follows by its automation conditions.",
    )(evaluate_recluster)
