"""`climb run`'s backfill driver: a backfill whose `climb run` died is cancelled, its unfinished runs failed;
one whose driver lives (or lives on another machine) is left alone."""

import subprocess
import sys

import dagster as dg
import pytest

from climb_assets.backfills import LAUNCHED_BY_TAG, backfill_runs, backfill_subset, launch_backfill
from climb_assets.cli import backfill_driver
from climb_assets.definitions import defs
from climb_assets.partitions import SHARDS


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


@pytest.mark.parametrize("driver, cancelled", [
    (lambda host: f"{host}:{_dead_pid()}", True),
    (lambda host: f"{host}:{__import__('os').getpid()}", False),
    (lambda host: "another-machine:1", False),
])
def test_orphaned_cli_backfills_are_cancelled(driver, cancelled):
    import socket

    graph = defs.resolve_asset_graph()
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(SHARDS, ["a.jsonl"])
        subset = backfill_subset(graph, [dg.AssetKey("documents")], instance)
        backfill_id = launch_backfill(instance, subset, title="climb run", tags={
            LAUNCHED_BY_TAG: "cli", backfill_driver.DRIVER_TAG: driver(socket.gethostname())})
        run = instance.create_run_for_job(defs.resolve_implicit_global_asset_job_def(), asset_selection=frozenset(
            [dg.AssetKey("documents")]), tags={"dagster/backfill": backfill_id, "dagster/partition": "a.jsonl"})
        instance.handle_run_event(run.run_id, dg.DagsterEvent(  # the run had started when its driver died
            event_type_value="PIPELINE_START", job_name=run.job_name))
        said = []
        backfill_driver.abandon_orphans(instance, said.append)
        status = instance.get_backfill(backfill_id).status.value
        (after,) = backfill_runs(instance, backfill_id)
    if cancelled:
        assert status == "CANCELED" and after.status == dg.DagsterRunStatus.FAILURE
        assert said == [f"climb: cancelled backfill {backfill_id}: the `climb run` that drove it is gone"]
    else:
        assert status == "REQUESTED" and after.status == dg.DagsterRunStatus.STARTED and not said


def test_the_failure_reason_names_the_blocking_check_not_a_failed_warning():
    """A run stopped by a blocking check is reported by that check, even when a warning check failed first."""
    from climb_assets.backfills import run_failure_reason

    @dg.asset
    def numbers() -> int:
        return 1

    @dg.asset_check(asset=numbers)
    def a_warning() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)

    @dg.asset_check(asset=numbers, blocking=True)
    def z_blocking() -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False)

    @dg.asset(deps=[numbers])
    def downstream() -> None:
        return None

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([numbers, downstream, a_warning, z_blocking], instance=instance,
                                raise_on_error=False)
        assert not result.success
        assert run_failure_reason(instance, result.run_id) == "blocking check z_blocking failed"
