"""Blocking checks gate across runs (docs/architecture.md, checks).

A blocking check stops the downstream steps of its own run only. A corpus-wide asset that reads every shard
(centroids, clusters, ClimbLab) must not build on a shard whose latest materialisation failed a blocking
check in an earlier run either: it fails first, naming the shard and the check. Re-materialising the shard
(`climb run` re-plans it: climb_assets/freshness.py) or removing its file clears the gate.
"""

from collections.abc import Iterable

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster_shared.check import CheckError

from climb_assets.partitions import SHARDS


def failed_blocking_checks(instance: dg.DagsterInstance, graph, keys: Iterable[dg.AssetKey],
                           partitions: set[str | None] | None = None) -> list[tuple[dg.AssetCheckKey, str | None]]:
    """(check, partition) of every blocking check on `keys` whose latest evaluation failed on the latest
    materialisation of that partition (only `partitions`, where given)."""
    checks = [c for c in graph.get_check_keys_for_assets(set(keys)) if graph.get_check_spec(c).blocking]
    if not checks:
        return []
    return sorted(((info.check_key, info.partition_key)
                   for info in instance.event_log_storage.get_asset_check_partition_info(checks)
                   if info.latest_execution_status == AssetCheckExecutionRecordStatus.FAILED and info.is_current
                   and (partitions is None or info.partition_key in partitions)),
                  key=lambda pair: (pair[0].to_user_string(), pair[1] or ""))


def _asset_graph(context: dg.AssetExecutionContext):
    """The code location's asset graph (every check); a run outside one (`dg.materialize`) has its job's."""
    try:
        return context.repository_def.asset_graph
    except CheckError:  # "No repository definition was set on the step context"
        return context.job_def.asset_layer.asset_graph


def require_shard_checks_passed(context: dg.AssetExecutionContext, parents: Iterable[str], graph=None) -> None:
    """Fail, naming shard and check, if a registered shard of `parents` failed a blocking check (the checks
    of `graph`, by default the code location's)."""
    registered = set(context.instance.get_dynamic_partitions(SHARDS))
    graph = graph if graph is not None else _asset_graph(context)
    failed = failed_blocking_checks(context.instance, graph, [dg.AssetKey(p) for p in parents], registered)
    if failed:
        listed = "; ".join(f"{check.asset_key.to_user_string()}[{shard}] failed {check.name}"
                           for check, shard in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise dg.Failure(description=f"{context.asset_key.to_user_string()} reads every shard, and {len(failed)} "
                         f"shard(s) failed a blocking check: {listed}{more}. Re-materialise or remove those "
                         "shards first (`climb run` re-runs them)")
