"""Blocking check of ClimbMix: it reads the committed files back, so it also catches later damage."""

import dagster as dg

from climb_assets.climbmix.assets import climbmix
from resources import ProjectResource
from climb.climbmix import BUDGET_TOLERANCE, WEIGHT_TOLERANCE
from climb.climbmix import CLIMBMIX, verify_export


@dg.asset_check(asset=climbmix, blocking=True,
                description=f"every file matches its sha256; each format holds the reported tokens per super-cluster; "
                f"the total is within {BUDGET_TOLERANCE:.0%} of the budget and each realised weight within "
                f"{WEIGHT_TOLERANCE} of the optimal one, unless a cluster's shortfall is reported (limit:*)")
def climbmix_matches_mixture(context: dg.AssetCheckExecutionContext, project: ProjectResource) -> dg.AssetCheckResult:
    storage = project.storage()
    passed, details = verify_export(storage.require(CLIMBMIX), fs=storage.fs)
    return dg.AssetCheckResult(passed=passed, metadata={
        name: dg.MetadataValue.json(value) if isinstance(value, (dict, list)) else value
        for name, value in details.items()})
