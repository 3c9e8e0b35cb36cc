"""Asset backfills: how assets of mixed partitionings are materialised (docs/architecture.md, runs and backfills).

A Dagster run materialises assets of one partitioning; an asset backfill plans runs over several in dependency
order, launching each run once its parents are materialised. The UI's "Materialize all" launches one; so do
`climb run` (driving it itself where no daemon serves the instance, climb_assets/cli/backfill_driver.py) and
`recluster_sensor`.

Dagster's backfill types are internal (`dagster._core`); they are used where the public API has no door to
an asset backfill (the pinned Dagster version is in pyproject.toml).
"""

import time
from collections.abc import Iterable, Mapping

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.definitions.events import AssetKeyPartitionKey
from dagster._core.execution.backfill import BULK_ACTION_TERMINAL_STATUSES as TERMINAL, PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from climb_assets.partitions import SHARDS, shards_partitions

BACKFILL_TAG = "dagster/backfill"  # the tag Dagster gives every run of a backfill
LAUNCHED_BY_TAG = "climb/launched_by"
FORCE_TAG = "climb/force"  # "true" on `climb run --force` backfills (and so their runs): recompute, reuse nothing
RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def backfill_subset(graph, keys: Iterable[dg.AssetKey], instance: dg.DagsterInstance,
                    shards: Iterable[str] | None = None) -> AssetGraphSubset:
    """`keys` over every registered shard (or only `shards`) where partitioned by shard; whole where not."""
    shard_keys = sorted(instance.get_dynamic_partitions(SHARDS) if shards is None else shards)
    members = set()
    for key in keys:
        partitions = graph.get(key).partitions_def
        if partitions is None:
            members.add(AssetKeyPartitionKey(key, None))
        elif partitions == shards_partitions:
            members.update(AssetKeyPartitionKey(key, shard) for shard in shard_keys)
        else:
            raise ValueError(f"{key.to_user_string()}: partitioned by {partitions}, neither by shard nor unpartitioned")
    return AssetGraphSubset.from_asset_partition_set(members, graph)


def launch_backfill(instance: dg.DagsterInstance, subset: AssetGraphSubset, *, tags: Mapping[str, str],
                    title: str, description: str | None = None) -> str:
    """Add an asset backfill of `subset` to the instance (REQUESTED: a daemon, or `climb run`, carries it out)."""
    backfill_id = make_new_backfill_id()
    instance.add_backfill(PartitionBackfill.from_asset_graph_subset(
        backfill_id=backfill_id, backfill_timestamp=time.time(), tags=dict(tags), dynamic_partitions_store=instance,
        asset_graph_subset=subset, title=title, description=description, run_config=RUN_CONFIG))
    return backfill_id


def backfill_runs(instance: dg.DagsterInstance, backfill_id: str) -> list:
    """The backfill's runs, oldest first."""
    return list(reversed(instance.get_runs(filters=dg.RunsFilter(tags={BACKFILL_TAG: backfill_id}))))


def run_failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """One line: the first failed step and the user's message (not Dagster's wrapper), or the failed check."""
    records = instance.get_records_for_run(run_id, of_type={
        dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
        dg.DagsterEventType.RUN_FAILURE}).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None and error.cause is not None:
                error = error.cause
            user = event.step_failure_data.user_failure_data
            message = ((user.description if user and user.description else None) or
                       (error.message if error else "")).strip()
            return f"{event.step_key} failed: {message.splitlines()[0] if message else 'unknown error'}"
        evaluation = event.event_specific_data
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION and not evaluation.passed \
                and evaluation.blocking:  # a failed warning check does not fail the run: not the reason
            return f"blocking check {evaluation.check_name} failed"
    for record in records:
        if record.event_log_entry.dagster_event.event_type == dg.DagsterEventType.RUN_FAILURE:
            return (record.event_log_entry.dagster_event.message or "the run failed").strip().splitlines()[0]
    return "the run failed"
