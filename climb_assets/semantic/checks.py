"""Blocking checks of the semantic stage: they read the committed files, so they also catch later damage."""

import dagster as dg

from resources import ProjectResource
from climb_assets.partitions import shards_partitions
from climb_assets.semantic.assets import cluster_assignments, embeddings
from climb.semantic import verify_assignments
from climb.semantic import verify_embeddings


@dg.asset_check(asset=embeddings, blocking=True, partitions_def=shards_partitions,
                description="one finite, unit-norm float16 vector per kept document, aligned with documents by id")
def embeddings_aligned_and_normalised(context: dg.AssetCheckExecutionContext,
                                      project: ProjectResource) -> dg.AssetCheckResult:
    passed, details = verify_embeddings(project.storage(), context.partition_key)
    return dg.AssetCheckResult(passed=passed, metadata=details)


@dg.asset_check(asset=cluster_assignments, blocking=True, partitions_def=shards_partitions,
                description="one assignment per kept document, in order, to an existing centroid")
def assignments_complete(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
    passed, details = verify_assignments(project.storage(), context.partition_key)
    return dg.AssetCheckResult(passed=passed, metadata=details)
