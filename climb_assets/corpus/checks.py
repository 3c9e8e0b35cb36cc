"""Blocking checks of the corpus stage: they read the committed files, so they also catch later damage."""

import dagster as dg

from climb_assets.corpus.assets import documents, quality_scores
from resources import ProjectResource
from climb_assets.partitions import shards_partitions
from climb.corpus import verify_accounting
from climb.quality import verify_quality_scores


@dg.asset_check(asset=documents, blocking=True, partitions_def=shards_partitions,
                description="input_records == kept + filtered + duplicates + quarantined, and the committed "
                "files hold exactly those rows")
def accounting_balances(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
    balanced, observed = verify_accounting(project.storage(), context.partition_key)
    return dg.AssetCheckResult(passed=balanced, metadata={"observed": observed})


@dg.asset_check(asset=quality_scores, blocking=True, partitions_def=shards_partitions,
                description="one row per kept document, in order, and every score within [0, 5]")
def scores_in_range(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
    passed, details = verify_quality_scores(project.storage(), context.partition_key)
    return dg.AssetCheckResult(passed=passed, metadata=details)
