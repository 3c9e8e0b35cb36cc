"""Blocking check of ClimbLab: every document accounted for, token shares summing to 1."""

import dagster as dg

from climb_assets.climblab.assets import climblab
from resources import ProjectResource
from climb_assets.partitions import SHARDS
from climb.climblab import verify_climblab


@dg.asset_check(asset=climblab, blocking=True,
                description="every kept, unpruned document sits in exactly one super-cluster; pruned documents "
                "are accounted for; token shares sum to 1")
def climblab_accounted(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
    shard_keys = sorted(context.instance.get_dynamic_partitions(SHARDS))
    passed, details = verify_climblab(project.storage(), shard_keys)
    return dg.AssetCheckResult(passed=passed, metadata=details)
