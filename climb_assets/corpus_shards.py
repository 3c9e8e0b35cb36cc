"""The shards a corpus-wide asset reads: every registered shard, each with its upstream committed and
passing its blocking checks (climb_assets/gates.py)."""

import dagster as dg

from climb_assets.gates import require_shard_checks_passed
from climb_assets.partitions import SHARDS
from climb.core import Storage


def corpus_shards(context: dg.AssetExecutionContext, storage: Storage, *, needs: tuple[str, ...]) -> list[str]:
    """Registered shard keys; a dg.Failure names any shard whose upstream partitions are missing or whose
    latest materialisation of them failed a blocking check."""
    keys = sorted(context.instance.get_dynamic_partitions(SHARDS))
    if not keys:
        raise dg.Failure(description="no shard is registered: run `climb run` (or the new_shards sensor) first")
    missing = {asset: [k for k in keys if storage.partition_path(asset, k) is None] for asset in needs}
    missing = {asset: gaps for asset, gaps in missing.items() if gaps}
    if missing:
        listing = "; ".join(f"{asset} of {', '.join(gaps[:5])}{' ...' if len(gaps) > 5 else ''}"
                            for asset, gaps in missing.items())
        raise dg.Failure(description=f"{context.asset_key.to_user_string()} needs every shard; missing {listing}. "
                                     "Materialise those partitions first.")
    require_shard_checks_passed(context, needs)
    return keys
